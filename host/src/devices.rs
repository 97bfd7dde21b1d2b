//! The devices that `leap` can train on, selected by name on the command line and in checkpoints.

use std::fmt;
use std::time::Duration;

use anyhow::{bail, Context};
use leap_model::{Config, Device, FixedModel, FloatModel, Snapshot};

use crate::checkpoint::Checkpoint;
use crate::link::{ByteDevice, LinkDevice, LinkOptions, LinkSpec};
use leap_model::protocol::SoftwareDevice;

/// Device name that checkpoints store for a run on a device behind a link.
pub const LINK_DEVICE_NAME: &str = "link";

/// Maximum time to connect over TCP or to open the PCIe streams.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A device that `leap` can build from a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// The bit-exact fixed-point golden model: the same arithmetic as the FPGA engine.
    SoftwareFixed,
    /// The f64 reference model, which also runs `training.batch_size` network copies.
    SoftwareFloat,
    /// The engine's Verilog simulated by Verilator, bit-exact with software-fixed (needs a leap
    /// built with `--features verilator`).
    Verilator,
}

impl DeviceKind {
    /// The software models, which `leap bench` measures.
    pub const ALL: [DeviceKind; 2] = [DeviceKind::SoftwareFloat, DeviceKind::SoftwareFixed];

    /// Returns the name that the device reports and that checkpoints store.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::SoftwareFixed => "software-fixed",
            DeviceKind::SoftwareFloat => "software-float",
            DeviceKind::Verilator => "verilator",
        }
    }

    /// Looks up a device by its name.
    pub fn from_name(name: &str) -> Option<DeviceKind> {
        [
            DeviceKind::SoftwareFloat,
            DeviceKind::SoftwareFixed,
            DeviceKind::Verilator,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }

    /// Checks that the device can run `config`.
    ///
    /// The fixed-point model accepts fewer activations and only one network copy, so it
    /// needs `validate_fixed`.
    pub fn validate(self, config: &Config) -> Result<(), leap_model::config::ConfigError> {
        match self {
            DeviceKind::SoftwareFixed | DeviceKind::Verilator => config.validate_fixed(),
            DeviceKind::SoftwareFloat => config.validate(),
        }
    }

    /// Builds a fresh device with the initial weights that `training.seed` selects.
    pub fn build(self, config: &Config) -> anyhow::Result<Box<dyn Device>> {
        self.validate(config)
            .with_context(|| format!("the configuration cannot run on the {self} device"))?;
        let device: Box<dyn Device> = match self {
            DeviceKind::SoftwareFixed => Box::new(FixedModel::new(config)?),
            DeviceKind::SoftwareFloat => Box::new(FloatModel::new(config)?),
            DeviceKind::Verilator => build_verilator(config)?,
        };
        Ok(device)
    }
}

#[cfg(feature = "verilator")]
fn build_verilator(config: &Config) -> anyhow::Result<Box<dyn Device>> {
    Ok(Box::new(leap_cosim::VerilatorDevice::new(config)?))
}

#[cfg(not(feature = "verilator"))]
fn build_verilator(_config: &Config) -> anyhow::Result<Box<dyn Device>> {
    bail!(
        "this leap was built without the Verilator device. Rebuild it with \
         `cargo build --release -p leap-host --features verilator` (Verilator must be installed: \
         bash scripts/setup.sh)"
    )
}

/// A device that `leap serve` puts behind a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeDevice {
    /// The fixed-point golden model replying to the protocol in software.
    Software,
    /// The Verilated board (frame decoder, command executor, engine, frame encoder) of the
    /// default Yin-Yang network (needs a leap built with `--features verilator`).
    Verilator,
}

impl ServeDevice {
    /// Builds the device for `config`; `max_payload` sets the largest payload the software
    /// device advertises and accepts (the simulated board's is fixed when it is generated).
    pub fn build(
        self,
        config: &Config,
        max_payload: Option<usize>,
    ) -> anyhow::Result<Box<dyn ByteDevice>> {
        match self {
            ServeDevice::Software => {
                let mut device = SoftwareDevice::new(config)
                    .context("the configuration cannot run on the software device")?;
                if let Some(max_payload) = max_payload {
                    device.set_max_payload(max_payload).map_err(|reason| {
                        anyhow::anyhow!(
                            "--max-payload {max_payload} is invalid: {reason}. Use a larger \
                             --max-payload or a network with fewer inputs, outputs or layers."
                        )
                    })?;
                }
                Ok(Box::new(device))
            }
            ServeDevice::Verilator => {
                if let Some(max_payload) = max_payload {
                    bail!(
                        "--max-payload {max_payload} is invalid with --device verilator: the \
                         simulated board's maximum payload is fixed when its Verilog is generated; \
                         leave the option out"
                    );
                }
                build_simulated_board(config)
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServeDevice::Software => "software device",
            ServeDevice::Verilator => "simulated board",
        }
    }
}

/// Work for the simulated board's thread.
#[cfg(feature = "verilator")]
enum BoardJob {
    Receive(Vec<u8>, std::time::Instant),
    Poll(std::time::Instant),
}

/// The simulated board as a [`ByteDevice`]. A Verilated model must stay on the thread that
/// created it, so one thread owns the board and this handle passes it the bytes.
#[cfg(feature = "verilator")]
struct SimulatedBoardDevice {
    jobs: std::sync::mpsc::Sender<BoardJob>,
    replies: std::sync::mpsc::Receiver<Vec<u8>>,
}

#[cfg(feature = "verilator")]
impl SimulatedBoardDevice {
    fn run(&mut self, job: BoardJob) -> Vec<u8> {
        if self.jobs.send(job).is_err() {
            tracing::error!("the simulated board's thread has stopped; the bytes are dropped");
            return Vec::new();
        }
        self.replies.recv().unwrap_or_else(|_| {
            tracing::error!("the simulated board's thread stopped before it replied");
            Vec::new()
        })
    }
}

#[cfg(feature = "verilator")]
impl ByteDevice for SimulatedBoardDevice {
    fn receive(&mut self, bytes: &[u8], now: std::time::Instant) -> Vec<u8> {
        self.run(BoardJob::Receive(bytes.to_vec(), now))
    }

    fn poll(&mut self, now: std::time::Instant) -> Vec<u8> {
        self.run(BoardJob::Poll(now))
    }
}

#[cfg(feature = "verilator")]
fn build_simulated_board(config: &Config) -> anyhow::Result<Box<dyn ByteDevice>> {
    use std::sync::mpsc;

    let (jobs, job_queue) = mpsc::channel::<BoardJob>();
    let (reply_sender, replies) = mpsc::channel::<Vec<u8>>();
    let (ready_sender, ready) = mpsc::channel::<Result<(), String>>();
    let config = config.clone();
    std::thread::Builder::new()
        .name("leap-simulated-board".into())
        .spawn(move || {
            let mut board = match leap_cosim::SimulatedBoard::new(&config) {
                Ok(board) => board,
                Err(message) => {
                    let _ = ready_sender.send(Err(message));
                    return;
                }
            };
            let _ = ready_sender.send(Ok(()));
            for job in job_queue {
                let out = match job {
                    BoardJob::Receive(bytes, now) => board.receive(&bytes, now),
                    BoardJob::Poll(now) => board.poll(now),
                };
                if reply_sender.send(out).is_err() {
                    break;
                }
            }
            tracing::info!(
                "simulated board stopped after {} clock cycles, {} of them on requests",
                board.cycles(),
                board.busy_cycles
            );
        })
        .context("failed to start the simulated board's thread")?;
    ready
        .recv()
        .context("the simulated board's thread stopped while it started")?
        .map_err(anyhow::Error::msg)?;
    Ok(Box::new(SimulatedBoardDevice { jobs, replies }))
}

#[cfg(not(feature = "verilator"))]
fn build_simulated_board(_config: &Config) -> anyhow::Result<Box<dyn ByteDevice>> {
    bail!(
        "this leap was built without the simulated board. Rebuild it with \
         `cargo build --release -p leap-host --features verilator` (Verilator must be installed: \
         bash scripts/setup.sh)"
    )
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The device a command runs on: a software model in this process, or a device behind a link
/// (a board, the simulated board or `leap serve`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceTarget {
    Software(DeviceKind),
    Link {
        spec: LinkSpec,
        options: LinkOptions,
    },
}

impl DeviceTarget {
    /// Returns the device that `checkpoint` was trained on, with the link it stores for a link
    /// run. `file` names the checkpoint in errors.
    pub fn from_checkpoint(
        checkpoint: &Checkpoint,
        file: &std::path::Path,
        options: LinkOptions,
    ) -> anyhow::Result<DeviceTarget> {
        if let Some(kind) = DeviceKind::from_name(&checkpoint.device) {
            return Ok(DeviceTarget::Software(kind));
        }
        if checkpoint.device != LINK_DEVICE_NAME {
            bail!(
                "checkpoint {} names device \"{}\", which this leap cannot build. It builds \
                 software-fixed, software-float and {LINK_DEVICE_NAME}.",
                file.display(),
                checkpoint.device
            );
        }
        let Some(text) = &checkpoint.link else {
            bail!(
                "checkpoint {} of a run on a link has no `link` field. The file is damaged: \
                 restore a backup of it, or give the device with --port or --link.",
                file.display()
            );
        };
        let spec = text.parse::<LinkSpec>().map_err(|reason| {
            anyhow::anyhow!(
                "checkpoint {} contains an invalid link: {reason}. Give the device with --port \
                 or --link.",
                file.display()
            )
        })?;
        Ok(DeviceTarget::Link { spec, options })
    }

    /// Returns the name that checkpoints store: "software-fixed", "software-float" or "link".
    pub fn name(&self) -> &'static str {
        match self {
            DeviceTarget::Software(kind) => kind.name(),
            DeviceTarget::Link { .. } => LINK_DEVICE_NAME,
        }
    }

    pub fn link_spec(&self) -> Option<&LinkSpec> {
        match self {
            DeviceTarget::Software(_) => None,
            DeviceTarget::Link { spec, .. } => Some(spec),
        }
    }

    /// Checks that the device can run `config`. A device behind a link runs the arithmetic of
    /// the fixed-point model, so it has the same limits.
    pub fn validate(&self, config: &Config) -> Result<(), leap_model::config::ConfigError> {
        match self {
            DeviceTarget::Software(kind) => kind.validate(config),
            DeviceTarget::Link { .. } => config.validate_fixed(),
        }
    }

    /// Returns true when the device can load `snapshot`: a float snapshot on the float model,
    /// a fixed-point snapshot on the fixed-point model, the Verilated engine and a link.
    pub fn accepts(&self, snapshot: &Snapshot) -> bool {
        let fixed = matches!(snapshot, Snapshot::Fixed(_));
        match self {
            DeviceTarget::Software(DeviceKind::SoftwareFloat) => !fixed,
            DeviceTarget::Software(DeviceKind::SoftwareFixed | DeviceKind::Verilator)
            | DeviceTarget::Link { .. } => fixed,
        }
    }

    /// Builds a device with the initial weights that `training.seed` selects. For a link, this
    /// connects, checks that the device was generated for the network of `config`, and loads
    /// that initial state into it.
    pub fn build(&self, config: &Config) -> anyhow::Result<Box<dyn Device>> {
        match self {
            DeviceTarget::Software(kind) => kind.build(config),
            DeviceTarget::Link { spec, options } => {
                self.validate(config).with_context(|| {
                    format!("the configuration cannot run on a device behind a link ({spec})")
                })?;
                let transport = spec
                    .open(CONNECT_TIMEOUT)
                    .with_context(|| format!("failed to connect to the device at {spec}"))?;
                let device = LinkDevice::connect(transport, config, *options)
                    .with_context(|| format!("failed to set up the device at {spec}"))?;
                Ok(Box::new(device))
            }
        }
    }
}

impl fmt::Display for DeviceTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceTarget::Software(kind) => write!(f, "{kind}"),
            DeviceTarget::Link { spec, .. } => write!(f, "{LINK_DEVICE_NAME} {spec}"),
        }
    }
}

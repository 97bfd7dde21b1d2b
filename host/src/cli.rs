//! Command-line arguments of `leap` and the dispatch to each subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use leap_model::protocol::{MAX_PAYLOAD, MIN_MAX_PAYLOAD};

use crate::devices::DeviceKind;
use crate::link::{LinkOptions, LinkSpec};
use crate::metrics::Split;

/// Baud rate of `--port` when `--baud` is not given.
pub const PORT_BAUD: u32 = 3_000_000;

/// Trains and evaluates Latent Equilibrium networks on LEAP devices.
///
/// Set the log level with the LEAP_LOG environment variable (default: info), for example
/// LEAP_LOG=debug.
#[derive(Debug, Parser)]
#[command(name = "leap", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network and write metrics.csv, checkpoint.json and config.toml to the output directory.
    Train(TrainArgs),
    /// Evaluate the network of a checkpoint on one or all splits: on software-float for its own
    /// checkpoints, else on software-fixed, or with --port or --link on a device behind a link.
    Eval(EvalArgs),
    /// Measure single-threaded synapse updates per second of the software models, and with
    /// --link the samples per second of the link.
    Bench(BenchArgs),
    /// Serve a device behind the link protocol on a pseudo-terminal or a TCP port: the software
    /// device (the fixed-point golden model) or, with --device verilator, the simulated board.
    /// Runs until killed.
    Serve(ServeArgs),
    /// Connect to a device and print its identity and counters.
    Info(InfoArgs),
    /// Save a device's weights and biases to a file, or load them from one.
    Weights(WeightsArgs),
    /// Build a board's bitstream from the board table: emit Verilog, synthesise, place and route,
    /// pack, and print resource use, fmax and peak synapse updates per second. Xilinx boards get
    /// the Verilog, the XDC and a Vivado Tcl script instead.
    Build(BuildArgs),
    /// Load a bitstream into a board's FPGA with openFPGALoader or iceprog.
    Flash(FlashArgs),
}

/// Arguments of `leap build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Board to build for: a name of the board table, such as icebreaker or ulx3s-25f.
    #[arg(long)]
    pub board: String,
    /// Design behind the UART pins: core (the LEAP board core) or loopback (the link bring-up
    /// bitstream, a UART loopback that tests the pins, the PLL and the reset).
    #[arg(long, value_name = "NAME", default_value = "core")]
    pub design: String,
    /// Output directory for the Verilog, logs, reports and bitstream. [default: build/BOARD]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Placement seed of nextpnr; fmax varies by seed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Board table. [default: constraints/boards.toml of the LEAP sources]
    #[arg(long, value_name = "FILE")]
    pub boards: Option<PathBuf>,
}

/// Arguments of `leap flash`.
#[derive(Debug, Args)]
pub struct FlashArgs {
    /// Board to load: a name of the board table.
    #[arg(long)]
    pub board: String,
    /// Bitstream to load. [default: the one `leap build --board BOARD` writes in build/BOARD]
    #[arg(long, value_name = "FILE")]
    pub bitstream: Option<PathBuf>,
    /// Program that loads it.
    #[arg(long, value_enum, default_value_t = crate::flash::Programmer::Openfpgaloader)]
    pub programmer: crate::flash::Programmer,
    /// Write the configuration flash, so the board keeps the design after power-off, instead of
    /// loading the FPGA's SRAM.
    #[arg(long)]
    pub to_flash: bool,
    /// Seconds after which the programmer is stopped, above 0 and at most 86400.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120.0,
        value_parser = parse_seconds,
        allow_negative_numbers = true
    )]
    pub timeout: f64,
    /// Board table. [default: constraints/boards.toml of the LEAP sources]
    #[arg(long, value_name = "FILE")]
    pub boards: Option<PathBuf>,
}

/// The link to a device: `--port PATH [--baud N]` or `--link SPEC`, and its reply timeout.
#[derive(Debug, Default, Args)]
pub struct LinkArgs {
    /// Serial port of the device, such as /dev/ttyUSB1 or the path that `leap serve --pty`
    /// prints. Short for --link serial:PATH@BAUD.
    #[arg(long, value_name = "PATH", conflicts_with = "link")]
    pub port: Option<String>,

    /// Baud rate of --port. [default: 3000000]
    #[arg(long, value_name = "N", requires = "port", value_parser = clap::value_parser!(u32).range(1..))]
    pub baud: Option<u32>,

    /// Link to the device: serial:PATH[@BAUD] (default baud 115200), tcp:HOST:PORT, pcie (the
    /// XDMA driver's first streams) or pcie:H2C,C2H.
    #[arg(long = "link", id = "link", value_name = "SPEC")]
    pub spec: Option<LinkSpec>,

    /// Seconds to wait for a reply before sending the request again (up to 3 times). The wait
    /// adds the time the request and reply take on the wire and the compute time of the
    /// request's samples, which the host measures on the replies. On a device not timed yet,
    /// one sample must finish within it. It also bounds how long a write may wait for the
    /// device to read. [default: 1]
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub reply_timeout: Option<f64>,
}

impl LinkArgs {
    /// Returns the link that --port or --link gives, if any.
    pub fn link_spec(&self) -> Option<LinkSpec> {
        match (&self.port, &self.spec) {
            (Some(path), _) => Some(LinkSpec::Serial {
                path: path.clone(),
                baud: self.baud.unwrap_or(PORT_BAUD),
            }),
            (None, spec) => spec.clone(),
        }
    }

    /// Returns the reply timeout and retries to use on the link.
    pub fn options(&self) -> LinkOptions {
        let mut options = LinkOptions::default();
        if let Some(seconds) = self.reply_timeout {
            options.reply_timeout = Duration::from_secs_f64(seconds);
        }
        options
    }
}

#[derive(Debug, Default, Args)]
pub struct TrainArgs {
    /// Configuration file (TOML). Without it, the defaults: a 4-120-3 network with hard-sigmoid
    /// hidden and linear output neurons.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Software device to train on. With --port or --link, training runs on a device behind a
    /// link instead. [default: software-fixed]
    #[arg(long, value_enum, value_name = "DEVICE", conflicts_with_all = ["port", "link"])]
    pub device: Option<DeviceKind>,

    #[command(flatten)]
    pub link: LinkArgs,

    /// Data set: `yinyang` (built in) or `csv:PATH`, where PATH is a CSV file (split 80/10/10)
    /// or a directory with train.csv, test.csv and optionally validation.csv. [default: yinyang]
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,

    /// Number of epochs; overrides `training.epochs`. With --resume, extends the run to N epochs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub epochs: Option<u64>,

    /// Seed of the initial weights, the CSV split and the sample order; overrides `training.seed`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=leap_model::config::MAX_SEED))]
    pub seed: Option<u64>,

    /// Output directory for metrics.csv, checkpoint.json and config.toml. [default: runs/train]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace the run in the output directory if it already contains a checkpoint.
    #[arg(long)]
    pub overwrite: bool,

    /// Continue the run in DIR from its checkpoint and keep writing to DIR. The checkpoint fixes
    /// the configuration, device, data set and seed. A run on a link reconnects to the link it
    /// stores, unless --port or --link gives the device's new address.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,

    /// Stop after this epoch, keeping the learning-rate schedule of the full run, so that
    /// --resume later continues exactly as an uninterrupted run would.
    #[arg(long, value_name = "EPOCH", value_parser = clap::value_parser!(u64).range(1..))]
    pub stop_after: Option<u64>,
}

/// The splits that `leap eval` evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitChoice {
    Train,
    Validation,
    Test,
    All,
}

impl SplitChoice {
    pub fn splits(self) -> Vec<Split> {
        match self {
            SplitChoice::Train => vec![Split::Train],
            SplitChoice::Validation => vec![Split::Validation],
            SplitChoice::Test => vec![Split::Test],
            SplitChoice::All => Split::ALL.to_vec(),
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run directory written by `leap train` (or its checkpoint.json).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,

    /// Split to evaluate.
    #[arg(long, value_enum, default_value_t = SplitChoice::All)]
    pub split: SplitChoice,

    /// Data set: `yinyang` or `csv:PATH`. [default: the data set the checkpoint was trained on]
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,

    #[command(flatten)]
    pub link: LinkArgs,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Minimum measured time per device and network, in seconds, after a warm-up.
    #[arg(long, value_name = "S", default_value_t = 3.0, value_parser = parse_seconds)]
    pub seconds: f64,

    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Also measure the link: stream samples to the software device over a pseudo-terminal
    /// whose writes are paced to 115200, 1000000 and 3000000 baud.
    #[arg(long)]
    pub link: bool,

    /// Largest payload in bytes that the software device of --link advertises (128 to 4096),
    /// which sizes the queue-samples frames. [default: 4096]
    #[arg(long, value_name = "BYTES", requires = "link", value_parser = parse_max_payload)]
    pub max_payload: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML) that fixes the device's network, number formats and error
    /// source, which hosts must train with. [default: the default configuration]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Serve on a new pseudo-terminal and print its path, which clients open with --port PATH.
    /// This is the default when --tcp is not given.
    #[arg(long)]
    pub pty: bool,

    /// Serve on a TCP listener at this loopback address, such as 127.0.0.1:7000 (port 0 picks a
    /// free port), and print the address. Clients are served one after another.
    #[arg(long, value_name = "ADDRESS", value_parser = parse_listen_address)]
    pub tcp: Option<SocketAddr>,

    /// Largest payload in bytes that the device advertises and accepts, as a board with small
    /// buffers does (128 to 4096). [default: 4096]
    #[arg(long, value_name = "BYTES", value_parser = parse_max_payload)]
    pub max_payload: Option<usize>,

    /// Device to serve: the software device, or the Verilated board of the default network
    /// (needs a leap built with `--features verilator`).
    #[arg(long, value_enum, default_value = "software")]
    pub device: crate::devices::ServeDevice,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("device").args(["port", "link"]).required(true)))]
pub struct InfoArgs {
    #[command(flatten)]
    pub link: LinkArgs,

    /// Configuration file (TOML) to check the device against: prints whether the device runs
    /// its network, number formats and error source.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WeightsArgs {
    #[command(subcommand)]
    pub action: WeightsAction,
}

#[derive(Debug, Subcommand)]
pub enum WeightsAction {
    /// Read every weight and bias from the device and write them to FILE (JSON, replaced
    /// atomically).
    Save(WeightsTarget),
    /// Check FILE against the device's layer sizes, activations, number formats and error
    /// source, then write its weights and biases to the device.
    Load(WeightsTarget),
}

/// The weights file and the device: --port or --link, or else the in-process software-fixed
/// device of --config.
#[derive(Debug, Args)]
pub struct WeightsTarget {
    /// Weights file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Software device in this process, when neither --port nor --link is given. Its weights are
    /// the initial weights of --config and last only while the command runs.
    /// [default: software-fixed]
    #[arg(long, value_enum, value_name = "DEVICE", conflicts_with_all = ["port", "link"])]
    pub device: Option<DeviceKind>,

    /// Configuration file (TOML) of the in-process software device. [default: the default
    /// configuration]
    #[arg(long, value_name = "FILE", conflicts_with_all = ["port", "link"])]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub link: LinkArgs,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number of seconds"))?;
    if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 {
        Ok(seconds)
    } else {
        Err(format!(
            "{text} is out of range: use a number of seconds in (0, 86400]"
        ))
    }
}

/// Parses the loopback address of `leap serve --tcp`. Host names are not resolved, so that the
/// server never listens on an address that a name maps to by surprise.
fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("\"{text}\" is not an IP address and port: use 127.0.0.1:PORT or [::1]:PORT, where port 0 picks a free port")
    })
}

/// Parses a maximum payload of the software device, in bytes.
fn parse_max_payload(text: &str) -> Result<usize, String> {
    let range = MIN_MAX_PAYLOAD..=MAX_PAYLOAD;
    match text.parse::<usize>() {
        Ok(bytes) if range.contains(&bytes) => Ok(bytes),
        _ => Err(format!(
            "\"{text}\" is not a payload size the software device takes: use a number of bytes from {MIN_MAX_PAYLOAD} to {MAX_PAYLOAD}"
        )),
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => crate::train::run(&args),
        Command::Eval(args) => crate::eval::run(&args),
        Command::Bench(args) => crate::bench::run(&args),
        Command::Serve(args) => crate::serve::run(&args),
        Command::Info(args) => crate::info::run(&args),
        Command::Weights(args) => crate::weights::run(&args),
        Command::Build(args) => run_build(&args),
        Command::Flash(args) => run_flash(&args),
    }
}

fn run_build(args: &BuildArgs) -> anyhow::Result<()> {
    let options = crate::build::BuildOptions {
        board: args.board.clone(),
        design: leap_hdl::boards::BoardDesign::from_name(&args.design)?,
        table: args
            .boards
            .clone()
            .unwrap_or_else(leap_hdl::boards::BoardTable::default_path),
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("build").join(&args.board)),
        seed: args.seed,
    };
    let report = crate::build::build(&options)?;
    print!("{}", report.summary());
    Ok(())
}

fn run_flash(args: &FlashArgs) -> anyhow::Result<()> {
    crate::flash::flash(&crate::flash::FlashOptions {
        board: args.board.clone(),
        table: args
            .boards
            .clone()
            .unwrap_or_else(leap_hdl::boards::BoardTable::default_path),
        bitstream: args.bitstream.clone(),
        programmer: args.programmer,
        to_flash: args.to_flash,
        timeout: Duration::from_secs_f64(args.timeout),
    })
}

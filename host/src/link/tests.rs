//! Tests of the transports, the link device and the server loop against the software device.

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use leap_model::config::Activation;
use leap_model::protocol::{
    Accept, Decoder, Frame, Memory, Opcode, Reply, Request, Sample, SoftwareDevice, TargetWords,
    INTER_BYTE_TIMEOUT, MAX_PAYLOAD, MAX_WORDS_PER_FRAME, SYNC,
};
use leap_model::{Config, Device, FixedModel, Snapshot};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serialport::SerialPort;

use super::*;
use crate::data::{yinyang, Splits};
use crate::metrics::one_hot;

const BAUD: u32 = 115_200;

fn splits() -> &'static Splits {
    static SPLITS: OnceLock<Splits> = OnceLock::new();
    SPLITS.get_or_init(yinyang::splits)
}

/// Returns a small Yin-Yang network: 4 inputs, 10 hidden neurons, 3 outputs.
fn small_config() -> Config {
    let mut config = Config::default();
    config.network.layers = vec![4, 10, 3];
    config.network.activations = vec![Activation::HardSigmoid, Activation::Linear];
    config.training.seed = 5;
    config
}

fn quick_options() -> LinkOptions {
    LinkOptions {
        reply_timeout: Duration::from_millis(300),
        retries: 2,
    }
}

/// What a test server does with the requests it receives.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Replies to every request with `serve`.
    Serve,
    /// Replies to this many reads that produced replies, then reads on without replying.
    GoSilentAfter(usize),
    /// Replies to this many reads that produced replies, then closes its end.
    CloseAfter(usize),
}

/// Runs the software device for `config` on a byte stream in a thread.
fn spawn_device<R, W>(
    config: &Config,
    input: R,
    output: W,
    behaviour: Behaviour,
) -> JoinHandle<io::Result<()>>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let mut device = SoftwareDevice::new(config).unwrap();
    thread::spawn(move || match behaviour {
        Behaviour::Serve => serve(&mut device, input, output),
        Behaviour::GoSilentAfter(limit) | Behaviour::CloseAfter(limit) => {
            let (mut input, mut output) = (input, output);
            let mut buffer = [0u8; 4096];
            let mut answered = 0;
            loop {
                let count = match input.read(&mut buffer) {
                    Ok(0) => return Ok(()),
                    Ok(count) => count,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                        ) =>
                    {
                        continue
                    }
                    Err(_) => return Ok(()),
                };
                let replies = device.receive(&buffer[..count], Instant::now());
                if replies.is_empty() {
                    continue;
                }
                if answered == limit {
                    match behaviour {
                        Behaviour::CloseAfter(_) => return Ok(()),
                        _ => continue,
                    }
                }
                answered += 1;
                if output
                    .write_all(&replies)
                    .and_then(|()| output.flush())
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
    })
}

/// Builds a pseudo-terminal link: the device serves the master end, the host opens the slave's path.
fn pty_link(
    config: &Config,
    behaviour: Behaviour,
) -> (SerialTransport, String, JoinHandle<io::Result<()>>) {
    let (master, slave) = pty_pair().unwrap();
    let path = slave.name().unwrap();
    let reader = master.try_clone_native().unwrap();
    let server = spawn_device(config, reader, master, behaviour);
    let transport = SerialTransport::open(&path, BAUD).unwrap();
    drop(slave);
    (transport, path, server)
}

fn tcp_link(
    config: &Config,
    behaviour: Behaviour,
) -> (TcpTransport, String, JoinHandle<io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let config = config.clone();
    let server = thread::spawn(move || {
        let (socket, _) = listener.accept()?;
        let reader = socket.try_clone()?;
        spawn_device(&config, reader, socket, behaviour)
            .join()
            .unwrap()
    });
    let transport = TcpTransport::connect(&address, Duration::from_secs(5)).unwrap();
    (transport, address, server)
}

/// Makes the two FIFOs that stand in for the XDMA character devices.
fn make_fifos(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (h2c, c2h) = (dir.join("h2c"), dir.join("c2h"));
    for path in [&h2c, &c2h] {
        let status = Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo {} failed", path.display());
    }
    (h2c, c2h)
}

fn fifo_link(
    config: &Config,
    dir: &Path,
    behaviour: Behaviour,
) -> (PcieTransport, JoinHandle<io::Result<()>>) {
    let (h2c, c2h) = make_fifos(dir);
    let config = config.clone();
    let (h2c_device, c2h_device) = (h2c.clone(), c2h.clone());
    // The device opens the FIFOs in the order the host does: host-to-card first.
    let server = thread::spawn(move || {
        let input = std::fs::File::open(&h2c_device)?;
        let output = std::fs::OpenOptions::new().write(true).open(&c2h_device)?;
        spawn_device(&config, input, output, behaviour)
            .join()
            .unwrap()
    });
    let transport = PcieTransport::open(&h2c, &c2h, Duration::from_secs(5)).unwrap();
    (transport, server)
}

/// Trains `device` and a `FixedModel` side by side on the same Yin-Yang samples, with a
/// learning-rate change, evaluation passes and a snapshot restore, comparing every output, and
/// returns both final snapshots.
fn train_side_by_side(device: &mut dyn Device, config: &Config) -> (Snapshot, Snapshot) {
    let mut model = FixedModel::new(config).unwrap();
    let train = &splits().train;
    for epoch in 1..=2 {
        let factor = [1.0, 0.6][epoch - 1];
        device.set_learning_rate_factor(factor).unwrap();
        model.set_learning_rate_factor(factor).unwrap();
        for i in 0..12 {
            let (x, label) = train.sample(i + 12 * epoch);
            let target = one_hot(label, train.n_classes);
            let expected = model.run_batch(&[x], Some(&[&target])).unwrap();
            let found = device.run_batch(&[x], Some(&[&target])).unwrap();
            assert_eq!(found, expected, "epoch {epoch}, sample {i}: outputs differ");
        }
        assert_eq!(
            device.saturations(),
            model.saturations(),
            "epoch {epoch}: saturation counts differ"
        );

        let trained = device.snapshot().unwrap();
        assert_eq!(
            trained,
            model.snapshot().unwrap(),
            "epoch {epoch}: snapshots differ"
        );
        for i in 0..4 {
            let (x, _) = splits().test.sample(i);
            let expected = model.run_batch(&[x], None).unwrap();
            assert_eq!(
                device.run_batch(&[x], None).unwrap(),
                expected,
                "epoch {epoch}: evaluation differs"
            );
        }
        device.restore(&trained).unwrap();
        model.restore(&trained).unwrap();
    }
    let parameters = device.parameters().unwrap();
    assert_eq!(parameters, model.parameters().unwrap());
    (device.snapshot().unwrap(), model.snapshot().unwrap())
}

fn assert_bit_identical(device: &mut dyn Device, config: &Config) {
    let (found, expected) = train_side_by_side(device, config);
    let (Snapshot::Fixed(found), Snapshot::Fixed(expected)) = (&found, &expected) else {
        panic!("not fixed-point snapshots")
    };
    assert_eq!(found.weights, expected.weights, "final weights differ");
    assert_eq!(found, expected);
}

#[test]
fn link_in_process_matches_fixed_model() {
    let config = small_config();
    let transport = InProcessTransport::new(SoftwareDevice::new(&config).unwrap());
    let mut device =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_bit_identical(&mut device, &config);
    assert_eq!(device.link_stats().resends, 0);
}

#[test]
fn link_pty_matches_fixed_model() {
    let config = small_config();
    let (transport, _, server) = pty_link(&config, Behaviour::Serve);
    let mut device =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_bit_identical(&mut device, &config);
    assert_eq!(device.link_stats().resends, 0);
    drop(device);
    server.join().unwrap().unwrap();
}

#[test]
fn link_tcp_matches_fixed_model() {
    let config = small_config();
    let (transport, _, server) = tcp_link(&config, Behaviour::Serve);
    let mut device =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_bit_identical(&mut device, &config);
    drop(device);
    server.join().unwrap().unwrap();
}

#[test]
fn link_fifo_pcie_matches_fixed_model() {
    let config = small_config();
    let dir = tempfile::tempdir().unwrap();
    let (transport, server) = fifo_link(&config, dir.path(), Behaviour::Serve);
    let mut device =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_bit_identical(&mut device, &config);
    drop(device);
    server.join().unwrap().unwrap();
}

/// Trains over the PCIe transport on the simulated board (the Verilated board of the default
/// Yin-Yang network), which serves the two FIFOs in place of the XDMA character devices.
#[cfg(feature = "verilator")]
#[test]
fn pcie_simulated_board_matches_model() {
    let config = Config::default();
    let dir = tempfile::tempdir().unwrap();
    let (h2c, c2h) = make_fifos(dir.path());
    let mut board = crate::devices::ServeDevice::Verilator
        .build(&config, None)
        .expect("the simulated board builds for the default configuration");
    let (h2c_device, c2h_device) = (h2c.clone(), c2h.clone());
    let server = thread::spawn(move || {
        let input = std::fs::File::open(&h2c_device)?;
        let output = std::fs::OpenOptions::new().write(true).open(&c2h_device)?;
        serve(&mut board, input, output)
    });
    let transport = PcieTransport::open(&h2c, &c2h, Duration::from_secs(5)).unwrap();
    let mut device =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_bit_identical(&mut device, &config);
    drop(device);
    server.join().unwrap().unwrap();
}

/// Returns `count` Yin-Yang training inputs and their one-hot targets.
fn train_samples(count: usize) -> (Vec<&'static [f64]>, Vec<Vec<f64>>) {
    let train = &splits().train;
    let inputs = (0..count)
        .map(|i| train.sample(i % train.len()).0)
        .collect();
    let targets = (0..count)
        .map(|i| one_hot(train.sample(i % train.len()).1, train.n_classes))
        .collect();
    (inputs, targets)
}

#[test]
fn link_stream_matches_run_batch() {
    // 700 samples of 14 bytes: frames start at one sample on the untimed device and double on
    // each reply up to the 292 samples that 4096 bytes hold.
    let config = small_config();
    let (transport, _, server) = pty_link(&config, Behaviour::Serve);
    let mut streamed =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_eq!(streamed.samples_per_frame(true), (MAX_PAYLOAD - 6) / 14);
    let mut model = FixedModel::new(&config).unwrap();

    let (inputs, targets) = train_samples(700);
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();
    let mut progress = Vec::new();
    let outputs = streamed
        .run_stream(&inputs, Some(&target_refs), &mut |n| progress.push(n))
        .unwrap();
    assert_eq!(progress, vec![1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 188]);
    assert_eq!(outputs.len(), 700);
    for (i, output) in outputs.iter().enumerate() {
        let expected = model
            .run_batch(&[inputs[i]], Some(&[target_refs[i]]))
            .unwrap();
        assert_eq!(output, &expected[0], "sample {i}");
    }
    assert_eq!(streamed.saturations(), model.saturations());
    assert_eq!(streamed.snapshot().unwrap(), model.snapshot().unwrap());
    assert_eq!(streamed.link_stats().resends, 0);
    drop(streamed);
    server.join().unwrap().unwrap();
}

/// A transport to an in-process device that records the largest request and reply payloads.
struct MeasuredTransport {
    inner: InProcessTransport,
    largest_request: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    largest_reply: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Transport for MeasuredTransport {
    fn endpoint(&self) -> &str {
        "measured in-process software device"
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        for frame in frames {
            self.largest_request
                .fetch_max(frame.payload.len(), std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.send(frames)
    }

    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        let frame = self.inner.receive(deadline)?;
        self.largest_reply
            .fetch_max(frame.payload.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(frame)
    }
}

#[test]
fn link_honours_small_max_payload() {
    // A device that advertises 256 bytes: memory transfers and queue-samples frames are split
    // so that no request or reply exceeds it, and training stays bit-identical.
    let config = small_config();
    let mut software = SoftwareDevice::new(&config).unwrap();
    software.set_max_payload(256).unwrap();
    let largest_request = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let largest_reply = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let transport = MeasuredTransport {
        inner: InProcessTransport::new(software),
        largest_request: largest_request.clone(),
        largest_reply: largest_reply.clone(),
    };
    let mut device =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    assert_eq!(device.max_payload(), 256);
    // (256 - 6) / 14 samples with targets, (256 - 8) / 6 outputs without.
    assert_eq!(device.samples_per_frame(true), 17);
    assert_eq!(device.samples_per_frame(false), 31);
    let mut model = FixedModel::new(&config).unwrap();

    let (inputs, targets) = train_samples(100);
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();
    let mut progress = Vec::new();
    let trained = device
        .run_stream(&inputs, Some(&target_refs), &mut |n| progress.push(n))
        .unwrap();
    assert_eq!(progress, vec![1, 1, 2, 4, 8, 16, 17, 17, 17, 17]);
    let expected = model
        .run_stream(&inputs, Some(&target_refs), &mut |_| {})
        .unwrap();
    assert_eq!(trained, expected);
    let mut progress = Vec::new();
    let evaluated = device
        .run_stream(&inputs, None, &mut |n| progress.push(n))
        .unwrap();
    assert_eq!(progress, vec![1, 1, 2, 4, 8, 16, 31, 31, 6]);
    let expected = model.run_stream(&inputs, None, &mut |_| {}).unwrap();
    assert_eq!(evaluated, expected);

    // Snapshots read 83 weight words in frames of at most (256 - 8) / 4 = 62.
    assert_eq!(device.snapshot().unwrap(), model.snapshot().unwrap());
    let restored = model.snapshot().unwrap();
    device.restore(&restored).unwrap();
    assert_eq!(device.snapshot().unwrap(), restored);

    let request = largest_request.load(std::sync::atomic::Ordering::Relaxed);
    let reply = largest_reply.load(std::sync::atomic::Ordering::Relaxed);
    assert!(request <= 256, "a request carried {request} bytes");
    assert!(reply <= 256, "a reply carried {reply} bytes");
    assert!(
        request >= 256 - 14,
        "frames were not filled: {request} bytes"
    );
    assert_eq!(device.counters().unwrap().link.length, 0);
    assert_eq!(device.link_stats().resends, 0);
}

/// A transport to an in-process device whose identity replies advertise another maximum
/// payload, as a board with small buffers would.
struct AdvertisingTransport {
    inner: InProcessTransport,
    max_payload: u16,
}

impl Transport for AdvertisingTransport {
    fn endpoint(&self) -> &str {
        "in-process software device with a small maximum payload"
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        self.inner.send(frames)
    }

    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        let mut frame = self.inner.receive(deadline)?;
        if frame.opcode == Opcode::Identity {
            frame.payload[14..16].copy_from_slice(&self.max_payload.to_le_bytes());
        }
        Ok(frame)
    }
}

#[test]
fn link_refuses_too_small_max_payload() {
    // The small network's parameters take 28 + 4 × 2 = 36 bytes and one sample with potential
    // targets 6 + 4 × 2 + 3 × 4 = 26 bytes.
    let config = small_config();
    let connect = |max_payload| {
        let transport = AdvertisingTransport {
            inner: InProcessTransport::new(SoftwareDevice::new(&config).unwrap()),
            max_payload,
        };
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default())
    };
    let device = connect(36).unwrap();
    assert_eq!(device.max_payload(), 36);
    assert_eq!(device.samples_per_frame(true), 2);
    let error = connect(35)
        .err()
        .expect("35 bytes cannot hold the parameters")
        .to_string();
    assert!(
        error.contains("the engine parameters need 36 payload bytes"),
        "{error}"
    );
    assert!(error.contains("maximum payload of 35 bytes"), "{error}");
}

/// A transport that drops chosen frames in either direction, to exercise retries.
struct LossyTransport {
    inner: InProcessTransport,
    rng: ChaCha8Rng,
    loss: f64,
}

impl Transport for LossyTransport {
    fn endpoint(&self) -> &str {
        "lossy in-process software device"
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        for frame in frames {
            if !self.rng.gen_bool(self.loss) {
                self.inner.send(std::slice::from_ref(frame))?;
            }
        }
        Ok(())
    }

    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        loop {
            let frame = self.inner.receive(deadline)?;
            if !self.rng.gen_bool(self.loss) {
                return Ok(frame);
            }
        }
    }
}

#[test]
fn link_retries_keep_results_exact() {
    // A fifth of all frames in both directions are lost. Retries and stored replies must still
    // give the results of a lossless run, so no sample may be learned twice.
    let config = small_config();
    // At most 128 payload bytes, so the streamed frames hold at most 8 samples.
    let mut software = SoftwareDevice::new(&config).unwrap();
    software.set_max_payload(128).unwrap();
    let lossy = LossyTransport {
        inner: InProcessTransport::new(software),
        rng: ChaCha8Rng::seed_from_u64(9),
        loss: 0.2,
    };
    let options = LinkOptions {
        reply_timeout: Duration::from_millis(1),
        retries: 20,
    };
    let mut device = LinkDevice::connect(Box::new(lossy), &config, options).unwrap();
    let mut model = FixedModel::new(&config).unwrap();

    let train = &splits().train;
    let targets: Vec<Vec<f64>> = (0..60)
        .map(|i| one_hot(train.sample(i).1, train.n_classes))
        .collect();
    let inputs: Vec<&[f64]> = (0..60).map(|i| train.sample(i).0).collect();
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();
    for i in 0..30 {
        let expected = model
            .run_batch(&[inputs[i]], Some(&[target_refs[i]]))
            .unwrap();
        assert_eq!(
            device
                .run_batch(&[inputs[i]], Some(&[target_refs[i]]))
                .unwrap(),
            expected,
            "sample {i}"
        );
    }
    let streamed = device
        .run_stream(&inputs[30..], Some(&target_refs[30..]), &mut |_| {})
        .unwrap();
    for (i, output) in streamed.iter().enumerate() {
        let expected = model
            .run_batch(&[inputs[30 + i]], Some(&[target_refs[30 + i]]))
            .unwrap();
        assert_eq!(output, &expected[0], "streamed sample {i}");
    }
    assert_eq!(device.snapshot().unwrap(), model.snapshot().unwrap());
    assert!(
        device.link_stats().resends > 10,
        "too few losses to test retries: {:?}",
        device.link_stats()
    );
}

/// Connects, lets the server go away or fall silent after some replies, and returns the error
/// of the first request that fails and how long that request took.
fn run_until_failure(
    transport: Box<dyn Transport>,
    config: &Config,
    options: LinkOptions,
) -> (String, Duration) {
    let mut device = LinkDevice::connect(transport, config, options).unwrap();
    let (x, label) = splits().train.sample(0);
    let target = one_hot(label, 3);
    for _ in 0..100 {
        let started = Instant::now();
        if let Err(error) = device.run_batch(&[x], Some(&[&target])) {
            return (error.to_string(), started.elapsed());
        }
    }
    panic!("the device kept answering");
}

/// Requests that `connect` sends for the small network: identify, 6 memory writes, set
/// parameters and reset.
const CONNECT_REQUESTS: usize = 9;

#[test]
fn link_silent_pty_device_times_out() {
    let config = small_config();
    let (transport, path, server) =
        pty_link(&config, Behaviour::GoSilentAfter(CONNECT_REQUESTS + 3));
    let options = quick_options();
    // Each attempt waits the reply timeout plus the wire time of the request and a maximum reply.
    let per_attempt =
        options.reply_timeout + transport.wire_time(100 + leap_model::protocol::MAX_FRAME_LEN);
    let (error, took) = run_until_failure(Box::new(transport), &config, options);
    assert!(error.contains("no valid reply"), "{error}");
    assert!(error.contains("timed out"), "{error}");
    assert!(error.contains(&path), "the error names the port: {error}");
    let limit = per_attempt * (options.retries + 1) + Duration::from_millis(500);
    assert!(took < limit, "took {took:?}, more than {limit:?}");
    assert!(
        took >= options.reply_timeout * (options.retries + 1),
        "gave up after {took:?}, before the retries were spent"
    );
    server.join().unwrap().unwrap();
}

#[test]
fn link_pty_write_to_stopped_device_times_out() {
    // No thread reads the master, as when `leap serve` is stopped with SIGSTOP.
    let (master, slave) = pty_pair().unwrap();
    let path = slave.name().unwrap();
    let mut transport = SerialTransport::open(&path, 3_000_000).unwrap();
    let timeout = Duration::from_millis(300);
    transport.set_write_timeout(timeout);
    let frame = Request::WriteMemory {
        memory: Memory::Weights,
        offset: 0,
        words: vec![0; MAX_WORDS_PER_FRAME],
    }
    .to_frame(1);
    // 8 maximum frames, 32 848 bytes, are more than a pseudo-terminal buffers (17 408 bytes on
    // Linux 6.18).
    let frames = vec![frame; 8];
    let bytes: usize = frames.iter().map(Frame::wire_len).sum();

    let (sender, receiver) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let started = Instant::now();
        let result = transport.send(&frames);
        let _ = sender.send((result, started.elapsed()));
    });
    let (result, took) = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("the write to a device that reads nothing blocked for 30 s");
    let error = result.expect_err("the device read nothing, so the write cannot complete");
    // The write may take the bytes' wire time, 11 ms at 3 MBd, plus the write timeout.
    let bound = timeout + serial::uart_time(bytes, 3_000_000);
    assert!(took >= timeout, "gave up after {took:?}");
    assert!(
        took < bound + Duration::from_millis(200),
        "took {took:?}, more than {bound:?}"
    );
    let message = error.to_string();
    assert!(
        matches!(error, TransportError::Io { .. }),
        "unexpected error kind: {message}"
    );
    assert!(
        message.contains(&format!("serial port {path}")),
        "the error does not name the port: {message}"
    );
    assert!(
        message.contains(&format!("did not take {bytes} bytes")),
        "the error does not say that the device stopped reading: {message}"
    );
    drop((master, slave));
}

#[test]
fn link_silent_tcp_device_times_out() {
    let config = small_config();
    let (transport, address, server) =
        tcp_link(&config, Behaviour::GoSilentAfter(CONNECT_REQUESTS + 1));
    let options = quick_options();
    let (error, took) = run_until_failure(Box::new(transport), &config, options);
    assert!(
        error.contains("no valid reply") && error.contains(&address),
        "{error}"
    );
    assert!(
        took < options.reply_timeout * (options.retries + 1) + Duration::from_millis(500),
        "took {took:?}"
    );
    server.join().unwrap().unwrap();
}

#[test]
fn link_closed_pty_reports_disconnect() {
    let config = small_config();
    let (transport, path, server) = pty_link(&config, Behaviour::CloseAfter(CONNECT_REQUESTS + 2));
    let (error, took) = run_until_failure(Box::new(transport), &config, quick_options());
    assert!(
        error.contains(&format!("serial port {path} disconnected")),
        "{error}"
    );
    assert!(
        took < Duration::from_secs(1),
        "noticed the disconnect only after {took:?}"
    );
    server.join().unwrap().unwrap();
}

#[test]
fn link_closed_tcp_reports_disconnect() {
    let config = small_config();
    let (transport, address, server) =
        tcp_link(&config, Behaviour::CloseAfter(CONNECT_REQUESTS + 2));
    let (error, took) = run_until_failure(Box::new(transport), &config, quick_options());
    assert!(
        error.contains(&format!("TCP {address} disconnected")),
        "{error}"
    );
    assert!(
        took < Duration::from_secs(1),
        "noticed the disconnect only after {took:?}"
    );
    server.join().unwrap().unwrap();
}

#[test]
fn link_closed_fifo_reports_disconnect() {
    let config = small_config();
    let dir = tempfile::tempdir().unwrap();
    let (transport, server) = fifo_link(
        &config,
        dir.path(),
        Behaviour::CloseAfter(CONNECT_REQUESTS + 2),
    );
    let (error, took) = run_until_failure(Box::new(transport), &config, quick_options());
    assert!(
        error.contains("disconnected") && error.contains("c2h"),
        "{error}"
    );
    assert!(
        took < Duration::from_secs(1),
        "noticed the disconnect only after {took:?}"
    );
    server.join().unwrap().unwrap();
}

#[test]
fn link_serial_open_busy_port_explains() {
    let (_master, slave) = pty_pair().unwrap();
    let path = slave.name().unwrap();
    let _first = SerialTransport::open(&path, BAUD).unwrap();

    let error = SerialTransport::open(&path, BAUD)
        .err()
        .expect("a second open of a port in use fails");

    let message = error.to_string();
    assert!(message.contains(&path), "{message}");
    assert!(
        message.contains("Another program, such as a running leap, has the port open"),
        "{message}"
    );
}

#[test]
fn link_serial_open_regular_file_explains() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().to_str().unwrap();

    let error = SerialTransport::open(path, BAUD)
        .err()
        .expect("a regular file is no serial port");

    let message = error.to_string();
    assert!(message.contains(path), "{message}");
    assert!(
        message.contains("The path is not a serial port or pseudo-terminal"),
        "{message}"
    );
}

#[test]
fn link_serial_open_names_missing_port() {
    let error = SerialTransport::open("/dev/leap-no-such-port", BAUD)
        .err()
        .expect("opening a missing port fails");
    let message = error.to_string();
    assert!(message.contains("/dev/leap-no-such-port"), "{message}");
}

#[test]
fn link_incompatible_device_is_refused() {
    let config = small_config();
    let mut other = config.clone();
    other.network.layers = vec![4, 11, 3];
    let transport = InProcessTransport::new(SoftwareDevice::new(&other).unwrap());
    let error = LinkDevice::connect(Box::new(transport), &config, LinkOptions::default())
        .err()
        .expect("connect fails");
    let message = error.to_string();
    assert!(message.contains("network 4-11-3"), "{message}");
    assert!(
        message.contains("network.layers of the configuration is 4-10-3"),
        "{message}"
    );
}

#[test]
fn link_device_error_reply_is_reported() {
    let config = small_config();
    let transport = InProcessTransport::new(SoftwareDevice::new(&config).unwrap());
    let mut link = Link::new(Box::new(transport), LinkOptions::default());
    let sample = Sample {
        start: false,
        input: vec![1, 2],
        target: Some(TargetWords::Activity(vec![0; 3])),
    };
    let error = link.request(&Request::RunSample(sample)).unwrap_err();
    assert!(matches!(error, LinkError::Rejected { .. }), "{error:?}");
    assert!(
        error.to_string().contains("invalid sample shape"),
        "{error}"
    );
}

/// A reader that hands out one prepared piece per read call and pauses where asked, so the
/// device's inter-byte timeout expires between pieces.
struct PiecewiseReader {
    pieces: std::collections::VecDeque<(Vec<u8>, Duration)>,
}

impl Read for PiecewiseReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let Some((mut piece, pause)) = self.pieces.pop_front() else {
            return Ok(0);
        };
        if piece.is_empty() {
            thread::sleep(pause);
            return Err(io::Error::new(io::ErrorKind::TimedOut, "pause"));
        }
        let count = piece.len().min(buffer.len());
        buffer[..count].copy_from_slice(&piece[..count]);
        if count < piece.len() {
            piece.drain(..count);
            self.pieces.push_front((piece, pause));
        }
        Ok(count)
    }
}

#[test]
fn link_serve_fuzzed_streams() {
    // Damaged input mixed with valid requests through `serve`, on the real clock with a short
    // inter-byte timeout: garbage, cut frames, bad CRCs, oversize lengths and unknown opcodes.
    const STREAMS: usize = 1000;
    let timeout = Duration::from_millis(2);
    let pause = Duration::from_millis(3);
    let config = small_config();
    let mut device = SoftwareDevice::new(&config).unwrap();
    device.set_inter_byte_timeout(timeout);
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let mut pieces = std::collections::VecDeque::new();
    let mut expected_seqs = Vec::new();

    for stream in 0..STREAMS {
        let seq = (2 * stream) as u16;
        let valid = Request::ReadMemory {
            memory: leap_model::protocol::Memory::Weights,
            offset: 0,
            count: 2,
        }
        .to_frame(seq + 1)
        .encode();
        let damaged: Vec<u8> = match stream % 5 {
            0 => (0..rng.gen_range(1..40))
                .map(|_| if rng.gen_bool(0.1) { SYNC } else { rng.gen() })
                .collect(),
            1 => valid[..rng.gen_range(1..valid.len())].to_vec(),
            2 => {
                let mut bytes = Request::ReadCounters.to_frame(seq).encode();
                let at = rng.gen_range(1..bytes.len());
                bytes[at] ^= 0x10;
                bytes
            }
            3 => vec![SYNC, Opcode::WriteMemory as u8, 0, 0, 0xFF, 0xFF],
            _ => Frame::new(Opcode::Identity, seq, vec![]).encode(),
        };
        pieces.push_back((damaged, Duration::ZERO));
        // A pause lets the inter-byte timeout release whatever the damage left half received.
        pieces.push_back((Vec::new(), pause));
        pieces.push_back((valid, Duration::ZERO));
        pieces.push_back((Vec::new(), pause));
        expected_seqs.push(seq + 1);
    }

    let started = Instant::now();
    let mut output = Vec::new();
    serve(&mut device, PiecewiseReader { pieces }, &mut output).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "serving took {:?}",
        started.elapsed()
    );

    let mut decoder = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
    let mut answered = Vec::new();
    let now = Instant::now();
    for &byte in &output {
        let event = decoder.push(byte, now);
        for event in event
            .into_iter()
            .chain(std::iter::from_fn(|| decoder.poll(now)))
        {
            let frame = event.expect("replies are intact");
            if frame.opcode == Opcode::MemoryData {
                answered.push(frame.seq);
            } else {
                let reply = Reply::from_frame(&frame).unwrap();
                assert!(
                    matches!(reply, Reply::Error(_)),
                    "unexpected reply {reply:?}"
                );
            }
        }
    }
    assert_eq!(
        answered, expected_seqs,
        "every valid request is answered once, in order"
    );
    let counters = device.counters().link;
    let per_kind = (STREAMS / 5) as u64;
    assert!(counters.timeout >= per_kind, "{counters:?}");
    assert!(counters.crc >= per_kind / 2, "{counters:?}");
    assert!(counters.length >= per_kind, "{counters:?}");
    assert!(counters.unknown_opcode >= per_kind, "{counters:?}");
    assert!(counters.framing >= per_kind / 2, "{counters:?}");
}

#[test]
fn link_serve_ends_when_peer_closes() {
    let config = small_config();
    let (host, device_end) = UnixStream::pair().unwrap();
    let server = spawn_device(
        &config,
        device_end.try_clone().unwrap(),
        device_end,
        Behaviour::Serve,
    );
    drop(host);
    server.join().unwrap().unwrap();
}

#[test]
fn link_bench_small_frames_no_resends() {
    // Ten 1024-byte frames at 115200 baud: the host sends one frame while the device writes the
    // reply to the previous one, and neither side may mistake that pause for a stalled sender.
    let options = bench::LinkBenchOptions {
        baud: 115_200,
        samples: 720,
        layers: vec![4, 20, 3],
        max_payload: 1024,
        ..Default::default()
    };
    let result = bench::bench(&options).unwrap();
    assert_eq!(result.samples_per_frame, (1024 - 6) / 14);
    assert_eq!(result.resends, 0, "{result:?}");
    assert!(
        result.link_efficiency <= result.frame_efficiency,
        "{result:?}"
    );
}

#[test]
fn listening_clock_stops_while_paused() {
    let mut clock = stream::ListeningClock::new();
    let before = clock.now();
    clock.pause();
    thread::sleep(Duration::from_millis(30));
    let paused = clock.now();
    assert!(
        paused - before < Duration::from_millis(10),
        "{:?}",
        paused - before
    );
    clock.resume();
    thread::sleep(Duration::from_millis(30));
    let resumed = clock.now();
    assert!(
        resumed - paused >= Duration::from_millis(30),
        "{:?}",
        resumed - paused
    );
}

#[test]
fn paced_writer_keeps_baud_rate() {
    // 4000 bytes at 115200 baud take 347 ms on the line; the transmit buffer may run ahead by
    // 256 bytes (22 ms) at most.
    let started = Instant::now();
    let mut writer = PacedWriter::new(Vec::new(), BAUD);
    writer.write_all(&[0x55; 4000]).unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= serial::uart_time(4000 - 256, BAUD),
        "4000 bytes took only {elapsed:?}"
    );
}

#[test]
fn link_bench_reports_efficiency() {
    let options = bench::LinkBenchOptions {
        baud: 1_000_000,
        samples: 200,
        layers: vec![4, 20, 3],
        ..Default::default()
    };
    let result = bench::bench(&options).unwrap();
    assert_eq!(result.samples, 200);
    assert_eq!(result.samples_per_frame, 292);
    // Nine frames of 1, 1, 2, 4, 8, 16, 32, 64 and 72 samples: inputs 4 × 2 bytes and targets
    // 3 × 2 bytes per sample, the 6-byte header of each payload and 10 bytes of framing.
    assert_eq!(
        result.request_payload_bytes_per_sample,
        (9.0 * 6.0 + 200.0 * 14.0) / 200.0
    );
    assert_eq!(
        result.request_wire_bytes_per_sample,
        (9.0 * 16.0 + 200.0 * 14.0) / 200.0
    );
    assert!(
        result.sample_data_efficiency < result.link_efficiency,
        "{result:?}"
    );
    assert!(
        result.link_efficiency > 0.0 && result.link_efficiency <= result.frame_efficiency * 1.05,
        "{result:?}"
    );
    assert!(
        result.samples_per_second <= result.baud_limited_samples_per_second * 1.05,
        "{result:?}"
    );
    assert_eq!(result.resends, 0);
}

/// A transport to an in-process software device that delays each reply as a slow device would:
/// the device computes `per_sample` for each sample a request carries, one request after another.
struct SlowTransport {
    device: SoftwareDevice,
    per_sample: Duration,
    /// Replies, each with the time the device finishes computing it.
    replies: std::collections::VecDeque<(Frame, Instant)>,
    /// When the device finishes the last request it received.
    busy_until: Instant,
    /// Extra time the first queue-samples frame takes, as when its server was stopped.
    first_frame_stall: Duration,
    /// Samples the device runs before it stops replying to queue-samples frames.
    samples_until_dead: usize,
    /// Samples of the queue-samples frames received so far.
    samples_received: usize,
}

impl SlowTransport {
    fn new(device: SoftwareDevice, per_sample: Duration) -> SlowTransport {
        SlowTransport {
            device,
            per_sample,
            replies: std::collections::VecDeque::new(),
            busy_until: Instant::now(),
            first_frame_stall: Duration::ZERO,
            samples_until_dead: usize::MAX,
            samples_received: 0,
        }
    }
}

impl Transport for SlowTransport {
    fn endpoint(&self) -> &str {
        "slow in-process software device"
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        for frame in frames {
            let samples = match Request::from_frame(frame) {
                Ok(Request::RunSample(_)) => 1,
                Ok(Request::QueueSamples(batch)) => batch.count(),
                _ => 0,
            };
            let queued = matches!(Request::from_frame(frame), Ok(Request::QueueSamples(_)));
            if queued && self.samples_received >= self.samples_until_dead {
                continue;
            }
            let mut start = self.busy_until.max(Instant::now());
            if queued && self.samples_received == 0 {
                start += self.first_frame_stall;
            }
            if queued {
                self.samples_received += samples;
            }
            self.busy_until = start + self.per_sample * samples as u32;
            self.replies
                .push_back((self.device.handle(frame), self.busy_until));
        }
        Ok(())
    }

    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        let ready_at = self.replies.front().map(|(_, at)| *at);
        match ready_at {
            Some(at) if at <= deadline => {
                thread::sleep(at.saturating_duration_since(Instant::now()));
                Ok(self.replies.pop_front().unwrap().0)
            }
            _ => {
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
                Err(TransportError::TimedOut {
                    endpoint: self.endpoint().to_string(),
                })
            }
        }
    }
}

#[test]
fn link_slow_device_streams_without_resend() {
    // 30 ms per sample and frames of up to 17 samples: a full frame takes 510 ms, ten times the
    // 50 ms reply timeout, so only deadlines that grow with the samples avoid resends.
    let config = small_config();
    let mut software = SoftwareDevice::new(&config).unwrap();
    software.set_max_payload(256).unwrap();
    let transport = SlowTransport::new(software, Duration::from_millis(30));
    let options = LinkOptions {
        reply_timeout: Duration::from_millis(50),
        retries: 3,
    };
    let mut device = LinkDevice::connect(Box::new(transport), &config, options).unwrap();
    assert_eq!(device.samples_per_frame(true), 17);
    let mut model = FixedModel::new(&config).unwrap();

    let (inputs, targets) = train_samples(134);
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();
    let mut progress = Vec::new();
    let trained = device
        .run_stream(&inputs[..100], Some(&target_refs[..100]), &mut |n| {
            progress.push(n)
        })
        .unwrap();
    assert_eq!(progress, vec![1, 1, 2, 4, 8, 16, 17, 17, 17, 17]);
    let expected = model
        .run_stream(&inputs[..100], Some(&target_refs[..100]), &mut |_| {})
        .unwrap();
    assert_eq!(trained, expected);
    assert_eq!(device.link_stats().resends, 0, "{:?}", device.link_stats());

    // The next stream of the same kind starts at the frame size the last one reached.
    let mut progress = Vec::new();
    let trained = device
        .run_stream(&inputs[100..], Some(&target_refs[100..]), &mut |n| {
            progress.push(n)
        })
        .unwrap();
    assert_eq!(progress, vec![17, 17]);
    let expected = model
        .run_stream(&inputs[100..], Some(&target_refs[100..]), &mut |_| {})
        .unwrap();
    assert_eq!(trained, expected);

    // A run-sample request after the streams gets the same result as the model.
    let (x, label) = splits().train.sample(0);
    let target = one_hot(label, 3);
    let expected = model.run_batch(&[x], Some(&[&target])).unwrap();
    assert_eq!(device.run_batch(&[x], Some(&[&target])).unwrap(), expected);

    assert_eq!(device.snapshot().unwrap(), model.snapshot().unwrap());
    assert_eq!(device.link_stats().resends, 0, "{:?}", device.link_stats());
}

#[test]
fn link_stream_measures_slow_device() {
    // With no retries, any frame that outlasts its deadline ends the stream with an error. The
    // 40 ms reply timeout covers the first frame's single sample of 30 ms, and the measured work
    // must cover the rest: 16 samples take 480 ms.
    let config = small_config();
    let mut software = SoftwareDevice::new(&config).unwrap();
    software.set_max_payload(256).unwrap();
    let transport = SlowTransport::new(software, Duration::from_millis(30));
    let options = LinkOptions {
        reply_timeout: Duration::from_millis(40),
        retries: 0,
    };
    let mut link = Link::new(Box::new(transport), options);
    let sample = Sample {
        start: false,
        input: vec![100, 200, 300, 400],
        target: Some(TargetWords::Activity(vec![4096, 0, 0])),
    };
    let samples = vec![sample; 40];
    assert_eq!(link.work_allowance(true, 17), Duration::ZERO);

    let mut passed = Vec::new();
    let replies = link
        .stream(&samples, 17, 2, &mut |count, _| passed.push(count))
        .unwrap();
    let counts: Vec<usize> = replies.iter().map(|(count, _)| *count).collect();
    assert_eq!(counts, vec![1, 1, 2, 4, 8, 16, 8]);
    assert_eq!(passed, counts);
    for (count, output) in &replies {
        assert_eq!(output.rates.len(), count * 3);
    }
    assert_eq!(link.stats().resends, 0);

    // The bound per sample is twice the median measurement plus four median deviations, so at least
    // the 30 ms the device takes, and samples without targets are timed apart.
    let allowance = link.work_allowance(true, 17);
    assert!(
        allowance >= Duration::from_millis(17 * 30),
        "allowance {allowance:?}"
    );
    assert_eq!(link.work_allowance(false, 17), Duration::ZERO);
}

#[test]
fn link_tcp_write_to_stopped_peer_times_out() {
    // The peer accepts the connection and never reads, so the socket buffers fill.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = thread::spawn(move || listener.accept().map(|(socket, _)| socket));
    let mut transport = TcpTransport::connect(&address, Duration::from_secs(5)).unwrap();
    let _peer = accepted.join().unwrap().unwrap();
    let timeout = Duration::from_millis(300);
    transport.set_write_timeout(timeout);
    let frame = Request::WriteMemory {
        memory: Memory::Weights,
        offset: 0,
        words: vec![0; MAX_WORDS_PER_FRAME],
    }
    .to_frame(1);
    let frames = vec![frame; 8];

    // Loopback socket buffers take a few megabytes. 10 000 writes of 32 848 bytes are 328 MB.
    let mut failure = None;
    for _ in 0..10_000 {
        let started = Instant::now();
        if let Err(error) = transport.send(&frames) {
            failure = Some((error, started.elapsed()));
            break;
        }
    }
    let (error, took) = failure.expect("328 MB went to a peer that reads nothing");
    let message = error.to_string();
    assert!(
        matches!(error, TransportError::Io { .. }),
        "unexpected error kind: {message}"
    );
    assert!(
        message.contains(&format!("writing to TCP {address} failed")),
        "the error does not name the address: {message}"
    );
    assert!(message.contains("has stopped reading"), "{message}");
    assert!(took >= timeout, "gave up after {took:?}");
    assert!(
        took < timeout + Duration::from_millis(200),
        "took {took:?}, more than {timeout:?}"
    );
}

#[test]
fn link_fifo_write_to_stopped_peer_times_out() {
    // The card end opens both FIFOs and never reads the host-to-card one.
    let dir = tempfile::tempdir().unwrap();
    let (h2c, c2h) = make_fifos(dir.path());
    let (h2c_card, c2h_card) = (h2c.clone(), c2h.clone());
    let (opened, ends) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let input = std::fs::File::open(&h2c_card).unwrap();
        let output = std::fs::OpenOptions::new()
            .write(true)
            .open(&c2h_card)
            .unwrap();
        let _ = opened.send((input, output));
    });
    let mut transport = PcieTransport::open(&h2c, &c2h, Duration::from_secs(5)).unwrap();
    let _card = ends.recv_timeout(Duration::from_secs(5)).unwrap();
    let timeout = Duration::from_millis(300);
    transport.set_write_timeout(timeout);
    let frame = Request::WriteMemory {
        memory: Memory::Weights,
        offset: 0,
        words: vec![0; MAX_WORDS_PER_FRAME],
    }
    .to_frame(1);
    let frames = vec![frame; 8];

    // A pipe buffers 64 KiB by default on Linux, so the third write of 32 848 bytes stalls.
    let mut failure = None;
    for _ in 0..100 {
        let started = Instant::now();
        if let Err(error) = transport.send(&frames) {
            failure = Some((error, started.elapsed()));
            break;
        }
    }
    let (error, took) = failure.expect("3.3 MB went to a FIFO that nobody reads");
    let message = error.to_string();
    assert!(
        message.contains(&format!("writing to PCIe streams {}", h2c.display())),
        "the error does not name the stream: {message}"
    );
    assert!(message.contains("has stopped reading"), "{message}");
    assert!(took >= timeout, "gave up after {took:?}");
    assert!(
        took < timeout + Duration::from_millis(200),
        "took {took:?}, more than {timeout:?}"
    );
}

#[test]
fn link_gives_up_soon_after_stall() {
    // The first frame of slow start stalls 250 ms, within the 300 ms reply timeout, so its reply
    // is measured. Then the device runs 384 samples at 2 ms each and dies.
    let config = small_config();
    let software = SoftwareDevice::new(&config).unwrap();
    let mut transport = SlowTransport::new(software, Duration::from_millis(2));
    transport.first_frame_stall = Duration::from_millis(250);
    transport.samples_until_dead = 384;
    let options = LinkOptions {
        reply_timeout: Duration::from_millis(300),
        retries: 1,
    };
    let mut link = Link::new(Box::new(transport), options);
    let sample = Sample {
        start: false,
        input: vec![100, 200, 300, 400],
        target: Some(TargetWords::Activity(vec![4096, 0, 0])),
    };
    let samples = vec![sample; 384];
    let replies = link.stream(&samples, 64, 2, &mut |_, _| {}).unwrap();
    let counts: Vec<usize> = replies.iter().map(|(count, _)| *count).collect();
    assert_eq!(counts, vec![1, 1, 2, 4, 8, 16, 32, 64, 64, 64, 64, 64]);
    assert_eq!(link.stats().resends, 0);

    // Two attempts of 300 ms plus the allowance of 64 samples at about 4 ms each, the second
    // doubled: about 1.4 s. When the stall weighed as much as each whole frame after it, the
    // host waited about 100 s here.
    let started = Instant::now();
    let error = link
        .stream(&samples[..64], 64, 2, &mut |_, _| {})
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, LinkError::NoReply { attempts: 2, .. }),
        "{error}"
    );
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    assert!(took >= Duration::from_millis(600), "gave up after {took:?}");
}

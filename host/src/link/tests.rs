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
    Accept, Decoder, Frame, Opcode, Reply, Request, Sample, SoftwareDevice, TargetWords,
    INTER_BYTE_TIMEOUT, SYNC,
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

#[test]
fn link_stream_matches_run_batch() {
    let config = small_config();
    let (transport, _, server) = pty_link(&config, Behaviour::Serve);
    let mut streamed =
        LinkDevice::connect(Box::new(transport), &config, LinkOptions::default()).unwrap();
    let mut model = FixedModel::new(&config).unwrap();

    let train = &splits().train;
    let targets: Vec<Vec<f64>> = (0..40)
        .map(|i| one_hot(train.sample(i).1, train.n_classes))
        .collect();
    let inputs: Vec<&[f64]> = (0..40).map(|i| train.sample(i).0).collect();
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();

    let outputs = streamed.run_stream(&inputs, Some(&target_refs)).unwrap();
    for (i, output) in outputs.iter().enumerate() {
        let expected = model
            .run_batch(&[inputs[i]], Some(&[target_refs[i]]))
            .unwrap();
        assert_eq!(output, &expected[0], "sample {i}");
    }
    assert_eq!(streamed.snapshot().unwrap(), model.snapshot().unwrap());
    assert_eq!(streamed.link_stats().resends, 0);
    drop(streamed);
    server.join().unwrap().unwrap();
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
    let lossy = LossyTransport {
        inner: InProcessTransport::new(SoftwareDevice::new(&config).unwrap()),
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
        .run_stream(&inputs[30..], Some(&target_refs[30..]))
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
    assert!(
        message.contains("[4, 11, 3]") && message.contains("[4, 10, 3]"),
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
fn link_bench_reports_efficiency() {
    let options = bench::LinkBenchOptions {
        baud: 1_000_000,
        samples: 200,
        layers: vec![4, 20, 3],
        ..Default::default()
    };
    let result = bench::bench(&options).unwrap();
    assert_eq!(result.samples, 200);
    // Inputs 4 × 2 bytes, targets 3 × 2 bytes and the 4-byte sample header.
    assert_eq!(result.request_payload_bytes_per_sample, 18.0);
    assert_eq!(result.request_wire_bytes_per_sample, 28.0);
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

//! Link throughput in streaming mode over a pseudo-terminal, against a UART's byte rate.
//!
//! The host streams samples to the software device, which a thread serves on the other end of
//! a pseudo-terminal pair, in queue-samples frames with two frames outstanding. The frames start
//! with one sample, because the link has not timed the device yet, and double on each reply up
//! to as many samples as the maximum payload allows. A pseudo-terminal has no baud rate, so by default both
//! ends pace their writes to the byte rate of a UART at the given baud. That is 10 bits per byte
//! (start, 8 data, stop), for the host's requests and for the serving side's replies. The request payload rate,
//! measured on the wall clock from the first request byte to the last reply, divided by that
//! byte rate is the link efficiency: the share of the line that carries payload rather than
//! frame headers, CRCs and idle time.

use std::io::Write;
use std::thread;
use std::time::Instant;

use anyhow::Context;
use leap_model::config::Activation;
use leap_model::protocol::{SampleBatch, SoftwareDevice, MAX_PAYLOAD};
use leap_model::{Config, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serialport::SerialPort;

use super::serial::BITS_PER_BYTE;
use super::{pty_pair, serve, LinkDevice, LinkOptions, PacedWriter, SerialTransport};

/// Settings of a link benchmark run.
#[derive(Clone, Debug)]
pub struct LinkBenchOptions {
    /// Baud rate of the emulated UART.
    pub baud: u32,
    /// Samples streamed in the timed run.
    pub samples: usize,
    /// Neurons per layer, input first.
    pub layers: Vec<usize>,
    /// Pace both ends to the UART's byte rate; without it the pseudo-terminal runs at the speed
    /// of the two processes.
    pub emulate_baud: bool,
    /// Seed of the random inputs and targets.
    pub seed: u64,
    /// Maximum payload the software device advertises, in bytes.
    pub max_payload: usize,
}

impl Default for LinkBenchOptions {
    fn default() -> Self {
        LinkBenchOptions {
            baud: 115_200,
            samples: 2000,
            layers: vec![4, 120, 3],
            emulate_baud: true,
            seed: 7,
            max_payload: MAX_PAYLOAD,
        }
    }
}

/// The measured link figures. "Request" is the host-to-device direction, which carries the
/// inputs and targets; "reply" carries the outputs.
#[derive(Clone, Debug, Serialize)]
pub struct LinkBenchResult {
    /// Layer sizes joined by dashes, such as "4-120-3".
    pub network: String,
    pub baud: u32,
    pub emulated_baud: bool,
    pub samples: usize,
    /// Samples per queue-samples frame once the frames have grown to the maximum payload.
    pub samples_per_frame: usize,
    pub max_payload: usize,
    pub seconds: f64,
    pub samples_per_second: f64,
    pub request_payload_bytes_per_sample: f64,
    pub request_wire_bytes_per_sample: f64,
    pub reply_payload_bytes_per_sample: f64,
    pub reply_wire_bytes_per_sample: f64,
    pub request_payload_bytes_per_second: f64,
    /// The UART's byte rate: baud / 10.
    pub baud_limit_bytes_per_second: f64,
    /// Request payload bytes per second divided by the baud limit.
    pub link_efficiency: f64,
    /// Input and target bytes per second divided by the baud limit: the link efficiency without
    /// the 6-byte header of each queue-samples payload.
    pub sample_data_efficiency: f64,
    /// Request payload bytes divided by request wire bytes: the best efficiency framing allows.
    pub frame_efficiency: f64,
    /// Samples per second the baud limit allows with this framing, in the busier direction.
    pub baud_limited_samples_per_second: f64,
    /// Frames sent again after timeouts or damage; nonzero means the run was disturbed.
    pub resends: u64,
}

/// Returns the number of samples whose inputs and rate targets take about `seconds` on a UART
/// at `baud`, at least 10. Frames of many samples add little to that, and replies are shorter
/// than requests, so requests set the pace.
pub fn samples_for_duration(layers: &[usize], baud: u32, seconds: f64) -> usize {
    let inputs = layers.first().copied().unwrap_or(0);
    let outputs = layers.last().copied().unwrap_or(0);
    let sample_bytes = (2 * inputs + 2 * outputs).max(1);
    let bytes_per_second = baud as f64 / BITS_PER_BYTE as f64;
    let samples = seconds * bytes_per_second / sample_bytes as f64;
    (samples.ceil() as usize).max(10)
}

fn bench_config(layers: &[usize]) -> anyhow::Result<Config> {
    let mut config = Config::default();
    let depth = layers.len().saturating_sub(1);
    config.network.layers = layers.to_vec();
    config.network.activations = (0..depth)
        .map(|l| {
            if l + 1 == depth {
                Activation::Linear
            } else {
                Activation::HardSigmoid
            }
        })
        .collect();
    config.learning.eta = vec![0.01; depth];
    config
        .validate_fixed()
        .context("the benchmark network is invalid")?;
    Ok(config)
}

/// Streams random samples to the software device over a pseudo-terminal and measures the link.
pub fn bench(options: &LinkBenchOptions) -> anyhow::Result<LinkBenchResult> {
    let config = bench_config(&options.layers)?;
    let (master, slave) = pty_pair().context("failed to create a pseudo-terminal pair")?;
    let path = slave.name().context("the pseudo-terminal has no path")?;

    let mut device = SoftwareDevice::new(&config)?;
    device
        .set_max_payload(options.max_payload)
        .map_err(|reason| anyhow::anyhow!("the benchmark device cannot be set up: {reason}"))?;
    let reader = master
        .try_clone_native()
        .context("failed to clone the pseudo-terminal")?;
    let writer: Box<dyn Write + Send> = if options.emulate_baud {
        Box::new(PacedWriter::new(master, options.baud))
    } else {
        Box::new(master)
    };
    let server = thread::Builder::new()
        .name("leap-bench-device".into())
        .spawn(move || serve(&mut device, reader, writer))
        .context("failed to start the device thread")?;

    let transport = SerialTransport::open(&path, options.baud)?.emulate_baud(options.emulate_baud);
    drop(slave);
    let mut link = LinkDevice::connect(Box::new(transport), &config, LinkOptions::default())?;

    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let (n_inputs, n_outputs) = (config.n_inputs(), config.n_outputs());
    let inputs: Vec<Vec<f64>> = (0..options.samples)
        .map(|_| (0..n_inputs).map(|_| rng.gen_range(0.0..1.0)).collect())
        .collect();
    let targets: Vec<Vec<f64>> = (0..options.samples)
        .map(|_| {
            let class = rng.gen_range(0..n_outputs);
            (0..n_outputs)
                .map(|k| if k == class { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let input_refs: Vec<&[f64]> = inputs.iter().map(Vec::as_slice).collect();
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();

    let samples_per_frame = link.samples_per_frame(true);
    let before = link.link_stats();
    let started = Instant::now();
    link.run_stream(&input_refs, Some(&target_refs), &mut |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let after = link.link_stats();
    drop(link);
    server
        .join()
        .map_err(|_| anyhow::anyhow!("the device thread panicked"))?
        .context("the device thread failed")?;

    let samples = options.samples.max(1) as f64;
    let request_payload = (after.request_payload_bytes - before.request_payload_bytes) as f64;
    let frames = (after.requests_sent - before.requests_sent) as f64;
    let sample_data = request_payload - frames * SampleBatch::HEADER_LEN as f64;
    let request_wire = (after.request_wire_bytes - before.request_wire_bytes) as f64;
    let reply_payload = (after.reply_payload_bytes - before.reply_payload_bytes) as f64;
    let reply_wire = (after.reply_wire_bytes - before.reply_wire_bytes) as f64;
    let baud_limit = options.baud as f64 / BITS_PER_BYTE as f64;
    let request_payload_rate = request_payload / seconds;
    Ok(LinkBenchResult {
        network: options
            .layers
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-"),
        baud: options.baud,
        emulated_baud: options.emulate_baud,
        samples: options.samples,
        samples_per_frame,
        max_payload: options.max_payload,
        seconds,
        samples_per_second: options.samples as f64 / seconds,
        request_payload_bytes_per_sample: request_payload / samples,
        request_wire_bytes_per_sample: request_wire / samples,
        reply_payload_bytes_per_sample: reply_payload / samples,
        reply_wire_bytes_per_sample: reply_wire / samples,
        request_payload_bytes_per_second: request_payload_rate,
        baud_limit_bytes_per_second: baud_limit,
        link_efficiency: request_payload_rate / baud_limit,
        sample_data_efficiency: sample_data / seconds / baud_limit,
        frame_efficiency: request_payload / request_wire.max(1.0),
        baud_limited_samples_per_second: baud_limit
            / (request_wire.max(reply_wire) / samples).max(1.0),
        resends: after.resends - before.resends,
    })
}

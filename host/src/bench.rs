//! `leap bench`: single-threaded synapse updates per second of the software models, and with
//! `--link` the link's throughput as [`crate::link::bench`] measures it.
//!
//! One synapse update is the forward product, the backward product and the weight update of one
//! weight in one time step, with biases counted as weights. So a network does
//! `config.synapses()` updates per time step, and updates/s = time steps/s × synapses. The
//! measured configurations have no settle steps, so every time step learns.

use std::time::{Duration, Instant};

use anyhow::Context;
use leap_model::config::Activation;
use leap_model::protocol::MAX_PAYLOAD;
use leap_model::{Config, Device};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tracing::warn;

use crate::cli::BenchArgs;
use crate::devices::DeviceKind;
use crate::link::bench::{self as link_bench, LinkBenchOptions, LinkBenchResult};
use crate::metrics::one_hot;

/// Networks measured, input layer first.
const NETWORKS: [&[usize]; 2] = [&[4, 120, 3], &[784, 100, 10]];

/// Random samples generated before timing and presented round-robin.
const SAMPLE_POOL: usize = 64;

/// Seed of the random inputs and targets.
const BENCH_SEED: u64 = 7;

/// Baud rates that `leap bench --link` emulates.
const LINK_BAUDS: [u32; 3] = [115_200, 1_000_000, 3_000_000];

/// Network whose samples `leap bench --link` streams.
const LINK_NETWORK: [usize; 3] = [4, 120, 3];

/// One measured device and network.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub device: String,
    /// Layer sizes joined by dashes, such as "4-120-3".
    pub network: String,
    /// Weights and biases, which is also the synapse updates per time step.
    pub synapses: usize,
    pub samples: u64,
    pub seconds: f64,
    pub time_steps_per_second: f64,
    pub synapse_updates_per_second: f64,
    pub samples_per_second: f64,
}

/// Runs `leap bench` and prints a table or JSON to stdout.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let cpu = cpu_model();
    let profile = build_profile();
    if profile != "release" {
        warn!("this is a {profile} build, so the host code is unoptimised and the numbers are not representative: run `cargo run --release -p leap-host -- bench`");
    }
    if !args.json {
        println!("CPU: {cpu}");
        println!("build profile: {profile}");
        println!(
            "minimum measured time per row: {} s, single-threaded",
            args.seconds
        );
        println!();
        println!(
            "{:<16} {:<12} {:>9} {:>14} {:>19} {:>11}",
            "device", "network", "synapses", "time steps/s", "synapse updates/s", "samples/s"
        );
    }

    let mut results = Vec::new();
    for kind in DeviceKind::ALL {
        for layers in NETWORKS {
            let result = measure(kind, layers, Duration::from_secs_f64(args.seconds))?;
            if !args.json {
                println!(
                    "{:<16} {:<12} {:>9} {:>14} {:>19} {:>11}",
                    result.device,
                    result.network,
                    result.synapses,
                    si(result.time_steps_per_second),
                    si(result.synapse_updates_per_second),
                    si(result.samples_per_second)
                );
            }
            results.push(result);
        }
    }

    if !args.json {
        println!();
        println!(
            "synapse updates/s = time steps/s x synapses (weights and biases); every time step"
        );
        println!("does the forward product, the backward product and the weight update of every synapse.");
    }

    let link_results = if args.link {
        measure_link(
            args.seconds,
            args.max_payload.unwrap_or(MAX_PAYLOAD),
            args.json,
        )?
    } else {
        Vec::new()
    };

    if args.json {
        let mut report = serde_json::json!({
            "cpu": cpu,
            "profile": profile,
            "min_seconds": args.seconds,
            "threads": 1,
            "results": results,
        });
        if args.link {
            report["link_results"] = serde_json::to_value(&link_results)?;
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// Streams samples to the software device over a pseudo-terminal at each of [`LINK_BAUDS`],
/// for about `seconds` each, and prints a table unless `json` is set.
fn measure_link(
    seconds: f64,
    max_payload: usize,
    json: bool,
) -> anyhow::Result<Vec<LinkBenchResult>> {
    let network = LINK_NETWORK.map(|n| n.to_string()).join("-");
    if !json {
        println!();
        println!(
            "link: {network} samples streamed to the software device over a pseudo-terminal whose"
        );
        println!("writes are paced to the baud rate (10 bits per byte), in both directions, in");
        println!(
            "queue-samples frames that start at one sample and double up to what {max_payload} payload bytes hold, two outstanding"
        );
        println!(
            "{:>9} {:>8} {:>10} {:>11} {:>17} {:>16} {:>17} {:>8}",
            "baud",
            "samples",
            "per frame",
            "samples/s",
            "baud limit, 1/s",
            "link efficiency",
            "frame efficiency",
            "resends"
        );
    }
    let mut results = Vec::new();
    for baud in LINK_BAUDS {
        let options = LinkBenchOptions {
            baud,
            samples: link_bench::samples_for_duration(&LINK_NETWORK, baud, seconds),
            layers: LINK_NETWORK.to_vec(),
            emulate_baud: true,
            seed: BENCH_SEED,
            max_payload,
        };
        let result = link_bench::bench(&options)
            .with_context(|| format!("the link benchmark at {baud} baud failed"))?;
        if !json {
            println!(
                "{:>9} {:>8} {:>10} {:>11} {:>17} {:>14.1} % {:>15.1} % {:>8}",
                result.baud,
                result.samples,
                result.samples_per_frame,
                si(result.samples_per_second),
                si(result.baud_limited_samples_per_second),
                result.link_efficiency * 100.0,
                result.frame_efficiency * 100.0,
                result.resends
            );
        }
        results.push(result);
    }
    if !json {
        println!();
        println!(
            "link efficiency = request payload bytes/s / (baud / 10); frame efficiency = payload"
        );
        println!("bytes / wire bytes of a request, the most that framing allows.");
    }
    Ok(results)
}

/// Returns the configuration measured for `layers`: the defaults with hard-sigmoid hidden layers
/// and a linear output layer.
pub fn bench_config(layers: &[usize]) -> Config {
    let mut config = Config::default();
    let depth = layers.len() - 1;
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
    let default_eta = config.learning.eta.clone();
    config.learning.eta = (0..depth)
        .map(|l| default_eta.get(l).copied().unwrap_or(0.01))
        .collect();
    config.presentation.settle_steps = 0;
    config
}

/// Times whole training samples on a fresh device for at least `duration`, after a warm-up.
fn measure(kind: DeviceKind, layers: &[usize], duration: Duration) -> anyhow::Result<BenchResult> {
    let config = bench_config(layers);
    let network = layers
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-");
    let mut device = kind
        .build(&config)
        .with_context(|| format!("failed to build {kind} for {network}"))?;

    let mut rng = ChaCha8Rng::seed_from_u64(BENCH_SEED);
    let n_inputs = config.n_inputs();
    let n_outputs = config.n_outputs();
    let inputs: Vec<Vec<f64>> = (0..SAMPLE_POOL)
        .map(|_| (0..n_inputs).map(|_| rng.gen_range(0.0..=1.0)).collect())
        .collect();
    let targets: Vec<Vec<f64>> = (0..SAMPLE_POOL)
        .map(|_| one_hot(rng.gen_range(0..n_outputs), n_outputs))
        .collect();

    let mut next = 0usize;
    let mut present = |device: &mut dyn Device| -> anyhow::Result<()> {
        let index = next % SAMPLE_POOL;
        next += 1;
        device.run_batch(&[&inputs[index]], Some(&[&targets[index]]))?;
        Ok(())
    };

    let warm_up = (duration / 5).min(Duration::from_secs(1));
    let warm_up_start = Instant::now();
    loop {
        present(device.as_mut())?;
        if warm_up_start.elapsed() >= warm_up {
            break;
        }
    }

    let start = Instant::now();
    let mut samples = 0u64;
    loop {
        present(device.as_mut())?;
        samples += 1;
        if start.elapsed() >= duration {
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    let synapses = config.synapses();
    let samples_per_second = samples as f64 / seconds;
    let time_steps_per_second = samples_per_second * config.presentation.steps_per_sample as f64;
    Ok(BenchResult {
        device: kind.name().to_string(),
        network,
        synapses,
        samples,
        seconds,
        time_steps_per_second,
        synapse_updates_per_second: time_steps_per_second * synapses as f64,
        samples_per_second,
    })
}

/// Returns the CPU model name from /proc/cpuinfo, or "unknown" where that file has none.
pub fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Returns "release" for optimised builds and "debug" for builds with debug assertions.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Formats a rate with three significant digits and an SI prefix: "1.23 G".
fn si(value: f64) -> String {
    let (scaled, prefix) = if value >= 1e9 {
        (value / 1e9, " G")
    } else if value >= 1e6 {
        (value / 1e6, " M")
    } else if value >= 1e3 {
        (value / 1e3, " k")
    } else {
        (value, "")
    };
    let decimals = if scaled >= 100.0 {
        0
    } else if scaled >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.decimals$}{prefix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_keeps_three_digits() {
        assert_eq!(si(1_234_000_000.0), "1.23 G");
        assert_eq!(si(45_600.0), "45.6 k");
        assert_eq!(si(789.0), "789");
    }

    #[test]
    fn bench_config_is_valid_for_fixed() {
        for layers in NETWORKS {
            let config = bench_config(layers);
            assert!(config.validate_fixed().is_ok(), "{layers:?}");
        }
    }
}

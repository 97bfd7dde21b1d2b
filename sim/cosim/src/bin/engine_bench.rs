//! Measures the Verilated engine: clocks per learning time step, counted by the simulation,
//! against the ideal `synapses / P`, the overhead beyond the weight stream, and the simulation
//! speed of Verilator (without tracing). Every measured run is checked against `FixedModel`.
//!
//! The boards and their lanes come from the board table (`constraints/boards.toml`). Speed is
//! given per second of wall time and per second of the simulation thread's CPU time. The second
//! figure changes little when other processes share the machine, because it leaves out the time
//! the thread waits for a core.
//!
//! A step right after the host changed the input also copies the inputs into the lanes, so the
//! first step of a sample is reported beside the steps that follow it.
//!
//! Run with `cargo run --release -p leap-cosim --features bench --bin engine-bench`.

use std::time::{Duration, Instant};

use leap_cosim::device::engine_params;
use leap_cosim::engine::{compare_state, EngineDriver};
use leap_hdl::boards::table::BoardTable;
use leap_hdl::engine::{counter, select, MIN_ROW_CLOCKS};
use leap_model::config::{Activation, Config};
use leap_model::format::Formats;
use leap_model::FixedModel;
use leap_verilator_sys::{bench_variant_specs, variant_specs, VariantSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Wall time that each speed measurement runs for at least.
const MEASURE_TIME: Duration = Duration::from_secs(2);

/// Boards of the board table whose lane counts are measured: the iCEBreaker (iCE40UP5K, 8
/// SB_MAC16) and the ULX3S-85F (ECP5-85F, 156 18x18 multipliers).
const BOARDS: [&str; 2] = ["icebreaker", "ulx3s-85f"];

/// Returns the CPU time the calling thread has run for, from `/proc/thread-self/schedstat`
/// (nanoseconds on a CPU, the first field).
fn thread_cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .unwrap_or_else(|e| panic!("cannot read /proc/thread-self/schedstat: {e}"));
    let nanoseconds: u64 = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("unexpected /proc/thread-self/schedstat contents: {text:?}"));
    Duration::from_nanos(nanoseconds)
}

/// Clocks of learning steps and their split, from the engine's cycle counter.
struct StepCost {
    /// A step with the same input as the step before.
    clocks: u64,
    /// The first step after the host wrote a new input.
    first_clocks: u64,
    /// Clocks the weight stream takes: `max(groups, MIN_ROW_CLOCKS)` per row.
    stream: u64,
}

fn config_for(layers: &[usize]) -> Config {
    let mut config = Config::default();
    config.network.layers = layers.to_vec();
    let depth = layers.len() - 1;
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
        .unwrap_or_else(|e| panic!("network {layers:?}: {e}"));
    config
}

fn new_engine(spec: &VariantSpec, config: &Config, golden: &FixedModel) -> EngineDriver {
    let mut engine = EngineDriver::try_new(spec.name, spec.lanes, &engine_params(spec), config, 3)
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    engine.load(golden);
    engine
}

/// Clamps a random input and target on both models and returns their words.
fn present(
    rng: &mut ChaCha8Rng,
    engine: &mut EngineDriver,
    golden: &mut FixedModel,
) -> (Vec<i32>, Vec<i64>) {
    let config = golden_config(golden);
    let input: Vec<f64> = (0..config.n_inputs())
        .map(|_| rng.gen_range(0.0..1.0))
        .collect();
    let target: Vec<f64> = (0..config.n_outputs())
        .map(|_| rng.gen_range(0.0..1.0))
        .collect();
    let x = golden.quantise_input(&input);
    let y = golden.quantise_target(&target);
    engine.set_input(&x[..x.len() - 1]);
    engine.set_target(&y);
    (x, y)
}

fn golden_config(golden: &FixedModel) -> Config {
    leap_model::Device::config(golden).clone()
}

/// Returns the engine's clocks of one learning step: the clocks the simulation ran from the run
/// command's strobe to the clock on which `busy` falls, both counted. The engine's own cycle
/// counter is not used, because a read of it returns the count as of its last fold in the
/// counter bank, up to a bank round before the read ends.
fn one_step(engine: &mut EngineDriver) -> u64 {
    engine.run(1, true, u64::MAX);
    engine.last_run_cycles
}

/// Measures the clocks of learning steps of `layers` on `spec`.
fn step_cost(spec: &VariantSpec, layers: &[usize]) -> StepCost {
    let config = config_for(layers);
    let mut golden = FixedModel::new(&config).unwrap();
    let mut engine = new_engine(spec, &config, &golden);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // The first run after loading copies every layer's rates into the lanes.
    present(&mut rng, &mut engine, &mut golden);
    engine.run(1, true, u64::MAX);
    present(&mut rng, &mut engine, &mut golden);
    let first_clocks = one_step(&mut engine);
    let clocks = one_step(&mut engine);
    let stream = (0..engine.depth())
        .map(|l| (layers[l + 1] * engine.groups(l).max(MIN_ROW_CLOCKS)) as u64)
        .sum();
    StepCost {
        clocks,
        first_clocks,
        stream,
    }
}

/// Overhead of a learning step beyond the weight stream, as a linear model fitted from four small
/// networks: clocks per output neuron (the output errors), per error of a layer below the top
/// (read from the backward sums of the layer above), per layer and per step.
#[derive(Clone, Copy, Debug)]
struct Overhead {
    per_output: f64,
    per_error: f64,
    per_layer: f64,
    per_step: f64,
}

impl Overhead {
    /// Fits the model on networks whose every layer has at least [`MIN_ROW_CLOCKS`] column
    /// groups, because a layer of fewer groups streams bubbles and finishes `MIN_ROW_CLOCKS −
    /// groups` clocks earlier.
    fn fit(spec: &VariantSpec) -> Overhead {
        let measured = |layers: &[usize]| {
            let cost = step_cost(spec, layers);
            cost.clocks as f64 - cost.stream as f64
        };
        let n = 2 * spec.lanes + 4;
        let base = measured(&[n, 1]);
        let nine_outputs = measured(&[n, 9]);
        let two_layers = measured(&[n, n, 1]);
        let more_errors = measured(&[n, n + 8, 1]);
        let per_output = (nine_outputs - base) / 8.0;
        let per_error = (more_errors - two_layers) / 8.0;
        let per_layer = two_layers - base - per_error * n as f64;
        let per_step = base - per_output - per_layer;
        Overhead {
            per_output,
            per_error,
            per_layer,
            per_step,
        }
    }

    /// Returns the predicted overhead of layer `l` of `layers`.
    fn layer(&self, layers: &[usize], l: usize) -> f64 {
        let mut clocks = self.per_layer;
        if l + 2 == layers.len() {
            clocks += self.per_output * layers[l + 1] as f64;
        }
        if l > 0 {
            clocks += self.per_error * layers[l] as f64;
        }
        clocks
    }
}

struct Row {
    network: String,
    board: String,
    engine: &'static str,
    lanes: usize,
    synapses: usize,
    clocks: u64,
    first_clocks: u64,
    stream: u64,
    layer_overheads: Vec<f64>,
    predicted_clocks: f64,
    cycles_per_second: f64,
    cycles_per_cpu_second: f64,
    steps_per_second: f64,
}

fn measure(spec: &VariantSpec, board: &str, layers: &[usize], overhead: Overhead) -> Row {
    let config = config_for(layers);
    let mut golden = FixedModel::new(&config).unwrap();
    let mut engine = new_engine(spec, &config, &golden);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let (x, y) = present(&mut rng, &mut engine, &mut golden);
    let cost = step_cost(spec, layers);

    // Speed: run learning steps until MEASURE_TIME has passed, then check every state word.
    let mut steps = 0u64;
    let start_cycles = engine.model_cycles();
    let start = Instant::now();
    let start_cpu = thread_cpu_time();
    while start.elapsed() < MEASURE_TIME {
        engine.run(1, true, u64::MAX);
        steps += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (thread_cpu_time() - start_cpu).as_secs_f64();
    let cycles = engine.model_cycles() - start_cycles;
    for _ in 0..steps {
        golden.step(&x, Some(&y));
    }
    if let Err(difference) = compare_state(&mut engine, &golden, steps) {
        panic!(
            "{} on {}: the engine differs from FixedModel at {difference}",
            spec.name, board
        );
    }
    assert_eq!(
        engine.read(select::COUNTER, counter::STEPS) as u64,
        steps,
        "step counter"
    );

    let layer_overheads: Vec<f64> = (0..layers.len() - 1)
        .map(|l| overhead.layer(layers, l))
        .collect();
    let predicted_clocks =
        cost.stream as f64 + layer_overheads.iter().sum::<f64>() + overhead.per_step;
    Row {
        network: layers
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        board: board.to_string(),
        engine: spec.name,
        lanes: spec.lanes,
        synapses: (0..layers.len() - 1)
            .map(|l| layers[l + 1] * (layers[l] + 1))
            .sum(),
        clocks: cost.clocks,
        first_clocks: cost.first_clocks,
        stream: cost.stream,
        layer_overheads,
        predicted_clocks,
        cycles_per_second: cycles as f64 / elapsed,
        cycles_per_cpu_second: cycles as f64 / cpu,
        steps_per_second: steps as f64 / elapsed,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    let verilator = std::process::Command::new("verilator")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "verilator version unknown".into());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "{cpu}, {threads} hardware threads, {verilator}, {profile} profile, one simulation thread"
    )
}

/// Returns the engine with `lanes` lanes, default formats and the fewest weight words that fits
/// `layers`: the default engine, which is the iCEBreaker configuration, where it fits.
fn smallest_engine(lanes: usize, layers: &[usize]) -> VariantSpec {
    let config = config_for(layers);
    let mut engines: Vec<VariantSpec> = variant_specs()
        .into_iter()
        .chain(bench_variant_specs())
        .filter(|spec| {
            spec.design == "engine" && spec.lanes == lanes && spec.formats == Formats::default()
        })
        .collect();
    engines.sort_by_key(|spec| engine_params(spec).weight_words);
    engines
        .into_iter()
        .find(|spec| {
            EngineDriver::try_new(spec.name, spec.lanes, &engine_params(spec), &config, 3).is_ok()
        })
        .unwrap_or_else(|| panic!("no engine with {lanes} lanes fits {layers:?}"))
}

fn main() {
    let variants = bench_variant_specs();
    let networks: [&[usize]; 2] = [&[4, 120, 3], &[784, 100, 10]];
    println!("Engine benchmark: learning time steps (forward, backward and weight update).");
    let mut rows = Vec::new();
    let mut models = Vec::new();
    let table = BoardTable::load(&BoardTable::default_path()).unwrap_or_else(|e| panic!("{e}"));
    for board in BOARDS {
        let table_lanes = table
            .board(board)
            .unwrap_or_else(|e| panic!("{e}"))
            .engine
            .lanes;
        let spec = variants
            .iter()
            .filter(|spec| spec.lanes <= table_lanes)
            .max_by_key(|spec| spec.lanes)
            .expect("a bench engine with few enough lanes");
        if spec.lanes < table_lanes {
            println!(
                "{board}: the board table plans {table_lanes} lanes, but no bench engine has more than {}, so it is measured at P = {}",
                spec.lanes, spec.lanes
            );
        }
        let overhead = Overhead::fit(spec);
        models.push((board, spec.lanes, overhead));
        for layers in networks {
            let smallest = smallest_engine(spec.lanes, layers);
            rows.push(measure(&smallest, board, layers, overhead));
        }
    }

    println!();
    println!(
        "| network | board | engine | P | synapses | ideal clocks/step | clocks/step | ratio | first step of a sample | stream clocks | overhead per layer (fit) | fit total | Verilator cycles/s | cycles per CPU second | time steps/s |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    for row in &rows {
        let ideal = row.synapses as f64 / row.lanes as f64;
        let layers: Vec<String> = row
            .layer_overheads
            .iter()
            .map(|o| format!("{o:.0}"))
            .collect();
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {} | {:.3} | {} | {} | {} | {:.0} | {:.3e} | {:.3e} | {:.0} |",
            row.network,
            row.board,
            row.engine,
            row.lanes,
            row.synapses,
            ideal,
            row.clocks,
            row.clocks as f64 / ideal,
            row.first_clocks,
            row.stream,
            layers.join(", "),
            row.predicted_clocks,
            row.cycles_per_second,
            row.cycles_per_cpu_second,
            row.steps_per_second
        );
    }
    println!();
    for (board, lanes, o) in models {
        println!(
            "{board}, P = {lanes}: overhead fit = {:.2} clocks per output neuron + {:.2} per error of a \
             layer below the top + {:.2} per layer + {:.2} per step (from N-1, N-9, N-N-1 and \
             N-(N+8)-1 with N = 2P + 4; `fit total` is stream clocks plus this fit)",
            o.per_output, o.per_error, o.per_layer, o.per_step
        );
    }
    println!("Ran on: {}", machine());
}

//! The Verilated engine against `leap_model::FixedModel` with the same configuration, weights
//! and stimuli. After every time step, every weight and bias, every neuron state word (u, ŭ, e,
//! r, d), the rounding state and the saturation counts must be equal.

use leap_cosim::engine::{compare_state, EngineDriver, EngineSaturations};
use leap_model::config::{Activation, Config, ErrorSource, TargetKind};
use leap_model::device::Parameters;
use leap_model::format::Formats;
use leap_model::FixedModel;
use leap_verilator_sys::alternate_formats;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Clocks one time step may take in these small networks before the test reports a hang.
const STEP_CYCLE_LIMIT: u64 = 20_000;

/// A stretch of time steps with one input and target.
struct Phase {
    input: Vec<f64>,
    target: Vec<f64>,
    steps: usize,
    learn: bool,
}

/// Runs `phases` on both models, comparing after every step. Returns the engine's saturation
/// counts and its clocks per step (of the last step).
fn cosimulate(
    case: &str,
    model_name: &str,
    lanes: usize,
    config: &Config,
    mut golden: FixedModel,
    phases: &[Phase],
) -> (EngineSaturations, u64) {
    let spec = leap_verilator_sys::variant_specs()
        .into_iter()
        .find(|spec| spec.name == model_name)
        .unwrap_or_else(|| panic!("leap-verilator-sys lists no model {model_name}"));
    let params = leap_cosim::device::engine_params(&spec);
    let mut engine = EngineDriver::try_new(model_name, lanes, &params, config, 0x5eed)
        .unwrap_or_else(|message| panic!("{case}: {message}"));
    engine.load(&golden);
    if let Err(difference) = compare_state(&mut engine, &golden, 0) {
        panic!("{case}: after loading, first difference at {difference}");
    }
    let baseline = EngineSaturations::from_model(&golden.saturation_counts());
    let mut step = 0;
    for phase in phases {
        let before = EngineSaturations::from_model(&golden.saturation_counts());
        let x = golden.quantise_input(&phase.input);
        let y = golden.quantise_target(&phase.target);
        let after = EngineSaturations::from_model(&golden.saturation_counts());
        assert_eq!(
            after, before,
            "{case}: quantising inputs changed a datapath saturation count"
        );
        engine.set_input(&x[..x.len() - 1]);
        engine.set_target(&y);
        for _ in 0..phase.steps {
            step += 1;
            golden.step(&x, phase.learn.then_some(y.as_slice()));
            engine.run(1, phase.learn, STEP_CYCLE_LIMIT);
            if let Err(difference) = compare_state(&mut engine, &golden, step) {
                panic!(
                    "{case}: first difference at {difference} (learning {})",
                    phase.learn
                );
            }
            let expected =
                EngineSaturations::from_model(&golden.saturation_counts()).since(&baseline);
            let got = engine.saturations();
            assert_eq!(
                got, expected,
                "{case}: saturation counts after step {step} (RTL left, golden model right)"
            );
        }
    }
    assert_eq!(engine.steps(), step, "{case}: step counter");
    (engine.saturations(), engine.last_run_cycles)
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("unexpected JSON value {other}"),
    }
}

/// Builds the 2-3-2 network of the model's reference vector (case A): hard sigmoid, then linear.
fn reference_case() -> (Config, Parameters, Vec<f64>, Vec<f64>) {
    let cases: Value =
        serde_json::from_str(include_str!("../../model/tests/cases/le_2_3_2_vector.json"))
            .expect("the reference vector parses");
    let c = &cases["A"]["config"];
    let mut config = Config::default();
    config.network.layers = vec![2, 3, 2];
    config.network.activations = vec![Activation::HardSigmoid, Activation::Linear];
    config.neuron.tau_m = c["tau_m"].as_f64().unwrap();
    config.neuron.tau_r = c["tau_r"].as_f64().unwrap();
    config.neuron.dt = c["dt"].as_f64().unwrap();
    config.neuron.error_source = ErrorSource::TauM;
    config.learning.beta = c["beta"].as_f64().unwrap();
    config.learning.eta = numbers(&c["eta"]);
    config.validate_fixed().unwrap();
    let weights = c["W"].as_array().unwrap().iter().map(numbers).collect();
    let biases = c["b"].as_array().unwrap().iter().map(numbers).collect();
    (
        config,
        Parameters { weights, biases },
        numbers(&c["x"]),
        numbers(&c["y"]),
    )
}

#[test]
fn engine_reference_network_2_3_2() {
    let (config, params, x, y) = reference_case();
    let golden = FixedModel::with_parameters(&config, &params).unwrap();
    let phases = [
        Phase {
            input: x.clone(),
            target: y.clone(),
            steps: 100,
            learn: true,
        },
        Phase {
            input: x,
            target: y,
            steps: 20,
            learn: false,
        },
    ];
    let (_, cycles) = cosimulate("2-3-2 reference", "engine", 2, &config, golden, &phases);
    eprintln!("2-3-2 network, 2 lanes: {cycles} clocks per time step");
}

/// Draws a configuration of 1 to 4 layers of 1 to 9 neurons with random activations, time
/// constants, learning rates, nudging strength and target kind.
fn random_config(rng: &mut ChaCha8Rng, formats: Formats) -> Config {
    loop {
        let depth = rng.gen_range(1..=4);
        let mut config = Config {
            fixed: formats,
            ..Default::default()
        };
        config.network.layers = (0..=depth)
            .map(|k| {
                if k == 0 {
                    rng.gen_range(1..=6)
                } else {
                    rng.gen_range(1..=9)
                }
            })
            .collect();
        let activations = [
            Activation::HardSigmoid,
            Activation::Relu,
            Activation::Linear,
        ];
        config.network.activations = (0..depth)
            .map(|_| activations[rng.gen_range(0..3)])
            .collect();
        config.neuron.tau_m = rng.gen_range(1.0..20.0);
        config.neuron.dt = rng.gen_range(0.05..=1.0) * config.neuron.tau_m;
        config.neuron.tau_r = if rng.gen_ratio(1, 4) {
            0.0
        } else {
            rng.gen_range(0.0..2.0) * config.neuron.tau_m
        };
        config.learning.beta = rng.gen_range(0.0..4.0);
        config.learning.eta = (0..depth)
            .map(|_| {
                if rng.gen_ratio(1, 8) {
                    0.0
                } else {
                    rng.gen_range(1e-4..0.5)
                }
            })
            .collect();
        config.learning.target = if rng.gen_ratio(1, 3) {
            TargetKind::Voltage
        } else {
            TargetKind::Rate
        };
        config.training.init_std = rng.gen_range(0.2..2.0);
        config.training.seed = rng.gen();
        if config.validate_fixed().is_ok() {
            return config;
        }
    }
}

fn random_phases(rng: &mut ChaCha8Rng, config: &Config, samples: usize) -> Vec<Phase> {
    let (n_in, n_out) = (config.n_inputs(), config.n_outputs());
    let mut phases = Vec::new();
    for _ in 0..samples {
        let input: Vec<f64> = (0..n_in).map(|_| rng.gen_range(-1.5..1.5)).collect();
        let target: Vec<f64> = (0..n_out).map(|_| rng.gen_range(-0.5..1.5)).collect();
        phases.push(Phase {
            input: input.clone(),
            target: target.clone(),
            steps: 2,
            learn: false,
        });
        phases.push(Phase {
            input,
            target,
            steps: 6,
            learn: true,
        });
    }
    phases
}

fn random_networks(model_name: &str, lanes: usize, formats: Formats, seed: u64, networks: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for n in 0..networks {
        let config = random_config(&mut rng, formats);
        let golden = FixedModel::new(&config).unwrap();
        let phases = random_phases(&mut rng, &config, 3);
        let case = format!(
            "{model_name} network {n} (seed {seed}, layers {:?})",
            config.network.layers
        );
        cosimulate(&case, model_name, lanes, &config, golden, &phases);
    }
}

#[test]
fn engine_random_networks_two_lanes() {
    random_networks("engine", 2, Formats::default(), 101, 40);
}

#[test]
fn engine_random_networks_three_lanes_alternate() {
    random_networks("engine_alt", 3, alternate_formats(), 202, 40);
}

/// Large weights, learning rates, nudging and inputs drive every format into saturation at both
/// ends. The counts must agree step by step, and every counter must move.
#[test]
fn engine_saturation_corners() {
    for (model_name, lanes, formats) in [
        ("engine", 2, Formats::default()),
        ("engine_alt", 3, alternate_formats()),
    ] {
        let mut config = Config {
            fixed: formats,
            ..Default::default()
        };
        config.network.layers = vec![3, 5, 4, 2];
        config.network.activations = vec![Activation::Linear, Activation::Relu, Activation::Linear];
        config.neuron.tau_m = 1.0;
        config.neuron.dt = 1.0;
        config.neuron.tau_r = 4.0;
        config.learning.beta = 16.0;
        config.learning.eta = vec![1.0, 1.0, 1.0];
        config.training.init_std = 4.0;
        config.validate_fixed().unwrap();
        let golden = FixedModel::new(&config).unwrap();
        let phases = [
            Phase {
                input: vec![7.9, -8.0, 3.0],
                target: vec![7.0, -7.0],
                steps: 6,
                learn: true,
            },
            Phase {
                input: vec![-8.0, 7.9, -3.0],
                target: vec![-7.0, 7.0],
                steps: 6,
                learn: true,
            },
            Phase {
                input: vec![0.5, 0.5, 0.5],
                target: vec![0.0, 1.0],
                steps: 3,
                learn: false,
            },
        ];
        let (counts, _) = cosimulate(
            &format!("{model_name} saturation corners"),
            model_name,
            lanes,
            &config,
            golden,
            &phases,
        );
        assert!(
            counts.potential > 0,
            "{model_name}: no potential saturation: {counts:?}"
        );
        assert!(
            counts.message > 0,
            "{model_name}: no message saturation: {counts:?}"
        );
        assert!(
            counts.weight > 0,
            "{model_name}: no weight saturation: {counts:?}"
        );
        // The alternate formats cannot saturate a rate (largest potential 16, largest rate 32)
        // or an update factor (|e·η| <= 16 with η <= 1, largest factor 32).
        if formats == Formats::default() {
            assert!(
                counts.rate > 0,
                "{model_name}: no rate saturation: {counts:?}"
            );
            assert!(
                counts.update > 0,
                "{model_name}: no update-factor saturation: {counts:?}"
            );
        }
    }
}

/// Loading another model's state between runs (weights, every neuron word, including the rates
/// that the lanes keep a copy of) must take effect at the next step.
#[test]
fn engine_reload_between_runs() {
    let mut rng = ChaCha8Rng::seed_from_u64(303);
    let mut config = random_config(&mut rng, Formats::default());
    config.network.layers = vec![3, 7, 5, 2];
    config.network.activations = vec![
        Activation::Relu,
        Activation::HardSigmoid,
        Activation::Linear,
    ];
    config.learning.eta = vec![0.05, 0.1, 0.2];
    config.validate_fixed().unwrap();
    let mut first = FixedModel::new(&config).unwrap();
    config.training.seed = config.training.seed.wrapping_add(1);
    let mut second = FixedModel::new(&config).unwrap();
    let mut engine = EngineDriver::new("engine", 2, &config, 0x5eed);
    engine.load(&first);

    let input = [0.3, -0.7, 1.1];
    let target = [0.2, 0.9];
    let (x, y) = (first.quantise_input(&input), first.quantise_target(&target));
    engine.set_input(&x[..x.len() - 1]);
    engine.set_target(&y);
    for step in 1..=4 {
        first.step(&x, Some(&y));
        second.step(&x, Some(&y));
        engine.run(1, true, STEP_CYCLE_LIMIT);
        if let Err(difference) = compare_state(&mut engine, &first, step) {
            panic!("before the reload: first difference at {difference}");
        }
    }

    engine.load(&second);
    for step in 5..=8 {
        second.step(&x, Some(&y));
        engine.run(1, true, STEP_CYCLE_LIMIT);
        if let Err(difference) = compare_state(&mut engine, &second, step) {
            panic!("after the reload: first difference at {difference}");
        }
    }
}

/// Draws a Yin-Yang sample: a point in the unit square with its class (0 yin, 1 yang, 2 dots), as
/// the four inputs `(x, y, 1 - x, 1 - y)` and a one-hot target. Points are drawn in the big
/// circle of radius 0.5 around (0.5, 0.5); the dots have radius 0.1 around (0.25, 0.5) and
/// (0.75, 0.5).
fn yin_yang_sample(rng: &mut ChaCha8Rng) -> (Vec<f64>, Vec<f64>) {
    let (big, small) = (0.5f64, 0.1f64);
    loop {
        let (x, y): (f64, f64) = (rng.gen_range(0.0..2.0 * big), rng.gen_range(0.0..2.0 * big));
        if (x - big).hypot(y - big) > big {
            continue;
        }
        let right = (x - 1.5 * big).hypot(y - big);
        let left = (x - 0.5 * big).hypot(y - big);
        let class = if right < small || left < small {
            2
        } else {
            let yin = right <= small
                || (left > small && left <= 0.5 * big)
                || (y > big && right > 0.5 * big);
            yin as usize
        };
        let mut target = vec![0.0; 3];
        target[class] = 1.0;
        return (vec![x, y, 1.0 - x, 1.0 - y], target);
    }
}

/// One epoch of Yin-Yang training on the default network ([4, 120, 3], hard sigmoid then
/// linear, 8 steps per sample of which 2 settle) on the engine with the iCEBreaker's memory
/// sizes, which the network fills exactly: every output rate after every step and every state
/// word after every sample must agree.
#[test]
fn engine_yin_yang_epoch() {
    // The size of the standard Yin-Yang training set.
    const SAMPLES: usize = 5000;
    let config = Config::default();
    config.validate_fixed().unwrap();
    let mut golden = FixedModel::new(&config).unwrap();
    let params = leap_hdl::engine::EngineParams::icebreaker();
    let spec = leap_verilator_sys::variant_specs()
        .into_iter()
        .find(|spec| spec.name == "engine_icebreaker")
        .expect("leap-verilator-sys lists the engine_icebreaker model");
    assert_eq!(
        leap_cosim::device::engine_params(&spec),
        params,
        "the engine_icebreaker model has the sizes of EngineParams::icebreaker"
    );
    let mut engine = EngineDriver::try_new("engine_icebreaker", 2, &params, &config, 7)
        .unwrap_or_else(|message| panic!("{message}"));
    engine.load(&golden);
    let top = config.depth() - 1;
    let presentation = config.presentation.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(2021);
    let mut step = 0;

    for sample in 0..SAMPLES {
        let (input, target) = yin_yang_sample(&mut rng);
        let x = golden.quantise_input(&input);
        let y = golden.quantise_target(&target);
        engine.set_input(&x[..x.len() - 1]);
        engine.set_target(&y);
        for k in 0..presentation.steps_per_sample {
            step += 1;
            let learn = k >= presentation.settle_steps;

            golden.step(&x, learn.then_some(y.as_slice()));
            engine.run(1, learn, STEP_CYCLE_LIMIT);
            let rates = engine.neuron_words(leap_hdl::engine::select::RATE, top);
            let expected: Vec<i64> = golden.rate_words(top).iter().map(|&r| r as i64).collect();
            assert_eq!(rates, expected, "Yin-Yang sample {sample}, step {step}: output rates (RTL left, golden model right)");
        }
        if let Err(difference) = compare_state(&mut engine, &golden, step as u64) {
            panic!("Yin-Yang sample {sample}: first difference at {difference}");
        }
    }
    // The cycle counter counts every clock since reset, and a read returns the count of a clock
    // shortly before the read ends. After more than 2^16 clocks, its middle word has taken carries.
    let counted = engine.cycles();
    let clocks = engine.model_cycles();
    assert!(
        clocks > 1 << 16,
        "Yin-Yang epoch: {clocks} clocks do not carry into the cycle counter's middle word"
    );
    assert!(
        counted < clocks && clocks - counted < 64,
        "Yin-Yang epoch: cycle counter {counted} after {clocks} clocks of the model"
    );
    eprintln!(
        "Yin-Yang network, 2 lanes: {} clocks per time step",
        engine.last_run_cycles
    );
}

//! Behaviour of the float and fixed-point models beyond the reference vector: configuration
//! errors, fixed against float on random networks, saturation corners, batches, evaluation mode,
//! snapshots and stochastic rounding over long runs.

use leap_model::config::{Activation, Config, ConfigError, TargetKind};
use leap_model::device::Snapshot;
use leap_model::{Device, FixedModel, FloatModel};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn config_with(layers: &[usize]) -> Config {
    let mut config = Config::default();
    config.network.layers = layers.to_vec();
    config.network.activations = vec![Activation::HardSigmoid; layers.len() - 2];
    config.network.activations.push(Activation::Linear);
    config.learning.eta = vec![0.02; layers.len() - 1];
    config
}

fn invalid_field(text: &str) -> String {
    match Config::from_toml_str(text, "test.toml") {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid-field error for {text:?}, got {other:?}"),
    }
}

#[test]
fn config_default_is_valid_and_round_trips() {
    let config = Config::default();
    config.validate_fixed().unwrap();
    let text = config.to_toml_string();
    assert_eq!(Config::from_toml_str(&text, "round trip").unwrap(), config);
    assert_eq!(config.synapses(), 5 * 120 + 121 * 3);
}

#[test]
fn config_errors_name_the_field() {
    assert_eq!(invalid_field("[network]\nlayers = [4]\nactivations = []"), "network.layers");
    assert_eq!(invalid_field("[network]\nlayers = [4, 0, 3]"), "network.layers[1]");
    assert_eq!(invalid_field("[network]\nactivations = [\"linear\"]"), "network.activations");
    assert_eq!(invalid_field("[neuron]\ntau_m = 0.0"), "neuron.tau_m");
    assert_eq!(invalid_field("[neuron]\ntau_r = -1.0"), "neuron.tau_r");
    assert_eq!(invalid_field("[neuron]\ndt = 20.0"), "neuron.dt");
    assert_eq!(invalid_field("[learning]\nbeta = -0.5"), "learning.beta");
    assert_eq!(invalid_field("[learning]\neta = [0.1]"), "learning.eta");
    assert_eq!(invalid_field("[learning]\neta = [0.1, 2.0]"), "learning.eta[1]");
    assert_eq!(invalid_field("[learning.schedule]\nkind = \"step\"\nevery = 0\nfactor = 0.5"), "learning.schedule.every");
    assert_eq!(invalid_field("[presentation]\nsteps_per_sample = 4\nsettle_steps = 4"), "presentation.settle_steps");
    assert_eq!(invalid_field("[training]\nbatch_size = 0"), "training.batch_size");
    assert_eq!(invalid_field("[fixed]\nact_frac = 16"), "fixed.act_frac");
    assert_eq!(invalid_field("[fixed]\nupd_frac = 10"), "fixed.upd_frac");

    let message = Config::from_toml_str("[learning]\nbeta = -0.5", "test.toml").unwrap_err().to_string();
    assert!(message.contains("learning.beta"), "{message}");
    assert!(message.contains("-0.5"), "{message}");
    assert!(message.contains("[0, 16]"), "{message}");
}

#[test]
fn config_parse_errors_name_file_and_line() {
    let message = Config::from_toml_str("[neuron]\ntau_m = \"fast\"\n", "my.toml").unwrap_err().to_string();
    assert!(message.contains("my.toml"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    let message = Config::from_toml_str("[neuron]\ntau_mm = 3.0\n", "my.toml").unwrap_err().to_string();
    assert!(message.contains("tau_mm"), "{message}");
    let missing = Config::load(std::path::Path::new("/nonexistent/leap.toml")).unwrap_err().to_string();
    assert!(missing.contains("/nonexistent/leap.toml"), "{missing}");
}

#[test]
fn fixed_rejects_float_only_settings() {
    let mut config = Config::default();
    config.network.activations[0] = Activation::Tanh;
    let message = FixedModel::new(&config).unwrap_err().to_string();
    assert!(message.contains("network.activations[0]"), "{message}");
    assert!(message.contains("tanh"), "{message}");
    FloatModel::new(&config).unwrap();

    let mut config = Config::default();
    config.training.batch_size = 4;
    let message = FixedModel::new(&config).unwrap_err().to_string();
    assert!(message.contains("training.batch_size"), "{message}");
}

/// Bounds of the fixed-point model's deviation from the float model after 20 learning steps on
/// random networks with up to 40 neurons per layer (measured worst: rates 0.023, weights 9.5e-4).
/// The weight slices dominate. A slice is the weight rounded down to 12 fractional bits, so each
/// forward sum is low by up to `n_in · 2^-12 · max r`. A hidden neuron whose prospective potential
/// sits at a kink of its activation can then take a different slope than in the float model.
const RANDOM_RATE_BOUND: f64 = 0.04;
const RANDOM_WEIGHT_BOUND: f64 = 2e-3;

#[test]
fn fixed_tracks_float_on_random_networks() {
    let mut rng = ChaCha8Rng::seed_from_u64(2021);
    let (mut worst_rate, mut worst_weight) = (0.0f64, 0.0f64);
    for network in 0..40 {
        let depth = rng.gen_range(1..=3);
        let layers: Vec<usize> = (0..=depth).map(|_| rng.gen_range(1..=40)).collect();
        let mut config = config_with(&layers);
        config.training.seed = network;
        config.training.init_std = 0.1;
        config.learning.beta = 0.2;
        let mut float = FloatModel::new(&config).unwrap();
        let mut fixed = FixedModel::new(&config).unwrap();
        let x: Vec<f64> = (0..layers[0]).map(|_| rng.gen_range(0.0..1.0)).collect();
        let mut y = vec![0.0; layers[depth]];
        y[rng.gen_range(0..layers[depth])] = 1.0;
        let xa = Array2::from_shape_vec((1, x.len()), x.clone()).unwrap();
        let ya = Array2::from_shape_vec((1, y.len()), y.clone()).unwrap();
        let (xq, yq) = (fixed.quantise_input(&x), fixed.quantise_target(&y));
        for _ in 0..20 {
            float.step(&xa, Some(&ya));
            fixed.step(&xq, Some(&yq));
        }
        let act = fixed.format().act();
        for l in 0..depth {
            for (a, b) in float.rates(l).iter().zip(fixed.rate_words(l)) {
                worst_rate = worst_rate.max((a - act.to_f64(*b as i64)).abs());
            }
            let (w, b) = fixed.real_parameters(l);
            for (a, q) in float.weights(l).iter().zip(&w).chain(float.biases(l).iter().zip(&b)) {
                worst_weight = worst_weight.max((a - q).abs());
            }
        }
        assert_eq!(fixed.saturation_counts().total(), 0, "network {network} {layers:?}");
    }
    assert!(worst_rate <= RANDOM_RATE_BOUND, "rate deviation {worst_rate}");
    assert!(worst_weight <= RANDOM_WEIGHT_BOUND, "weight deviation {worst_weight}");
    eprintln!("largest deviations: rate {worst_rate:e}, weight {worst_weight:e}");
}

/// Loads every state word of a 3-4-2 network with `pick(min, max)` of its format and steps.
fn run_corner(pick: fn(i64, i64) -> i64) -> FixedModel {
    let mut config = config_with(&[3, 4, 2]);
    config.learning.eta = vec![0.9, 0.9];
    config.learning.beta = 16.0;
    let mut model = FixedModel::new(&config).unwrap();
    let f = *model.format();
    let Snapshot::Fixed(mut state) = model.snapshot().unwrap() else { unreachable!() };
    let fill = |v: &mut Vec<Vec<i64>>, (lo, hi): (i64, i64)| v.iter_mut().for_each(|l| l.iter_mut().for_each(|x| *x = pick(lo, hi)));
    fill(&mut state.weights, (f.weight().min(), f.weight().max()));
    for words in [&mut state.u, &mut state.e, &mut state.ub] {
        fill(words, (f.pot().min(), f.pot().max()));
    }
    fill(&mut state.r, (f.act().min(), f.act().max()));
    fill(&mut state.d, (f.act().min(), f.act().max()));
    model.restore(&Snapshot::Fixed(state)).unwrap();
    let x = vec![-8.0, 9.0, -8.0];
    let y = vec![-8.0, 9.0];
    for _ in 0..3 {
        model.run_batch(&[&x], Some(&[&y])).unwrap();
    }
    model
}

#[test]
fn most_negative_words_saturate_without_overflow() {
    let model = run_corner(|lo, _| lo);
    let counts = model.saturation_counts();
    assert!(counts.potential > 0, "{counts:?}");
    let f = *model.format();
    for l in 0..2 {
        assert!(model.weight_words(l).iter().all(|&w| (w as i64) >= f.weight().min()));
        assert!(model.u_words(l).iter().all(|&u| (f.pot().min()..=f.pot().max()).contains(&u)));
        assert!(model.error_words(l).iter().all(|&e| (f.pot().min()..=f.pot().max()).contains(&e)));
    }
}

#[test]
fn most_positive_words_saturate_without_overflow() {
    let model = run_corner(|_, hi| hi);
    let counts = model.saturation_counts();
    assert!(counts.total() > 0, "{counts:?}");
    assert!(counts.input > 0, "an input of 9.0 exceeds the activity range: {counts:?}");
}

#[test]
fn batch_of_identical_copies_equals_one_copy() {
    let single = config_with(&[3, 5, 2]);
    let mut batched = single.clone();
    batched.training.batch_size = 3;
    let mut one = FloatModel::new(&single).unwrap();
    let mut three = FloatModel::new(&batched).unwrap();
    let x = [0.2, 0.9, 0.4];
    let y = [1.0, 0.0];
    for _ in 0..5 {
        let a = one.run_batch(&[&x], Some(&[&y])).unwrap();
        let b = three.run_batch(&[&x, &x, &x], Some(&[&y, &y, &y])).unwrap();
        for copy in &b {
            for (p, q) in a[0].iter().zip(copy) {
                assert!((p - q).abs() < 1e-12, "{p} vs {q}");
            }
        }
    }
    for (p, q) in one.weights(0).iter().zip(three.weights(0)) {
        assert!((p - q).abs() < 1e-12);
    }
}

#[test]
fn batch_update_is_the_mean_of_copies() {
    let mut config = config_with(&[2, 3, 2]);
    config.presentation.steps_per_sample = 1;
    config.presentation.settle_steps = 0;
    let inputs = [[1.0, 0.0], [0.0, 1.0]];
    let targets = [[1.0, 0.0], [0.0, 1.0]];

    // Two steps: the first installs output errors, the second updates the output weights.
    let mut single_deltas = Vec::new();
    for (x, y) in inputs.iter().zip(&targets) {
        let mut model = FloatModel::new(&config).unwrap();
        let before = model.weights(1).clone();
        model.run_batch(&[x], Some(&[y])).unwrap();
        model.run_batch(&[x], Some(&[y])).unwrap();
        single_deltas.push(model.weights(1) - &before);
    }
    config.training.batch_size = 2;
    let mut model = FloatModel::new(&config).unwrap();
    let before = model.weights(1).clone();
    let xs: Vec<&[f64]> = inputs.iter().map(|x| x.as_slice()).collect();
    let ys: Vec<&[f64]> = targets.iter().map(|y| y.as_slice()).collect();
    model.run_batch(&xs, Some(&ys)).unwrap();
    model.run_batch(&xs, Some(&ys)).unwrap();
    let delta = model.weights(1) - &before;
    let mean = (&single_deltas[0] + &single_deltas[1]) / 2.0;
    assert!(delta.iter().any(|&d| d != 0.0));
    for (p, q) in delta.iter().zip(&mean) {
        assert!((p - q).abs() < 1e-12, "{p} vs {q}");
    }
}

#[test]
fn evaluation_freezes_weights_and_errors_decay() {
    let config = config_with(&[4, 6, 3]);
    let mut float = FloatModel::new(&config).unwrap();
    let mut fixed = FixedModel::new(&config).unwrap();
    let x = [0.1, 0.5, 0.9, 0.3];
    let y = [0.0, 1.0, 0.0];
    for device in [&mut float as &mut dyn Device, &mut fixed] {
        device.run_batch(&[&x], Some(&[&y])).unwrap();
        let before = device.parameters().unwrap();
        device.run_batch(&[&x], None).unwrap();
        assert_eq!(device.parameters().unwrap(), before, "{}", device.name());
    }
    assert!(float.errors(0).iter().chain(float.errors(1)).all(|&e| e == 0.0));
    assert!(fixed.error_words(0).iter().chain(fixed.error_words(1)).all(|&e| e == 0));
}

#[test]
fn voltage_target_reaches_closed_form_error() {
    let mut config = config_with(&[2, 3, 2]);
    config.learning.target = TargetKind::Voltage;
    config.learning.eta = vec![0.0, 0.0];
    config.learning.beta = 0.25;
    config.presentation.steps_per_sample = 80;
    config.presentation.settle_steps = 0;
    let x = [0.7, 0.2];
    let y = [0.5, -0.25];
    let mut float = FloatModel::new(&config).unwrap();
    let mut fixed = FixedModel::new(&config).unwrap();
    float.run_batch(&[&x], Some(&[&y])).unwrap();
    fixed.run_batch(&[&x], Some(&[&y])).unwrap();
    // e = β (y − ŭ) and ŭ = I + e at equilibrium give e = β (y − I) / (1 + β).
    let current = float.weights(1).dot(&float.rates(0).row(0)) + float.biases(1);
    let pot = fixed.format().pot();
    for i in 0..2 {
        let closed_form = 0.25 * (y[i] - current[i]) / 1.25;
        let e = float.errors(1)[[0, i]];
        assert!((e - closed_form).abs() < 1e-9, "float e[{i}] = {e}, closed form {closed_form}");
        let e_fixed = pot.to_f64(fixed.error_words(1)[i]);
        assert!((e_fixed - closed_form).abs() < 2e-3, "fixed e[{i}] = {e_fixed}, closed form {closed_form}");
    }
}

#[test]
fn snapshot_resumes_bit_for_bit() {
    let config = config_with(&[4, 7, 3]);
    let x = [0.3, 0.1, 0.8, 0.5];
    let y = [0.0, 0.0, 1.0];
    let mut fixed = FixedModel::new(&config).unwrap();
    let mut float = FloatModel::new(&config).unwrap();
    for device in [&mut fixed as &mut dyn Device, &mut float] {
        device.run_batch(&[&x], Some(&[&y])).unwrap();
        let snapshot = device.snapshot().unwrap();
        let json = serde_json::to_string(&snapshot).unwrap();
        let restored: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(restored, snapshot);
        let a = device.run_batch(&[&x], Some(&[&y])).unwrap();
        let after = device.snapshot().unwrap();
        device.restore(&restored).unwrap();
        let b = device.run_batch(&[&x], Some(&[&y])).unwrap();
        assert_eq!(a, b, "{}", device.name());
        assert_eq!(device.snapshot().unwrap(), after, "{}", device.name());
    }
}

#[test]
fn restore_rejects_mismatched_snapshots() {
    let config = config_with(&[4, 7, 3]);
    let mut fixed = FixedModel::new(&config).unwrap();
    let float = FloatModel::new(&config).unwrap();
    let message = fixed.restore(&float.snapshot().unwrap()).unwrap_err().to_string();
    assert!(message.contains("float"), "{message}");

    let Snapshot::Fixed(good) = fixed.snapshot().unwrap() else { unreachable!() };
    let mut state = good.clone();
    state.weights[1].pop();
    let message = fixed.restore(&Snapshot::Fixed(state)).unwrap_err().to_string();
    assert!(message.contains("weights[1]"), "{message}");
    let mut state = good.clone();
    state.u[0][2] = 1 << 40;
    let message = fixed.restore(&Snapshot::Fixed(state)).unwrap_err().to_string();
    assert!(message.contains("u[0]"), "{message}");
    assert!(message.contains("31-bit"), "{message}");
    let mut state = good;
    state.rounding_state = 0;
    assert!(fixed.restore(&Snapshot::Fixed(state)).is_err());
}

/// A 1-1 network whose input is one activity LSB: every weight update is a fraction of a weight
/// LSB, yet the weight must move by the float model's total, in both directions.
#[test]
fn sub_lsb_updates_move_weight_by_float_total() {
    for target in [1.0, -1.0] {
        let mut config = config_with(&[1, 1]);
        config.network.activations = vec![Activation::Linear];
        config.learning.eta = vec![2e-5];
        config.training.init_std = 0.0;
        config.presentation.steps_per_sample = 1000;
        config.presentation.settle_steps = 0;
        let mut float = FloatModel::new(&config).unwrap();
        let mut fixed = FixedModel::new(&config).unwrap();
        let x = [(-12f64).exp2()];
        let y = [target];
        for _ in 0..100 {
            float.run_batch(&[&x], Some(&[&y])).unwrap();
            fixed.run_batch(&[&x], Some(&[&y])).unwrap();
        }
        let float_w = float.weights(0)[[0, 0]];
        let fixed_w = fixed.real_parameters(0).0[0];
        let lsb = fixed.format().weight().lsb();
        assert!(float_w.abs() > 1000.0 * lsb, "the run must move the weight by many LSBs: {float_w}");
        assert!(float_w.signum() == target, "direction: {float_w}");
        assert!(((fixed_w - float_w) / float_w).abs() < 0.03, "target {target}: fixed {fixed_w}, float {float_w}");
    }
}

#[test]
fn config_rejects_oversized_and_unrepresentable_values() {
    assert_eq!(invalid_field("[network]\nlayers = [4, 65536, 65536, 3]\nactivations = [\"relu\", \"relu\", \"linear\"]\n[learning]\neta = [0.1, 0.1, 0.1]"), "network.layers");
    assert_eq!(invalid_field("[training]\nseed = 9223372036854775807\nepochs = 2000000"), "training.epochs");
    assert_eq!(invalid_field("[fixed]\nact_frac = 15"), "fixed.act_frac");
    let mut config = Config::default();
    config.training.seed = u64::MAX;
    assert!(config.validate().is_err());
    let text = Config::default().to_toml_string();
    assert!(text.contains("seed = 1"));
    let unknown = Config::from_toml_str("[learning]\nschedule = { kind = \"constant\", foo = 1 }", "x.toml");
    assert!(matches!(unknown, Err(ConfigError::Parse { .. })), "{unknown:?}");
    Config::from_toml_str("[learning]\nschedule = { kind = \"constant\" }", "x.toml").unwrap();
}

#[test]
fn tiny_learning_rates_round_to_zero() {
    let mut config = Config::default();
    config.learning.eta = vec![1e-30, 0.01];
    let model = FixedModel::new(&config).unwrap();
    assert_eq!(model.constants().eta[0].mant, 0);
    let mut model = model;
    model.set_learning_rate_factor(1e-20).unwrap();
    assert!(model.constants().eta.iter().all(|c| c.mant == 0));
}

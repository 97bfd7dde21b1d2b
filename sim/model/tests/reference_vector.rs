//! The float and fixed-point models against the 2-3-2 reference vector: a network stepped through
//! the discrete Latent Equilibrium schedule in exact rational arithmetic by an independent
//! Python script (cases/le_2_3_2_vector.py; full-precision values in cases/le_2_3_2_vector.json).

use leap_model::config::{Activation, Config, ErrorSource};
use leap_model::device::Parameters;
use leap_model::{FixedModel, FloatModel};
use ndarray::Array2;
use serde_json::Value;

fn cases() -> Value {
    serde_json::from_str(include_str!("cases/le_2_3_2_vector.json")).expect("reference JSON parses")
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("unexpected JSON value {other}"),
    }
}

/// Builds the configuration and the initial parameters of a case.
fn setup(case: &Value) -> (Config, Parameters, Vec<f64>, Vec<f64>) {
    let c = &case["config"];
    let mut config = Config::default();
    config.network.layers = vec![2, 3, 2];
    config.network.activations = vec![Activation::HardSigmoid, Activation::Linear];
    config.neuron.tau_m = c["tau_m"].as_f64().unwrap();
    config.neuron.tau_r = c["tau_r"].as_f64().unwrap();
    config.neuron.dt = c["dt"].as_f64().unwrap();
    config.neuron.error_source =
        if c["error_source"] == "tau_r" { ErrorSource::TauR } else { ErrorSource::TauM };
    config.learning.beta = c["beta"].as_f64().unwrap();
    config.learning.eta = numbers(&c["eta"]);
    config.validate().unwrap();
    let weights = c["W"].as_array().unwrap().iter().map(numbers).collect();
    let biases = c["b"].as_array().unwrap().iter().map(numbers).collect();
    (config, Parameters { weights, biases }, numbers(&c["x"]), numbers(&c["y"]))
}

fn assert_close(what: &str, step: u64, got: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(got.len(), expected.len(), "{what} at step {step}: length");
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!((g - e).abs() <= tolerance, "{what}[{k}] at step {step}: got {g}, expected {e} (tolerance {tolerance:e})");
    }
}

/// Runs the float model through a case and compares every reported step.
fn check_float(case: &Value, key: &str, tolerance: f64) {
    let (config, params, x, y) = setup(case);
    let mut model = FloatModel::with_parameters(&config, &params).unwrap();
    let x = Array2::from_shape_vec((1, 2), x).unwrap();
    let y = Array2::from_shape_vec((1, 2), y).unwrap();
    let reports = case[key].as_array().unwrap();
    let last = reports.last().unwrap()["step"].as_u64().unwrap();
    let mut checked = 0;
    for step in 1..=last {
        model.step(&x, Some(&y));
        for report in reports.iter().filter(|r| r["step"].as_u64() == Some(step)) {
            for l in 0..2 {
                let name = |q: &str| format!("case {key} layer {} {q}", l + 1);
                assert_close(&name("u"), step, model.u(l).as_slice().unwrap(), &numbers(&report["u"][l]), tolerance);
                assert_close(&name("ub"), step, model.prospective(l).as_slice().unwrap(), &numbers(&report["ub"][l]), tolerance);
                assert_close(&name("r"), step, model.rates(l).as_slice().unwrap(), &numbers(&report["r"][l]), tolerance);
                assert_close(&name("e"), step, model.errors(l).as_slice().unwrap(), &numbers(&report["e"][l]), tolerance);
                assert_close(&name("W"), step, model.weights(l).as_slice().unwrap(), &numbers(&report["W"][l]), tolerance);
                assert_close(&name("b"), step, model.biases(l).as_slice().unwrap(), &numbers(&report["b"][l]), tolerance);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, reports.len());
}

#[test]
fn float_case_a_steps_1_to_3() {
    check_float(&cases()["A"], "exact", 1e-12);
}

#[test]
fn float_case_a_step_100() {
    check_float(&cases()["A"], "float", 1e-9);
}

#[test]
fn float_case_b_mismatched_tau_r() {
    check_float(&cases()["B"], "exact", 1e-12);
}

#[test]
fn float_case_c_non_prospective() {
    check_float(&cases()["C"], "exact", 1e-12);
}

#[test]
fn float_case_d_fixed_point_of_dynamics() {
    let cases = cases();
    check_float(&cases["D"], "float", 1e-9);

    // Without plasticity the state converges to the closed-form equilibrium.
    let (config, params, x, y) = setup(&cases["D"]);
    let mut model = FloatModel::with_parameters(&config, &params).unwrap();
    let xa = Array2::from_shape_vec((1, 2), x).unwrap();
    let ya = Array2::from_shape_vec((1, 2), y.clone()).unwrap();
    for _ in 0..60 {
        model.step(&xa, Some(&ya));
    }
    let beta = config.learning.beta;
    let w2 = model.weights(1).clone();
    let b2 = model.biases(1).clone();
    let r1 = model.rates(0).row(0).to_owned();
    let current = w2.dot(&r1) + &b2;
    let e_out = model.errors(1).row(0).to_owned();
    for i in 0..2 {
        let closed_form = beta * (y[i] - current[i]) / (1.0 + beta);
        assert!((e_out[i] - closed_form).abs() < 1e-9, "e_out[{i}] = {}, closed form {closed_form}", e_out[i]);
    }
    let back = w2.t().dot(&e_out);
    let ub1 = model.prospective(0).row(0).to_owned();
    let e_hidden = model.errors(0).row(0).to_owned();
    for j in 0..3 {
        let slope = if (0.0..=1.0).contains(&ub1[j]) { 1.0 } else { 0.0 };
        assert!((e_hidden[j] - slope * back[j]).abs() < 1e-9, "e_hidden[{j}] = {}, expected {}", e_hidden[j], slope * back[j]);
    }
}

/// The published printout (10 decimals) agrees with the full-precision data.
#[test]
fn printed_reference_matches_json() {
    let printed = include_str!("cases/le_2_3_2_vector.out");
    let case_a = &cases()["A"]["exact"][2];
    let line = printed.lines().skip_while(|l| *l != "step 3").nth(5).unwrap();
    assert!(line.trim_start().starts_with("W=["), "{line}");
    let printed_w: Vec<f64> = line
        .trim()
        .trim_start_matches("W=")
        .split(['[', ']', ','])
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    assert_close("case A layer 1 W", 3, &printed_w, &numbers(&case_a["W"][0]), 5.1e-11);
}

/// Largest deviation of the fixed-point model from the float model on case A. With the default
/// formats the potentials have 24 fractional bits and the 16-bit weight slices 12, so the
/// deviation is dominated by the weight slices (2^-13 per weight times the rates).
const FIXED_BOUND_CASE_A: f64 = 2e-3;

#[test]
fn fixed_tracks_float_on_case_a() {
    let (config, params, x, y) = setup(&cases()["A"]);
    let mut float = FloatModel::with_parameters(&config, &params).unwrap();
    let mut fixed = FixedModel::with_parameters(&config, &params).unwrap();
    let xa = Array2::from_shape_vec((1, 2), x.clone()).unwrap();
    let ya = Array2::from_shape_vec((1, 2), y.clone()).unwrap();
    let xq = fixed.quantise_input(&x);
    let yq = fixed.quantise_target(&y);
    let f = *fixed.format();
    let mut worst: f64 = 0.0;
    for step in 1..=100u64 {
        float.step(&xa, Some(&ya));
        fixed.step(&xq, Some(&yq));
        for l in 0..2 {
            let pairs: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
                ("u", float.u(l).iter().copied().collect(), fixed.u_words(l).iter().map(|&v| f.pot().to_f64(v)).collect()),
                ("ub", float.prospective(l).iter().copied().collect(), fixed.prospective_words(l).iter().map(|&v| f.pot().to_f64(v)).collect()),
                ("r", float.rates(l).iter().copied().collect(), fixed.rate_words(l).iter().map(|&v| f.act().to_f64(v as i64)).collect()),
                ("e", float.errors(l).iter().copied().collect(), fixed.error_words(l).iter().map(|&v| f.pot().to_f64(v)).collect()),
                ("W", float.weights(l).iter().copied().collect(), fixed.real_parameters(l).0),
                ("b", float.biases(l).to_vec(), fixed.real_parameters(l).1),
            ];
            for (name, a, b) in pairs {
                for (k, (p, q)) in a.iter().zip(&b).enumerate() {
                    let d = (p - q).abs();
                    worst = worst.max(d);
                    assert!(d <= FIXED_BOUND_CASE_A, "layer {} {name}[{k}] at step {step}: float {p}, fixed {q}", l + 1);
                }
            }
        }
    }
    assert_eq!(fixed.saturation_counts().total(), 0);
    eprintln!("largest fixed-point deviation over 100 steps: {worst:e}");
}

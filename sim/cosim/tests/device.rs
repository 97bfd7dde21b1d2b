//! `VerilatorDevice` against `FixedModel`, both driven through the `Device` trait: outputs and
//! snapshots must be equal bit for bit, and snapshots must move between the two devices.

use leap_cosim::VerilatorDevice;
use leap_model::config::{Activation, Config, ErrorSource};
use leap_model::device::{Device, DeviceError, Snapshot};
use leap_model::FixedModel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SAMPLES: usize = 200;

/// Returns a 4-20-3 network with 4 steps per sample, of which 1 settles.
fn small_config() -> Config {
    let mut config = Config::default();
    config.network.layers = vec![4, 20, 3];
    config.network.activations = vec![Activation::HardSigmoid, Activation::Linear];
    config.learning.eta = vec![0.05, 0.02];
    config.presentation.steps_per_sample = 4;
    config.presentation.settle_steps = 1;
    config.training.seed = 17;
    config.validate_fixed().unwrap();
    config
}

/// Draws `count` samples: four inputs in [-0.2, 1.2) and a one-hot target of 3 classes.
fn samples(seed: u64, count: usize) -> Vec<(Vec<f64>, Vec<f64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let input: Vec<f64> = (0..4).map(|_| rng.gen_range(-0.2..1.2)).collect();
            let mut target = vec![0.0; 3];
            target[rng.gen_range(0..3)] = 1.0;
            (input, target)
        })
        .collect()
}

fn fixed_state(device: &dyn Device) -> leap_model::fixed::FixedState {
    match device.snapshot().unwrap() {
        Snapshot::Fixed(state) => state,
        Snapshot::Float(_) => panic!("{} returned a float snapshot", device.name()),
    }
}

/// Presents `samples` to both devices (with targets when `train`), comparing the outputs after
/// every sample.
fn run_both(
    case: &str,
    verilator: &mut dyn Device,
    software: &mut dyn Device,
    samples: &[(Vec<f64>, Vec<f64>)],
    train: bool,
) {
    for (k, (input, target)) in samples.iter().enumerate() {
        let targets = [target.as_slice()];
        let targets = train.then_some(&targets[..]);
        let got = verilator.run_batch(&[input], targets).unwrap();
        let expected = software.run_batch(&[input], targets).unwrap();
        assert_eq!(
            got, expected,
            "{case}, sample {k}: outputs (verilator left, software-fixed right)"
        );
    }
}

#[test]
fn verilator_device_matches_fixed_model() {
    let config = small_config();
    let mut verilator = VerilatorDevice::new(&config).unwrap();
    let mut software = FixedModel::new(&config).unwrap();
    assert_eq!(verilator.name(), "verilator");
    assert_eq!(
        fixed_state(&verilator),
        fixed_state(&software),
        "initial snapshots"
    );

    let data = samples(5, SAMPLES);
    let (first, second) = data.split_at(SAMPLES / 2);
    run_both("training", &mut verilator, &mut software, first, true);
    let middle = fixed_state(&verilator);
    assert_eq!(
        middle,
        fixed_state(&software),
        "snapshots after {} samples",
        first.len()
    );
    assert_eq!(
        middle.steps,
        (first.len() * 4) as u64,
        "steps after the first half"
    );

    // A snapshot of the verilator device continues on a fresh one exactly as the original.
    let mut resumed = VerilatorDevice::new(&config).unwrap();
    resumed.restore(&Snapshot::Fixed(middle.clone())).unwrap();
    assert_eq!(fixed_state(&resumed), middle, "snapshot after restore");

    verilator.set_learning_rate_factor(0.5).unwrap();
    resumed.set_learning_rate_factor(0.5).unwrap();
    software.set_learning_rate_factor(0.5).unwrap();
    let mut copy = software.clone();
    run_both(
        "training at factor 0.5",
        &mut verilator,
        &mut software,
        second,
        true,
    );
    run_both(
        "resumed at factor 0.5",
        &mut resumed,
        &mut copy,
        second,
        true,
    );
    run_both(
        "evaluation",
        &mut verilator,
        &mut software,
        &first[..20],
        false,
    );

    let end = fixed_state(&software);
    assert_eq!(
        fixed_state(&verilator),
        end,
        "snapshots after training and evaluation"
    );
    assert_eq!(
        fixed_state(&resumed),
        fixed_state(&copy),
        "snapshots of the resumed run"
    );
    assert!(
        end.weights != middle.weights,
        "the second half changed no weight"
    );
    assert_eq!(
        verilator.saturations(),
        software.saturations(),
        "saturation totals"
    );
    assert_eq!(
        verilator.parameters().unwrap(),
        software.parameters().unwrap(),
        "real parameters"
    );
}

#[test]
fn verilator_device_rejects_unsupported() {
    let mut config = small_config();
    config.neuron.error_source = ErrorSource::TauR;
    config.validate_fixed().unwrap();
    let message = match VerilatorDevice::new(&config) {
        Err(DeviceError::Other(message)) => message,
        Err(other) => panic!("tau_r: unexpected error {other:?}"),
        Ok(_) => panic!("tau_r: the device was created"),
    };
    assert!(
        message.contains("tau_r") || message.contains("TauR"),
        "{message}"
    );

    let config = small_config();
    let mut device = VerilatorDevice::new(&config).unwrap();
    let wrong_width = device.run_batch(&[&[0.5; 3]], None);
    assert!(
        matches!(
            wrong_width,
            Err(DeviceError::InputWidth {
                expected: 4,
                found: 3
            })
        ),
        "{wrong_width:?}"
    );
    let float = Snapshot::Float(leap_model::FloatModel::new(&config).unwrap().state());
    assert!(matches!(
        device.restore(&float),
        Err(DeviceError::Snapshot(_))
    ));
    assert!(device.set_learning_rate_factor(f64::NAN).is_err());
}

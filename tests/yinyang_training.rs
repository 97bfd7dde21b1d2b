//! The default `leap train` run on Yin-Yang, on both software models, to the accuracy targets:
//! the float model at least 97.0 % test accuracy (a 4-120-3 ANN trained with backpropagation
//! reaches 98.7 ± 0.3 % on this data set), the fixed-point golden model at least 96.0 % and within
//! 1.0 percentage point of the float model with the same seed.

use std::path::Path;
use std::sync::OnceLock;

use leap_host::cli::TrainArgs;
use leap_host::devices::DeviceKind;

/// Trains the default configuration on `device` into `dir` and returns the final test accuracy.
fn train_default(device: DeviceKind, dir: &Path) -> f64 {
    let args = TrainArgs {
        config: None,
        device: Some(device),
        link: Default::default(),
        data: None,
        epochs: None,
        seed: None,
        out: Some(dir.to_path_buf()),
        overwrite: false,
        resume: None,
        stop_after: None,
    };
    leap_host::train::run(&args).expect("default training run succeeds");

    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let epochs = leap_model::Config::default().training.epochs;
    assert_eq!(metrics.lines().count(), 1 + 3 * epochs, "one row per epoch and split");
    let last_test = metrics.lines().rev().find(|l| l.contains(",test,")).unwrap();
    let fields: Vec<&str> = last_test.split(',').collect();
    assert_eq!(fields[0], epochs.to_string());
    fields[2].parse().unwrap()
}

/// Runs the float model once for both tests, because it is also the fixed-point model's reference.
fn float_accuracy() -> f64 {
    static ACCURACY: OnceLock<f64> = OnceLock::new();
    *ACCURACY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        train_default(DeviceKind::SoftwareFloat, dir.path())
    })
}

#[test]
fn float_model_reaches_97_percent() {
    let accuracy = float_accuracy();
    assert!(accuracy >= 0.970, "float test accuracy {accuracy}");
}

#[test]
fn fixed_model_reaches_96_percent_near_float() {
    let dir = tempfile::tempdir().unwrap();
    let fixed = train_default(DeviceKind::SoftwareFixed, dir.path());
    assert!(fixed >= 0.960, "fixed-point test accuracy {fixed}");
    let float = float_accuracy();
    assert!((fixed - float).abs() <= 0.010, "fixed {fixed} and float {float} differ by more than 1 percentage point");
}

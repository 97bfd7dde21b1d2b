//! `leap train --device verilator`: the training loop on the Verilated engine gives the same
//! checkpoint, bit for bit, as the fixed-point golden model.

use std::path::Path;

use leap_host::cli::TrainArgs;
use leap_host::devices::DeviceKind;
use serde_json::Value;

/// A 4-20-3 network with 4 time steps per sample, small enough for the engine simulation.
const SMALL_CONFIG: &str = "\
[network]
layers = [4, 20, 3]

[presentation]
steps_per_sample = 4
settle_steps = 1
";

fn train(device: DeviceKind, config: &Path, out: &Path) -> Value {
    let args = TrainArgs {
        config: Some(config.to_path_buf()),
        device: Some(device),
        epochs: Some(1),
        out: Some(out.to_path_buf()),
        ..TrainArgs::default()
    };
    leap_host::train::run(&args).expect("training succeeds");
    serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint.json")).unwrap()).unwrap()
}

#[test]
fn verilator_epoch_equals_golden_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("small.toml");
    std::fs::write(&config, SMALL_CONFIG).unwrap();

    let engine = train(DeviceKind::Verilator, &config, &dir.path().join("engine"));
    let golden = train(DeviceKind::SoftwareFixed, &config, &dir.path().join("golden"));

    assert_eq!(engine["device"], "verilator");
    assert_eq!(engine["snapshot"], golden["snapshot"], "final device state");
    assert_eq!(engine["metrics"], golden["metrics"], "accuracy, loss and saturations of every split");
}

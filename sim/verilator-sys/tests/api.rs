//! The safe API over the Verilated models: ports, clocking and VCD tracing.

use leap_verilator_sys::{model_names, Model};

#[test]
fn every_model_is_built() {
    let names = model_names();
    for name in ["lane", "neuron", "lane_alt", "neuron_alt"] {
        assert!(names.contains(&name), "model {name} missing from {names:?}");
    }
}

#[test]
fn ports_mask_and_sign_extend() {
    let mut lane = Model::new("lane", 7);
    let rate = lane.port("rate");
    assert_eq!(rate.width(), 16);
    lane.set(rate, -2);
    lane.eval();
    let valid = lane.port("valid");
    lane.set(valid, 1);
    lane.reset(3);
    assert_eq!(lane.cycles(), 3);
    let out_valid = lane.port("out_valid");
    assert_eq!(lane.get(out_valid), 0, "reset clears the valid pipeline");
}

#[test]
#[should_panic(expected = "has no port `missing`")]
fn unknown_port_names_the_ports() {
    Model::new("lane", 1).port("missing");
}

#[test]
fn trace_writes_a_vcd_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lane.vcd");
    let mut lane = Model::new("lane", 3);
    lane.trace(&path).unwrap();
    lane.reset(2);
    for _ in 0..4 {
        lane.clock();
    }
    lane.stop_trace();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("$enddefinitions"),
        "no VCD header in {}",
        path.display()
    );
    assert!(
        text.contains("weight_next"),
        "the trace lacks the lane's ports"
    );
}

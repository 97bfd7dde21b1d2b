//! Smoke test of iCE40 synthesis: yosys `synth_ice40 -dsp -spram` maps every product of the lane
//! and the neuron unit to an SB_MAC16 and reports no driver conflicts.

mod common;

use leap_hdl::engine::EngineParams;
use leap_hdl::link::SINGLE_PORT_ATTRIBUTE;
use leap_hdl::{emit, emit_engine, Design};
use leap_model::format::Formats;

use common::yosys::{self, cell_count};

/// Synthesises `design` and returns yosys's log.
fn synthesise(design: Design) -> String {
    synthesise_verilog(design, &emit(design, &Formats::default()).verilog)
}

/// Synthesises the Verilog of `design` for the iCE40 with DSP inference and returns yosys's log.
/// Single-port memories map to SB_SPRAM256KA, as `leap build` maps them.
fn synthesise_verilog(design: Design, verilog: &str) -> String {
    let script = format!(
        "hierarchy -top top; \
         setattr -set ram_style \"huge\" a:{SINGLE_PORT_ATTRIBUTE}; \
         synth_ice40 -dsp -spram -top top; stat"
    );
    yosys::synthesise(design.name(), verilog, &script)
}

fn check(design: Design, multipliers: usize) {
    let log = synthesise(design);
    let conflicts = yosys::driver_conflicts(&log);
    assert!(
        conflicts.is_empty(),
        "{design}: yosys reports driver conflicts:\n{}",
        conflicts.join("\n")
    );
    assert_eq!(
        cell_count(&log, "SB_MAC16"),
        multipliers,
        "{design}: SB_MAC16 count in the report"
    );
}

#[test]
fn lane_maps_three_products_to_sb_mac16() {
    check(Design::Lane, 3);
}

/// The neuron unit's four 16 x 16 partial products share two multipliers over two clocks.
#[test]
fn neuron_maps_two_products_to_sb_mac16() {
    check(Design::Neuron, 2);
}

/// The engine's memories map to iCE40 block RAM (SB_RAM40_4K) without read/write bypass logic,
/// and its products to SB_MAC16.
#[test]
fn engine_memories_map_to_block_ram() {
    let log = synthesise(Design::Engine);
    let conflicts = yosys::driver_conflicts(&log);
    assert!(
        conflicts.is_empty(),
        "engine: yosys reports driver conflicts:\n{}",
        conflicts.join("\n")
    );

    // The controller has 5 memories: u with the targets, the first bank of e with ŭ, the second
    // bank of e with the layer table and the inputs, both banks of r, and both banks of d. The
    // inputs take a sixth only when they do not fit beside the layer table, which the default
    // sizes avoid. Each lane has 4: the weights' 16-bit slices, the weights' low bits, rates and
    // backward sums. The counter bank's single-port memory maps to an SB_SPRAM256KA.
    let memories = 5 + 4 * leap_hdl::engine::EngineParams::default().lanes;
    let mapped = yosys::mapped_memories(&log, "ICE40_RAM4K");
    assert_eq!(mapped, memories, "engine: memories mapped to block RAM");
    let single_port = yosys::mapped_memories(&log, "ICE40_SPRAM");
    assert_eq!(single_port, 1, "engine: memories mapped to SB_SPRAM256KA");
    let collisions = yosys::write_ports(&log);
    assert_eq!(
        collisions.len(),
        memories + single_port,
        "engine: one write port per memory"
    );
    for line in collisions {
        assert!(
            line.contains("don't care on collision"),
            "engine: a memory needs bypass logic: {line}"
        );
    }
    assert!(
        cell_count(&log, "SB_RAM40_4K") > 0,
        "engine: no SB_RAM40_4K in the report"
    );
    // At least the lanes' 3 products each and the neuron unit's 2; yosys maps the per-neuron
    // error products to SB_MAC16 or to logic depending on their reduced widths.
    let lanes = leap_hdl::engine::EngineParams::default().lanes;
    let macs = cell_count(&log, "SB_MAC16");
    assert!(
        macs >= 3 * lanes + 2,
        "engine: {macs} SB_MAC16 in the report"
    );
    eprintln!(
        "engine with the default parameters on iCE40: {} SB_LUT4, {} SB_RAM40_4K, {macs} SB_MAC16",
        cell_count(&log, "SB_LUT4"),
        cell_count(&log, "SB_RAM40_4K")
    );
}

/// The engine with [`EngineParams::icebreaker`] stays within the resources measured for it, so
/// that a change which grows it fails here. An iCE40UP5K has 5,280 SB_LUT4, 30 SB_RAM40_4K and
/// 8 SB_MAC16, and the rest of the board core needs about 2,600 SB_LUT4 and no SB_MAC16 of them
/// (see the board_synthesis test).
///
/// The bounds are the counts measured with yosys 0.23 plus about 3 % of the LUTs for changes in
/// yosys's choices. The multipliers are the lanes' 6 and the neuron unit's 2, which the
/// per-neuron products share, so all 8 of an iCE40UP5K are in use.
///
/// NOTE: the engine and the rest of the board core together still exceed an iCE40UP5K's
/// logic cells.
#[test]
fn icebreaker_engine_resources() {
    const MAX_LUTS: usize = 2_850;
    const MAX_BLOCK_RAMS: usize = 28;
    const MAX_MACS: usize = 8;

    let params = EngineParams::icebreaker();
    let log = synthesise_verilog(
        Design::Engine,
        &emit_engine(&Formats::default(), &params).verilog,
    );
    let luts = cell_count(&log, "SB_LUT4");
    let block_rams = cell_count(&log, "SB_RAM40_4K");
    let macs = cell_count(&log, "SB_MAC16");
    eprintln!(
        "engine with the iCEBreaker parameters on iCE40: {luts} SB_LUT4, {block_rams} SB_RAM40_4K, {macs} SB_MAC16"
    );
    assert!(
        luts <= MAX_LUTS,
        "engine: {luts} SB_LUT4, at most {MAX_LUTS} expected"
    );
    assert!(
        block_rams <= MAX_BLOCK_RAMS,
        "engine: {block_rams} SB_RAM40_4K, at most {MAX_BLOCK_RAMS} expected"
    );
    assert!(
        macs <= MAX_MACS,
        "engine: {macs} SB_MAC16, at most {MAX_MACS} expected"
    );
}

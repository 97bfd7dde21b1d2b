//! Smoke test of iCE40 synthesis: yosys `synth_ice40 -dsp` maps every product of the lane and the
//! neuron unit to an SB_MAC16 and reports no driver conflicts.

use std::process::Command;

use leap_hdl::{emit, Design};
use leap_model::format::Formats;

/// Synthesises `design` and returns yosys's log.
fn synthesise(design: Design) -> String {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let path = dir.path().join(format!("{}.v", design.name()));
    std::fs::write(&path, emit(design, &Formats::default()).verilog)
        .expect("cannot write the Verilog");
    let script = format!(
        "read_verilog {}; synth_ice40 -dsp -top top; stat",
        path.display()
    );
    let output = Command::new("yosys")
        .args(["-p", &script])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run yosys ({e}): install it with apt-get install yosys")
        });
    let log = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "yosys failed on {design}:\n{}\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    log
}

/// Returns the count of `cell` in the final `stat` report.
fn cell_count(log: &str, cell: &str) -> usize {
    let report = log.rsplit("Printing statistics").next().unwrap_or("");
    report
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(cell))
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .next()
        .unwrap_or(0)
}

fn check(design: Design, multipliers: usize) {
    let log = synthesise(design);
    let conflicts: Vec<_> = log
        .lines()
        .filter(|l| l.contains("Driver-driver conflict"))
        .collect();
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

#[test]
fn neuron_maps_four_products_to_sb_mac16() {
    check(Design::Neuron, 4);
}

/// The engine's memories map to iCE40 block RAM (SB_RAM40_4K) without read/write bypass logic,
/// and its products to SB_MAC16.
#[test]
fn engine_memories_map_to_block_ram() {
    let log = synthesise(Design::Engine);
    let conflicts: Vec<_> = log
        .lines()
        .filter(|l| l.contains("Driver-driver conflict"))
        .collect();
    assert!(
        conflicts.is_empty(),
        "engine: yosys reports driver conflicts:\n{}",
        conflicts.join("\n")
    );

    // 11 memories of the controller (u, ŭ, two banks each of e, r and d, inputs, targets, layer
    // table) and 3 per lane (weights, rates, backward sums).
    let memories = 11 + 3 * leap_hdl::engine::EngineParams::default().lanes;
    let mapped = log
        .lines()
        .filter(|l| l.starts_with("mapping memory") && l.contains("ICE40_RAM4K"))
        .count();
    assert_eq!(mapped, memories, "engine: memories mapped to block RAM");
    let collisions: Vec<_> = log
        .lines()
        .filter(|l| l.trim_start().starts_with("Write port"))
        .collect();
    assert_eq!(
        collisions.len(),
        memories,
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
    // At least the lanes' 3 products each and the neuron unit's 4; yosys maps the per-neuron
    // error products to SB_MAC16 or to logic depending on their reduced widths.
    let lanes = leap_hdl::engine::EngineParams::default().lanes;
    let macs = cell_count(&log, "SB_MAC16");
    assert!(
        macs >= 3 * lanes + 4,
        "engine: {macs} SB_MAC16 in the report"
    );
    eprintln!(
        "engine with the default parameters on iCE40: {} SB_LUT4, {} SB_RAM40_4K, {macs} SB_MAC16",
        cell_count(&log, "SB_LUT4"),
        cell_count(&log, "SB_RAM40_4K")
    );
}

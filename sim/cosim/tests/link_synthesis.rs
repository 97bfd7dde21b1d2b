//! iCE40 synthesis of the link designs with yosys `synth_ice40`, in the flow of `leap build`.
//! The decoder's ring maps to block RAM (SB_RAM40_4K), and its error counters and the encoder's
//! payload buffer map to SB_SPRAM256KA. No memory needs read/write bypass logic, and yosys
//! reports no driver conflicts.

mod common;

use leap_hdl::link::{LinkParams, SINGLE_PORT_ATTRIBUTE};
use leap_hdl::{emit_link, Design};

use common::yosys::{self, cell_count};

/// Synthesises `design` for `params` as `leap build` does and returns yosys's log: the memories
/// marked as single-port get `ram_style = "huge"` and `synth_ice40` runs with `-spram`.
fn synthesise(design: Design, params: &LinkParams) -> String {
    let script = format!(
        "hierarchy -top top; \
         setattr -set ram_style \"huge\" a:{SINGLE_PORT_ATTRIBUTE}; \
         synth_ice40 -spram -top top; stat"
    );
    yosys::synthesise(design.name(), &emit_link(design, params).verilog, &script)
}

/// Checks, in the flow of `leap build`, that `design` maps one memory to `blocks` SB_RAM40_4K and
/// `single_port` memories to SB_SPRAM256KA, none of them with bypass logic.
fn check_memory(design: Design, params: &LinkParams, blocks: usize, single_port: usize) {
    let log = synthesise(design, params);
    check_no_conflicts(design, &log);

    let mapped = yosys::mapped_memories(&log, "ICE40_RAM4K");
    assert_eq!(mapped, 1, "{design}: memories mapped to block RAM");
    let mapped_single = yosys::mapped_memories(&log, "ICE40_SPRAM");
    assert_eq!(
        mapped_single, single_port,
        "{design}: memories mapped to SB_SPRAM256KA"
    );
    let write_ports = yosys::write_ports(&log);
    assert_eq!(write_ports.len(), 1 + single_port, "{design}: write ports");
    for port in &write_ports {
        assert!(
            port.contains("don't care on collision"),
            "{design}: a memory needs bypass logic: {port}"
        );
    }
    assert_eq!(
        cell_count(&log, "SB_RAM40_4K"),
        blocks,
        "{design}: SB_RAM40_4K in the report"
    );
}

fn check_no_conflicts(design: Design, log: &str) {
    let conflicts = yosys::driver_conflicts(log);
    assert!(
        conflicts.is_empty(),
        "{design}: yosys reports driver conflicts:\n{}",
        conflicts.join("\n")
    );
}

fn small() -> LinkParams {
    LinkParams {
        max_payload: 256,
        ..LinkParams::default()
    }
}

#[test]
fn decoder_ring_maps_to_block_ram() {
    // A 1,024-byte ring: two 512 × 8 blocks. The error counters' bank takes an SB_SPRAM256KA.
    check_memory(Design::Decoder, &small(), 2, 1);
}

/// The encoder's 256-byte buffer takes one SB_SPRAM256KA and no block RAM. In the iCEBreaker's
/// board core the encoder and its CRC take 277 SB_LUT4.
#[test]
fn encoder_buffer_maps_to_single_port_ram() {
    let log = synthesise(Design::Encoder, &small());
    check_no_conflicts(Design::Encoder, &log);
    let mapped = yosys::mapped_memories(&log, "ICE40_SPRAM");
    assert_eq!(mapped, 1, "encoder: memories mapped to SB_SPRAM256KA");
    assert_eq!(
        cell_count(&log, "SB_SPRAM256KA"),
        1,
        "encoder: SB_SPRAM256KA"
    );
    assert_eq!(cell_count(&log, "SB_RAM40_4K"), 0, "encoder: SB_RAM40_4K");
    let luts = cell_count(&log, "SB_LUT4");
    assert!(luts <= 360, "encoder: {luts} SB_LUT4, at most 360 expected");
}

//! Timing of the link designs on an iCE40UP5K: yosys `synth_ice40` and nextpnr-ice40 place and
//! route each design over several seeds and report its LUT4 and block-RAM counts and fmax.
//!
//! The nine place-and-route runs take about a minute on two cores, so the test is ignored by
//! default: `cargo test -p leap-cosim --test link_timing -- --ignored --nocapture`. It needs
//! yosys and nextpnr-ice40 (`apt-get install yosys nextpnr-ice40`).
//!
//! The designs sit behind the pin-folding wrapper of `common::up5k`, whose output XOR tree makes
//! a path that ends at an output read slower than it would on a board.

mod common;

use common::up5k::{self, Run};
use leap_hdl::link::LinkParams;
use leap_hdl::{emit_link, Design};

/// The engine clock that the iCEBreaker core targets, which the link blocks share. The board
/// table runs the core at 30 MHz until the whole core meets this target.
const TARGET_CLOCK_MHZ: f64 = 80.0;

/// Places `design` for 90 MHz and prints LUT4, EBR and fmax (min / median / max over the
/// seeds). Returns the EBR count and the lowest fmax.
fn report(design: Design, params: &LinkParams) -> (usize, f64) {
    let verilog = emit_link(design, params).verilog;
    let name = format!("{design} (max_payload {})", params.max_payload);
    let placed = up5k::report(&Run {
        name: &name,
        verilog: &verilog,
        dsp: false,
        target_mhz: 90.0,
    });
    let fmax = placed[0]
        .fmax_mhz
        .unwrap_or_else(|| panic!("{name}: does not fit the iCE40UP5K"));
    (placed[0].ebr, fmax)
}

#[test]
#[ignore = "runs nextpnr-ice40 for several minutes"]
fn link_blocks_place_on_up5k() {
    // The 4096-byte decoder's 16 KiB ring needs 32 EBR and the UP5K has 30, so the timing is
    // measured on the 256-byte variant. Only the memory depth differs between the variants.
    let params = LinkParams {
        max_payload: 256,
        ..LinkParams::default()
    };
    // Block RAM per design: the decoder's 1 KiB ring, the encoder's 256-byte buffer, and none
    // in the UART.
    for (design, blocks) in [
        (Design::Decoder, 2),
        (Design::Encoder, 1),
        (Design::Uart, 0),
    ] {
        let (ebr, fmax) = report(design, &params);
        assert_eq!(ebr, blocks, "{design}: SB_RAM40_4K after synthesis");
        assert!(fmax > 0.0, "{design}: nextpnr-ice40 reported fmax {fmax}");
        // NOTE: the decoder, the encoder and the UART are all below the target clock so far
        // (BENCHMARKS.md, "Link blocks"), so this prints the shortfall and does not fail on it.
        if fmax < TARGET_CLOCK_MHZ {
            println!(
                "{design}: {fmax:.1} MHz on the slowest seed is below the {TARGET_CLOCK_MHZ} MHz target clock"
            );
        }
    }
}

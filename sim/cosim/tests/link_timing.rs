//! Timing of the link designs on an iCE40UP5K: yosys `synth_ice40` and nextpnr-ice40 place and
//! route each design over several seeds and report its LUT4 and block-RAM counts and fmax.
//!
//! The nine place-and-route runs take about a minute on two cores, so the test is ignored by
//! default: `cargo test -p leap-cosim --test link_timing -- --ignored --nocapture`. It needs
//! yosys and nextpnr-ice40 (`apt-get install yosys nextpnr-ice40`).
//!
//! The UP5K has too few pins for the designs' ports, so a wrapper feeds every input from one
//! shift register (a single input pin) and folds every output into one registered XOR (a single
//! output pin). The XOR tree adds logic levels after the outputs, so a path that ends at an
//! output reads slower here than it would on a board.

use std::path::Path;
use std::process::Command;

use leap_hdl::link::LinkParams;
use leap_hdl::{emit_link, Design};

/// Placement seeds: nextpnr's fmax varies between seeds, so the report gives min, median and max.
const SEEDS: [u32; 3] = [1, 2, 3];

/// The board clock that the link blocks share with the engine (iCEBreaker PLL).
const BOARD_CLOCK_MHZ: f64 = 80.0;

/// Result of one place-and-route run.
struct Placed {
    lut4: usize,
    ebr: usize,
    fmax_mhz: f64,
    /// nextpnr's critical path report after routing.
    critical_path: String,
}

/// A port of the emitted `top` module.
struct Port {
    name: String,
    width: usize,
    input: bool,
}

/// Reads the port declarations of the emitted `top` module.
fn ports(verilog: &str) -> Vec<Port> {
    let mut ports = Vec::new();
    let module = verilog
        .split("module top(")
        .nth(1)
        .and_then(|text| text.split("endmodule").next())
        .expect("the emitted Verilog has a module `top`");
    for line in module.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let input = match words.first() {
            Some(&"input") => true,
            Some(&"output") => false,
            _ => continue,
        };
        let name = words
            .last()
            .expect("a port declaration ends with its name")
            .trim_end_matches(';')
            .to_string();
        let width = words
            .iter()
            .find_map(|w| {
                let range = w.strip_prefix('[')?.strip_suffix(":0]")?;
                Some(range.parse::<usize>().ok()? + 1)
            })
            .unwrap_or(1);
        ports.push(Port { name, width, input });
    }
    ports
}

/// Returns a wrapper module `timing_top` with pins `clock`, `serial_in` and `serial_out` around
/// the design's `top`.
fn wrapper(ports: &[Port]) -> String {
    let inputs: Vec<&Port> = ports
        .iter()
        .filter(|p| p.input && p.name != "clock")
        .collect();
    let outputs: Vec<&Port> = ports.iter().filter(|p| !p.input).collect();
    let chain_width: usize = inputs.iter().map(|p| p.width).sum();

    let mut text = String::from(
        "module timing_top(input wire clock, input wire serial_in, output reg serial_out);\n",
    );
    text += &format!("    reg [{}:0] chain;\n", chain_width - 1);
    text += &format!(
        "    always @(posedge clock) chain <= {{chain[{}:0], serial_in}};\n",
        chain_width.max(2) - 2
    );
    for port in &outputs {
        text += &format!("    wire [{}:0] out_{};\n", port.width - 1, port.name);
    }
    text += "    top dut(.clock(clock)";
    let mut low = 0;
    for port in &inputs {
        text += &format!(", .{}(chain[{}:{}])", port.name, low + port.width - 1, low);
        low += port.width;
    }
    for port in &outputs {
        text += &format!(", .{0}(out_{0})", port.name);
    }
    text += ");\n";
    let folded: Vec<String> = outputs.iter().map(|p| format!("^out_{}", p.name)).collect();
    text += &format!(
        "    always @(posedge clock) serial_out <= {};\n",
        folded.join(" ^ ")
    );
    text += "endmodule\n";
    text
}

/// Returns the count of `cell` in the last `stat` report of a yosys log.
fn cell_count(log: &str, cell: &str) -> usize {
    let report = log.rsplit("Printing statistics").next().unwrap_or("");
    report
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(cell)).then(|| words.next()?.parse().ok())?
        })
        .unwrap_or(0)
}

/// Runs `program` with `args` in `dir` and returns its stdout and stderr, panicking with both
/// when it fails.
fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): install it with apt-get"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{text}"
    );
    text
}

/// Synthesises `design` once and places and routes it with each of [`SEEDS`].
fn place(design: Design, params: &LinkParams) -> Vec<Placed> {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let verilog = emit_link(design, params).verilog;
    std::fs::write(dir.path().join("design.v"), &verilog).expect("cannot write the design");
    std::fs::write(dir.path().join("wrapper.v"), wrapper(&ports(&verilog)))
        .expect("cannot write the wrapper");
    let log = run(
        dir.path(),
        "yosys",
        &[
            "-p",
            "read_verilog design.v wrapper.v; synth_ice40 -top timing_top -json design.json; stat",
        ],
    );
    let lut4 = cell_count(&log, "SB_LUT4");
    let ebr = cell_count(&log, "SB_RAM40_4K");

    SEEDS
        .iter()
        .map(|seed| {
            let seed = seed.to_string();
            let log = run(
                dir.path(),
                "nextpnr-ice40",
                &[
                    "--up5k",
                    "--package",
                    "sg48",
                    "--json",
                    "design.json",
                    "--pcf-allow-unconstrained",
                    "--freq",
                    "90",
                    "--timing-allow-fail",
                    "--seed",
                    &seed,
                ],
            );
            // The last report is the one after routing.
            let fmax_mhz = log
                .lines()
                .filter(|l| l.contains("Max frequency for clock"))
                .filter_map(|l| {
                    let after = l.split("': ").nth(1)?;
                    after.split_whitespace().next()?.parse::<f64>().ok()
                })
                .last()
                .unwrap_or_else(|| panic!("nextpnr-ice40 reported no fmax for {design}:\n{log}"));
            // The cells of the critical path after routing, without their source lines.
            let critical_path = log
                .rsplit("Critical path report for clock")
                .next()
                .unwrap_or("")
                .lines()
                .take_while(|l| !l.contains("Max frequency"))
                .filter(|l| l.contains(" Source ") || l.contains(" Setup "))
                .collect::<Vec<_>>()
                .join("\n");
            Placed {
                lut4,
                ebr,
                fmax_mhz,
                critical_path,
            }
        })
        .collect()
}

/// Places `design` and prints LUT4, EBR and fmax (min / median / max over the seeds). Returns
/// the EBR count and the lowest fmax.
fn report(design: Design, params: &LinkParams) -> (usize, f64) {
    let placed = place(design, params);
    let slowest = placed
        .iter()
        .min_by(|a, b| a.fmax_mhz.total_cmp(&b.fmax_mhz))
        .expect("at least one seed");
    println!(
        "{design}: critical path of the slowest seed (delay and total in ns):\n{}",
        slowest.critical_path
    );
    let mut fmax: Vec<f64> = placed.iter().map(|p| p.fmax_mhz).collect();
    fmax.sort_by(f64::total_cmp);
    println!(
        "{design} (max_payload {}): {} LUT4, {} EBR, fmax {:.1} / {:.1} / {:.1} MHz \
         (min / median / max over seeds {SEEDS:?})",
        params.max_payload,
        placed[0].lut4,
        placed[0].ebr,
        fmax[0],
        fmax[fmax.len() / 2],
        fmax[fmax.len() - 1],
    );
    (placed[0].ebr, fmax[0])
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
        // NOTE: the decoder, the encoder and the UART are all below the board clock so far
        // (BENCHMARKS.md, "Link blocks"), so this prints the shortfall and does not fail on it.
        if fmax < BOARD_CLOCK_MHZ {
            println!(
                "{design}: {fmax:.1} MHz on the slowest seed is below the {BOARD_CLOCK_MHZ} MHz board clock"
            );
        }
    }
}

//! Place and route on an iCE40UP5K for the timing tests: yosys `synth_ice40` and nextpnr-ice40
//! place and route a design over several seeds and report its LUT4, block-RAM and SB_MAC16
//! counts, fmax and critical path. Needs yosys and nextpnr-ice40 (`apt-get install yosys
//! nextpnr-ice40`).
//!
//! The UP5K has too few pins for the designs' ports, so a wrapper feeds every input from one
//! shift register (a single input pin) and folds every output into one registered XOR (a single
//! output pin). The XOR tree adds logic levels after the outputs, so a path that ends at an
//! output reads slower here than it would on a board.

use std::path::Path;
use std::process::Command;

use super::yosys::cell_count;

/// Placement seeds: nextpnr's fmax varies between seeds, so the report gives min, median and max.
pub const SEEDS: [u32; 3] = [1, 2, 3];

/// Logic cells (a LUT4 with its flip-flop) of an iCE40UP5K.
pub const LOGIC_CELLS: usize = 5_280;

/// Result of one place-and-route run.
pub struct Placed {
    pub lut4: usize,
    pub ebr: usize,
    pub mac16: usize,
    /// Logic cells nextpnr packed the design into, which may exceed [`LOGIC_CELLS`].
    pub logic_cells: usize,
    /// None when the design does not fit the device.
    pub fmax_mhz: Option<f64>,
    /// nextpnr's critical path report after routing.
    pub critical_path: String,
}

/// Options of one synthesis and its place-and-route runs.
pub struct Run<'a> {
    /// Name in the printed report.
    pub name: &'a str,
    /// Verilog whose top module is `top`.
    pub verilog: &'a str,
    /// Map products to SB_MAC16 (`synth_ice40 -dsp`).
    pub dsp: bool,
    /// Clock that nextpnr-ice40 places for, in MHz.
    pub target_mhz: f64,
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

/// Runs `program` with `args` in `dir` and returns whether it succeeded and its stdout and
/// stderr.
fn run_status(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
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
    (output.status.success(), text)
}

/// Runs `program` with `args` in `dir` and returns its stdout and stderr, panicking with both
/// when it fails.
fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let (success, text) = run_status(dir, program, args);
    assert!(success, "{program} {args:?} failed:\n{text}");
    text
}

/// Returns the logic cells in nextpnr-ice40's utilisation report (`ICESTORM_LC:  used/ total`).
fn logic_cells(log: &str) -> Option<usize> {
    let line = log.lines().find(|l| l.contains("ICESTORM_LC:"))?;
    let used = line.split("ICESTORM_LC:").nth(1)?.split('/').next()?;
    used.trim().parse().ok()
}

/// Synthesises the design once and places and routes it with each of [`SEEDS`].
pub fn place(options: &Run) -> Vec<Placed> {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    std::fs::write(dir.path().join("design.v"), options.verilog).expect("cannot write the design");
    std::fs::write(
        dir.path().join("wrapper.v"),
        wrapper(&ports(options.verilog)),
    )
    .expect("cannot write the wrapper");
    let dsp = if options.dsp { " -dsp" } else { "" };
    let log = run(
        dir.path(),
        "yosys",
        &[
            "-p",
            &format!(
                "read_verilog design.v wrapper.v; synth_ice40{dsp} -top timing_top -json design.json; stat"
            ),
        ],
    );
    let lut4 = cell_count(&log, "SB_LUT4");
    let ebr = cell_count(&log, "SB_RAM40_4K");
    let mac16 = cell_count(&log, "SB_MAC16");
    let target = options.target_mhz.to_string();

    let mut placed = Vec::new();
    for seed in SEEDS {
        let seed = seed.to_string();
        let (success, log) = run_status(
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
                &target,
                "--timing-allow-fail",
                "--seed",
                &seed,
            ],
        );
        let logic_cells = logic_cells(&log).unwrap_or_else(|| {
            panic!(
                "nextpnr-ice40 printed no utilisation for {}:\n{log}",
                options.name
            )
        });
        if !success && logic_cells > LOGIC_CELLS {
            // Every seed packs the same cells, so the other seeds would fail the same way.
            placed.push(Placed {
                lut4,
                ebr,
                mac16,
                logic_cells,
                fmax_mhz: None,
                critical_path: String::new(),
            });
            break;
        }
        assert!(success, "nextpnr-ice40 failed on {}:\n{log}", options.name);
        // The last report is the one after routing.
        let fmax_mhz = log
            .lines()
            .filter(|l| l.contains("Max frequency for clock"))
            .filter_map(|l| {
                let after = l.split("': ").nth(1)?;
                after.split_whitespace().next()?.parse::<f64>().ok()
            })
            .last()
            .unwrap_or_else(|| {
                panic!(
                    "nextpnr-ice40 reported no fmax for {}:\n{log}",
                    options.name
                )
            });
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
        placed.push(Placed {
            lut4,
            ebr,
            mac16,
            logic_cells,
            fmax_mhz: Some(fmax_mhz),
            critical_path,
        });
    }
    placed
}

/// Places the design and prints its cell counts, fmax (min / median / max over the seeds) and
/// the critical path of the slowest seed. Returns the results sorted by fmax, slowest first; a
/// design that does not fit returns one result without fmax.
pub fn report(options: &Run) -> Vec<Placed> {
    let mut placed = place(options);
    let name = options.name;
    let first = &placed[0];
    if first.fmax_mhz.is_none() {
        println!(
            "{name}: {} LUT4, {} EBR, {} SB_MAC16; needs {} of the {LOGIC_CELLS} logic cells, so \
             it does not fit and has no fmax",
            first.lut4, first.ebr, first.mac16, first.logic_cells
        );
        return placed;
    }
    placed.sort_by(|a, b| {
        a.fmax_mhz
            .unwrap_or(0.0)
            .total_cmp(&b.fmax_mhz.unwrap_or(0.0))
    });
    let fmax = |p: &Placed| p.fmax_mhz.unwrap_or(0.0);
    println!(
        "{name}: critical path of the slowest seed (delay and total in ns):\n{}",
        placed[0].critical_path
    );
    println!(
        "{name}: {} LUT4, {} EBR, {} SB_MAC16, {} logic cells, fmax {:.1} / {:.1} / {:.1} MHz \
         (min / median / max over seeds {SEEDS:?}, placed for {} MHz)",
        placed[0].lut4,
        placed[0].ebr,
        placed[0].mac16,
        placed[0].logic_cells,
        fmax(&placed[0]),
        fmax(&placed[placed.len() / 2]),
        fmax(&placed[placed.len() - 1]),
        options.target_mhz,
    );
    placed
}

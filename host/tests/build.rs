//! `leap build` and `leap flash` with the open toolchains that `scripts/setup.sh` installs.
//!
//! The ULX3S-12F build has the board core and meets the engine clock. The iCEBreaker builds the
//! UART loopback bring-up design, because its board core does not fit the iCE40UP5K yet, and a
//! build of that core must fail naming the resources that overflow.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use leap_hdl::boards::{BoardDesign, BoardTable};
use leap_host::build::{build, BuildOptions};

fn options(board: &str, design: BoardDesign, out: &Path) -> BuildOptions {
    BuildOptions {
        board: board.to_string(),
        design,
        table: BoardTable::default_path(),
        out: out.to_path_buf(),
        seed: 1,
    }
}

/// Writes the shipped board table with one text replacement, and the constraint files beside it.
fn edited_table(dir: &Path, from: &str, to: &str) -> PathBuf {
    let source = BoardTable::default_path();
    let text = std::fs::read_to_string(&source).unwrap();
    assert!(text.contains(from), "the table has no `{from}`");
    for entry in std::fs::read_dir(source.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let path = dir.join("boards.toml");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn icebreaker_loopback_meets_timing() {
    let dir = tempfile::tempdir().unwrap();
    let report = build(&options("icebreaker", BoardDesign::Loopback, dir.path()))
        .unwrap_or_else(|e| panic!("{e:#}"));

    let bitstream = std::fs::metadata(&report.output).unwrap();
    // An iCE40UP5K bitstream is 104,090 bytes whatever the design.
    assert_eq!(
        bitstream.len(),
        104_090,
        "size of {}",
        report.output.display()
    );
    let fmax = report.fmax_mhz().expect("nextpnr reports the engine clock");
    assert!(fmax >= report.plan.engine_mhz, "fmax {fmax} MHz");
    assert_eq!(report.plan.engine_mhz, 30.0);
    let lc = report
        .utilisation
        .get("LC")
        .expect("logic cells are reported");
    assert_eq!(lc.available, Some(5280));
    assert!(lc.used > 0, "no logic cells used");
    let summary = report.summary();
    assert!(summary.contains("fmax"), "{summary}");
    assert!(summary.contains("synapse updates/s"), "{summary}");
    assert!(summary.contains("UART loopback"), "{summary}");
}

/// The iCEBreaker's board core needs more logic cells than the iCE40UP5K's 5,280, so the build
/// must stop at place and route with an error that names them. With yosys 0.23 and
/// nextpnr-ice40 0.4 (seed 1) the core needs 9,607 logic cells, and its 8 SB_MAC16, 30 block
/// RAMs and 2 SB_SPRAM256KA fit the device, so none of those may be named.
#[test]
fn icebreaker_core_overflow_names_resource() {
    let dir = tempfile::tempdir().unwrap();
    let error = build(&options("icebreaker", BoardDesign::Core, dir.path()))
        .map(|report| report.summary())
        .expect_err("the board core fits the up5k now: turn this test into a timing test");
    let error = format!("{error:#}");
    assert!(error.contains("does not fit board icebreaker"), "{error}");
    assert!(error.contains("ICESTORM_LC"), "{error}");
    assert!(error.contains("the up5k has 5280"), "{error}");
    assert!(!error.contains("ICESTORM_DSP"), "{error}");
    assert!(!error.contains("ICESTORM_RAM"), "{error}");
    assert!(!error.contains("ICESTORM_SPRAM"), "{error}");
    assert!(error.contains("--design loopback"), "{error}");
}

#[test]
fn missed_clock_fails_with_achieved_and_required() {
    // The loopback top level reaches about 50 to 65 MHz on an iCE40UP5K; 240 MHz is out of reach.
    let dir = tempfile::tempdir().unwrap();
    let table = edited_table(dir.path(), "engine_mhz = 30.0", "engine_mhz = 240.0");
    let out = dir.path().join("out");
    let mut options = options("icebreaker", BoardDesign::Loopback, &out);
    options.table = table;
    let error = format!("{:#}", build(&options).unwrap_err());
    assert!(
        error.contains("timing failed on board icebreaker"),
        "{error}"
    );
    assert!(error.contains("needs 240.00 MHz"), "{error}");
    assert!(error.contains("--seed"), "{error}");
    // The message carries what the summary would have shown: cells used of the device's, and
    // the fmax line of the engine clock.
    assert!(
        error
            .lines()
            .any(|line| line.starts_with("LC ") && line.trim_end().ends_with("/ 5280")),
        "{error}"
    );
    assert!(
        error
            .lines()
            .any(|line| line.starts_with("fmax ") && line.contains("(target 240.00 MHz)")),
        "{error}"
    );
    assert!(error.contains(&out.display().to_string()), "{error}");
}

#[test]
fn arty_gets_vivado_script() {
    let dir = tempfile::tempdir().unwrap();
    let report = build(&options("arty-a7-35t", BoardDesign::Core, dir.path()))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let script = std::fs::read_to_string(&report.output).unwrap();
    assert!(
        script.contains("synth_design -top top -part xc7a35ticsg324-1L"),
        "{script}"
    );
    assert!(script.contains("read_xdc arty_a7.xdc"), "{script}");
    assert!(dir.path().join("arty_a7.xdc").is_file());
    let verilog = std::fs::read_to_string(dir.path().join("board_xilinx7.v")).unwrap();
    assert!(
        verilog.contains("module top(clock_in,rx,tx);"),
        "top module ports"
    );
}

/// Builds the board core for a ULX3S with the smallest ECP5 through yowasp. The first yowasp run
/// on a machine compiles the tools' WebAssembly, which takes minutes.
///
/// NOTE: this build takes about 7 CPU minutes on a 2-core machine (synthesis about 1.5, place and
/// route the rest), above the 4 minutes a CI build test should take.
#[test]
fn ulx3s_12f_core_meets_timing() {
    let dir = tempfile::tempdir().unwrap();
    let report = build(&options("ulx3s-12f", BoardDesign::Core, dir.path()))
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!("{}", report.summary());
    let bitstream = std::fs::read(&report.output).unwrap();
    assert!(
        bitstream.len() > 50_000,
        "bitstream of {} bytes",
        bitstream.len()
    );
    let fmax = report.fmax_mhz().expect("nextpnr reports the engine clock");
    assert!(fmax >= report.plan.engine_mhz, "fmax {fmax} MHz");
    let lut = report.utilisation.get("LUT").expect("LUTs are reported");
    assert!(lut.used > 1000, "the board core uses {lut:?}");
    assert!(lut.available.is_some(), "{lut:?}");
    // The 4 lanes' weight products take one MULT18X18D each at least.
    let dsp = report
        .utilisation
        .get("DSP")
        .expect("multipliers are reported");
    assert!(dsp.used >= 4, "{dsp:?}");
    let bram = report
        .utilisation
        .get("BRAM")
        .expect("block RAMs are reported");
    assert!(bram.used > 0, "{bram:?}");
    assert!(report.summary().contains("LEAP board core"));
}

/// With no board attached, `leap flash` must end with openFPGALoader's own error and a hint.
#[test]
fn flash_without_board_fails_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let bitstream = dir.path().join("board.bin");
    build(&options("icebreaker", BoardDesign::Loopback, dir.path()))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_leap"))
        .args([
            "flash",
            "--board",
            "icebreaker",
            "--timeout",
            "60",
            "--bitstream",
        ])
        .arg(&bitstream)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "flash succeeded without a board: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "flash took {:?}",
        started.elapsed()
    );
    assert!(stderr.contains("openFPGALoader failed"), "{stderr}");
    assert!(
        stderr.contains("hint: check that the iCEBreaker"),
        "{stderr}"
    );
}

#[test]
fn flash_names_missing_bitstream() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.bin");
    let output = Command::new(env!("CARGO_BIN_EXE_leap"))
        .args(["flash", "--board", "icebreaker", "--bitstream"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("bitstream {} not found", missing.display())),
        "{stderr}"
    );
    assert!(stderr.contains("leap build --board icebreaker"), "{stderr}");
}

//! `verilator --lint-only -Wall` on the emitted Verilog of the link designs, for the default
//! parameters and for a 256-byte maximum payload. Any WIDTH warning fails, and every other
//! warning must match an entry of [`TRIAGE`].

use std::process::Command;

use leap_hdl::link::LinkParams;
use leap_hdl::{emit_link, Design};

/// Warnings that are accepted, each with the reason: (code, text in the message, reason).
const TRIAGE: &[(&str, &str, &str)] = &[
    (
        "DECLFILENAME",
        "does not match MODULE name: 'top'",
        "rust-hdl names the top module `top`; the files are named after the design",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'read_address'",
        "Memory: address ports are 16 bits wide; a memory uses the low bits its depth needs",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'write_address'",
        "Memory: address ports are 16 bits wide; a memory uses the low bits its depth needs",
    ),
    (
        "UNUSEDPARAM",
        "State$",
        "rust-hdl declares an enum's values in every module that carries the enum, including the state register",
    ),
];

fn lint(design: Design, params: &LinkParams, label: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let path = dir.path().join(format!("{}.v", design.name()));
    std::fs::write(&path, emit_link(design, params).verilog).expect("cannot write the Verilog");
    // rust-hdl emits Verilog-2005; the link blocks' `byte` ports are a SystemVerilog keyword.
    let output = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--default-language", "1364-2005"])
        .args(["--top-module", "top"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run verilator ({e}): install it with apt-get install verilator")
        });
    let text = String::from_utf8_lossy(&output.stderr);
    let mut failures = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("%Warning-") else {
            if line.starts_with("%Error") && !line.contains("Exiting due to") {
                failures.push(format!("{label} {design}: {line}"));
            }
            continue;
        };
        let (code, message) = rest.split_once(':').unwrap_or((rest, ""));
        if code.starts_with("WIDTH") {
            failures.push(format!("{label} {design}: width warning {code}: {message}"));
            continue;
        }
        let triaged = TRIAGE
            .iter()
            .any(|(triaged, fragment, _)| code == *triaged && message.contains(fragment));
        if !triaged {
            failures.push(format!(
                "{label} {design}: untriaged warning {code}: {message}"
            ));
        }
    }
    failures
}

#[test]
fn link_verilog_lints_clean() {
    let small = LinkParams {
        max_payload: 256,
        timeout_clocks: 600,
        clocks_per_bit: 4,
    };
    let mut failures = Vec::new();
    for (label, params) in [
        ("default parameters", LinkParams::default()),
        ("small", small),
    ] {
        for design in Design::LINK {
            failures.extend(lint(design, &params, label));
        }
    }
    assert!(
        failures.is_empty(),
        "verilator --lint-only -Wall found:\n{}",
        failures.join("\n")
    );
}

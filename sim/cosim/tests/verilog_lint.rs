//! `verilator --lint-only -Wall` on the emitted Verilog of every design, for the default and the
//! alternate formats. Any WIDTH warning fails: every width change on an arithmetic path must be an
//! explicit concatenation or slice. Every other warning must match an entry of [`TRIAGE`].

use std::process::Command;

use leap_hdl::{emit, Design};
use leap_model::format::Formats;
use leap_verilator_sys::alternate_formats;

/// Warnings that are accepted, each with the reason: (code, text in the message, reason).
const TRIAGE: &[(&str, &str, &str)] = &[
    (
        "DECLFILENAME",
        "does not match MODULE name: 'top'",
        "rust-hdl names the top module `top`; the files are named after the design",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'rounding'",
        "the rounding port is 32 bits wide for every format; only the low update_round_bits bits are used, none when that is 0",
    ),
    (
        "UNUSEDSIGNAL",
        "Bits of signal are not used: 'value'[31]",
        "PotentialSplit: a potential has at most 31 bits, so bit 31 only repeats the sign in bit 30",
    ),
    (
        "UNUSEDSIGNAL",
        "Bits of signal are not used: 'error'[31]",
        "UpdateFactor: the error is a potential of at most 31 bits; bit 31 only repeats the sign",
    ),
    (
        "UNUSEDSIGNAL",
        "Bits of signal are not used: 'difference'[31]",
        "OutputError: the difference is a potential of at most 31 bits; bit 31 only repeats the sign",
    ),
    (
        "UNUSEDSIGNAL",
        "Signal is not used: 'product'",
        "UpdateFactor: when pot_frac >= upd_frac, the neuron unit's lent shifter and the engine's RoundHalves move the product and the block takes only the rounded result",
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
        "UNUSEDSIGNAL",
        "not used: 'write_data'",
        "Memory: data ports have the container width; a memory stores only the configured format's bits",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'word'[63:32]",
        "WordView: the host's 64-bit data word carries at most 32-bit values",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'tags$3$",
        "Engine: the last stream tag stage outputs fields that no later stage reads",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'read_split$beyond'",
        "Engine: the latched read address keeps no bit above the banks, so `read_beyond` latches the write split's flag instead",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'neuron$current'",
        "Engine: the basal current I is an output of the neuron unit for the tau_r error source, which the engine does not implement",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'table_view$",
        "Engine: not every typed view of a layer-table word is used",
    ),
    (
        "UNUSEDSIGNAL",
        "not used: 'host_view$",
        "Engine: not every typed view of the host's data word is used",
    ),
    (
        "UNUSEDPARAM",
        "not used: 'EngineState$",
        "rust-hdl declares an enum's values in every module that carries the enum, including the state register",
    ),
];

/// One `%Warning-CODE: file:line:col: message` line of Verilator's output.
#[derive(Debug)]
struct Warning {
    code: String,
    text: String,
}

fn parse_warnings(output: &str) -> Vec<Warning> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("%Warning-"))
        .map(|rest| {
            let (code, text) = rest.split_once(':').unwrap_or((rest, ""));
            Warning {
                code: code.to_string(),
                text: text.trim().to_string(),
            }
        })
        .collect()
}

fn lint(design: Design, formats: &Formats, label: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let path = dir.path().join(format!("{}.v", design.name()));
    std::fs::write(&path, emit(design, formats).verilog).expect("cannot write the Verilog");
    let output = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", "top"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run verilator ({e}): install it with apt-get install verilator")
        });
    let text = String::from_utf8_lossy(&output.stderr);
    let mut failures = Vec::new();
    for warning in parse_warnings(&text) {
        if warning.code.starts_with("WIDTH") {
            failures.push(format!(
                "{label} {design}: width warning {}: {}",
                warning.code, warning.text
            ));
            continue;
        }
        let triaged = TRIAGE
            .iter()
            .any(|(code, fragment, _)| warning.code == *code && warning.text.contains(fragment));
        if !triaged {
            failures.push(format!(
                "{label} {design}: untriaged warning {}: {}",
                warning.code, warning.text
            ));
        }
    }
    // Verilator also reports errors as `%Error`; any of them fails the lint.
    for line in text
        .lines()
        .filter(|l| l.starts_with("%Error") && !l.contains("Exiting due to"))
    {
        failures.push(format!("{label} {design}: {line}"));
    }
    failures
}

#[test]
fn emitted_verilog_lints_clean() {
    let mut failures = Vec::new();
    for (label, formats) in [
        ("default formats", Formats::default()),
        ("alternate formats", alternate_formats()),
    ] {
        for design in Design::ALL {
            failures.extend(lint(design, &formats, label));
        }
    }
    assert!(
        failures.is_empty(),
        "verilator --lint-only -Wall found:\n{}",
        failures.join("\n")
    );
}

#[test]
fn triage_reasons_are_given() {
    for (code, fragment, reason) in TRIAGE {
        assert!(
            !reason.is_empty() && !fragment.is_empty(),
            "triage entry {code} needs a message fragment and a reason"
        );
        assert!(
            !code.starts_with("WIDTH"),
            "WIDTH warnings may not be triaged: {fragment}"
        );
    }
}

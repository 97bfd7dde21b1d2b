//! `verilator --lint-only -Wall` on the emitted Verilog of the command executor and the board
//! top levels for Yin-Yang: byte ports, UART pins and AXI-Stream. Every warning fails except
//! unused signals and parameters (the board reads only some of the engine's and decoder's outputs
//! and views) and the file name, because rust-hdl names the top module `top`.

use std::process::Command;

use leap_cosim::simulated::yinyang_board;
use leap_hdl::link::LinkParams;
use leap_hdl::{emit_board, emit_board_axis, emit_executor, Emitted};

/// Warning codes that are accepted, with the reason.
const ACCEPTED: &[(&str, &str)] = &[
    ("DECLFILENAME", "rust-hdl names the top module `top`"),
    (
        "UNUSEDSIGNAL",
        "blocks expose views and counters that a board does not read, and the AXI-Stream shell \
         ignores `s_axis_tlast` (frames carry their length) and the core's `idle`",
    ),
    (
        "UNUSEDPARAM",
        "rust-hdl emits a parameter for every constant and state name",
    ),
];

fn lint(name: &str, emitted: Emitted) -> Vec<String> {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let path = dir.path().join(format!("{name}.v"));
    std::fs::write(&path, emitted.verilog).expect("cannot write the Verilog");
    // The link blocks name ports `byte`, a SystemVerilog keyword, so lint as Verilog-2005.
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
        if let Some(rest) = line.strip_prefix("%Warning-") {
            let code = rest.split(':').next().unwrap_or(rest);
            if !ACCEPTED.iter().any(|(accepted, _)| *accepted == code) {
                failures.push(format!("{name}: {line}"));
            }
        } else if line.starts_with("%Error") && !line.contains("Exiting due to") {
            failures.push(format!("{name}: {line}"));
        }
    }
    failures
}

#[test]
fn board_designs_lint_clean() {
    let board = yinyang_board();
    let link = LinkParams::new(12_000_000, 115_200, board.max_payload).unwrap();
    let mut failures = lint("executor", emit_executor(&board));
    failures.extend(lint("board_bytes", emit_board(&board, &link, false)));
    failures.extend(lint("board", emit_board(&board, &link, true)));
    failures.extend(lint("board_axis", emit_board_axis(&board, &link)));
    assert!(
        failures.is_empty(),
        "lint findings:\n{}",
        failures.join("\n")
    );
}

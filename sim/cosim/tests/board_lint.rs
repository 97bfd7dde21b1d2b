//! `verilator --lint-only -Wall` on the emitted Verilog of the command executor and the board
//! top levels for Yin-Yang: byte ports, UART pins and AXI-Stream. Every warning fails except
//! the file name, because rust-hdl names the top module `top`, and the unused signals and
//! parameters named below, each with the reason it is unused.

use std::process::Command;

use leap_cosim::simulated::yinyang_board;
use leap_hdl::link::LinkParams;
use leap_hdl::{emit_board, emit_board_axis, emit_executor, Emitted};

/// Warning codes that are accepted whatever they name, with the reason.
const ACCEPTED_CODES: &[(&str, &str)] = &[("DECLFILENAME", "rust-hdl names the top module `top`")];

/// How much of a signal Verilator reports as unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unused {
    /// "Signal is not used": no bit of it is read.
    Whole,
    /// "Bits of signal are not used": its high or low bits are not read.
    SomeBits,
}

/// Signals that may be reported as unused, by the name Verilator quotes (rust-hdl joins a
/// submodule's name and its port with `$`), with the reason.
///
/// NOTE: a name is accepted in every module, so a new unused signal that reuses a generic name
/// here, such as `product` or `word`, still passes.
const UNUSED_SIGNALS: &[(&str, Unused, &str)] = &[
    (
        "executor$idle",
        Unused::Whole,
        "the executor top level does not export the executor's idle output",
    ),
    (
        "core$idle",
        Unused::Whole,
        "the AXI-Stream shell does not read the core's idle output",
    ),
    (
        "s_axis_tlast",
        Unused::Whole,
        "frames carry their length, so the AXI-Stream shell ignores the frame end",
    ),
    (
        "neuron$current",
        Unused::Whole,
        "the engine reads the neuron unit's results, not its basal current view",
    ),
    (
        "host_view$unsigned2",
        Unused::Whole,
        "the engine reads no 2-bit field of a host word",
    ),
    (
        "table_view$signed32",
        Unused::Whole,
        "the engine reads no signed 32-bit field of a table word",
    ),
    (
        "tags$3$index_q",
        Unused::Whole,
        "the last stream tag stage outputs fields that no later stage reads",
    ),
    (
        "read_split$beyond",
        Unused::Whole,
        "the latched read address keeps no bit above the banks, so the engine latches the write split's flag instead",
    ),
    (
        "tags$3$group_column_q",
        Unused::Whole,
        "the last stream tag stage outputs fields that no later stage reads",
    ),
    (
        "tags$3$group_address_q",
        Unused::Whole,
        "the last stream tag stage outputs fields that no later stage reads",
    ),
    (
        "product",
        Unused::Whole,
        "with pot_frac >= upd_frac the update factor takes the shared round-shift's result, not \
         the product",
    ),
    (
        "read_address",
        Unused::SomeBits,
        "memories take 16-bit addresses but hold fewer words",
    ),
    (
        "write_address",
        Unused::SomeBits,
        "memories take 16-bit addresses but hold fewer words",
    ),
    (
        "address",
        Unused::SomeBits,
        "single-port memories take 16-bit addresses but hold fewer words",
    ),
    (
        "write_data",
        Unused::SomeBits,
        "the error and potential memories store 31-bit words",
    ),
    (
        "value",
        Unused::SomeBits,
        "the product splitters take potentials of at most 31 bits",
    ),
    (
        "word",
        Unused::SomeBits,
        "word views read only the fields of the 64-bit word they need",
    ),
    (
        "rounding",
        Unused::SomeBits,
        "a lane's weight step rounds with the low 5 bits of the 32-bit rounding state",
    ),
    (
        "rest",
        Unused::SomeBits,
        "the frame length check reads the target bytes modulo 4, the low 2 bits",
    ),
    (
        "lane",
        Unused::SomeBits,
        "with 2 lanes, the walker's address joins a 1-bit bank index",
    ),
];

/// Prefixes of parameters that may be reported as unused, with the reason.
const UNUSED_PARAMETERS: &[(&str, &str)] = &[
    (
        "ExecState$",
        "rust-hdl declares an enum's states in every register that holds it",
    ),
    (
        "EngineState$",
        "rust-hdl declares an enum's states in every register that holds it",
    ),
    (
        "WalkState$",
        "rust-hdl declares an enum's states in every register that holds it",
    ),
    (
        "EncoderState$",
        "rust-hdl declares an enum's states in every register that holds it",
    ),
    (
        "layer_index$0",
        "the walker compares the layer with indices from 1, and layer 0 is its default",
    ),
];

/// Returns the name that a Verilator message quotes after `prefix`, if the message has it.
fn quoted_name<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let start = message.find(prefix)? + prefix.len();
    let rest = message[start..].strip_prefix('\'')?;
    rest.split('\'').next()
}

/// Returns whether the warning line `line` (after `%Warning-`) is accepted.
fn accepted(line: &str) -> bool {
    let code = line.split(':').next().unwrap_or(line);
    if ACCEPTED_CODES.iter().any(|(accepted, _)| *accepted == code) {
        return true;
    }
    match code {
        "UNUSEDSIGNAL" => {
            let (name, unused) =
                if let Some(name) = quoted_name(line, "Bits of signal are not used: ") {
                    (name, Unused::SomeBits)
                } else if let Some(name) = quoted_name(line, "Signal is not used: ") {
                    (name, Unused::Whole)
                } else {
                    return false;
                };
            UNUSED_SIGNALS
                .iter()
                .any(|&(signal, kind, _)| signal == name && kind == unused)
        }
        "UNUSEDPARAM" => match quoted_name(line, "Parameter is not used: ") {
            Some(name) => UNUSED_PARAMETERS
                .iter()
                .any(|(prefix, _)| name.starts_with(prefix)),
            None => false,
        },
        _ => false,
    }
}

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
            if !accepted(rest) {
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

/// The allowance covers only the named signals and parameters, and a signal named for some
/// unused bits fails when it is unused as a whole.
#[test]
fn unused_allowance_is_by_name() {
    let at = "/tmp/x/board.v:12:7: ";
    let warning = |code: &str, message: &str| format!("{code}: {at}{message}");

    assert!(accepted(&warning(
        "UNUSEDSIGNAL",
        "Signal is not used: 's_axis_tlast'"
    )));
    assert!(accepted(&warning(
        "UNUSEDSIGNAL",
        "Bits of signal are not used: 'read_address'[15:9]"
    )));
    assert!(accepted(&warning(
        "UNUSEDPARAM",
        "Parameter is not used: 'ExecState$Idle'"
    )));
    assert!(accepted(&warning(
        "DECLFILENAME",
        "Filename 'board' does not match MODULE name: 'top'"
    )));

    assert!(!accepted(&warning(
        "UNUSEDSIGNAL",
        "Signal is not used: 'spare_counter'"
    )));
    assert!(!accepted(&warning(
        "UNUSEDSIGNAL",
        "Signal is not used: 'read_address'"
    )));
    assert!(!accepted(&warning(
        "UNUSEDSIGNAL",
        "Bits of signal are not used: 's_axis_tlast'[0]"
    )));
    assert!(!accepted(&warning(
        "UNUSEDPARAM",
        "Parameter is not used: 'layer_index$1'"
    )));
    assert!(!accepted(&warning(
        "UNUSEDPARAM",
        "Parameter is not used: 'SPARE_WIDTH'"
    )));
    assert!(!accepted(&warning(
        "WIDTHTRUNC",
        "Operator ASSIGNW expects 8 bits"
    )));
}

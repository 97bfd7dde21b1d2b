//! Error handling of the `leap-hdl` binary: user errors print one message and exit with 1
//! (2 for usage errors), without a backtrace.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `leap-hdl` with RUST_BACKTRACE=1, so that a backtrace would show if one were printed.
fn leap_hdl(out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leap-hdl"))
        .arg("--out")
        .arg(out)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("failed to start the leap-hdl binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn user_error_prints_no_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            &["--lanes", "0"][..],
            "error: --lanes 0 is invalid: use 1 to",
        ),
        (&["--design", "adder"][..], "error: unknown design `adder`"),
        (&["--config", "missing.toml"][..], "missing.toml"),
    ] {
        let output = leap_hdl(dir.path(), args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {message}");
        assert!(message.starts_with("error: "), "{args:?}: {message}");
        assert!(
            message.contains(expected),
            "{args:?}: expected {expected:?} in\n{message}"
        );
        assert!(
            !message.to_lowercase().contains("backtrace"),
            "{args:?}: backtrace in\n{message}"
        );
    }
}

#[test]
fn max_payload_outside_range_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["0", "1", "127", "4097", "many"] {
        let output = leap_hdl(dir.path(), &["--design", "uart", "--max-payload", value]);
        let message = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "--max-payload {value}: {message}"
        );
        assert!(
            message.contains(&format!("\"{value}\" is not a valid maximum payload")),
            "--max-payload {value}: {message}"
        );
        assert!(
            message.contains("from 128 to 4096"),
            "--max-payload {value}: {message}"
        );
    }
    assert!(
        !dir.path().join("uart.v").exists(),
        "a rejected --max-payload still wrote uart.v"
    );
}

#[test]
fn max_payload_range_ends_are_accepted() {
    for value in ["128", "4096"] {
        let dir = tempfile::tempdir().unwrap();
        let output = leap_hdl(dir.path(), &["--design", "decoder", "--max-payload", value]);
        assert!(
            output.status.success(),
            "--max-payload {value}: {}",
            stderr(&output)
        );
        let verilog = std::fs::read_to_string(dir.path().join("decoder.v")).unwrap();
        assert!(verilog.contains("module top"), "--max-payload {value}");
    }
}

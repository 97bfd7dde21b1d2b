//! Training end to end on the simulated board: `leap serve --device verilator --pty` runs the
//! Verilated board (frame decoder, command executor, engine, frame encoder) behind a
//! pseudo-terminal, and `leap train --port PATH` must end with the same weights, bit for bit, as
//! `leap train --device software-fixed`, with the default reply timeout and no request sent
//! twice. Needs a leap-host built with `--features verilator`.
#![cfg(feature = "verilator")]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use leap_host::data::yinyang;
use serde_json::Value;

/// Maximum wait for the server to print its pseudo-terminal.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Samples of the shortened Yin-Yang run: training, validation and test.
const SPLITS: [(&str, usize, u32); 3] = [("train", 300, 1), ("validation", 60, 2), ("test", 60, 3)];

fn leap(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leap"));
    command.current_dir(dir).env_remove("LEAP_LOG");
    command
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes Yin-Yang samples as CSV files (four features, then the class) into `dir/data`.
fn write_data(dir: &Path) {
    let data = dir.join("data");
    fs::create_dir_all(&data).unwrap();
    for (split, count, seed) in SPLITS {
        let set = yinyang::generate(count, seed);
        let mut text = String::new();
        for i in 0..set.len() {
            let (features, label) = set.sample(i);
            let row: Vec<String> = features.iter().map(|v| format!("{v:?}")).collect();
            text.push_str(&format!("{},{label}\n", row.join(",")));
        }
        fs::write(data.join(format!("{split}.csv")), text).unwrap();
    }
}

fn checkpoint(run: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(run.join("checkpoint.json")).unwrap()).unwrap()
}

/// The `leap serve` child, killed when dropped.
struct Server {
    child: Child,
    path: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    let log = fs::File::create(dir.join("serve.log")).unwrap();
    let mut child = leap(dir)
        .args(["serve", "--device", "verilator", "--pty"])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("failed to start leap serve");
    let stdout = child.stdout.take().unwrap();
    let (line_sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_sender.send(line);
        }
    });
    let line = lines.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
        panic!(
            "leap serve printed nothing within {START_TIMEOUT:?}; its log:\n{}",
            fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        )
    });
    let path = line
        .strip_prefix("serving simulated board on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected first line from leap serve: {line:?}"))
        .to_string();
    Server { child, path }
}

#[test]
fn board_training_equals_golden_model() {
    let dir = tempfile::tempdir().unwrap();
    write_data(dir.path());
    let server = start_server(dir.path());

    let common = [
        "train", "--data", "csv:data", "--epochs", "1", "--seed", "7",
    ];
    let started = Instant::now();
    let board = leap(dir.path())
        .args(common)
        .args(["--port", &server.path, "--out", "board"])
        .output()
        .unwrap();
    let board_seconds = started.elapsed().as_secs_f64();
    assert!(
        board.status.success(),
        "training on the simulated board failed: {}\nserver log:\n{}",
        describe(&board),
        fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
    );
    // The board takes seconds for a full frame, far beyond the 1 s reply timeout, so this
    // holds only while the reply deadlines grow with the measured work.
    let log = String::from_utf8_lossy(&board.stderr);
    assert!(
        !log.contains("frames again") && !log.contains("request again"),
        "the host resent requests to the simulated board:\n{log}"
    );
    let golden = leap(dir.path())
        .args(common)
        .args(["--device", "software-fixed", "--out", "golden"])
        .output()
        .unwrap();
    assert!(
        golden.status.success(),
        "software-fixed run failed: {}",
        describe(&golden)
    );

    let (found, expected) = (
        checkpoint(&dir.path().join("board")),
        checkpoint(&dir.path().join("golden")),
    );
    assert_eq!(found["epochs_completed"], 1);
    assert!(
        found["snapshot"] == expected["snapshot"],
        "the weights and neuron state after training on the board differ from software-fixed"
    );
    assert_eq!(
        found["metrics"], expected["metrics"],
        "metrics of every split"
    );
    let samples: usize = SPLITS.iter().map(|s| s.1).sum();
    println!("simulated board: {samples} training and evaluation samples in {board_seconds:.1} s");
}

//! End-to-end tests of the `leap` binary, each in its own temporary directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A 4-20-3 network with 4 time steps per sample, so that an epoch takes well under a second.
const SMALL_CONFIG: &str = "\
[network]
layers = [4, 20, 3]

[presentation]
steps_per_sample = 4
settle_steps = 1
";

/// Runs `leap` in `dir` with the default log level.
fn leap(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leap"))
        .args(args)
        .current_dir(dir)
        .env_remove("LEAP_LOG")
        .output()
        .expect("failed to start the leap binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that `leap` succeeded, showing its output otherwise.
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "leap failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// Writes the small configuration plus `extra` TOML lines to `dir/name` and returns the file name.
fn write_config(dir: &Path, name: &str, extra: &str) -> String {
    fs::write(dir.join(name), format!("{SMALL_CONFIG}{extra}")).unwrap();
    name.to_string()
}

fn read_checkpoint(run: &Path) -> Value {
    let text = fs::read_to_string(run.join("checkpoint.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Returns the rows of metrics.csv without the header, split into fields.
fn metrics_rows(run: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("epoch,split,accuracy,loss,saturations"));
    lines
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

/// Returns the test accuracy of the last epoch in the checkpoint's metrics.
fn last_test_accuracy(checkpoint: &Value) -> f64 {
    let metrics = checkpoint["metrics"].as_array().unwrap();
    let last = metrics.last().unwrap();
    assert_eq!(last["split"], "test");
    last["accuracy"].as_f64().unwrap()
}

/// Writes a linearly separable two-class data set with 4 features and returns its file name.
fn write_separable_csv(dir: &Path) -> String {
    let mut text = String::from("x,y,x_mirror,y_mirror,label\n");
    for i in 0..200 {
        let label = i % 2;
        let offset = if label == 1 { 0.6 } else { 0.0 };
        let x = offset + 0.4 * ((i * 37 % 101) as f64 / 101.0);
        let y = offset + 0.4 * ((i * 53 % 97) as f64 / 97.0);
        text.push_str(&format!(
            "{x:.4},{y:.4},{:.4},{:.4},{label}\n",
            1.0 - x,
            1.0 - y
        ));
    }
    fs::write(dir.join("separable.csv"), text).unwrap();
    "separable.csv".to_string()
}

#[test]
fn train_writes_metrics_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", "");
    let output = leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "2", "--out", "run",
        ],
    );
    assert_success(&output);
    let run = dir.path().join("run");

    let rows = metrics_rows(&run);
    assert_eq!(rows.len(), 6, "3 rows per epoch");
    let labels: Vec<(String, String)> = rows
        .iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    let expected: Vec<(String, String)> = ["1", "2"]
        .iter()
        .flat_map(|epoch| {
            ["train", "validation", "test"].map(|split| (epoch.to_string(), split.to_string()))
        })
        .collect();
    assert_eq!(labels, expected);
    for row in &rows {
        assert_eq!(row.len(), 5, "{row:?}");
        assert_eq!(
            row[2].split('.').nth(1).map(str::len),
            Some(6),
            "accuracy has 6 decimals: {row:?}"
        );
    }

    let checkpoint = read_checkpoint(&run);
    assert_eq!(checkpoint["format_version"], 1);
    assert_eq!(checkpoint["device"], "software-fixed");
    assert_eq!(checkpoint["data"], "yinyang");
    assert_eq!(checkpoint["epochs_completed"], 2);
    assert_eq!(checkpoint["epochs_total"], 2);
    assert_eq!(
        checkpoint["config"]["network"]["layers"],
        serde_json::json!([4, 20, 3])
    );
    assert_eq!(checkpoint["metrics"].as_array().unwrap().len(), 6);
    assert_eq!(checkpoint["snapshot"]["model"], "fixed");

    let effective: toml::Value =
        toml::from_str(&fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    assert_eq!(effective["training"]["epochs"].as_integer(), Some(2));

    let log = stderr(&output);
    assert!(
        log.contains("epoch 1/2: 25 %"),
        "progress lines without a terminal:\n{log}"
    );
    assert!(
        stdout(&output).contains("after 2 epochs (software-fixed, yinyang)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn accuracy_above_chance_on_both_devices() {
    for device in ["software-fixed", "software-float"] {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), "small.toml", "");
        let output = leap(
            dir.path(),
            &[
                "train", "--config", &config, "--device", device, "--epochs", "2", "--out", "run",
            ],
        );
        assert_success(&output);

        let accuracy = last_test_accuracy(&read_checkpoint(&dir.path().join("run")));
        assert!(
            accuracy > 0.5,
            "{device}: test accuracy {accuracy} after 2 epochs"
        );
    }
}

/// Trains 4 epochs in one go and in two invocations split after epoch 2, and asserts that both
/// give the same checkpoint and metrics.
fn assert_resume_exact(device: &str, extra_config: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", extra_config);

    let whole = leap(
        dir.path(),
        &[
            "train", "--config", &config, "--device", device, "--epochs", "4", "--out", "whole",
        ],
    );
    assert_success(&whole);
    let first = leap(
        dir.path(),
        &[
            "train",
            "--config",
            &config,
            "--device",
            device,
            "--epochs",
            "4",
            "--stop-after",
            "2",
            "--out",
            "split",
        ],
    );
    assert_success(&first);
    assert!(
        stdout(&first).contains("stopped after epoch 2 of 4"),
        "{}",
        stdout(&first)
    );
    assert_eq!(
        read_checkpoint(&dir.path().join("split"))["epochs_completed"],
        2
    );
    let second = leap(dir.path(), &["train", "--resume", "split"]);
    assert_success(&second);

    let whole_checkpoint = read_checkpoint(&dir.path().join("whole"));
    let split_checkpoint = read_checkpoint(&dir.path().join("split"));
    assert_eq!(
        whole_checkpoint["snapshot"], split_checkpoint["snapshot"],
        "{device}: snapshots differ"
    );
    assert_eq!(
        whole_checkpoint["metrics"], split_checkpoint["metrics"],
        "{device}: metrics differ"
    );
    assert_eq!(
        whole_checkpoint["epochs_completed"],
        split_checkpoint["epochs_completed"]
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("whole/metrics.csv")).unwrap(),
        fs::read_to_string(dir.path().join("split/metrics.csv")).unwrap()
    );
}

#[test]
fn resume_is_exact_fixed() {
    assert_resume_exact("software-fixed", "");
}

#[test]
fn resume_is_exact_float() {
    assert_resume_exact("software-float", "");
}

#[test]
fn resume_is_exact_float_batch() {
    assert_resume_exact("software-float", "\n[training]\nbatch_size = 4\n");
}

#[test]
fn resume_extends_constant_schedule_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "small.toml",
        "\n[learning]\nschedule = { kind = \"constant\" }\n",
    );
    assert_success(&leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "3", "--out", "whole",
        ],
    ));
    assert_success(&leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "1", "--out", "split",
        ],
    ));
    assert_success(&leap(
        dir.path(),
        &["train", "--resume", "split", "--epochs", "3"],
    ));

    let whole = read_checkpoint(&dir.path().join("whole"));
    let split = read_checkpoint(&dir.path().join("split"));
    assert_eq!(whole["snapshot"], split["snapshot"]);
    assert_eq!(whole["metrics"], split["metrics"]);
    assert_eq!(split["epochs_total"], 3);
}

#[test]
fn resume_of_finished_run_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", "");
    assert_success(&leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "1", "--out", "run",
        ],
    ));
    let before = fs::read_to_string(dir.path().join("run/checkpoint.json")).unwrap();

    let output = leap(dir.path(), &["train", "--resume", "run"]);
    assert_success(&output);
    assert!(
        stdout(&output).contains("the run is complete after 1 epoch,"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("run/checkpoint.json")).unwrap(),
        before
    );
}

#[test]
fn resume_rejects_flags_the_checkpoint_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", "");
    assert_success(&leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "1", "--out", "run",
        ],
    ));

    let cases: [&[&str]; 4] = [
        &["--config", "small.toml"],
        &["--device", "software-float"],
        &["--data", "yinyang"],
        &["--seed", "5"],
    ];
    for extra in cases {
        let mut args = vec!["train", "--resume", "run"];
        args.extend_from_slice(extra);
        let output = leap(dir.path(), &args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {message}");
        assert!(
            message.contains(&format!("{} cannot be combined with --resume", extra[0])),
            "{message}"
        );
        assert!(message.contains("the checkpoint in run fixes"), "{message}");
    }
}

#[test]
fn existing_run_needs_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", "");
    let args = [
        "train", "--config", &config, "--epochs", "1", "--out", "run",
    ];
    assert_success(&leap(dir.path(), &args));

    let again = leap(dir.path(), &args);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--overwrite"), "{}", stderr(&again));

    let mut overwrite = args.to_vec();
    overwrite.push("--overwrite");
    assert_success(&leap(dir.path(), &overwrite));
}

#[test]
fn eval_matches_last_metrics_row() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", "");
    assert_success(&leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "2", "--out", "run",
        ],
    ));
    let rows = metrics_rows(&dir.path().join("run"));
    let checkpoint = read_checkpoint(&dir.path().join("run"));
    let accuracy = last_test_accuracy(&checkpoint);

    for split in ["test", "all"] {
        let output = leap(
            dir.path(),
            &["eval", "--checkpoint", "run", "--split", split],
        );
        assert_success(&output);
        let printed = stdout(&output);
        let test_line = printed
            .lines()
            .find(|line| line.starts_with("test "))
            .unwrap_or_else(|| panic!("{printed}"));
        let fields: Vec<&str> = test_line.split_whitespace().collect();
        let correct: f64 = fields[2].parse().unwrap();
        assert_eq!(correct / 1000.0, accuracy, "--split {split}: {test_line}");
        assert_eq!(
            fields[3],
            format!("{:.2}", accuracy * 100.0),
            "--split {split}: {test_line}"
        );
        let last = rows.last().unwrap();
        assert_eq!(
            fields[5],
            format!("{:.6}", last[3].parse::<f64>().unwrap()),
            "loss of {test_line}"
        );
    }
}

#[test]
fn csv_data_trains() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_separable_csv(dir.path());
    let config = write_config(dir.path(), "two_classes.toml", "");
    let text = fs::read_to_string(dir.path().join(&config))
        .unwrap()
        .replace("[4, 20, 3]", "[4, 20, 2]");
    fs::write(dir.path().join(&config), text).unwrap();

    let data = format!("csv:{csv}");
    let output = leap(
        dir.path(),
        &[
            "train", "--config", &config, "--data", &data, "--epochs", "2", "--out", "run",
        ],
    );
    assert_success(&output);

    let checkpoint = read_checkpoint(&dir.path().join("run"));
    let stored = checkpoint["data"].as_str().unwrap();
    assert!(
        stored.starts_with("csv:/") && stored.ends_with("separable.csv"),
        "absolute path stored: {stored}"
    );
    let accuracy = last_test_accuracy(&checkpoint);
    assert!(
        accuracy > 0.9,
        "test accuracy {accuracy} on a separable data set"
    );
    assert_eq!(metrics_rows(&dir.path().join("run")).len(), 6);
}

#[test]
fn class_count_mismatch_names_both_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_separable_csv(dir.path());
    let config = write_config(dir.path(), "small.toml", "");
    let output = leap(
        dir.path(),
        &[
            "train",
            "--config",
            &config,
            "--data",
            &format!("csv:{csv}"),
            "--out",
            "run",
        ],
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("has 2 classes, but the output layer has 3 neurons"),
        "{message}"
    );
    assert!(message.contains("`network.layers[2]`"), "{message}");
}

/// One error case: the arguments, and a text the message must contain.
struct ErrorCase {
    name: &'static str,
    args: Vec<String>,
    expected: &'static str,
}

#[test]
fn error_cases_exit_one_with_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let config = write_config(path, "small.toml", "");
    fs::write(path.join("broken.toml"), "[network\nlayers = [4, 20, 3]\n").unwrap();
    fs::write(path.join("beta.toml"), "[learning]\nbeta = 20.0\n").unwrap();
    fs::write(path.join("malformed.csv"), "1,2,3,4,0\n1,2,oops,4,1\n").unwrap();
    fs::write(path.join("a_file"), "not a directory").unwrap();
    fs::create_dir(path.join("no_checkpoint")).unwrap();

    assert_success(&leap(
        path,
        &[
            "train", "--config", &config, "--epochs", "1", "--out", "good",
        ],
    ));
    let checkpoint = fs::read(path.join("good/checkpoint.json")).unwrap();
    for (name, contents) in [
        ("truncated", checkpoint[..checkpoint.len() / 2].to_vec()),
        ("empty", Vec::new()),
        (
            "garbage",
            b"{\"format_version\": 1, \"device\": tru".to_vec(),
        ),
        (
            "incomplete",
            b"{\"format_version\": 1, \"device\": \"software-fixed\"}".to_vec(),
        ),
    ] {
        fs::create_dir(path.join(name)).unwrap();
        fs::write(path.join(name).join("checkpoint.json"), contents).unwrap();
    }

    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = [
        ErrorCase {
            name: "missing config",
            args: args(&["train", "--config", "missing.toml"]),
            expected: "missing.toml",
        },
        ErrorCase {
            name: "invalid TOML",
            args: args(&["train", "--config", "broken.toml"]),
            expected: "broken.toml",
        },
        ErrorCase {
            name: "invalid value",
            args: args(&["train", "--config", "beta.toml"]),
            expected: "learning.beta",
        },
        ErrorCase {
            name: "invalid value file",
            args: args(&["train", "--config", "beta.toml"]),
            expected: "beta.toml",
        },
        ErrorCase {
            name: "unknown data",
            args: args(&["train", "--data", "mnist"]),
            expected: "\"mnist\"",
        },
        ErrorCase {
            name: "unknown data hint",
            args: args(&["train", "--data", "mnist"]),
            expected: "csv:PATH",
        },
        ErrorCase {
            name: "missing CSV",
            args: args(&["train", "--data", "csv:absent.csv"]),
            expected: "absent.csv",
        },
        ErrorCase {
            name: "malformed CSV",
            args: args(&["train", "--data", "csv:malformed.csv"]),
            expected: "malformed.csv, line 2, column 3",
        },
        ErrorCase {
            name: "out is a file",
            args: args(&["train", "--out", "a_file"]),
            expected: "a_file",
        },
        ErrorCase {
            name: "resume without checkpoint",
            args: args(&["train", "--resume", "no_checkpoint"]),
            expected: "no_checkpoint/checkpoint.json not found",
        },
        ErrorCase {
            name: "resume missing dir",
            args: args(&["train", "--resume", "nowhere"]),
            expected: "nowhere",
        },
        ErrorCase {
            name: "truncated checkpoint",
            args: args(&["train", "--resume", "truncated"]),
            expected: "truncated/checkpoint.json is not valid JSON",
        },
        ErrorCase {
            name: "truncated checkpoint position",
            args: args(&["train", "--resume", "truncated"]),
            expected: " column ",
        },
        ErrorCase {
            name: "empty checkpoint",
            args: args(&["train", "--resume", "empty"]),
            expected: "empty/checkpoint.json is empty",
        },
        ErrorCase {
            name: "garbage checkpoint",
            args: args(&["train", "--resume", "garbage"]),
            expected: "garbage/checkpoint.json is not valid JSON",
        },
        ErrorCase {
            name: "incomplete checkpoint",
            args: args(&["train", "--resume", "incomplete"]),
            expected: "missing field",
        },
        ErrorCase {
            name: "eval truncated checkpoint",
            args: args(&["eval", "--checkpoint", "truncated"]),
            expected: "truncated/checkpoint.json",
        },
        ErrorCase {
            name: "stop after the last epoch",
            args: args(&[
                "train",
                "--config",
                &config,
                "--epochs",
                "2",
                "--stop-after",
                "3",
                "--out",
                "late",
            ]),
            expected: "--stop-after 3",
        },
    ];

    for case in cases {
        let output = leap(
            path,
            &case.args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let message = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: exit code\n{message}",
            case.name
        );
        assert!(
            message.contains(case.expected),
            "{}: expected {:?} in\n{message}",
            case.name,
            case.expected
        );
        assert!(
            message.contains("error: "),
            "{}: no `error:` line in\n{message}",
            case.name
        );
        assert!(
            !message.contains("panicked"),
            "{}: panic in\n{message}",
            case.name
        );
    }
}

#[test]
fn damaged_checkpoint_mentions_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let run: PathBuf = dir.path().join("run");
    fs::create_dir(&run).unwrap();
    fs::write(
        run.join("checkpoint.json"),
        "{\"format_version\": 1,\n \"device\": ",
    )
    .unwrap();

    let output = leap(dir.path(), &["train", "--resume", "run"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains("line 2 column"),
        "serde_json position in {message}"
    );
    assert!(message.contains("restore a backup"), "{message}");
}

#[test]
fn usage_error_keeps_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let output = leap(dir.path(), &["train", "--device", "fpga9000"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("fpga9000"));
}

/// `leap bench | head -1`: a reader that goes away before the table is printed ends the
/// command quietly, without a panic report.
#[test]
fn bench_into_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leap"))
        .current_dir(dir.path())
        .args(["bench", "--seconds", "0.05"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before the first line is written.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn bench_json_reports_all_rows() {
    let dir = tempfile::tempdir().unwrap();
    let output = leap(dir.path(), &["bench", "--seconds", "0.05", "--json"]);
    assert_success(&output);

    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(report["cpu"].is_string(), "{report}");
    assert!(report["profile"].is_string(), "{report}");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);

    let names: Vec<(String, String)> = results
        .iter()
        .map(|row| {
            (
                row["device"].as_str().unwrap().to_string(),
                row["network"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        names.contains(&("software-fixed".to_string(), "784-100-10".to_string())),
        "{names:?}"
    );

    for row in results {
        let synapses = row["synapses"].as_f64().unwrap();
        let steps = row["time_steps_per_second"].as_f64().unwrap();
        let updates = row["synapse_updates_per_second"].as_f64().unwrap();
        assert!(steps > 0.0, "{row}");
        assert!(
            (updates - steps * synapses).abs() <= 1e-9 * updates,
            "{row}"
        );
    }

    let network_synapses: Vec<f64> = results
        .iter()
        .map(|row| row["synapses"].as_f64().unwrap())
        .collect();
    assert!(
        network_synapses.contains(&(5.0 * 120.0 + 121.0 * 3.0)),
        "4-120-3 synapses with biases"
    );
    assert!(
        network_synapses.contains(&(785.0 * 100.0 + 101.0 * 10.0)),
        "784-100-10 synapses with biases"
    );
}

#[test]
fn resume_repairs_outputs_of_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "small.toml", "");
    assert_success(&leap(
        dir.path(),
        &[
            "train", "--config", &config, "--epochs", "2", "--out", "run",
        ],
    ));
    let run = dir.path().join("run");
    let complete = fs::read_to_string(run.join("metrics.csv")).unwrap();

    // A kill between the checkpoint write and the metrics write of the last epoch.
    let shortened: Vec<&str> = complete.lines().take(4).collect();
    fs::write(run.join("metrics.csv"), shortened.join("\n") + "\n").unwrap();
    fs::write(run.join(".leap-partial-abc123"), "half a checkpoint").unwrap();

    assert_success(&leap(dir.path(), &["train", "--resume", "run"]));
    assert_eq!(
        fs::read_to_string(run.join("metrics.csv")).unwrap(),
        complete
    );
    assert!(
        !run.join(".leap-partial-abc123").exists(),
        "partial files are removed"
    );
    assert!(run.join("learning_curves.svg").exists());
}

#[test]
fn resume_rejects_changed_data() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_separable_csv(dir.path());
    let config = "two_classes.toml";
    fs::write(
        dir.path().join(config),
        SMALL_CONFIG.replace("[4, 20, 3]", "[4, 20, 2]"),
    )
    .unwrap();
    let data = format!("csv:{csv}");
    assert_success(&leap(
        dir.path(),
        &[
            "train",
            "--config",
            config,
            "--data",
            &data,
            "--epochs",
            "2",
            "--stop-after",
            "1",
            "--out",
            "run",
        ],
    ));

    let path = dir.path().join(&csv);
    let text = fs::read_to_string(&path).unwrap();
    let fewer: Vec<&str> = text.lines().take(150).collect();
    fs::write(&path, fewer.join("\n") + "\n").unwrap();

    let output = leap(dir.path(), &["train", "--resume", "run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("changed since the run"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));
}

#[test]
fn seed_above_toml_range_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let output = leap(
        dir.path(),
        &[
            "train",
            "--epochs",
            "1",
            "--seed",
            "9223372036854775808",
            "--out",
            "run",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("9223372036854775808"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));
}

/// `leap flash --timeout` takes a positive number of seconds. Any other value is a usage error
/// that names the value, reported before the board table is read.
#[test]
fn flash_rejects_invalid_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    for (timeout, expected) in [
        ("0", "0 is out of range"),
        ("0.0", "0.0 is out of range"),
        ("-5", "-5 is out of range"),
        ("ten", "\"ten\" is not a number of seconds"),
        ("inf", "inf is out of range"),
    ] {
        let output = leap(
            dir.path(),
            &["flash", "--board", "icebreaker", "--timeout", timeout],
        );
        let message = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "--timeout {timeout}: {message}"
        );
        assert!(
            message.contains(expected),
            "--timeout {timeout}: expected {expected:?} in\n{message}"
        );
        assert!(
            message.contains("--timeout"),
            "--timeout {timeout}: option not named in\n{message}"
        );
    }
}

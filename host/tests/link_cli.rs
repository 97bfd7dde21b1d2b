//! End-to-end tests of training over a link with the `leap` binary: a `leap serve` child process
//! plays the board, on a pseudo-terminal or a TCP port, and `leap info`, `leap train` and
//! `leap eval` connect to it.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A 4-20-3 network with 4 time steps per sample, so that an epoch takes about a second over a
/// pseudo-terminal in a debug build.
const SMALL_CONFIG: &str = "\
[network]
layers = [4, 20, 3]

[presentation]
steps_per_sample = 4
settle_steps = 1
";

/// Maximum wait for a server to print where it serves, or for a run's first checkpoint.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Maximum wait for a training process to exit after its device went away.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

fn leap_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leap"));
    command.current_dir(dir).env_remove("LEAP_LOG");
    command
}

/// Runs `leap` in `dir` to completion.
fn leap(dir: &Path, args: &[&str]) -> Output {
    leap_command(dir)
        .args(args)
        .output()
        .expect("failed to start the leap binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that `leap` succeeded, showing its output and the server's log otherwise.
fn assert_success(output: &Output, server: &Server) {
    assert!(
        output.status.success(),
        "leap failed with {}\nstdout:\n{}\nstderr:\n{}\nserver log:\n{}",
        output.status,
        stdout(output),
        stderr(output),
        server.log()
    );
}

/// Writes the small configuration to `dir/small.toml`.
fn write_config(dir: &Path) {
    fs::write(dir.join("small.toml"), SMALL_CONFIG).unwrap();
}

fn read_checkpoint(run: &Path) -> Value {
    let text = fs::read_to_string(run.join("checkpoint.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Trains the small configuration on software-fixed for `epochs` into `dir/out`.
fn train_software_fixed(dir: &Path, epochs: &str, out: &str) {
    let output = leap(
        dir,
        &[
            "train",
            "--config",
            "small.toml",
            "--device",
            "software-fixed",
            "--epochs",
            epochs,
            "--out",
            out,
        ],
    );
    assert!(
        output.status.success(),
        "software-fixed reference run failed:\n{}",
        stderr(&output)
    );
}

/// Asserts that two runs ended with bit-identical device state and the same metrics.
fn assert_same_run(found: &Path, expected: &Path) {
    let (found_checkpoint, expected_checkpoint) =
        (read_checkpoint(found), read_checkpoint(expected));
    assert_eq!(
        found_checkpoint["epochs_completed"],
        expected_checkpoint["epochs_completed"]
    );
    assert!(
        found_checkpoint["snapshot"] == expected_checkpoint["snapshot"],
        "the snapshots of {} and {} differ",
        found.display(),
        expected.display()
    );
    assert_eq!(
        found_checkpoint["metrics"], expected_checkpoint["metrics"],
        "the metrics in the checkpoints differ"
    );
    assert_eq!(
        fs::read_to_string(found.join("metrics.csv")).unwrap(),
        fs::read_to_string(expected.join("metrics.csv")).unwrap(),
        "metrics.csv differs"
    );
}

/// A child process that is killed and reaped when the guard is dropped, also when a test fails.
struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    fn id(&self) -> u32 {
        self.child.id()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` to the process.
    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.id()).expect("process ids fit pid_t");
        // SAFETY: kill only sends a signal; the guard has not reaped the child, so `pid` is still
        // this child's id.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(result, 0, "kill({pid}, {signal}) failed");
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .expect("failed to poll a child process")
    }

    /// Waits up to `timeout` for the process to exit and returns its status.
    fn wait_timeout(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "process {} did not exit within {timeout:?}",
                self.id()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `leap serve` process with the small configuration, and where it serves.
struct Server {
    process: ChildGuard,
    /// The pseudo-terminal path, or the `tcp:HOST:PORT` link.
    address: String,
    log: PathBuf,
}

impl Server {
    /// Starts `leap serve` in `dir` with `transport` (`--pty`, or `--tcp 127.0.0.1:0`) and waits
    /// for the address it prints.
    fn start(dir: &Path, transport: &[&str]) -> Server {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log = dir.join(format!(
            "serve-{}.log",
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let child = leap_command(dir)
            .args(["serve", "--config", "small.toml"])
            .args(transport)
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("failed to start leap serve");
        let mut process = ChildGuard { child };

        // A thread reads stdout to its end, so the server never writes into a full or closed pipe.
        let lines = process.child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(lines).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let line = receiver.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "leap serve printed no address within {START_TIMEOUT:?}; its log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        });
        let address = line
            .strip_prefix("serving software device on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line from leap serve: {line:?}"))
            .to_string();
        Server {
            process,
            address,
            log,
        }
    }

    /// Returns the options that select this server's device: `--port PATH` or `--link SPEC`.
    fn device_args(&self) -> [&str; 2] {
        if self.address.starts_with("tcp:") {
            ["--link", &self.address]
        } else {
            ["--port", &self.address]
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `count` lines with `text`, and fails the test after 10 s.
    fn wait_for_log(&self, text: &str, count: usize) {
        let start = Instant::now();
        while self.log().matches(text).count() < count {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the server logged \"{text}\" fewer than {count} times:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Starts `leap train` in the background with stderr in `dir/train-<out>.log`.
fn spawn_train(dir: &Path, args: &[&str], out: &str) -> (ChildGuard, PathBuf) {
    let log = dir.join(format!("train-{out}.log"));
    let child = leap_command(dir)
        .arg("train")
        .args(args)
        .args(["--out", out])
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .expect("failed to start leap train");
    (ChildGuard { child }, log)
}

/// Waits until the run in `run` has written its first checkpoint.
fn wait_for_checkpoint(run: &Path, trainer: &mut ChildGuard, log: &Path) {
    let start = Instant::now();
    while !run.join("checkpoint.json").exists() {
        if let Some(status) = trainer.try_wait() {
            panic!(
                "training exited with {status} before its first checkpoint:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < START_TIMEOUT,
            "no checkpoint within {START_TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Trains 2 epochs over `server` and checks that the run equals the software-fixed run, and that
/// its checkpoint evaluates to the same numbers on software-fixed and over the link.
fn assert_link_run_matches_software_fixed(dir: &Path, server: &Server, expected_link: &str) {
    let mut args = vec!["train", "--config", "small.toml", "--epochs", "2"];
    args.extend(server.device_args());
    args.extend(["--out", "link"]);
    let output = leap(dir, &args);
    assert_success(&output, server);
    assert!(
        stdout(&output).contains("after 2 epochs (link, yinyang)"),
        "{}",
        stdout(&output)
    );

    train_software_fixed(dir, "2", "fixed");
    assert_same_run(&dir.join("link"), &dir.join("fixed"));
    let checkpoint = read_checkpoint(&dir.join("link"));
    assert_eq!(checkpoint["device"], "link");
    assert_eq!(checkpoint["link"], expected_link);
    assert_eq!(checkpoint["snapshot"]["model"], "fixed");

    let test_line = |output: &Output| {
        stdout(output)
            .lines()
            .find(|line| line.starts_with("test "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no test line:\n{}", stdout(output)))
    };
    let local = leap(dir, &["eval", "--checkpoint", "link", "--split", "test"]);
    assert_success(&local, server);
    assert!(
        stdout(&local).contains("evaluated on software-fixed"),
        "{}",
        stdout(&local)
    );
    let mut args = vec!["eval", "--checkpoint", "fixed", "--split", "test"];
    args.extend(server.device_args());
    let remote = leap(dir, &args);
    assert_success(&remote, server);
    assert_eq!(test_line(&remote), test_line(&local));
}

#[test]
fn info_over_pty_prints_identity() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--pty"]);

    // The second connection checks that the server takes a new client after the first left.
    for connection in 1..=2 {
        let output = leap(
            dir.path(),
            &["info", "--port", &server.address, "--config", "small.toml"],
        );
        assert_success(&output, &server);
        let printed = stdout(&output);
        for expected in [
            format!("device at serial port {}", server.address),
            "protocol version:  2".to_string(),
            "network:           4-20-3 with activations hard_sigmoid, linear".to_string(),
            "formats:           act_frac 12, weight_bits 32".to_string(),
            "memories:          163 weight words, 23 words per neuron-state memory".to_string(),
            "generator hash:    0x".to_string(),
            "time steps:".to_string(),
            "link errors:     crc 0".to_string(),
            "configuration small.toml: the device runs its network".to_string(),
        ] {
            assert!(
                printed.contains(&expected),
                "connection {connection}: no \"{expected}\" in\n{printed}"
            );
        }
        server.wait_for_log("client disconnected", connection);
    }
    server.wait_for_log("client connected", 2);
}

#[test]
fn link_rejects_other_network() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    fs::write(
        dir.path().join("narrow.toml"),
        SMALL_CONFIG.replace("[4, 20, 3]", "[4, 10, 3]"),
    )
    .unwrap();
    let server = Server::start(dir.path(), &["--pty"]);

    let info = leap(
        dir.path(),
        &["info", "--port", &server.address, "--config", "narrow.toml"],
    );
    assert_eq!(info.status.code(), Some(1), "{}", stderr(&info));
    assert!(
        stderr(&info).contains("cannot run configuration file narrow.toml"),
        "{}",
        stderr(&info)
    );

    let train = leap(
        dir.path(),
        &[
            "train",
            "--config",
            "narrow.toml",
            "--port",
            &server.address,
            "--out",
            "narrow",
        ],
    );
    assert_eq!(train.status.code(), Some(1), "{}", stderr(&train));
    assert!(
        stderr(&train).contains(
            "the device runs network 4-20-3, but network.layers of the configuration is 4-10-3"
        ),
        "{}",
        stderr(&train)
    );

    // A wider network does not fit the device's memories either, but the layers are named.
    fs::write(
        dir.path().join("wide.toml"),
        SMALL_CONFIG.replace("[4, 20, 3]", "[4, 40, 3]"),
    )
    .unwrap();
    let wide = leap(
        dir.path(),
        &[
            "train",
            "--config",
            "wide.toml",
            "--port",
            &server.address,
            "--out",
            "wide",
        ],
    );
    assert_eq!(wide.status.code(), Some(1), "{}", stderr(&wide));
    assert!(
        stderr(&wide).contains(
            "the device runs network 4-20-3, but network.layers of the configuration is 4-40-3"
        ),
        "{}",
        stderr(&wide)
    );
}

#[test]
fn train_over_pty_matches_software_fixed() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--pty"]);
    let expected_link = format!("serial:{}@3000000", server.address);
    assert_link_run_matches_software_fixed(dir.path(), &server, &expected_link);
}

#[test]
fn train_streams_over_small_payload_pty() {
    // A device that advertises 256-byte payloads: an epoch of the 4-20-3 network streams in
    // frames of (256 - 6) / 14 = 17 samples, and the run still equals software-fixed.
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--pty", "--max-payload", "256"]);
    let output = leap_command(dir.path())
        .env("LEAP_LOG", "info,leap_host::link::device=debug")
        .args(["train", "--config", "small.toml", "--epochs", "1"])
        .args(server.device_args())
        .args(["--out", "link"])
        .output()
        .unwrap();
    assert_success(&output, &server);
    let log = stderr(&output);
    assert!(
        log.contains("samples_per_frame=17 learn=true"),
        "no training stream of 17-sample frames in\n{log}"
    );
    assert!(
        log.contains("samples_per_frame=31 learn=false"),
        "no evaluation stream of (256 - 6) / 8 = 31-sample frames in\n{log}"
    );
    train_software_fixed(dir.path(), "1", "fixed");
    assert_same_run(&dir.path().join("link"), &dir.path().join("fixed"));

    let info = leap(dir.path(), &["info", "--port", &server.address]);
    assert_success(&info, &server);
    assert!(
        stdout(&info).contains("maximum payload:   256 bytes"),
        "{}",
        stdout(&info)
    );
    assert!(
        stdout(&info).contains("crc 0, framing 0, length 0, timeout 0"),
        "{}",
        stdout(&info)
    );
}

/// Returns the weight words of a weights file.
fn weight_words(path: &Path) -> Vec<i64> {
    let file: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    file["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_i64().unwrap())
        .collect()
}

/// Returns the weights of a run's checkpoint in network-wide order.
fn checkpoint_weights(run: &Path) -> Vec<i64> {
    let checkpoint = read_checkpoint(run);
    checkpoint["snapshot"]["weights"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|layer| layer.as_array().unwrap().clone())
        .map(|w| w.as_i64().unwrap())
        .collect()
}

/// Rewrites a weights file with `words` and their CRC-32, as `leap weights save` would.
fn write_weights_file(path: &Path, template: &Path, words: &[i64]) {
    let mut file: Value = serde_json::from_str(&fs::read_to_string(template).unwrap()).unwrap();
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|&w| (w as i32).to_le_bytes())
        .collect();
    file["words"] = Value::from(words.to_vec());
    file["crc32"] = Value::from(leap_model::protocol::crc32(&bytes));
    fs::write(path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
}

#[test]
fn weights_save_load_over_links() {
    let servers = [
        &["--pty"][..],
        &["--pty", "--max-payload", "256"][..],
        &["--tcp", "127.0.0.1:0", "--max-payload", "512"][..],
    ];
    for server_args in servers {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path());
        let server = Server::start(dir.path(), server_args);

        // Train one epoch over the link, so the device contains the run's trained weights.
        let mut args = vec!["train", "--config", "small.toml", "--epochs", "1"];
        args.extend(server.device_args());
        args.extend(["--out", "run"]);
        assert_success(&leap(dir.path(), &args), &server);

        let save = leap(
            dir.path(),
            &[
                &["weights", "save", "saved.json"][..],
                &server.device_args(),
            ]
            .concat(),
        );
        assert_success(&save, &server);
        assert!(
            stdout(&save).contains("saved 163 weights and biases of network [4, 20, 3]"),
            "{}",
            stdout(&save)
        );
        let saved = weight_words(&dir.path().join("saved.json"));
        assert_eq!(saved.len(), 163);
        assert_eq!(
            saved,
            checkpoint_weights(&dir.path().join("run")),
            "{server_args:?}"
        );

        // Load changed weights, read them back, and find exactly those words.
        let changed: Vec<i64> = saved.iter().map(|&w| w / 2 + 17).collect();
        write_weights_file(
            &dir.path().join("changed.json"),
            &dir.path().join("saved.json"),
            &changed,
        );
        let load = leap(
            dir.path(),
            &[
                &["weights", "load", "changed.json"][..],
                &server.device_args(),
            ]
            .concat(),
        );
        assert_success(&load, &server);
        assert!(
            stdout(&load).contains("loaded 163 weights and biases of network [4, 20, 3]"),
            "{}",
            stdout(&load)
        );
        let again = leap(
            dir.path(),
            &[
                &["weights", "save", "again.json"][..],
                &server.device_args(),
            ]
            .concat(),
        );
        assert_success(&again, &server);
        assert_eq!(
            weight_words(&dir.path().join("again.json")),
            changed,
            "{server_args:?}"
        );

        let info = leap(dir.path(), &[&["info"][..], &server.device_args()].concat());
        assert!(
            stdout(&info).contains("crc 0, framing 0, length 0, timeout 0"),
            "{}",
            stdout(&info)
        );
    }
}

#[test]
fn weights_load_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--pty"]);
    let save = leap(
        dir.path(),
        &["weights", "save", "good.json", "--port", &server.address],
    );
    assert_success(&save, &server);
    let good = fs::read_to_string(dir.path().join("good.json")).unwrap();
    let words = weight_words(&dir.path().join("good.json"));

    // The default configuration's 4-120-3 network, saved on the in-process software device.
    let other = leap(dir.path(), &["weights", "save", "other.json"]);
    assert!(other.status.success(), "{}", stderr(&other));
    fs::write(dir.path().join("truncated.json"), &good[..good.len() / 2]).unwrap();
    fs::write(
        dir.path().join("flipped.json"),
        good.replacen(
            &format!("\n    {},", words[5]),
            &format!("\n    {},", words[5] + 1),
            1,
        ),
    )
    .unwrap();
    let mut short = words.clone();
    short.pop();
    write_weights_file(
        &dir.path().join("short.json"),
        &dir.path().join("good.json"),
        &short,
    );
    let mut wide = words.clone();
    wide[3] = 1 << 40;
    write_weights_file(
        &dir.path().join("wide.json"),
        &dir.path().join("good.json"),
        &wide,
    );
    fs::write(
        dir.path().join("formats.json"),
        good.replace("\"weight_frac\": 28", "\"weight_frac\": 27"),
    )
    .unwrap();
    // Files with intact CRCs: formats and layers that the golden model cannot take, and the
    // weights of a device with another error source.
    fs::write(
        dir.path().join("bits64.json"),
        good.replace("\"weight_bits\": 32", "\"weight_bits\": 64"),
    )
    .unwrap();
    let mut huge: Value = serde_json::from_str(&good).unwrap();
    huge["layers"] = Value::from(vec![u32::MAX; 3]);
    fs::write(dir.path().join("huge.json"), huge.to_string()).unwrap();
    fs::write(
        dir.path().join("tau_r.json"),
        good.replace("\"error_source\": \"tau_m\"", "\"error_source\": \"tau_r\""),
    )
    .unwrap();

    let cases = [
        ("missing.json", "failed to read weights file missing.json"),
        ("truncated.json", "weights file truncated.json is damaged or not a LEAP weights file"),
        ("flipped.json", "but the file records 0x"),
        ("short.json", "it contains 162 words, but layers [4, 20, 3] have 163 weights and biases"),
        ("wide.json", "invalid value: integer `1099511627776`, expected i32"),
        ("other.json", "the file holds a network with layers [4, 120, 3], but the device runs layers [4, 20, 3]"),
        (
            "formats.json",
            "the file has formats.weight_frac = 27, but the device was built with weight_frac = 28",
        ),
        ("bits64.json", "`formats.weight_bits` is 64, but it must be in 16..=32"),
        ("huge.json", "have more weights and biases than this machine can address"),
        ("tau_r.json", "error source tau_r, but this device uses tau_m"),
    ];
    for (file, expected) in cases {
        let output = leap(
            dir.path(),
            &["weights", "load", file, "--port", &server.address],
        );
        assert_eq!(output.status.code(), Some(1), "{file}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(expected),
            "{file}: no \"{expected}\" in\n{}",
            stderr(&output)
        );
    }

    // None of the rejected files changed the device's weights.
    let after = leap(
        dir.path(),
        &["weights", "save", "after.json", "--port", &server.address],
    );
    assert_success(&after, &server);
    assert_eq!(weight_words(&dir.path().join("after.json")), words);
}

#[test]
fn weights_on_software_device() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let save = leap(
        dir.path(),
        &["weights", "save", "initial.json", "--config", "small.toml"],
    );
    assert!(save.status.success(), "{}", stderr(&save));
    // The initial weights of the configuration equal those a software-fixed run starts from,
    // and loading them back into the same device succeeds.
    let words = weight_words(&dir.path().join("initial.json"));
    assert_eq!(words.len(), 163);
    assert!(words.iter().any(|&w| w != 0));
    let load = leap(
        dir.path(),
        &[
            "weights",
            "load",
            "initial.json",
            "--device",
            "software-fixed",
            "--config",
            "small.toml",
        ],
    );
    assert!(load.status.success(), "{}", stderr(&load));
    assert!(
        stdout(&load).contains("into the software-fixed device of configuration file small.toml"),
        "{}",
        stdout(&load)
    );
    let float = leap(
        dir.path(),
        &[
            "weights",
            "save",
            "float.json",
            "--device",
            "software-float",
        ],
    );
    assert_eq!(float.status.code(), Some(1));
    assert!(
        stderr(&float).contains("not with software-float"),
        "{}",
        stderr(&float)
    );
    assert!(!dir.path().join("float.json").exists());
}

#[test]
fn train_over_tcp_matches_software_fixed() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--tcp", "127.0.0.1:0"]);
    assert!(
        server.address.starts_with("tcp:127.0.0.1:"),
        "{}",
        server.address
    );

    let info = leap(dir.path(), &["info", "--link", &server.address]);
    assert_success(&info, &server);
    assert!(
        stdout(&info).contains("network:           4-20-3"),
        "{}",
        stdout(&info)
    );
    let expected_link = server.address.clone();
    assert_link_run_matches_software_fixed(dir.path(), &server, &expected_link);

    // info, train and eval connected one after another.
    server.wait_for_log("client disconnected", 3);
    server.wait_for_log("client connected", 3);
}

#[test]
fn killed_server_keeps_checkpoint_for_resume() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let mut first = Server::start(dir.path(), &["--pty"]);
    let first_port = first.address.clone();

    let (mut trainer, log) = spawn_train(
        dir.path(),
        &[
            "--config",
            "small.toml",
            "--epochs",
            "3",
            "--port",
            &first_port,
        ],
        "run",
    );
    let run = dir.path().join("run");
    wait_for_checkpoint(&run, &mut trainer, &log);
    first.process.kill();

    let status = trainer.wait_timeout(EXIT_TIMEOUT);
    let message = fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("serial port {first_port} disconnected")),
        "the error does not name the port:\n{message}"
    );
    assert!(
        message.contains("continue with `leap train --resume run`"),
        "{message}"
    );
    let kept = read_checkpoint(&run);
    let completed = kept["epochs_completed"].as_u64().unwrap();
    assert!((1..3).contains(&completed), "epochs completed: {completed}");
    assert_eq!(
        kept["metrics"].as_array().unwrap().len() as u64,
        3 * completed
    );

    // The new pseudo-terminal has another path, which --port gives on resume.
    let second = Server::start(dir.path(), &["--pty"]);
    let resumed = leap(
        dir.path(),
        &["train", "--resume", "run", "--port", &second.address],
    );
    assert_success(&resumed, &second);
    train_software_fixed(dir.path(), "3", "whole");
    assert_same_run(&run, &dir.path().join("whole"));
    assert_eq!(
        read_checkpoint(&run)["link"],
        format!("serial:{}@3000000", second.address)
    );

    // A finished run has nothing to train, so resuming it needs no device.
    drop(second);
    let finished = leap(dir.path(), &["train", "--resume", "run"]);
    assert!(finished.status.success(), "{}", stderr(&finished));
    assert!(
        stdout(&finished).contains("nothing to train"),
        "{}",
        stdout(&finished)
    );
}

/// Reports whether the pseudo-terminal at `path` is in exclusive mode (TIOCEXCL), in which Linux
/// rejects opens by users without CAP_SYS_ADMIN with EBUSY.
fn port_is_exclusive(path: &str) -> bool {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;

    let port = match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
    {
        Ok(port) => port,
        Err(error) if error.raw_os_error() == Some(libc::EBUSY) => return true,
        Err(error) => panic!("failed to open {path}: {error}"),
    };
    let mut exclusive: libc::c_int = 0;
    // SAFETY: TIOCGEXCL writes one int through the pointer, which points to `exclusive`.
    let result = unsafe { libc::ioctl(port.as_raw_fd(), libc::TIOCGEXCL, &mut exclusive) };
    assert_eq!(result, 0, "TIOCGEXCL on {path} failed");
    exclusive != 0
}

/// Waits until `log` contains `text`.
fn wait_for_text(log: &Path, text: &str) {
    let start = Instant::now();
    while !fs::read_to_string(log).unwrap_or_default().contains(text) {
        assert!(
            start.elapsed() < START_TIMEOUT,
            "no \"{text}\" in {} within {START_TIMEOUT:?}",
            log.display()
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn killed_client_leaves_port_usable() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--pty"]);

    let (mut trainer, log) = spawn_train(
        dir.path(),
        &[
            "--config",
            "small.toml",
            "--epochs",
            "3",
            "--port",
            &server.address,
        ],
        "run",
    );
    wait_for_text(&log, "epoch 1/3 started");

    // The client opened the port in exclusive mode. The test does not open the port to check
    // that, because the server releases the port when the test closes it again. SIGKILL gives
    // the client no chance to leave exclusive mode itself.
    trainer.kill();
    server.wait_for_log("client disconnected", 1);
    assert!(
        !port_is_exclusive(&server.address),
        "the port is still exclusive after its client died:\n{}",
        server.log()
    );
    let info = leap(dir.path(), &["info", "--port", &server.address]);
    assert_success(&info, &server);
}

#[test]
fn silent_server_times_out_naming_port() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let server = Server::start(dir.path(), &["--pty"]);

    let (mut trainer, log) = spawn_train(
        dir.path(),
        &[
            "--config",
            "small.toml",
            "--epochs",
            "3",
            "--port",
            &server.address,
            "--reply-timeout",
            "0.2",
        ],
        "run",
    );
    let run = dir.path().join("run");
    wait_for_checkpoint(&run, &mut trainer, &log);
    server.process.signal(libc::SIGSTOP);

    let status = trainer.wait_timeout(EXIT_TIMEOUT);
    server.process.signal(libc::SIGCONT);
    let message = fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{message}");
    // A stopped server stops replying, and once the pseudo-terminal's buffer is full it also
    // stops reading. Whichever the host notices first, the error names the port and the limit.
    let silent = format!("no valid reply from serial port {}", server.address);
    let full = format!("writing to serial port {} failed", server.address);
    if message.contains(&silent) {
        // The last attempt waits the 0.2 s reply timeout plus wire time and measured work.
        let waited: f64 = message
            .split("after 4 attempts. The last attempt waited ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or_else(|| panic!("the error does not give the timeout:\n{message}"));
        assert!(
            waited >= 0.2,
            "the last attempt waited {waited} s:\n{message}"
        );
    } else {
        assert!(
            message.contains(&full) && message.contains("has stopped reading"),
            "the error does not name the port:\n{message}"
        );
    }
    assert!(read_checkpoint(&run)["epochs_completed"].as_u64().unwrap() < 3);

    // The checkpoint stores the port, so --resume alone reconnects to the same server.
    let resumed = leap(dir.path(), &["train", "--resume", "run"]);
    assert_success(&resumed, &server);
    train_software_fixed(dir.path(), "3", "whole");
    assert_same_run(&run, &dir.path().join("whole"));
}

#[test]
fn link_options_errors_exit_with_message() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    train_software_fixed(dir.path(), "1", "fixed");
    let float = leap(
        dir.path(),
        &[
            "train",
            "--config",
            "small.toml",
            "--device",
            "software-float",
            "--epochs",
            "1",
            "--out",
            "float",
        ],
    );
    assert!(float.status.success(), "{}", stderr(&float));
    let missing = dir.path().join("missing-port");
    let missing = missing.to_str().unwrap();

    let cases: [(&str, Vec<&str>, i32, &str); 7] = [
        (
            "info on a missing port",
            vec!["info", "--port", missing],
            1,
            "opening serial port",
        ),
        (
            "info without a device",
            vec!["info"],
            2,
            "--port <PATH>|--link <SPEC>",
        ),
        (
            "--port with --device",
            vec!["train", "--port", missing, "--device", "software-float"],
            2,
            "cannot be used with",
        ),
        (
            "--port on resume of a software run",
            vec!["train", "--resume", "fixed", "--port", missing],
            1,
            "cannot be combined with --resume of this run",
        ),
        (
            "--reply-timeout without a link",
            vec!["train", "--config", "small.toml", "--reply-timeout", "2"],
            1,
            "--reply-timeout applies to a device behind a link",
        ),
        (
            "float checkpoint over a link",
            vec!["eval", "--checkpoint", "float", "--port", missing],
            1,
            "whose snapshot the link device cannot load",
        ),
        (
            "serve on a public address",
            vec!["serve", "--tcp", "0.0.0.0:0"],
            1,
            "is not a loopback address",
        ),
    ];
    for (name, args, code, expected) in cases {
        let output = leap(dir.path(), &args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{name}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{name}: no \"{expected}\" in\n{}",
            stderr(&output)
        );
        if name == "info on a missing port" {
            assert!(
                stderr(&output).contains(missing),
                "{name}: {}",
                stderr(&output)
            );
        }
    }
}

#[test]
fn bench_link_reports_three_baud_rates() {
    let dir = tempfile::tempdir().unwrap();
    let output = leap(
        dir.path(),
        &["bench", "--link", "--seconds", "0.05", "--json"],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = report["link_results"].as_array().unwrap();
    let bauds: Vec<u64> = rows
        .iter()
        .map(|row| row["baud"].as_u64().unwrap())
        .collect();
    assert_eq!(bauds, [115_200, 1_000_000, 3_000_000]);
    for row in rows {
        assert_eq!(row["network"], "4-120-3", "{row}");
        assert!(row["samples"].as_u64().unwrap() >= 10, "{row}");
        assert!(row["samples_per_second"].as_f64().unwrap() > 0.0, "{row}");
        let link = row["link_efficiency"].as_f64().unwrap();
        let frame = row["frame_efficiency"].as_f64().unwrap();
        assert!(link > 0.0, "{row}");
        assert!(
            link <= frame * 1.05,
            "link efficiency above frame efficiency: {row}"
        );
    }
}

#[test]
fn bench_link_table_names_max_payload() {
    let dir = tempfile::tempdir().unwrap();
    let output = leap(
        dir.path(),
        &[
            "bench",
            "--link",
            "--seconds",
            "0.05",
            "--max-payload",
            "256",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("up to what 256 payload bytes hold"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn max_payload_out_of_range_is_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        &["bench", "--link", "--max-payload", "50"][..],
        &["bench", "--link", "--max-payload", "4097"][..],
        &["serve", "--max-payload", "0"][..],
        &["serve", "--max-payload", "abc"][..],
    ];
    for args in cases {
        let output = leap(dir.path(), args);
        let value = args[args.len() - 1];
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(&format!("invalid value '{value}' for '--max-payload")),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("use a number of bytes from 128 to 4096"),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{args:?}: {}", stdout(&output));
    }
}

#[test]
fn serve_tcp_host_name_is_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = leap(dir.path(), &["serve", "--tcp", "localhost:7000"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("\"localhost:7000\" is not an IP address and port"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("use 127.0.0.1:PORT or [::1]:PORT"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn resume_without_server_says_how() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let mut server = Server::start(dir.path(), &["--tcp", "127.0.0.1:0"]);
    let mut args = vec!["train", "--config", "small.toml", "--epochs", "2"];
    args.extend(["--stop-after", "1", "--out", "run"]);
    args.extend(server.device_args());
    assert_success(&leap(dir.path(), &args), &server);
    let address = server.address.clone();
    server.process.kill();

    let resumed = leap(dir.path(), &["train", "--resume", "run"]);

    assert_eq!(resumed.status.code(), Some(1), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains(&format!("cannot resume run on its device at {address}.")),
        "{}",
        stderr(&resumed)
    );
    assert!(
        stderr(&resumed).contains("add --port PATH or --link SPEC if it is now elsewhere"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(
        read_checkpoint(&dir.path().join("run"))["epochs_completed"],
        1
    );
}

#[test]
fn serve_survives_closed_stdout() {
    use std::os::fd::{FromRawFd, OwnedFd};

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    // A pipe whose read end is closed before the server starts, as after `leap serve | head -1`.
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new descriptors into the array it is given.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
    // SAFETY: both descriptors are new and owned by nothing else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let log = dir.path().join("serve.log");
    let child = leap_command(dir.path())
        .args(["serve", "--config", "small.toml", "--pty"])
        .stdout(Stdio::from(write_end))
        .stderr(File::create(&log).unwrap())
        .spawn()
        .expect("failed to start leap serve");
    let mut server = ChildGuard { child };

    let start = Instant::now();
    let line = loop {
        let text = fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("failed to print to stdout"))
        {
            break line.to_string();
        }
        if let Some(status) = server.try_wait() {
            panic!("leap serve exited with {status} after its stdout closed:\n{text}");
        }
        assert!(
            start.elapsed() < START_TIMEOUT,
            "no warning about stdout:\n{text}"
        );
        thread::sleep(Duration::from_millis(10));
    };
    let path = line
        .split_whitespace()
        .find(|word| word.starts_with("/dev/"))
        .unwrap_or_else(|| panic!("no port in {line:?}"));

    let info = leap(dir.path(), &["info", "--port", path]);
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(
        stdout(&info).contains("protocol version:  2"),
        "{}",
        stdout(&info)
    );
    assert!(server.try_wait().is_none(), "leap serve stopped");
}

#[test]
fn serve_max_payload_too_small_for_network() {
    let dir = tempfile::tempdir().unwrap();
    // One sample of 60 inputs and 3 potential targets takes 6 + 120 + 12 = 138 payload bytes.
    fs::write(
        dir.path().join("wide.toml"),
        SMALL_CONFIG.replace("[4, 20, 3]", "[60, 20, 3]"),
    )
    .unwrap();

    let output = leap(
        dir.path(),
        &["serve", "--config", "wide.toml", "--max-payload", "128"],
    );

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--max-payload 128 is invalid"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("need 138 bytes"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("Use a larger --max-payload"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
}

//! Finding and running the FPGA tools: Debian's yosys, nextpnr-ice40 and icestorm on PATH, and the
//! yowasp tools on PATH or in the virtualenv that `scripts/setup.sh` makes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::{info, warn};

use crate::progress::stderr_is_terminal;

pub use leap_hdl::tools::{venv_dir, VENV_ENV};

/// Finds `name` on PATH, or for a yowasp tool in the virtualenv's `bin`.
pub fn find_tool(name: &str) -> Result<PathBuf> {
    if name.starts_with("yowasp-") {
        return Ok(leap_hdl::tools::find_yowasp_tool(name)?);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let package = match name {
        "yosys" => "yosys",
        "nextpnr-ice40" => "nextpnr-ice40",
        "icepack" | "iceprog" => "fpga-icestorm",
        "openFPGALoader" => "openfpgaloader",
        _ => name,
    };
    bail!("{name} was not found on PATH; run scripts/setup.sh or apt-get install {package}")
}

/// Shows a spinner with the step's name on a terminal, and logs the step's start and end.
pub struct Step {
    name: String,
    spinner: Option<ProgressBar>,
    started: Instant,
}

impl Step {
    pub fn start(name: &str) -> Step {
        info!("{name}: started");
        let spinner = stderr_is_terminal().then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .expect("the spinner template is valid"),
            );
            spinner.set_message(name.to_string());
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        });
        Step {
            name: name.to_string(),
            spinner,
            started: Instant::now(),
        }
    }

    pub fn finish(self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
        info!(
            "{}: done in {:.1} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

/// Runs `tool` with `args` in `dir` as the step `step`, with its output in `dir/log_name`.
///
/// On failure the error names the tool, its exit status, the log file and the log's last lines.
pub fn run_step(step: &str, tool: &str, args: &[String], dir: &Path, log_name: &str) -> Result<()> {
    let program = find_tool(tool)?;
    let progress = Step::start(step);
    let log_path = dir.join(log_name);
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .context("cannot duplicate the log file handle")?;
    tracing::debug!(
        "running {} {} in {}",
        program.display(),
        args.join(" "),
        dir.display()
    );
    let status = Command::new(&program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .with_context(|| format!("cannot start {}", program.display()))?;
    if !status.success() {
        drop(progress);
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<_> = text.lines().rev().take(15).collect();
        let tail: Vec<_> = tail.into_iter().rev().collect();
        warn!("{step} failed: {tool} exited with {status}");
        bail!(
            "{step} failed: {tool} exited with {status}; full log in {}. Last lines:\n{}",
            log_path.display(),
            tail.join("\n")
        );
    }
    progress.finish();
    Ok(())
}

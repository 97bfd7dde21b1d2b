//! Progress of one training epoch: a progress bar on a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use tracing::info;

/// Returns true when stderr is a terminal, where a progress bar can redraw itself.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

enum Display {
    Bar(ProgressBar),
    /// Logs a line each time another quarter of the epoch is done.
    Log {
        next_quarter: u64,
    },
}

/// Progress of one epoch, counted in presented samples (training and evaluation).
pub struct EpochProgress {
    display: Display,
    epoch: usize,
    epochs: usize,
    total: u64,
    done: u64,
    started: Instant,
}

impl EpochProgress {
    /// Starts reporting epoch `epoch` of `epochs`, which presents `total` samples.
    pub fn start(
        epoch: usize,
        epochs: usize,
        total: u64,
        learning_rate_factor: f64,
        use_bar: bool,
    ) -> EpochProgress {
        let display = if use_bar {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:25}] {pos}/{len} samples, {rate}, ETA {eta}, {msg}",
            )
            .expect("the progress template is valid")
            .with_key(
                "rate",
                |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{:.0} samples/s", state.per_sec());
                },
            )
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            bar.enable_steady_tick(Duration::from_millis(200));
            Display::Bar(bar)
        } else {
            info!("epoch {epoch}/{epochs} started (learning-rate factor {learning_rate_factor:.4}, {total} samples to present)");
            Display::Log { next_quarter: 1 }
        };
        EpochProgress {
            display,
            epoch,
            epochs,
            total,
            done: 0,
            started: Instant::now(),
        }
    }

    /// Names the current phase, such as "training" or "evaluating test", on the progress bar.
    pub fn set_phase(&self, phase: &str) {
        if let Display::Bar(bar) = &self.display {
            bar.set_message(phase.to_string());
        }
    }

    /// Records `samples` more presented samples.
    pub fn advance(&mut self, samples: usize) {
        self.done += samples as u64;
        match &mut self.display {
            Display::Bar(bar) => bar.set_position(self.done),
            Display::Log { next_quarter } => {
                // Quarters 1 to 3 get a line, because the epoch summary reports the end.
                while *next_quarter < 4 && self.done * 4 >= *next_quarter * self.total {
                    let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                    info!(
                        "epoch {}/{}: {} % ({} of {} samples, {rate:.0} samples/s)",
                        self.epoch,
                        self.epochs,
                        *next_quarter * 25,
                        self.done,
                        self.total
                    );
                    *next_quarter += 1;
                }
            }
        }
    }

    /// Removes the progress bar and returns the time since the epoch started.
    pub fn finish(self) -> Duration {
        if let Display::Bar(bar) = &self.display {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}

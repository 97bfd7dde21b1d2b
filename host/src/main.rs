//! The `leap` command line.

use std::process::ExitCode;

use clap::Parser;
use leap_host::cli::{self, Cli};
use leap_host::progress::stderr_is_terminal;
use tracing_subscriber::EnvFilter;

/// Environment variable with the log filter, in tracing-subscriber's `EnvFilter` syntax.
const LOG_ENV: &str = "LEAP_LOG";

fn main() -> ExitCode {
    // Usage errors and --help exit here, with clap's message and exit code 2 (0 for --help).
    let cli = Cli::parse();
    init_tracing();

    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            print_error(&error);
            ExitCode::FAILURE
        }
    }
}

/// Sends log lines to stderr, filtered by LEAP_LOG (default: info).
fn init_tracing() {
    let (filter, invalid) = match std::env::var(LOG_ENV) {
        Ok(text) => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new("info"), Some((text, error))),
        },
        Err(_) => (EnvFilter::new("info"), None),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_is_terminal())
        .with_target(false)
        .init();
    if let Some((text, error)) = invalid {
        tracing::warn!("ignoring invalid {LOG_ENV}=\"{text}\" ({error}); logging at level info");
    }
}

/// Prints the error and its causes to stderr, skipping a cause whose text the message before it
/// already contains.
fn print_error(error: &anyhow::Error) {
    let mut previous = error.to_string();
    eprintln!("error: {previous}");
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !previous.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        previous = text;
    }
}

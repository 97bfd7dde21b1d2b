//! The `leap` command line.

use std::process::ExitCode;

use clap::Parser;
use leap_host::cli::{self, Cli};
use leap_host::progress::stderr_is_terminal;
use tracing_subscriber::EnvFilter;

/// Environment variable with the log filter, in tracing-subscriber's `EnvFilter` syntax.
const LOG_ENV: &str = "LEAP_LOG";

fn main() -> ExitCode {
    quiet_on_closed_stdout();
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

/// Ends the process quietly with success when stdout is a pipe whose reader has gone, as in
/// `leap bench | head -1`. Rust ignores SIGPIPE, so `println!` panics on the closed pipe. Restoring
/// SIGPIPE is no option, because it would also kill the process when a link's peer closes a FIFO,
/// which must end with an error message. Every other panic keeps the default report.
fn quiet_on_closed_stdout() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
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

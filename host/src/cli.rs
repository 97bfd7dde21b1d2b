//! Command-line arguments of `leap` and the dispatch to each subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::devices::DeviceKind;
use crate::metrics::Split;

/// Trains and evaluates Latent Equilibrium networks on LEAP devices.
///
/// Set the log level with the LEAP_LOG environment variable (default: info), for example
/// LEAP_LOG=debug.
#[derive(Debug, Parser)]
#[command(name = "leap", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network and write metrics.csv, checkpoint.json and config.toml to the output directory.
    Train(TrainArgs),
    /// Evaluate the network of a checkpoint on one or all splits.
    Eval(EvalArgs),
    /// Measure single-threaded synapse updates per second of the software models.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Configuration file (TOML). Without it, the defaults: a 4-120-3 network with hard-sigmoid
    /// hidden and linear output neurons.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Device to train on. [default: software-fixed]
    #[arg(long, value_enum, value_name = "DEVICE")]
    pub device: Option<DeviceKind>,

    /// Data set: `yinyang` (built in) or `csv:PATH`, where PATH is a CSV file (split 80/10/10)
    /// or a directory with train.csv, test.csv and optionally validation.csv. [default: yinyang]
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,

    /// Number of epochs; overrides `training.epochs`. With --resume, extends the run to N epochs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub epochs: Option<u64>,

    /// Seed of the initial weights, the CSV split and the sample order; overrides `training.seed`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=leap_model::config::MAX_SEED))]
    pub seed: Option<u64>,

    /// Output directory for metrics.csv, checkpoint.json and config.toml. [default: runs/train]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace the run in the output directory if it already contains a checkpoint.
    #[arg(long)]
    pub overwrite: bool,

    /// Continue the run in DIR from its checkpoint and keep writing to DIR. The checkpoint fixes
    /// the configuration, device, data set and seed.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,

    /// Stop after this epoch, keeping the learning-rate schedule of the full run, so that
    /// --resume later continues exactly as an uninterrupted run would.
    #[arg(long, value_name = "EPOCH", value_parser = clap::value_parser!(u64).range(1..))]
    pub stop_after: Option<u64>,
}

/// The splits that `leap eval` evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitChoice {
    Train,
    Validation,
    Test,
    All,
}

impl SplitChoice {
    pub fn splits(self) -> Vec<Split> {
        match self {
            SplitChoice::Train => vec![Split::Train],
            SplitChoice::Validation => vec![Split::Validation],
            SplitChoice::Test => vec![Split::Test],
            SplitChoice::All => Split::ALL.to_vec(),
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run directory written by `leap train` (or its checkpoint.json).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: PathBuf,

    /// Split to evaluate.
    #[arg(long, value_enum, default_value_t = SplitChoice::All)]
    pub split: SplitChoice,

    /// Data set: `yinyang` or `csv:PATH`. [default: the data set the checkpoint was trained on]
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Minimum measured time per device and network, in seconds, after a warm-up.
    #[arg(long, value_name = "S", default_value_t = 3.0, value_parser = parse_seconds)]
    pub seconds: f64,

    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number of seconds"))?;
    if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 {
        Ok(seconds)
    } else {
        Err(format!(
            "{text} is out of range: use a number of seconds in (0, 86400]"
        ))
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => crate::train::run(&args),
        Command::Eval(args) => crate::eval::run(&args),
        Command::Bench(args) => crate::bench::run(&args),
    }
}

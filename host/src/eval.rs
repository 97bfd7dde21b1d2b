//! `leap eval`: evaluates the network of a checkpoint.

use anyhow::{bail, Context};

use crate::checkpoint::{checkpoint_file, Checkpoint};
use crate::cli::EvalArgs;
use crate::dataspec::{check_shape, DataSpec};
use crate::devices::DeviceKind;
use crate::metrics::evaluate;
use crate::train::split_of;

/// Runs `leap eval` and prints one line per split to stdout.
///
/// Every split starts from the checkpoint's device state, as in training, so the numbers for the
/// checkpoint's own data set equal the last rows of its metrics.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let stored = Checkpoint::load(&args.checkpoint)?;
    let file = checkpoint_file(&args.checkpoint);
    let Some(kind) = DeviceKind::from_name(&stored.device) else {
        bail!(
            "checkpoint {} names device \"{}\", which this leap cannot build. It builds software-fixed and software-float.",
            file.display(),
            stored.device
        );
    };
    let config = &stored.config;
    kind.validate(config).with_context(|| {
        format!(
            "checkpoint {} contains an invalid configuration",
            file.display()
        )
    })?;

    let data = match &args.data {
        Some(text) => DataSpec::parse(text)?.to_absolute(),
        None => DataSpec::parse(&stored.data)
            .with_context(|| format!("checkpoint {} is damaged", file.display()))?,
    };
    // The network fixes the class count, so a CSV file that lacks the highest classes still loads.
    let splits = data.load(config.training.seed, Some(config.n_outputs()))?;

    let mut device = kind.build(config)?;
    device.restore(&stored.snapshot).with_context(|| {
        format!(
            "checkpoint {} does not fit its own configuration",
            file.display()
        )
    })?;

    println!(
        "checkpoint {} (epoch {} of {}, {}, trained on {}), evaluated on {}",
        file.display(),
        stored.epochs_completed,
        stored.epochs_total,
        kind,
        stored.data,
        data
    );
    println!(
        "{:<12} {:>8} {:>8} {:>10} {:>10} {:>12}",
        "split", "samples", "correct", "accuracy", "loss", "saturations"
    );
    for split in args.split.splits() {
        let dataset = split_of(&splits, split);
        check_shape(config, dataset)?;
        let result = evaluate(device.as_mut(), dataset, &mut |_| {})
            .with_context(|| format!("evaluation of the {split} split failed"))?;
        device.restore(&stored.snapshot)?;
        println!(
            "{:<12} {:>8} {:>8} {:>8.2} % {:>10.6} {:>12}",
            split.name(),
            result.samples,
            result.correct,
            result.accuracy * 100.0,
            result.loss,
            result.saturations
        );
    }
    Ok(())
}

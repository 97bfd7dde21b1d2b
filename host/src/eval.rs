//! `leap eval`: evaluates the network of a checkpoint.

use anyhow::{bail, Context};

use crate::checkpoint::{checkpoint_file, Checkpoint};
use crate::cli::EvalArgs;
use crate::dataspec::{check_shape, DataSpec};
use crate::devices::{DeviceKind, DeviceTarget};
use crate::metrics::evaluate;
use crate::train::split_of;

/// Runs `leap eval` and prints one line per split to stdout.
///
/// Every split starts from the checkpoint's device state, as in training, so the numbers for the
/// checkpoint's own data set equal the last rows of its metrics. The software-fixed device and a
/// device behind a link run the same arithmetic, so a checkpoint of either evaluates on both.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let stored = Checkpoint::load(&args.checkpoint)?;
    let file = checkpoint_file(&args.checkpoint);
    let trained_on = DeviceTarget::from_checkpoint(&stored, &file, args.link.options())?;
    let target = match args.link.link_spec() {
        Some(spec) => DeviceTarget::Link {
            spec,
            options: args.link.options(),
        },
        None if args.link.reply_timeout.is_some() => {
            bail!("--reply-timeout applies to a device behind a link: add --port PATH or --link SPEC, or remove it")
        }
        None => match &trained_on {
            DeviceTarget::Link { .. } => DeviceTarget::Software(DeviceKind::SoftwareFixed),
            software => software.clone(),
        },
    };
    if !trained_on.accepts(&stored.snapshot) {
        bail!(
            "checkpoint {} of a run on {} contains a snapshot of another model. The file is \
             damaged: restore a backup of it, or train again.",
            file.display(),
            trained_on.name()
        );
    }
    if !target.accepts(&stored.snapshot) {
        bail!(
            "checkpoint {} was trained on {}, whose snapshot the {} device cannot load: a device \
             behind a link runs the fixed-point arithmetic. Evaluate it without --port and --link.",
            file.display(),
            trained_on.name(),
            target.name()
        );
    }
    let config = &stored.config;
    target.validate(config).with_context(|| {
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

    let mut device = target.build(config)?;
    device.restore(&stored.snapshot).with_context(|| {
        format!(
            "checkpoint {} does not fit its own configuration",
            file.display()
        )
    })?;

    println!(
        "checkpoint {} (epoch {} of {}, trained on {} with {}), evaluated on {} with {}",
        file.display(),
        stored.epochs_completed,
        stored.epochs_total,
        trained_on.name(),
        stored.data,
        target,
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

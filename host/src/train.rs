//! `leap train`: the epoch loop, its outputs and resuming from a checkpoint.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use leap_model::config::{ConfigError, Schedule};
use leap_model::{Config, Device, DeviceError};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tracing::{info, warn};

use crate::checkpoint::{self, write_atomic, Checkpoint, FORMAT_VERSION};
use crate::cli::TrainArgs;
use crate::data::{Dataset, Splits};
use crate::dataspec::{check_shape, DataSpec};
use crate::devices::{DeviceKind, DeviceTarget};
use crate::metrics::{self, evaluate, one_hot, MetricsRow, Split};
use crate::plot;
use crate::progress::{stderr_is_terminal, EpochProgress};

/// Learning curves written next to metrics.csv after every epoch.
pub const PLOT_FILE_NAME: &str = "learning_curves.svg";

/// Output directory when `--out` is not given.
pub const DEFAULT_OUT: &str = "runs/train";

/// Multiplier that spreads consecutive epoch numbers over the seed space for the shuffle
/// generator: 2^64 divided by the golden ratio, rounded to an odd number.
const EPOCH_SEED_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// A training run, ready to continue with its next epoch.
struct Run {
    out: PathBuf,
    target: DeviceTarget,
    /// The effective configuration, with `training.epochs` equal to `epochs_total`.
    config: Config,
    /// The data set as given on the command line; the checkpoint stores it with an absolute path.
    data: DataSpec,
    splits: Splits,
    device: Box<dyn Device>,
    history: Vec<MetricsRow>,
    epochs_completed: usize,
    epochs_total: usize,
}

/// Runs `leap train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let mut run = match &args.resume {
        Some(dir) => match resume(args, dir)? {
            Some(run) => run,
            None => return Ok(()),
        },
        None => start(args)?,
    };

    let last_epoch = last_epoch(args.stop_after, run.epochs_completed, run.epochs_total)?;

    let use_bar = stderr_is_terminal();
    for epoch in run.epochs_completed + 1..=last_epoch {
        run.train_epoch(epoch, use_bar)
            .map_err(|error| run.explain_failure(error, epoch))?;
    }

    run.print_summary();
    if last_epoch < run.epochs_total {
        println!(
            "stopped after epoch {last_epoch} of {}; continue with: leap train --resume {}",
            run.epochs_total,
            run.out.display()
        );
    }
    Ok(())
}

/// Returns the last epoch to train in this invocation: `--stop-after`, or else the last epoch of
/// the run.
fn last_epoch(
    stop_after: Option<u64>,
    epochs_completed: usize,
    epochs_total: usize,
) -> anyhow::Result<usize> {
    let Some(stop) = stop_after else {
        return Ok(epochs_total);
    };
    match usize::try_from(stop) {
        Ok(stop) if stop > epochs_completed && stop <= epochs_total => Ok(stop),
        _ => bail!(
            "--stop-after {stop} is outside the epochs still to train, {} to {epochs_total}",
            epochs_completed + 1
        ),
    }
}

/// Sets up a new run from the command-line arguments.
fn start(args: &TrainArgs) -> anyhow::Result<Run> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => Config::default(),
    };
    if let Some(epochs) = args.epochs {
        config.training.epochs = usize::try_from(epochs).context("--epochs is too large")?;
    }
    if let Some(seed) = args.seed {
        config.training.seed = seed;
    }
    if config.training.epochs == 0 {
        bail!("`training.epochs` is 0, so there is nothing to train. Pass --epochs N or set `training.epochs` in the configuration.");
    }
    let target = match args.link.link_spec() {
        Some(spec) => DeviceTarget::Link {
            spec,
            options: args.link.options(),
        },
        None => {
            if args.link.reply_timeout.is_some() {
                bail!("--reply-timeout applies to a device behind a link: add --port PATH or --link SPEC, or remove it");
            }
            DeviceTarget::Software(args.device.unwrap_or(DeviceKind::SoftwareFixed))
        }
    };
    let source = match &args.config {
        Some(path) => format!("configuration file {}", path.display()),
        None => "the default configuration".to_string(),
    };
    target
        .validate(&config)
        .with_context(|| format!("{source} cannot run on the {} device", target.name()))?;

    last_epoch(args.stop_after, 0, config.training.epochs)?;

    let data = DataSpec::parse(args.data.as_deref().unwrap_or("yinyang"))?;
    let splits = data.load(config.training.seed, None)?;
    for dataset in [&splits.train, &splits.validation, &splits.test] {
        check_shape(&config, dataset)?;
    }

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    prepare_output_dir(&out, args.overwrite)?;
    checkpoint::remove_partial_files(&out);
    let device = target.build(&config)?;
    write_atomic(&out.join("config.toml"), config.to_toml_string().as_bytes())?;

    let epochs_total = config.training.epochs;
    info!(
        "training {:?} network on {} for {} with {} ({} training samples), writing to {}",
        config.network.layers,
        count_epochs(epochs_total),
        target,
        data,
        splits.train.len(),
        out.display()
    );
    Ok(Run {
        out,
        target,
        config,
        data,
        splits,
        device,
        history: Vec::new(),
        epochs_completed: 0,
        epochs_total,
    })
}

/// Reads a configuration file. An invalid value gets the file name added, because the model
/// crate's message names only the field.
pub(crate) fn load_config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|error| match error {
        ConfigError::Invalid { .. } => anyhow::Error::new(error).context(format!(
            "configuration file {} contains an invalid value",
            path.display()
        )),
        other => anyhow::Error::new(other),
    })
}

/// Checks that `out` can take a new run and creates it.
fn prepare_output_dir(out: &Path, overwrite: bool) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        bail!(
            "--out {} is an existing file, not a directory. Choose another --out.",
            out.display()
        );
    }
    let existing = out.join(checkpoint::FILE_NAME);
    if existing.exists() {
        if !overwrite {
            bail!(
                "{} already contains a training run ({}). Continue it with --resume {}, choose \
                 another --out, or pass --overwrite to replace it.",
                out.display(),
                existing.display(),
                out.display()
            );
        }
        // Remove the old run's checkpoint and metrics first, so that they cannot be mistaken for
        // this run's if it stops before its first epoch ends.
        for name in [checkpoint::FILE_NAME, "metrics.csv"] {
            let path = out.join(name);
            if path.exists() {
                fs::remove_file(&path)
                    .with_context(|| format!("failed to remove {}", path.display()))?;
            }
        }
    }
    fs::create_dir_all(out)
        .with_context(|| format!("failed to create output directory {}", out.display()))
}

/// Sets up a run from the checkpoint in `dir`, or returns `None` when all its epochs are done.
fn resume(args: &TrainArgs, dir: &Path) -> anyhow::Result<Option<Run>> {
    let fixed_by_checkpoint = [
        ("--config", args.config.is_some()),
        ("--device", args.device.is_some()),
        ("--data", args.data.is_some()),
        ("--seed", args.seed.is_some()),
        ("--out", args.out.is_some()),
        ("--overwrite", args.overwrite),
    ];
    for (flag, given) in fixed_by_checkpoint {
        if given {
            bail!(
                "{flag} cannot be combined with --resume: the checkpoint in {} fixes the \
                 configuration, device, data set and seed, and the run continues in that directory. \
                 Remove {flag}, or start a new run without --resume.",
                dir.display()
            );
        }
    }

    let stored = Checkpoint::load(dir)?;
    let file = checkpoint::checkpoint_file(dir);
    let out = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut target = DeviceTarget::from_checkpoint(&stored, &file, args.link.options())?;
    let new_link = args.link.link_spec();
    match (&mut target, new_link) {
        (DeviceTarget::Link { spec, .. }, Some(new_spec)) if *spec != new_spec => {
            info!("the checkpoint's link is {spec}; connecting to {new_spec} instead");
            *spec = new_spec;
        }
        (DeviceTarget::Software(kind), Some(_)) => bail!(
            "--port and --link cannot be combined with --resume of this run: the checkpoint in {} \
             fixes the device, and the run trained on {kind}, not on a device behind a link. Remove \
             them to continue on {kind}.",
            dir.display()
        ),
        (DeviceTarget::Software(_), None) if args.link.reply_timeout.is_some() => bail!(
            "--reply-timeout applies to a device behind a link, but the run in {} trains on {}. \
             Remove --reply-timeout.",
            dir.display(),
            target
        ),
        _ => {}
    }
    if !target.accepts(&stored.snapshot) {
        bail!(
            "checkpoint {} contains a snapshot that the {} device cannot load. The file is \
             damaged: restore a backup of it, or train again without --resume.",
            file.display(),
            target.name()
        );
    }

    let mut config = stored.config.clone();
    target.validate(&config).with_context(|| {
        format!(
            "checkpoint {} contains an invalid configuration",
            file.display()
        )
    })?;
    let epochs_total = match args.epochs {
        None => stored.epochs_total,
        Some(epochs) => {
            let epochs = usize::try_from(epochs).context("--epochs is too large")?;
            if epochs < stored.epochs_total {
                bail!(
                    "--epochs {epochs} is less than the run's total of {} epochs. Resume without \
                     --epochs to finish the run, or use --stop-after to stop earlier.",
                    stored.epochs_total
                );
            }
            epochs
        }
    };
    if epochs_total > stored.epochs_total
        && !matches!(config.learning.schedule, Schedule::ConstantRates {})
    {
        warn!(
            "extending the run from {} to {epochs_total} epochs: the remaining epochs follow the \
             learning-rate schedule for {epochs_total} epochs, but the completed ones followed it for {}, so the \
             result differs from a run started with --epochs {epochs_total}",
            stored.epochs_total, stored.epochs_total
        );
    }
    config.training.epochs = epochs_total;

    let data = DataSpec::parse(&stored.data)
        .with_context(|| format!("checkpoint {} is damaged", file.display()))?;
    let splits = data.load(config.training.seed, None)?;
    for dataset in [&splits.train, &splits.validation, &splits.test] {
        check_shape(&config, dataset)?;
    }
    if let Some(stored_fingerprint) = &stored.data_fingerprint {
        let fingerprint = crate::data::fingerprint(&splits);
        if *stored_fingerprint != fingerprint {
            bail!(
                "data set {data} changed since the run in {} started (fingerprint {fingerprint}, \
                 the checkpoint has {stored_fingerprint}). Restore the original data, or start a new \
                 run without --resume.",
                dir.display()
            );
        }
    }

    // A finished run trains nothing, so it does not connect to a device behind a link. The
    // fixed-point model, which loads the same snapshots, replaces it.
    let finished = stored.epochs_completed >= epochs_total;
    let mut device = match &target {
        DeviceTarget::Link { .. } if finished => {
            DeviceTarget::Software(DeviceKind::SoftwareFixed).build(&config)?
        }
        _ => target.build(&config)?,
    };
    device.restore(&stored.snapshot).with_context(|| {
        format!(
            "checkpoint {} does not fit its own configuration",
            file.display()
        )
    })?;

    let run = Run {
        out,
        target,
        config,
        data,
        splits,
        device,
        history: stored.metrics,
        epochs_completed: stored.epochs_completed,
        epochs_total,
    };
    // A run stopped between the checkpoint write and the metrics write leaves metrics.csv one
    // epoch behind. Rewriting the outputs from the checkpoint brings them back in line, also
    // when the run turns out to be complete.
    checkpoint::remove_partial_files(&run.out);
    run.write_outputs()?;

    if run.epochs_completed >= run.epochs_total {
        println!(
            "{}: the run is complete after {}, so there is nothing to train. Pass --epochs N with N > {} to train longer.",
            run.out.display(),
            count_epochs(run.epochs_total),
            run.epochs_total
        );
        run.print_summary();
        return Ok(None);
    }
    last_epoch(args.stop_after, run.epochs_completed, run.epochs_total)?;
    info!(
        "resuming {} after epoch {} of {} on {} with {}",
        run.out.display(),
        run.epochs_completed,
        run.epochs_total,
        run.target,
        run.data
    );
    Ok(Some(run))
}

impl Run {
    /// Adds to a failure of a device behind a link which checkpoint is kept and how to continue.
    /// Other failures are returned unchanged.
    fn explain_failure(&self, error: anyhow::Error, epoch: usize) -> anyhow::Error {
        let from_device = error.chain().any(|cause| cause.is::<DeviceError>());
        if self.target.link_spec().is_none() || !from_device {
            return error;
        }
        let next_step = if self.epochs_completed > 0 {
            format!(
                "The checkpoint of epoch {} in {} is kept, so continue with `leap train --resume {}`, \
                 adding --port PATH or --link SPEC if the device is now elsewhere.",
                self.epochs_completed,
                self.out.display(),
                self.out.display()
            )
        } else {
            "No checkpoint was written, so start the run again.".to_string()
        };
        error.context(format!(
            "training on {} stopped in epoch {epoch}. {next_step}",
            self.target
        ))
    }

    /// Trains one epoch, evaluates all splits and writes the checkpoint and metrics.csv.
    fn train_epoch(&mut self, epoch: usize, use_bar: bool) -> anyhow::Result<()> {
        let factor = self
            .config
            .learning
            .schedule
            .factor(epoch, self.epochs_total);
        self.device
            .set_learning_rate_factor(factor)
            .with_context(|| format!("failed to set the learning rate for epoch {epoch}"))?;

        let splits = &self.splits;
        let evaluated = splits.train.len() + splits.validation.len() + splits.test.len();
        let total_samples = (splits.train.len() + evaluated) as u64;
        let mut progress =
            EpochProgress::start(epoch, self.epochs_total, total_samples, factor, use_bar);

        progress.set_phase("training");
        let saturations_before = self.device.saturations();
        let seed = self.config.training.seed ^ (epoch as u64).wrapping_mul(EPOCH_SEED_MULTIPLIER);
        train_pass(self.device.as_mut(), &splits.train, seed, &mut |n| {
            progress.advance(n)
        })
        .with_context(|| format!("training failed in epoch {epoch}"))?;
        let training_saturations = self.device.saturations() - saturations_before;
        let time_steps = splits.train.len() * self.config.presentation.steps_per_sample;
        if training_saturations as usize > time_steps {
            warn!(
                "epoch {epoch}: {training_saturations} fixed-point saturation events in {time_steps} \
                 training time steps (values clamped to their format's range); if accuracy stalls, lower `learning.eta` \
                 or `learning.beta`, or scale the inputs into [-8, 8)"
            );
        }

        // Each split starts from the state the training pass left, and that state is restored
        // afterwards. So evaluation never changes the training trajectory, and `leap eval` of the
        // checkpoint reproduces these numbers for any split.
        let trained_state = self.device.snapshot()?;
        let mut rows = Vec::with_capacity(3);
        for split in Split::ALL {
            progress.set_phase(&format!("evaluating {split}"));
            let dataset = split_of(splits, split);
            let result = evaluate(self.device.as_mut(), dataset, &mut |n| progress.advance(n))
                .with_context(|| {
                    format!("evaluation of the {split} split failed in epoch {epoch}")
                })?;
            self.device.restore(&trained_state)?;
            let saturations = if split == Split::Train {
                result.saturations + training_saturations
            } else {
                result.saturations
            };
            rows.push(MetricsRow {
                epoch,
                split,
                accuracy: result.accuracy,
                loss: result.loss,
                saturations,
            });
        }
        let elapsed = progress.finish();

        check_finite(self.device.as_ref(), &rows, epoch)?;
        self.history.extend(rows);
        self.epochs_completed = epoch;
        self.save(trained_state)?;

        let accuracy = |split: Split| self.last_accuracy(split).unwrap_or(0.0) * 100.0;
        info!(
            "epoch {epoch}/{} done in {:.1} s: accuracy train {:.2} %, validation {:.2} %, test {:.2} %; saturations {}",
            self.epochs_total,
            elapsed.as_secs_f64(),
            accuracy(Split::Train),
            accuracy(Split::Validation),
            accuracy(Split::Test),
            self.history[self.history.len() - 3..].iter().map(|row| row.saturations).sum::<u64>()
        );
        Ok(())
    }

    /// Writes the checkpoint, then metrics.csv from the same history.
    fn save(&self, snapshot: leap_model::Snapshot) -> anyhow::Result<()> {
        let checkpoint = Checkpoint {
            format_version: FORMAT_VERSION,
            leap_version: env!("CARGO_PKG_VERSION").to_string(),
            device: self.target.name().to_string(),
            link: self.target.link_spec().map(ToString::to_string),
            data: self.data.to_absolute().to_string(),
            data_fingerprint: Some(crate::data::fingerprint(&self.splits)),
            config: self.config.clone(),
            epochs_completed: self.epochs_completed,
            epochs_total: self.epochs_total,
            metrics: self.history.clone(),
            snapshot,
        };
        checkpoint.save(&self.out)?;
        self.write_outputs()
    }

    /// Writes config.toml, metrics.csv and the learning curves from the run's history.
    fn write_outputs(&self) -> anyhow::Result<()> {
        write_atomic(
            &self.out.join("config.toml"),
            self.config.to_toml_string().as_bytes(),
        )?;
        write_atomic(
            &self.out.join("metrics.csv"),
            metrics::to_csv(&self.history).as_bytes(),
        )?;
        let title = format!("{} on {}", self.target.name(), self.data);
        write_atomic(
            &self.out.join(PLOT_FILE_NAME),
            plot::learning_curves_svg(&self.history, &title).as_bytes(),
        )
    }

    fn last_accuracy(&self, split: Split) -> Option<f64> {
        self.history
            .iter()
            .rev()
            .find(|row| row.split == split)
            .map(|row| row.accuracy)
    }

    /// Prints the final test accuracy and where the outputs are.
    fn print_summary(&self) {
        if let Some(accuracy) = self.last_accuracy(Split::Test) {
            println!(
                "test accuracy: {:.2} % after {} ({}, {})",
                accuracy * 100.0,
                count_epochs(self.epochs_completed),
                self.target.name(),
                self.data
            );
        }
        println!(
            "outputs: {} (metrics.csv, learning_curves.svg, checkpoint.json, config.toml)",
            self.out.display()
        );
    }
}

/// Returns "1 epoch" or "N epochs".
fn count_epochs(epochs: usize) -> String {
    if epochs == 1 {
        "1 epoch".to_string()
    } else {
        format!("{epochs} epochs")
    }
}

/// Presents the training set once in the order that `seed` shuffles, with one-hot targets, as
/// one stream: a device behind a link sends it in queue-samples frames, and the others run it in
/// chunks of their batch size.
fn train_pass(
    device: &mut dyn Device,
    train: &Dataset,
    seed: u64,
    on_samples: &mut dyn FnMut(usize),
) -> Result<(), leap_model::DeviceError> {
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));

    let samples: Vec<(&[f64], usize)> = order.iter().map(|&i| train.sample(i)).collect();
    let inputs: Vec<&[f64]> = samples.iter().map(|&(x, _)| x).collect();
    let targets: Vec<Vec<f64>> = samples
        .iter()
        .map(|&(_, label)| one_hot(label, train.n_classes))
        .collect();
    let target_refs: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();
    device.run_stream(&inputs, Some(&target_refs), on_samples)?;
    Ok(())
}

/// Returns the data set of one split.
pub fn split_of(splits: &Splits, split: Split) -> &Dataset {
    match split {
        Split::Train => &splits.train,
        Split::Validation => &splits.validation,
        Split::Test => &splits.test,
    }
}

/// Rejects an epoch whose weights or losses are NaN or infinite, because training diverged and a
/// checkpoint cannot store such values.
fn check_finite(device: &dyn Device, rows: &[MetricsRow], epoch: usize) -> anyhow::Result<()> {
    let parameters = device.parameters()?;
    let layers = parameters
        .weights
        .iter()
        .zip(&parameters.biases)
        .enumerate();
    let diverged_layer = layers
        .filter(|(_, (weights, biases))| {
            weights
                .iter()
                .chain(biases.iter())
                .any(|value| !value.is_finite())
        })
        .map(|(layer, _)| layer)
        .next();
    let diverged_split = rows
        .iter()
        .find(|row| !row.loss.is_finite())
        .map(|row| row.split);
    let cause = match (diverged_layer, diverged_split) {
        (Some(layer), _) => format!(
            "a weight or bias into `network.layers[{}]` is NaN or infinite",
            layer + 1
        ),
        (None, Some(split)) => format!("the {split} loss is NaN or infinite"),
        (None, None) => return Ok(()),
    };
    let kept_checkpoint = if epoch > 1 {
        format!(
            "The output directory keeps the checkpoint of epoch {}.",
            epoch - 1
        )
    } else {
        "No checkpoint was written.".to_string()
    };
    bail!("training diverged in epoch {epoch}: {cause}. Lower `learning.eta` or `learning.beta` and train again. {kept_checkpoint}")
}

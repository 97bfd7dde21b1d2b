//! The `--data` argument: which data set to train and evaluate on.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use leap_model::Config;

use crate::data::csv::{load_splits, CsvOptions};
use crate::data::{yinyang, Dataset, Splits};

/// A data set named on the command line: `yinyang` or `csv:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSpec {
    /// The built-in Yin-Yang data set (5000 training, 1000 validation, 1000 test samples).
    YinYang,
    /// A CSV file, split 80/10/10, or a directory with train.csv, test.csv and an optional
    /// validation.csv.
    Csv(PathBuf),
}

impl DataSpec {
    /// Parses `yinyang` or `csv:PATH`.
    pub fn parse(text: &str) -> anyhow::Result<DataSpec> {
        if text == "yinyang" {
            return Ok(DataSpec::YinYang);
        }
        if let Some(path) = text.strip_prefix("csv:") {
            if path.is_empty() {
                bail!("invalid data set \"{text}\": the path after `csv:` is empty. Use csv:PATH with a CSV file or a directory.");
            }
            return Ok(DataSpec::Csv(PathBuf::from(path)));
        }
        bail!(
            "invalid data set \"{text}\": use `yinyang` for the built-in Yin-Yang data set or \
             `csv:PATH` for a CSV file or a directory with train.csv and test.csv"
        )
    }

    /// Returns the spec with an absolute CSV path, so that a checkpoint that stores it can be
    /// resumed from another working directory.
    pub fn to_absolute(&self) -> DataSpec {
        match self {
            DataSpec::YinYang => DataSpec::YinYang,
            DataSpec::Csv(path) => DataSpec::Csv(absolute(path)),
        }
    }

    /// Loads the three splits.
    ///
    /// `seed` shuffles a CSV file before it is split. `n_classes` fixes the class count of a
    /// CSV data set, and `None` takes the largest label plus one.
    pub fn load(&self, seed: u64, n_classes: Option<usize>) -> anyhow::Result<Splits> {
        match self {
            DataSpec::YinYang => Ok(yinyang::splits()),
            DataSpec::Csv(path) => load_splits(path, &CsvOptions { n_classes }, seed)
                .with_context(|| format!("failed to load data set {self}")),
        }
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::YinYang => f.write_str("yinyang"),
            DataSpec::Csv(path) => write!(f, "csv:{}", path.display()),
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    // `canonicalize` fails for a missing file, and then the loader reports the path as given.
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Checks that the data set's feature and class counts match the network's input and output
/// layers. The error names both numbers, the data set and the configuration field to change.
pub fn check_shape(config: &Config, dataset: &Dataset) -> anyhow::Result<()> {
    let layers = &config.network.layers;
    let last = layers.len() - 1;
    if dataset.n_features != layers[0] {
        bail!(
            "data set {} has {} features, but the network has {} inputs. Set `network.layers[0]` \
             to {} in the configuration.",
            dataset.name,
            dataset.n_features,
            layers[0],
            dataset.n_features
        );
    }
    if dataset.n_classes != layers[last] {
        bail!(
            "data set {} has {} classes, but the output layer has {} neurons. Set \
             `network.layers[{last}]` to {} in the configuration.",
            dataset.name,
            dataset.n_classes,
            layers[last],
            dataset.n_classes
        );
    }
    Ok(())
}

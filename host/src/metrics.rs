//! Evaluation of a device on a data set, and the per-epoch metrics history with its CSV form.

use std::fmt;
use std::fmt::Write as _;

use leap_model::{Device, DeviceError};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;

/// One of the three standard splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of presenting one split with frozen weights and no nudging.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub samples: usize,
    /// Samples whose largest output belongs to the labelled class.
    pub correct: usize,
    /// Fraction of samples whose largest output belongs to the labelled class.
    pub accuracy: f64,
    /// Mean over samples of `0.5 · Σ (one-hot target − output)²`.
    pub loss: f64,
    /// Increase of the device's saturation counter during the evaluation.
    pub saturations: u64,
}

/// One row of the metrics history: a split evaluated after an epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// 1-based epoch after which the split was evaluated.
    pub epoch: usize,
    pub split: Split,
    pub accuracy: f64,
    pub loss: f64,
    /// Saturation events while the split was processed in this epoch. For the training split
    /// this includes the training pass.
    pub saturations: u64,
}

/// Header line of metrics.csv.
pub const CSV_HEADER: &str = "epoch,split,accuracy,loss,saturations";

/// Formats the history as metrics.csv: the header, then one row per epoch and split.
pub fn to_csv(history: &[MetricsRow]) -> String {
    let mut text = String::new();
    text.push_str(CSV_HEADER);
    text.push('\n');
    for row in history {
        writeln!(
            text,
            "{},{},{:.6},{:.6},{}",
            row.epoch, row.split, row.accuracy, row.loss, row.saturations
        )
        .expect("writing to a String cannot fail");
    }
    text
}

/// Returns the one-hot target of `label`: 1.0 at the label, 0.0 elsewhere.
pub fn one_hot(label: usize, n_classes: usize) -> Vec<f64> {
    let mut target = vec![0.0; n_classes];
    target[label] = 1.0;
    target
}

/// Returns the index of the largest output, the first one on ties. NaN outputs never win, so an
/// all-NaN output counts as class 0.
pub fn argmax(outputs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &value) in outputs.iter().enumerate() {
        if value > outputs[best] || outputs[best].is_nan() && !value.is_nan() {
            best = i;
        }
    }
    best
}

/// Presents every sample of `dataset` in order as one stream (see `Device::run_stream`), without
/// targets, so weights stay frozen. Calls `on_samples` with the number of samples done as they
/// finish.
///
/// Neuron state carries over between samples and is left as the last sample leaves it. Callers
/// that need the state unchanged take a snapshot first and restore it afterwards.
pub fn evaluate(
    device: &mut dyn Device,
    dataset: &Dataset,
    on_samples: &mut dyn FnMut(usize),
) -> Result<Evaluation, DeviceError> {
    let saturations_before = device.saturations();
    let mut correct = 0usize;
    let mut loss_sum = 0.0;

    let inputs: Vec<&[f64]> = (0..dataset.len()).map(|i| dataset.sample(i).0).collect();
    let outputs = device.run_stream(&inputs, None, on_samples)?;
    for (i, output) in outputs.iter().enumerate() {
        let label = dataset.sample(i).1;
        if argmax(output) == label {
            correct += 1;
        }
        let squared_error: f64 = output
            .iter()
            .enumerate()
            .map(|(class, &y)| {
                let target = if class == label { 1.0 } else { 0.0 };
                (target - y) * (target - y)
            })
            .sum();
        loss_sum += 0.5 * squared_error;
    }

    let samples = dataset.len();
    let (accuracy, loss) = if samples == 0 {
        (0.0, 0.0)
    } else {
        (correct as f64 / samples as f64, loss_sum / samples as f64)
    };
    Ok(Evaluation {
        samples,
        correct,
        accuracy,
        loss,
        saturations: device.saturations() - saturations_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_prefers_first_maximum() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7]), 1);
    }

    #[test]
    fn argmax_skips_nan() {
        assert_eq!(argmax(&[f64::NAN, 0.2, 0.1]), 1);
        assert_eq!(argmax(&[0.3, f64::NAN, 0.1]), 0);
    }

    #[test]
    fn csv_rounds_to_six_decimals() {
        let history = [MetricsRow {
            epoch: 2,
            split: Split::Validation,
            accuracy: 0.5,
            loss: 1.0 / 3.0,
            saturations: 7,
        }];
        assert_eq!(
            to_csv(&history),
            "epoch,split,accuracy,loss,saturations\n2,validation,0.500000,0.333333,7\n"
        );
    }
}

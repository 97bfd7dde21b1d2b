//! The interface every LEAP device offers to the training loop: the software models, the
//! Verilator-simulated engine and boards behind a link.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::fixed::FixedState;
use crate::float::FloatState;

/// A failure reported by a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("input has {found} features, but the network has {expected} inputs")]
    InputWidth { expected: usize, found: usize },
    #[error("target has {found} values, but the network has {expected} outputs")]
    TargetWidth { expected: usize, found: usize },
    #[error("batch of {found} samples exceeds the device's {max} network copies")]
    BatchSize { max: usize, found: usize },
    #[error("snapshot does not fit this device: {0}")]
    Snapshot(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Other(String),
}

/// Complete state of a software device, enough to continue a run bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Snapshot {
    Float(FloatState),
    Fixed(FixedState),
}

/// Weights and biases of every non-input layer as real numbers, for inspection and export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// `weights[l]` is row-major, `layers[l+1]` rows of `layers[l]` columns.
    pub weights: Vec<Vec<f64>>,
    pub biases: Vec<Vec<f64>>,
}

/// A device that runs Latent Equilibrium networks sample by sample.
pub trait Device {
    /// A short name for logs: "software-float", "software-fixed", ...
    fn name(&self) -> &str;

    fn config(&self) -> &Config;

    /// Network copies that run side by side and share one averaged weight update.
    fn batch_size(&self) -> usize {
        1
    }

    /// Scales every configured learning rate by `factor` from now on (learning-rate schedules).
    fn set_learning_rate_factor(&mut self, factor: f64) -> Result<(), DeviceError>;

    /// Presents one sample per network copy for `presentation.steps_per_sample` time steps.
    ///
    /// With targets, the steps after the first `presentation.settle_steps` nudge the output toward
    /// the target and update the weights. Without targets, every step runs without nudging and
    /// with frozen weights. Returns the output rates of each copy after the last step. Neuron state
    /// carries over from one sample to the next, as in the reference model.
    fn run_batch(&mut self, inputs: &[&[f64]], targets: Option<&[&[f64]]>) -> Result<Vec<Vec<f64>>, DeviceError>;

    /// Saturation events counted since the device was created.
    fn saturations(&self) -> u64;

    fn parameters(&self) -> Result<Parameters, DeviceError>;

    fn snapshot(&self) -> Result<Snapshot, DeviceError>;

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), DeviceError>;
}

/// Checks the widths of a batch against the configuration.
pub(crate) fn check_batch(
    config: &Config,
    max_batch: usize,
    inputs: &[&[f64]],
    targets: Option<&[&[f64]]>,
) -> Result<(), DeviceError> {
    if inputs.len() > max_batch {
        return Err(DeviceError::BatchSize { max: max_batch, found: inputs.len() });
    }
    for x in inputs {
        if x.len() != config.n_inputs() {
            return Err(DeviceError::InputWidth { expected: config.n_inputs(), found: x.len() });
        }
    }
    if let Some(targets) = targets {
        if targets.len() != inputs.len() {
            return Err(DeviceError::Other(format!(
                "{} targets for {} inputs: give one target per input",
                targets.len(),
                inputs.len()
            )));
        }
        for t in targets {
            if t.len() != config.n_outputs() {
                return Err(DeviceError::TargetWidth { expected: config.n_outputs(), found: t.len() });
            }
        }
    }
    Ok(())
}

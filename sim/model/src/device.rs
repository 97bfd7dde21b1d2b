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
    fn run_batch(
        &mut self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
    ) -> Result<Vec<Vec<f64>>, DeviceError>;

    /// Presents `inputs` (with `targets`, one per input) as consecutive samples and returns the
    /// output rates of each, in order. `on_samples(n)` reports every `n` samples done.
    ///
    /// The outputs and the state afterwards equal those of `run_batch` called on consecutive
    /// chunks of `batch_size()` samples, which is what this default does. A device behind a link
    /// overrides it to stream the samples, so the link carries the next ones while the device
    /// computes.
    fn run_stream(
        &mut self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
        on_samples: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f64>>, DeviceError> {
        if let Some(targets) = targets {
            check_target_count(inputs.len(), targets.len())?;
        }
        let chunk_size = self.batch_size().max(1);
        let mut outputs = Vec::with_capacity(inputs.len());
        for (index, chunk) in inputs.chunks(chunk_size).enumerate() {
            let start = index * chunk_size;
            let chunk_targets = targets.map(|t| &t[start..start + chunk.len()]);
            outputs.extend(self.run_batch(chunk, chunk_targets)?);
            on_samples(chunk.len());
        }
        Ok(outputs)
    }

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
        return Err(DeviceError::BatchSize {
            max: max_batch,
            found: inputs.len(),
        });
    }
    for x in inputs {
        if x.len() != config.n_inputs() {
            return Err(DeviceError::InputWidth {
                expected: config.n_inputs(),
                found: x.len(),
            });
        }
    }
    if let Some(targets) = targets {
        check_target_count(inputs.len(), targets.len())?;
        for t in targets {
            if t.len() != config.n_outputs() {
                return Err(DeviceError::TargetWidth {
                    expected: config.n_outputs(),
                    found: t.len(),
                });
            }
        }
    }
    Ok(())
}

/// Checks that a batch or stream has one target per input.
pub fn check_target_count(inputs: usize, targets: usize) -> Result<(), DeviceError> {
    if targets != inputs {
        return Err(DeviceError::Other(format!(
            "{targets} targets for {inputs} inputs: give one target per input"
        )));
    }
    Ok(())
}

//! Network configuration: the model, its dynamics, learning and presentation settings.
//!
//! A configuration is read from TOML, where every section and field is optional, and validated
//! before use. A validation error names the field, the value found and the allowed range.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::format::Formats;

/// Output function of a layer's neurons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `clamp(x, 0, 1)`, slope 1 on the closed interval [0, 1] and 0 elsewhere.
    HardSigmoid,
    /// `max(x, 0)`, slope 1 for x > 0.
    Relu,
    /// Identity, slope 1.
    Linear,
    /// Hyperbolic tangent (float model only).
    Tanh,
    /// Logistic sigmoid `1 / (1 + exp(-x))` (float model only).
    Logistic,
}

impl Activation {
    /// Returns whether the fixed-point golden model, and so the hardware, implements this activation.
    pub fn in_fixed_point(self) -> bool {
        matches!(self, Activation::HardSigmoid | Activation::Relu | Activation::Linear)
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::Relu => "relu",
            Activation::Linear => "linear",
            Activation::Tanh => "tanh",
            Activation::Logistic => "logistic",
        }
    }
}

/// Quantity of the output layer that the output error compares with the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// `e_N = β · φ'(ŭ_N) ⊙ (r* − r_N)`.
    Rate,
    /// `e_N = β · (r* − ŭ_N)`.
    Voltage,
}

/// Potential from which each neuron forms the error message it sends to the layer below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// `m = u + τ_m·u̇ − I`, which equals the installed error `e` (Latent Equilibrium).
    TauM,
    /// `m = ŭ − I` with `ŭ = u + τ_r·u̇`; with `τ_r = 0` this is `u − I`, the non-prospective baseline.
    TauR,
}

/// Learning-rate schedule: the change of the learning rates from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The same rates every epoch.
    #[serde(rename = "constant")]
    ConstantRates {},
    /// Multiply the rates by `factor` after every `every` epochs.
    Step { every: usize, factor: f64 },
    /// Cosine decay from the configured rates (epoch 1) to `floor` times them (last epoch).
    Cosine { floor: f64 },
}

impl Schedule {
    /// Returns the factor applied to every learning rate in `epoch` (1-based) of `epochs`.
    pub fn factor(&self, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Schedule::ConstantRates {} => 1.0,
            Schedule::Step { every, factor } => factor.powi(((epoch.max(1) - 1) / every.max(1)) as i32),
            Schedule::Cosine { floor } => {
                if epochs <= 1 {
                    return 1.0;
                }
                let progress = (epoch.clamp(1, epochs) - 1) as f64 / (epochs - 1) as f64;
                floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// Layer sizes and activations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSection {
    /// Neurons per layer, input first: `[4, 120, 3]`.
    pub layers: Vec<usize>,
    /// One activation per non-input layer.
    pub activations: Vec<Activation>,
}

/// Neuron time constants and the time step, in the same (arbitrary) time unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronSection {
    pub tau_m: f64,
    pub tau_r: f64,
    pub dt: f64,
    pub error_source: ErrorSource,
}

/// Nudging and plasticity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningSection {
    /// Nudging strength β at the output.
    pub beta: f64,
    /// Per-time-step learning rate of each non-input layer.
    pub eta: Vec<f64>,
    pub target: TargetKind,
    pub schedule: Schedule,
}

/// How long each sample is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresentationSection {
    /// Time steps each sample is presented for.
    pub steps_per_sample: usize,
    /// Leading steps of each sample run without nudging and with frozen weights.
    pub settle_steps: usize,
}

/// Weight initialisation and training-run settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingSection {
    /// Standard deviation of the zero-mean normal distribution that weights and biases start from.
    pub init_std: f64,
    pub seed: u64,
    pub epochs: usize,
    /// Independent network copies per weight update (float model only; the device runs 1).
    pub batch_size: usize,
}

/// A complete configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub network: NetworkSection,
    pub neuron: NeuronSection,
    pub learning: LearningSection,
    pub presentation: PresentationSection,
    pub training: TrainingSection,
    /// Number formats of the fixed-point golden model and the hardware.
    pub fixed: Formats,
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection { layers: vec![4, 120, 3], activations: vec![Activation::HardSigmoid, Activation::Linear] }
    }
}

impl Default for NeuronSection {
    fn default() -> Self {
        NeuronSection { tau_m: 10.0, tau_r: 10.0, dt: 1.0, error_source: ErrorSource::TauM }
    }
}

impl Default for LearningSection {
    fn default() -> Self {
        LearningSection {
            beta: 0.5,
            eta: vec![0.03, 0.015],
            target: TargetKind::Rate,
            schedule: Schedule::Cosine { floor: 0.05 },
        }
    }
}

impl Default for PresentationSection {
    fn default() -> Self {
        PresentationSection { steps_per_sample: 6, settle_steps: 2 }
    }
}

impl Default for TrainingSection {
    fn default() -> Self {
        TrainingSection { init_std: 0.2, seed: 1, epochs: 150, batch_size: 1 }
    }
}

/// An invalid configuration value, or a configuration file that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A field contains a value outside its allowed range.
    Invalid { field: String, value: String, allowed: String },
    /// The file could not be read.
    Read { path: String, reason: String },
    /// The file is not valid TOML for a configuration.
    Parse { path: String, reason: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid { field, value, allowed } => {
                write!(f, "invalid configuration: `{field}` is {value}, but it must be {allowed}")
            }
            ConfigError::Read { path, reason } => {
                write!(f, "cannot read configuration file {path}: {reason}")
            }
            ConfigError::Parse { path, reason } => {
                write!(f, "invalid configuration file {path}: {}", reason.trim_end())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn invalid(field: impl Into<String>, value: impl fmt::Display, allowed: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), value: value.to_string(), allowed: allowed.into() }
}

/// Largest supported layer width, enforced by [`Config::validate`]. It bounds the fan-in so that
/// the 48-bit accumulators of the fixed-point model cannot overflow (see `format`).
pub const MAX_LAYER_WIDTH: usize = 65_536;

/// Largest supported number of synapses (weights and biases) in a network: 2^24, which keeps a
/// float model's weights below 128 MiB and fits every weight address in 32 bits.
pub const MAX_SYNAPSES: usize = 1 << 24;

/// Largest seed: TOML integers are signed 64-bit.
pub const MAX_SEED: u64 = i64::MAX as u64;

impl Config {
    /// Parses and validates a configuration from TOML text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: origin.to_string(), reason: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        Config::from_toml_str(&text, &path.display().to_string())
    }

    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("a validated configuration always serialises")
    }

    /// Number of non-input layers.
    pub fn depth(&self) -> usize {
        self.network.layers.len().saturating_sub(1)
    }

    pub fn n_inputs(&self) -> usize {
        self.network.layers[0]
    }

    pub fn n_outputs(&self) -> usize {
        *self.network.layers.last().expect("validated configuration has layers")
    }

    /// Synapses per time step, biases included (a bias is a synapse from a constant input of 1).
    pub fn synapses(&self) -> usize {
        self.network.layers.windows(2).map(|w| (w[0] + 1) * w[1]).sum()
    }

    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let layers = &self.network.layers;
        if layers.len() < 2 {
            return Err(invalid(
                "network.layers",
                format!("{layers:?}"),
                "a list of at least two sizes (inputs, then one or more layers)",
            ));
        }
        for (k, &n) in layers.iter().enumerate() {
            if n == 0 || n > MAX_LAYER_WIDTH {
                return Err(invalid(format!("network.layers[{k}]"), n, format!("in 1..={MAX_LAYER_WIDTH}")));
            }
        }
        if self.synapses() > MAX_SYNAPSES {
            return Err(invalid(
                "network.layers",
                format!("{layers:?} with {} synapses", self.synapses()),
                format!("a network of at most {MAX_SYNAPSES} synapses (weights and biases)"),
            ));
        }
        let depth = layers.len() - 1;
        if self.network.activations.len() != depth {
            return Err(invalid(
                "network.activations",
                format!("a list of {}", self.network.activations.len()),
                format!("a list of {depth}, one per non-input layer"),
            ));
        }

        let n = &self.neuron;
        check_positive("neuron.tau_m", n.tau_m)?;
        if !(n.tau_r.is_finite() && n.tau_r >= 0.0) {
            return Err(invalid("neuron.tau_r", n.tau_r, "a finite number >= 0"));
        }
        check_positive("neuron.dt", n.dt)?;
        if n.dt > n.tau_m {
            return Err(invalid("neuron.dt", n.dt, format!("at most neuron.tau_m ({}) for a stable Euler step", n.tau_m)));
        }
        if n.tau_r > 4.0 * n.tau_m {
            return Err(invalid("neuron.tau_r", n.tau_r, format!("at most 4 * neuron.tau_m ({})", 4.0 * n.tau_m)));
        }

        let l = &self.learning;
        if !(l.beta.is_finite() && (0.0..=16.0).contains(&l.beta)) {
            return Err(invalid("learning.beta", l.beta, "in [0, 16]"));
        }
        if l.eta.len() != depth {
            return Err(invalid(
                "learning.eta",
                format!("a list of {}", l.eta.len()),
                format!("a list of {depth}, one per non-input layer"),
            ));
        }
        for (k, &eta) in l.eta.iter().enumerate() {
            if !(eta.is_finite() && (0.0..=1.0).contains(&eta)) {
                return Err(invalid(format!("learning.eta[{k}]"), eta, "in [0, 1]"));
            }
        }
        match l.schedule {
            Schedule::ConstantRates {} => {}
            Schedule::Step { every, factor } => {
                if every == 0 {
                    return Err(invalid("learning.schedule.every", every, "at least 1 (epochs)"));
                }
                if !(factor.is_finite() && factor > 0.0 && factor <= 1.0) {
                    return Err(invalid("learning.schedule.factor", factor, "in (0, 1]"));
                }
            }
            Schedule::Cosine { floor } => {
                if !(floor.is_finite() && (0.0..=1.0).contains(&floor)) {
                    return Err(invalid("learning.schedule.floor", floor, "in [0, 1]"));
                }
            }
        }

        let p = &self.presentation;
        if p.steps_per_sample == 0 || p.steps_per_sample > 1_000_000 {
            return Err(invalid("presentation.steps_per_sample", p.steps_per_sample, "in 1..=1000000"));
        }
        if p.settle_steps >= p.steps_per_sample {
            return Err(invalid(
                "presentation.settle_steps",
                p.settle_steps,
                format!("less than presentation.steps_per_sample ({})", p.steps_per_sample),
            ));
        }

        let t = &self.training;
        if !(t.init_std.is_finite() && (0.0..=4.0).contains(&t.init_std)) {
            return Err(invalid("training.init_std", t.init_std, "in [0, 4]"));
        }
        if t.batch_size == 0 || t.batch_size > 65_536 {
            return Err(invalid("training.batch_size", t.batch_size, "in 1..=65536"));
        }
        if t.seed > MAX_SEED {
            return Err(invalid("training.seed", t.seed, format!("at most {MAX_SEED}")));
        }
        if t.epochs > 1_000_000 {
            return Err(invalid("training.epochs", t.epochs, "at most 1000000"));
        }

        self.fixed.validate()
    }

    /// Checks what the fixed-point golden model (and the hardware) additionally requires.
    pub fn validate_fixed(&self) -> Result<(), ConfigError> {
        self.validate()?;
        for (k, act) in self.network.activations.iter().enumerate() {
            if !act.in_fixed_point() {
                return Err(invalid(
                    format!("network.activations[{k}]"),
                    format!("\"{}\"", act.name()),
                    "one of \"hard_sigmoid\", \"relu\", \"linear\" on the fixed-point model (use the float model for others)",
                ));
            }
        }
        if self.training.batch_size != 1 {
            return Err(invalid(
                "training.batch_size",
                self.training.batch_size,
                "1 on the fixed-point model, which runs one network copy as the hardware does",
            ));
        }
        Ok(())
    }
}

fn check_positive(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(field, value, "a finite number > 0"))
    }
}

//! `leap_model::Device` on the Verilated engine, so the training loop can run on the RTL.
//!
//! The device keeps a `FixedModel` next to the engine. That model never steps: it converts inputs
//! and targets to words (and counts their saturations), checks snapshots before they are loaded
//! and stores the words a restore writes. Every other word is read from the engine, so a
//! snapshot of this device equals the `FixedModel` snapshot of the same run.

use std::cell::RefCell;

use leap_hdl::engine::{select, EngineParams};
use leap_model::config::Config;
use leap_model::device::{Device, DeviceError, Parameters, Snapshot};
use leap_model::fixed::{Constants, FixedState, Saturations};
use leap_model::FixedModel;
use leap_verilator_sys::{bench_variant_specs, model_names, variant_specs, VariantSpec};

use crate::engine::{EngineDriver, EngineSaturations};

/// Seed of the random values that Verilator gives registers and memories without a reset.
const INITIAL_VALUE_SEED: u32 = 0x1ea9;

/// Clocks per time step that `run_batch` allows before it reports the engine as hung, on top of
/// two clocks per word of one lane's weight bank.
const STEP_OVERHEAD_LIMIT: u64 = 64 * 1024;

/// The Verilated LE engine behind the `Device` interface, one network copy.
pub struct VerilatorDevice {
    config: Config,
    engine: RefCell<EngineDriver>,
    /// The model that converts inputs and targets and validates snapshots. Its saturation count
    /// of inputs is the device's.
    host_model: FixedModel,
    /// Saturation counts of the datapath formats up to the last engine reading.
    saturations: Saturations,
    /// Engine counters at the last reading; they are 32 bits wide and wrap.
    engine_counts: EngineSaturations,
    eta_factor: f64,
    steps: u64,
    /// Clock limit of one time step.
    step_cycle_limit: u64,
}

/// Lists the engines this build of `leap-verilator-sys` contains for `config`'s formats.
pub fn engine_variants(config: &Config) -> Vec<VariantSpec> {
    let built = model_names();
    variant_specs()
        .into_iter()
        .chain(bench_variant_specs())
        .filter(|spec| spec.design == "engine" && spec.formats == config.fixed)
        .filter(|spec| built.contains(&spec.name))
        .collect()
}

/// Returns the generation parameters of an engine variant.
pub fn engine_params(spec: &VariantSpec) -> EngineParams {
    let mut params = EngineParams {
        lanes: spec.lanes,
        ..EngineParams::default()
    };
    if let Some(size) = spec.size {
        params.max_layers = size.max_layers;
        params.state_words = size.state_words;
        params.max_rows = size.max_rows;
        params.max_columns = size.max_columns;
        params.max_inputs = size.max_inputs;
        params.weight_words = size.weight_words;
    }
    params
}

impl VerilatorDevice {
    /// Creates the device with the initial weights of `FixedModel::new(config)`.
    pub fn new(config: &Config) -> Result<VerilatorDevice, DeviceError> {
        VerilatorDevice::from_model(FixedModel::new(config)?)
    }

    /// Creates the device with the state of `model`, on the first engine of this build that has
    /// the model's formats and fits its layers.
    pub fn from_model(model: FixedModel) -> Result<VerilatorDevice, DeviceError> {
        let variants = engine_variants(model.config());
        if variants.is_empty() {
            return Err(DeviceError::Other(format!(
                "no Verilated engine has the formats {:?}: this build has {:?}",
                model.format(),
                model_names()
            )));
        }
        let mut rejections = Vec::new();
        for spec in &variants {
            match VerilatorDevice::with_variant(spec, model.clone()) {
                Ok(device) => return Ok(device),
                Err(e) => rejections.push(format!("{}: {e}", spec.name)),
            }
        }
        Err(DeviceError::Other(format!(
            "the configuration does not fit any Verilated engine ({})",
            rejections.join("; ")
        )))
    }

    /// Creates the device with the state of `model` on the engine `spec`.
    pub fn with_variant(
        spec: &VariantSpec,
        model: FixedModel,
    ) -> Result<VerilatorDevice, DeviceError> {
        let config = model.config().clone();
        let params = engine_params(spec);
        let driver =
            EngineDriver::try_new(spec.name, spec.lanes, &params, &config, INITIAL_VALUE_SEED)
                .map_err(|message| {
                    DeviceError::Other(format!(
                        "configuration not supported by the Verilated engine: {message}"
                    ))
                })?;
        let weight_words: usize = (0..driver.depth())
            .map(|l| config.network.layers[l + 1] * driver.groups(l))
            .sum();
        let mut device = VerilatorDevice {
            config,
            engine: RefCell::new(driver),
            saturations: model.saturation_counts(),
            engine_counts: EngineSaturations::default(),
            eta_factor: 1.0,
            steps: 0,
            step_cycle_limit: 2 * weight_words as u64 + STEP_OVERHEAD_LIMIT,
            host_model: model,
        };
        let state = device.host_model.state();
        device.load(&state)?;
        Ok(device)
    }

    /// Returns the engine's driver, for reading words or counters that the `Device` interface does not
    /// offer.
    pub fn engine(&mut self) -> &mut EngineDriver {
        self.engine.get_mut()
    }

    /// Writes `state` to the engine and makes it the device's state.
    fn load(&mut self, state: &FixedState) -> Result<(), DeviceError> {
        self.host_model.set_state(state)?;
        let constants = Constants::from_config(&self.config, state.eta_factor)?;
        let engine = self.engine.get_mut();
        engine.load(&self.host_model);
        engine.write_learning_rates(&constants);
        self.engine_counts = engine.saturations();
        self.saturations = state.saturations;
        self.eta_factor = state.eta_factor;
        self.steps = state.steps;
        Ok(())
    }

    /// Adds the engine's saturation counts since the last reading.
    fn read_saturations(&mut self) {
        let now = self.engine.get_mut().saturations();
        let delta = now.since(&self.engine_counts);
        self.engine_counts = now;
        let s = &mut self.saturations;
        s.potential += delta.potential;
        s.rate += delta.rate;
        s.message += delta.message;
        s.update += delta.update;
        s.weight += delta.weight;
    }

    fn check_batch(
        &self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
    ) -> Result<(), DeviceError> {
        if inputs.len() > 1 {
            return Err(DeviceError::BatchSize {
                max: 1,
                found: inputs.len(),
            });
        }
        for x in inputs {
            if x.len() != self.config.n_inputs() {
                return Err(DeviceError::InputWidth {
                    expected: self.config.n_inputs(),
                    found: x.len(),
                });
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
                if t.len() != self.config.n_outputs() {
                    return Err(DeviceError::TargetWidth {
                        expected: self.config.n_outputs(),
                        found: t.len(),
                    });
                }
            }
        }
        Ok(())
    }

    fn run_steps(&mut self, steps: usize, learn: bool) {
        if steps == 0 {
            return;
        }
        let limit = self.step_cycle_limit * steps as u64;
        self.engine.get_mut().run(steps as u32, learn, limit);
        self.steps += steps as u64;
    }
}

impl Device for VerilatorDevice {
    fn name(&self) -> &str {
        "verilator"
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn set_learning_rate_factor(&mut self, factor: f64) -> Result<(), DeviceError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(DeviceError::Other(format!(
                "learning-rate factor {factor} is invalid: use a finite number >= 0"
            )));
        }
        let constants = Constants::from_config(&self.config, factor)?;
        self.engine.get_mut().write_learning_rates(&constants);
        self.eta_factor = factor;
        Ok(())
    }

    fn run_batch(
        &mut self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
    ) -> Result<Vec<Vec<f64>>, DeviceError> {
        self.check_batch(inputs, targets)?;
        let Some(input) = inputs.first() else {
            return Ok(Vec::new());
        };
        let x = self.host_model.quantise_input(input);
        let y = targets.map(|t| self.host_model.quantise_target(t[0]));
        let presentation = self.config.presentation.clone();

        let engine = self.engine.get_mut();
        engine.set_input(&x[..x.len() - 1]);
        match &y {
            Some(y) => {
                engine.set_target(y);
                let settle = presentation.settle_steps.min(presentation.steps_per_sample);
                self.run_steps(settle, false);
                self.run_steps(presentation.steps_per_sample - settle, true);
            }
            None => self.run_steps(presentation.steps_per_sample, false),
        }
        self.read_saturations();

        let top = self.config.depth() - 1;
        let act = self.config.fixed.act();
        let rates = self.engine.get_mut().neuron_words(select::RATE, top);
        Ok(vec![rates.iter().map(|&r| act.to_f64(r)).collect()])
    }

    fn saturations(&self) -> u64 {
        let mut s = self.saturations;
        s.input = self.host_model.saturation_counts().input;
        s.total()
    }

    fn parameters(&self) -> Result<Parameters, DeviceError> {
        let state = self.fixed_state();
        let mut model = self.host_model.clone();
        model.set_state(&state)?;
        model.parameters()
    }

    fn snapshot(&self) -> Result<Snapshot, DeviceError> {
        Ok(Snapshot::Fixed(self.fixed_state()))
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), DeviceError> {
        match snapshot {
            Snapshot::Fixed(state) => self.load(state),
            Snapshot::Float(_) => Err(DeviceError::Snapshot(
                "it was taken on the float model; resume it with the software-float device".into(),
            )),
        }
    }
}

impl VerilatorDevice {
    /// Reads every state word from the engine.
    fn fixed_state(&self) -> FixedState {
        let mut engine = self.engine.borrow_mut();
        let depth = engine.depth();
        let layer_words = |engine: &mut EngineDriver, code: u64| -> Vec<Vec<i64>> {
            (0..depth).map(|l| engine.neuron_words(code, l)).collect()
        };
        let mut saturations = self.saturations;
        saturations.input = self.host_model.saturation_counts().input;
        FixedState {
            weights: (0..depth).map(|l| engine.weights(l)).collect(),
            u: layer_words(&mut engine, select::POTENTIAL),
            e: layer_words(&mut engine, select::ERROR),
            ub: layer_words(&mut engine, select::PROSPECTIVE),
            r: layer_words(&mut engine, select::RATE),
            d: layer_words(&mut engine, select::SLOPE),
            rounding_state: engine.rounding_state(),
            eta_factor: self.eta_factor,
            saturations,
            steps: self.steps,
        }
    }
}

//! A host-side driver for the Verilated engine: loads a `FixedModel`'s configuration and state
//! through the engine's command port, runs time steps and reads every state word back.

use leap_hdl::engine::{
    constant, counter, field, select, EngineParams, MAX_RUN_STEPS, MIN_ROW_CLOCKS,
};
use leap_hdl::leaf::activation;
use leap_model::config::{Activation, Config, ErrorSource, TargetKind};
use leap_model::fixed::{Constants, FixedModel, Saturations};
use leap_verilator_sys::{Model, PortId};

/// Clocks a command may take before the driver reports the engine as hung.
const COMMAND_TIMEOUT: u64 = 64;

/// Placement of one layer in the engine's memories.
#[derive(Clone, Debug)]
struct LayerLayout {
    rows: usize,
    columns: usize,
    groups: usize,
    weight_base: usize,
    state_base: usize,
}

/// The engine's command port, ready to load a network.
pub struct EngineDriver {
    model: Model,
    lanes: usize,
    bank_bits: usize,
    layers: Vec<LayerLayout>,
    ports: Ports,
    /// Clock cycles of the last [`EngineDriver::run`].
    pub last_run_cycles: u64,
}

struct Ports {
    write: PortId,
    read: PortId,
    run: PortId,
    learn: PortId,
    select: PortId,
    address: PortId,
    data: PortId,
    busy: PortId,
    read_data: PortId,
    read_valid: PortId,
}

/// Saturation counts of the engine, per format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineSaturations {
    pub potential: u64,
    pub rate: u64,
    pub message: u64,
    pub update: u64,
    pub weight: u64,
}

impl EngineSaturations {
    /// Converts the golden model's counts of the same formats (the engine does not quantise inputs).
    pub fn from_model(s: &Saturations) -> Self {
        EngineSaturations {
            potential: s.potential,
            rate: s.rate,
            message: s.message,
            update: s.update,
            weight: s.weight,
        }
    }

    /// Counts since `earlier`, wrapping like the engine's 32-bit counters.
    pub fn since(&self, earlier: &EngineSaturations) -> EngineSaturations {
        let d = |a: u64, b: u64| a.wrapping_sub(b) & 0xffff_ffff;
        EngineSaturations {
            potential: d(self.potential, earlier.potential),
            rate: d(self.rate, earlier.rate),
            message: d(self.message, earlier.message),
            update: d(self.update, earlier.update),
            weight: d(self.weight, earlier.weight),
        }
    }
}

/// Returns the engine's code of `a`, or `None` when the engine has no fixed-point form of it.
fn activation_code(a: Activation) -> Option<u64> {
    match a {
        Activation::HardSigmoid => Some(activation::HARD_SIGMOID),
        Activation::Relu => Some(activation::RELU),
        Activation::Linear => Some(activation::LINEAR),
        _ => None,
    }
}

impl EngineDriver {
    /// Creates the Verilated engine `model_name` (built with `lanes` lanes), resets it and writes
    /// the layer table and constants of `config`.
    ///
    /// Panics when the configuration does not fit the engine (see [`EngineDriver::try_new`]).
    pub fn new(model_name: &str, lanes: usize, config: &Config, seed: u32) -> EngineDriver {
        Self::try_new(
            model_name,
            lanes,
            &EngineParams {
                lanes,
                ..EngineParams::default()
            },
            config,
            seed,
        )
        .unwrap_or_else(|message| panic!("{message}"))
    }

    /// Creates the Verilated engine `model_name`, which was generated with `params`, resets it
    /// and writes the layer table and constants of `config`.
    ///
    /// Returns an error when the configuration does not fit the engine: the error source must be
    /// `tau_m`, the activations must have a fixed-point form and the layers must fit the memories
    /// of `params`. Panics when no model is named `model_name`.
    pub fn try_new(
        model_name: &str,
        lanes: usize,
        params: &EngineParams,
        config: &Config,
        seed: u32,
    ) -> Result<EngineDriver, String> {
        if config.neuron.error_source != ErrorSource::TauM {
            return Err(format!(
                "neuron.error_source = {:?} is not supported: the engine implements tau_m only",
                config.neuron.error_source
            ));
        }
        for (l, &a) in config.network.activations.iter().enumerate() {
            if activation_code(a).is_none() {
                return Err(format!(
                    "network.activations[{l}] = {a:?} is not supported: the engine has hard_sigmoid, relu and linear"
                ));
            }
        }
        let params = EngineParams { lanes, ..*params };
        let sizes = &config.network.layers;
        if sizes.len() - 1 > params.max_layers {
            return Err(format!(
                "{} layers exceed the engine's {}",
                sizes.len() - 1,
                params.max_layers
            ));
        }
        if sizes[0] > params.max_inputs {
            return Err(format!(
                "{} inputs exceed the engine's {}",
                sizes[0], params.max_inputs
            ));
        }

        let mut layers = Vec::new();
        let (mut weight_base, mut state_base) = (0, 0);
        for l in 0..sizes.len() - 1 {
            let (rows, columns) = (sizes[l + 1], sizes[l] + 1);
            if rows > params.max_rows {
                return Err(format!(
                    "layer {l} has {rows} neurons; the engine fits {}",
                    params.max_rows
                ));
            }
            if columns > params.max_columns {
                return Err(format!(
                    "layer {l} has {columns} columns; the engine fits {}",
                    params.max_columns
                ));
            }
            let groups = columns.div_ceil(lanes);
            layers.push(LayerLayout {
                rows,
                columns,
                groups,
                weight_base,
                state_base,
            });
            weight_base += rows * groups;
            state_base += rows;
        }
        if weight_base > params.weight_words {
            return Err(format!(
                "{weight_base} weight words per lane exceed the engine's {}",
                params.weight_words
            ));
        }
        if state_base > params.state_words {
            return Err(format!(
                "{state_base} neurons exceed the engine's {}",
                params.state_words
            ));
        }
        let rate_words: usize = layers.iter().map(|layout| layout.groups).sum();
        if rate_words > params.rate_words() {
            return Err(format!(
                "{rate_words} rate words per lane exceed the engine's {}",
                params.rate_words()
            ));
        }
        let constants = Constants::from_config(config, 1.0).map_err(|e| e.to_string())?;

        let mut model = Model::new(model_name, seed);
        let ports = Ports {
            write: model.port("write"),
            read: model.port("read"),
            run: model.port("run"),
            learn: model.port("learn"),
            select: model.port("select"),
            address: model.port("address"),
            data: model.port("data"),
            busy: model.port("busy"),
            read_data: model.port("read_data"),
            read_valid: model.port("read_valid"),
        };
        // The driver never clears the counters: it reads them as totals since reset.
        let clear_counters = model.port("clear_counters");
        for port in [
            ports.write,
            ports.read,
            ports.run,
            ports.learn,
            clear_counters,
        ] {
            model.set(port, 0);
        }
        model.reset(8);
        let mut driver = EngineDriver {
            model,
            lanes,
            bank_bits: params.bank_bits(),
            layers,
            ports,
            last_run_cycles: 0,
        };
        driver.write_configuration(config, &constants);
        Ok(driver)
    }

    fn write_configuration(&mut self, config: &Config, constants: &Constants) {
        self.write_constants(config, constants);
        let mut address_base = 0u32;
        for l in 0..self.layers.len() {
            let layout = self.layers[l].clone();
            let eta = constants.eta[l];
            let entry = [
                (field::ROWS, layout.rows as u64),
                (field::COLUMNS, layout.columns as u64),
                (field::GROUPS, layout.groups as u64),
                (
                    field::CADENCE_LAST,
                    layout.groups.max(MIN_ROW_CLOCKS) as u64 - 1,
                ),
                (field::WEIGHT_BASE, layout.weight_base as u64),
                (field::ADDRESS_BASE, address_base as u64),
                (field::STATE_BASE, layout.state_base as u64),
                (
                    field::INPUT_BASE,
                    if l > 0 {
                        self.layers[l - 1].state_base as u64
                    } else {
                        0
                    },
                ),
                (
                    field::ACTIVATION,
                    activation_code(config.network.activations[l])
                        .expect("try_new checked the activations"),
                ),
                (field::ETA_MANT, eta.mant as u16 as u64),
                (field::ETA_SHIFT, eta.shift as u64),
                (field::FIRST, (l == 0) as u64),
                (field::INPUTS, layout.columns as u64 - 1),
                (field::GROUPS_LAST, layout.groups as u64 - 1),
            ];
            for (index, value) in entry {
                self.write(select::LAYER_TABLE, l as u64 * field::STRIDE + index, value);
            }
            address_base = address_base.wrapping_add((layout.rows * layout.columns) as u32);
        }
    }

    /// Writes the learning rates of `constants` into the layer table.
    pub fn write_learning_rates(&mut self, constants: &Constants) {
        for (l, eta) in constants.eta.iter().enumerate() {
            let base = l as u64 * field::STRIDE;
            self.write(
                select::LAYER_TABLE,
                base + field::ETA_MANT,
                eta.mant as u16 as u64,
            );
            self.write(
                select::LAYER_TABLE,
                base + field::ETA_SHIFT,
                eta.shift as u64,
            );
        }
    }

    /// Writes the engine's constants: coefficients, top layer and target kind.
    pub fn write_constants(&mut self, config: &Config, constants: &Constants) {
        let top_base = (self.layers.len() as u64 - 1) * field::STRIDE;
        let words = [
            (constant::K_R_MANT, constants.k_r.mant as u16 as u64),
            (constant::K_R_SHIFT, constants.k_r.shift as u64),
            (constant::K_DT_MANT, constants.k_dt.mant as u16 as u64),
            (constant::K_DT_SHIFT, constants.k_dt.shift as u64),
            (constant::BETA_MANT, constants.beta.mant as u16 as u64),
            (constant::BETA_SHIFT, constants.beta.shift as u64),
            (constant::TOP_BASE, top_base),
            (
                constant::VOLTAGE,
                (config.learning.target == TargetKind::Voltage) as u64,
            ),
        ];
        for (address, value) in words {
            self.write(select::CONSTANT, address, value);
        }
    }

    /// Loads every weight, neuron state word and the rounding state of `model`.
    pub fn load(&mut self, model: &FixedModel) {
        let state = model.state();
        for l in 0..self.layers.len() {
            for (k, &w) in state.weights[l].iter().enumerate() {
                let address = self.weight_address(l, k);
                self.write(select::WEIGHT, address, w as u64);
            }
            let base = self.layers[l].state_base as u64;
            for i in 0..self.layers[l].rows {
                let index = base + i as u64;
                self.write(select::POTENTIAL, index, state.u[l][i] as u64);
                self.write(select::PROSPECTIVE, index, state.ub[l][i] as u64);
                self.write(select::ERROR, index, state.e[l][i] as u64);
                self.write(select::RATE, index, state.r[l][i] as u64);
                self.write(select::SLOPE, index, state.d[l][i] as u64);
            }
        }
        self.write(
            select::CONSTANT,
            constant::ROUNDING_STATE,
            state.rounding_state as u64,
        );
    }

    /// Returns the host address of weight `k` (row-major, bias last) of layer `l`.
    fn weight_address(&self, l: usize, k: usize) -> u64 {
        let layout = &self.layers[l];
        let (row, column) = (k / layout.columns, k % layout.columns);
        let word = layout.weight_base + row * layout.groups + column / self.lanes;
        ((word << self.bank_bits) | (column % self.lanes)) as u64
    }

    /// Writes the clamped input (activity words, without the bias input).
    pub fn set_input(&mut self, input: &[i32]) {
        for (j, &x) in input.iter().enumerate() {
            self.write(select::INPUT, j as u64, x as u64);
        }
    }

    /// Writes the target words of the output layer.
    pub fn set_target(&mut self, target: &[i64]) {
        for (i, &t) in target.iter().enumerate() {
            self.write(select::TARGET, i as u64, t as u64);
        }
    }

    /// Runs `steps` time steps, with nudging and learning when `learn` is set, and waits until
    /// the engine is idle again. Panics when it is still busy after `max_cycles` clocks.
    pub fn run(&mut self, steps: u32, learn: bool, max_cycles: u64) {
        assert!(
            (1..=MAX_RUN_STEPS).contains(&(steps as u64)),
            "{steps} steps: run 1 to {MAX_RUN_STEPS}"
        );
        let start = self.model.cycles();
        self.model.set(self.ports.data, steps as i64);
        self.model.set(self.ports.learn, learn as i64);
        self.model.set(self.ports.run, 1);
        self.model.clock();
        self.model.set(self.ports.run, 0);
        while self.model.get(self.ports.busy) == 1 {
            self.model.clock();
            assert!(
                self.model.cycles() - start < max_cycles,
                "the engine is still busy after {max_cycles} clocks"
            );
        }
        self.last_run_cycles = self.model.cycles() - start;
    }

    pub fn write(&mut self, select_code: u64, address: u64, value: u64) {
        assert_eq!(
            self.model.get(self.ports.busy),
            0,
            "the engine must be idle for a write"
        );
        self.model.set(self.ports.select, select_code as i64);
        self.model.set(self.ports.address, address as i64);
        self.model.set(self.ports.data, value as i64);
        self.model.set(self.ports.write, 1);
        self.model.clock();
        self.model.set(self.ports.write, 0);
    }

    /// Reads one word; signed sources come back sign-extended to 64 bits.
    pub fn read(&mut self, select_code: u64, address: u64) -> i64 {
        self.model.set(self.ports.select, select_code as i64);
        self.model.set(self.ports.address, address as i64);
        self.model.set(self.ports.read, 1);
        self.model.clock();
        self.model.set(self.ports.read, 0);
        for _ in 0..COMMAND_TIMEOUT {
            self.model.clock();
            if self.model.get(self.ports.read_valid) == 1 {
                return self.model.get(self.ports.read_data) as i64;
            }
        }
        panic!("no read_valid within {COMMAND_TIMEOUT} clocks for select {select_code}, address {address}");
    }

    /// Weight words of layer `l`, row-major with the bias last.
    pub fn weights(&mut self, l: usize) -> Vec<i64> {
        let count = self.layers[l].rows * self.layers[l].columns;
        (0..count)
            .map(|k| self.read(select::WEIGHT, self.weight_address(l, k)))
            .collect()
    }

    /// Reads one state word (`select_code`) of every neuron of layer `l`.
    pub fn neuron_words(&mut self, select_code: u64, l: usize) -> Vec<i64> {
        let base = self.layers[l].state_base as u64;
        (0..self.layers[l].rows as u64)
            .map(|i| self.read(select_code, base + i))
            .collect()
    }

    pub fn rounding_state(&mut self) -> u32 {
        self.read(select::COUNTER, counter::ROUNDING_STATE) as u32
    }

    pub fn steps(&mut self) -> u64 {
        self.read(select::COUNTER, counter::STEPS) as u64
    }

    pub fn cycles(&mut self) -> u64 {
        self.read(select::COUNTER, counter::CYCLES) as u64
    }

    pub fn saturations(&mut self) -> EngineSaturations {
        EngineSaturations {
            potential: self.read(select::COUNTER, counter::POTENTIAL) as u64,
            rate: self.read(select::COUNTER, counter::RATE) as u64,
            message: self.read(select::COUNTER, counter::MESSAGE) as u64,
            update: self.read(select::COUNTER, counter::UPDATE) as u64,
            weight: self.read(select::COUNTER, counter::WEIGHT) as u64,
        }
    }

    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Returns the column groups per row of layer `l`, the clocks its rows take in the weight stream.
    pub fn groups(&self, l: usize) -> usize {
        self.layers[l].groups
    }

    /// Clock cycles run since the model was created, counted by the binding (not the engine).
    pub fn model_cycles(&self) -> u64 {
        self.model.cycles()
    }
}

/// Compares every state word of the engine with `model`: weights and biases, `u`, `ŭ`, `e`, `r`,
/// `d` of every layer and the rounding state. Returns a description of the first difference.
pub fn compare_state(
    driver: &mut EngineDriver,
    model: &FixedModel,
    step: u64,
) -> Result<(), String> {
    let state = model.state();
    for l in 0..driver.depth() {
        let weights = driver.weights(l);
        if let Some(k) = (0..weights.len()).find(|&k| weights[k] != state.weights[l][k]) {
            let columns = driver.layers[l].columns;
            return Err(format!(
                "step {step}, layer {l}, weight {k} (row {}, column {}): RTL {}, golden model {}",
                k / columns,
                k % columns,
                weights[k],
                state.weights[l][k]
            ));
        }
        let words: [(&str, u64, &Vec<i64>); 5] = [
            ("u", select::POTENTIAL, &state.u[l]),
            ("ŭ", select::PROSPECTIVE, &state.ub[l]),
            ("e", select::ERROR, &state.e[l]),
            ("r", select::RATE, &state.r[l]),
            ("d", select::SLOPE, &state.d[l]),
        ];
        for (name, code, expected) in words {
            let got = driver.neuron_words(code, l);
            if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
                return Err(format!(
                    "step {step}, layer {l}, {name}[{i}]: RTL {}, golden model {}",
                    got[i], expected[i]
                ));
            }
        }
    }
    let rounding = driver.rounding_state();
    if rounding != state.rounding_state {
        return Err(format!(
            "step {step}: rounding state RTL {rounding:#x}, golden model {:#x}",
            state.rounding_state
        ));
    }
    Ok(())
}

//! The fixed-point golden model: the arithmetic of the LEAP engine, bit for bit.
//!
//! The schedule is the float model's (see `float`), with every value in a format of `format` and
//! every operation rounded and saturated as `format` specifies. Per time step:
//! 1. the stochastic-rounding state advances one `xorshift32` step;
//! 2. the output error is formed from the previous step's output (zero without a target):
//!    rate target `e = β·(d·(r* − r))`, voltage target `e = β·(r* − ŭ)`, each product rounded
//!    and saturated to the potential format;
//! 3. layers are processed from the top down. For layer l with message `m` (16 bits, from the
//!    installed error `e`, or from `ŭ − I` of this step) and update factor `g = η·e_new`
//!    (16 bits), each weight word `w` of each row `i` (its bias last, with input 1.0) gives
//!    `acc_I[i] += w16·r[j]`, `acc_B[j] += w16·m[i]` and `w ← sat(w + ((g[i]·r[j] + R) >> k))`,
//!    where `w16` is the top 16 bits of `w`, `R` the `k` stochastic rounding bits of the
//!    weight's address, and every update uses the rates of the previous step;
//! 4. the neuron unit: `I = sat(acc_I)`, `v = sat(I − u + e)`, `ŭ = sat(u + K_r·v)`,
//!    `u ← sat(u + K_dt·v)`, `r = φ(ŭ)`, `d = φ'(ŭ)`, with `K_r = τ_r/τ_m` and `K_dt = dt/τ_m`;
//! 5. the error of the layer below: `e_new = sat(d_prev · sat(acc_B))`;
//! 6. the new errors are installed, the new rates and slopes become the previous ones.
//!
//! Fractional-bit alignments that drop bits round half up; all others are exact.

use serde::{Deserialize, Serialize};

use crate::config::{Activation, Config, ConfigError, ErrorSource, TargetKind};
use crate::device::{check_batch, Device, DeviceError, Parameters, Snapshot};
use crate::format::{realign, shift_round, xorshift32, Coefficient, Formats, Word};
use crate::kernel::{layer_pass, RowPass};
use crate::init::initial_parameters;

/// Saturation events, counted per format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saturations {
    /// Inputs and targets converted to the activity format.
    pub input: u64,
    /// Potentials `I`, `v`, `u`, `ŭ`, `e`.
    pub potential: u64,
    /// Rates converted to the activity format.
    pub rate: u64,
    /// Error messages converted to 16 bits.
    pub message: u64,
    /// Update factors `η·e` converted to 16 bits.
    pub update: u64,
    /// Weights and biases after an update.
    pub weight: u64,
}

impl Saturations {
    pub fn total(&self) -> u64 {
        self.input + self.potential + self.rate + self.message + self.update + self.weight
    }
}

/// The constants of a configuration in the form the engine stores them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constants {
    /// `dt / τ_m`.
    pub k_dt: Coefficient,
    /// `τ_r / τ_m`.
    pub k_r: Coefficient,
    pub beta: Coefficient,
    /// Per-layer learning rate, already scaled by the schedule factor.
    pub eta: Vec<Coefficient>,
}

impl Constants {
    /// Converts the configuration's constants, scaling the learning rates by `eta_factor`.
    pub fn from_config(config: &Config, eta_factor: f64) -> Result<Constants, ConfigError> {
        let n = &config.neuron;
        let coefficient = |field: &str, value: f64| {
            Coefficient::from_f64(value).ok_or_else(|| {
                crate::config::invalid(field, format!("{value:e}"), "below 2^15 = 32768 in magnitude for the fixed-point model")
            })
        };
        Ok(Constants {
            k_dt: coefficient("neuron.dt / neuron.tau_m", n.dt / n.tau_m)?,
            k_r: coefficient("neuron.tau_r / neuron.tau_m", n.tau_r / n.tau_m)?,
            beta: coefficient("learning.beta", config.learning.beta)?,
            eta: config
                .learning
                .eta
                .iter()
                .enumerate()
                .map(|(l, &eta)| coefficient(&format!("learning.eta[{l}] (after the schedule)"), eta * eta_factor))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Serialisable state of a [`FixedModel`]: every word the engine stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedState {
    /// Per layer, row-major with `n_in + 1` words per row, the bias last.
    pub weights: Vec<Vec<i64>>,
    pub u: Vec<Vec<i64>>,
    pub e: Vec<Vec<i64>>,
    pub ub: Vec<Vec<i64>>,
    pub r: Vec<Vec<i64>>,
    pub d: Vec<Vec<i64>>,
    pub rounding_state: u32,
    pub eta_factor: f64,
    pub saturations: Saturations,
    pub steps: u64,
}

/// Neuron state of one layer.
#[derive(Clone, Debug, PartialEq)]
struct LayerState {
    /// Membrane potential `u` (potential format).
    u: Vec<i64>,
    /// Installed error `e` (potential format).
    e: Vec<i64>,
    /// Prospective potential `ŭ` of the last step (potential format).
    ub: Vec<i64>,
    /// Rates of the last step (activity format), with a constant 1.0 appended as the bias input.
    r: Vec<i32>,
    /// Slopes of the last step (activity format).
    d: Vec<i32>,
}

/// The fixed-point golden model, one network copy.
#[derive(Clone, Debug)]
pub struct FixedModel {
    config: Config,
    format: Formats,
    constants: Constants,
    /// Per layer, `n_out` rows of `n_in + 1` words, the bias last.
    weights: Vec<Vec<i32>>,
    /// Address of each layer's first weight in the network-wide weight numbering.
    base_address: Vec<u32>,
    layers: Vec<LayerState>,
    rounding_state: u32,
    eta_factor: f64,
    saturations: Saturations,
    steps: u64,
}

/// Initial stochastic-rounding state for a seed: a nonzero word.
pub fn initial_rounding_state(seed: u64) -> u32 {
    ((seed ^ (seed >> 32)) as u32) | 1
}

impl FixedModel {
    /// Builds the model with the initial weights of [`initial_parameters`], quantised.
    pub fn new(config: &Config) -> Result<FixedModel, DeviceError> {
        config.validate_fixed()?;
        FixedModel::with_parameters(config, &initial_parameters(config))
    }

    /// Builds the model with the given real weights and biases, rounded to the weight format.
    pub fn with_parameters(config: &Config, params: &Parameters) -> Result<FixedModel, DeviceError> {
        config.validate_fixed()?;
        crate::float::check_parameter_shapes(config, params)?;
        let format = config.fixed;
        let constants = Constants::from_config(config, 1.0)?;
        let sizes = &config.network.layers;
        let w = format.weight();
        let mut saturations = Saturations::default();
        let mut weights = Vec::new();
        let mut base_address = Vec::new();
        let mut address = 0u32;
        for l in 0..config.depth() {
            let (n_in, n_out) = (sizes[l], sizes[l + 1]);
            let mut words = Vec::with_capacity(n_out * (n_in + 1));
            for i in 0..n_out {
                for j in 0..n_in {
                    words.push(w.from_f64(params.weights[l][i * n_in + j], &mut saturations.weight) as i32);
                }
                words.push(w.from_f64(params.biases[l][i], &mut saturations.weight) as i32);
            }
            base_address.push(address);
            address = address.wrapping_add(words.len() as u32);
            weights.push(words);
        }
        let one = format.act().one() as i32;
        let layers = sizes[1..]
            .iter()
            .map(|&n| {
                let mut r = vec![0; n + 1];
                r[n] = one;
                LayerState { u: vec![0; n], e: vec![0; n], ub: vec![0; n], r, d: vec![0; n] }
            })
            .collect();
        Ok(FixedModel {
            config: config.clone(),
            format,
            constants,
            weights,
            base_address,
            layers,
            rounding_state: initial_rounding_state(config.training.seed),
            eta_factor: 1.0,
            saturations,
            steps: 0,
        })
    }

    pub fn format(&self) -> &Formats {
        &self.format
    }
    pub fn constants(&self) -> &Constants {
        &self.constants
    }
    pub fn saturation_counts(&self) -> Saturations {
        self.saturations
    }

    /// Converts real inputs to activity words, with the constant 1.0 bias input appended.
    pub fn quantise_input(&mut self, x: &[f64]) -> Vec<i32> {
        let a = self.format.act();
        let mut words: Vec<i32> = x.iter().map(|&v| a.from_f64(v, &mut self.saturations.input) as i32).collect();
        words.push(a.one() as i32);
        words
    }

    /// Converts a real target to activity words (rate target) or potential words (voltage target).
    pub fn quantise_target(&mut self, y: &[f64]) -> Vec<i64> {
        let word = match self.config.learning.target {
            TargetKind::Rate => self.format.act(),
            TargetKind::Voltage => self.format.pot(),
        };
        y.iter().map(|&v| word.from_f64(v, &mut self.saturations.input)).collect()
    }

    /// Runs one time step. `input` contains activity words with the bias input last (see
    /// [`FixedModel::quantise_input`]); `target` switches on nudging and plasticity.
    pub fn step(&mut self, input: &[i32], target: Option<&[i64]>) {
        let f = self.format;
        let (pot, msg, upd) = (f.pot(), f.msg(), f.upd());
        let depth = self.config.depth();
        let sat = &mut self.saturations;
        self.rounding_state = xorshift32(self.rounding_state);

        // Output error from the previous step's output.
        let mut e_new: Vec<Vec<i64>> = self.layers.iter().map(|l| vec![0; l.e.len()]).collect();
        if let Some(target) = target {
            let top = &self.layers[depth - 1];
            for (i, e) in e_new[depth - 1].iter_mut().enumerate() {
                let difference = match self.config.learning.target {
                    TargetKind::Rate => {
                        let diff = realign(target[i] - top.r[i] as i64, f.act_frac, f.pot_frac);
                        pot.saturate(shift_round(diff * top.d[i] as i64, f.act_frac), &mut sat.potential)
                    }
                    TargetKind::Voltage => pot.saturate(target[i] - top.ub[i], &mut sat.potential),
                };
                *e = pot.saturate(self.constants.beta.apply(difference, 0), &mut sat.potential);
            }
        }

        let slice_shift = f.weight_slice_shift();
        let forward_frac = f.weight_slice_frac() + f.act_frac;
        let backward_frac = f.weight_slice_frac() + f.msg_frac;
        let round_bits = f.update_round_bits();
        let (w_min, w_max) = (f.weight().min(), f.weight().max());
        let mut new_values: Vec<(Vec<i64>, Vec<i32>, Vec<i32>)> = Vec::with_capacity(depth);

        for l in (0..depth).rev() {
            let r_in: &[i32] = if l == 0 { input } else { &self.layers[l - 1].r };
            let n_cols = r_in.len();
            let learn = target.is_some();

            // Update factors g = η·e_new, 16 bits.
            let eta = self.constants.eta[l];
            let g: Vec<i32> = e_new[l]
                .iter()
                .map(|&e| {
                    let product = if learn { e * eta.mant as i64 } else { 0 };
                    upd.saturate(realign(product, f.pot_frac + eta.shift, f.upd_frac), &mut sat.update) as i32
                })
                .collect();

            // Error messages for layer-l's own weights, 16 bits; `ŭ − I` needs this step's forward sums first.
            let state = &self.layers[l];
            let mut accumulate_first = None;
            let m: Vec<i32> = match self.config.neuron.error_source {
                ErrorSource::TauM => {
                    state.e.iter().map(|&e| msg.saturate(realign(e, f.pot_frac, f.msg_frac), &mut sat.message) as i32).collect()
                }
                ErrorSource::TauR => {
                    let sums = forward_sums(&self.weights[l], r_in, n_cols, slice_shift);
                    let unit = neuron_unit(&f, &self.constants, self.config.network.activations[l], state, &sums, forward_frac, sat);
                    let m = unit
                        .ub
                        .iter()
                        .zip(&unit.current)
                        .map(|(&ub, &i)| {
                            let diff = pot.saturate(ub - i, &mut sat.potential);
                            msg.saturate(realign(diff, f.pot_frac, f.msg_frac), &mut sat.message) as i32
                        })
                        .collect();
                    accumulate_first = Some(sums);
                    m
                }
            };

            // One pass over the weights: forward, backward and update.
            let pass = RowPass { slice_shift, round_bits, w_min, w_max, rounding_state: self.rounding_state };
            let mut back = if l > 0 { vec![0i64; n_cols] } else { Vec::new() };
            let sums = layer_pass(&pass, &mut self.weights[l], r_in, &mut back, &m, &g, learn, self.base_address[l], &mut sat.weight);
            let sums = accumulate_first.unwrap_or(sums);

            // Neuron unit.
            let unit = neuron_unit(&f, &self.constants, self.config.network.activations[l], &self.layers[l], &sums, forward_frac, sat);

            // Error for the layer below, weighted by its previous slope.
            if l > 0 {
                let below = &self.layers[l - 1];
                for (j, e) in e_new[l - 1].iter_mut().enumerate() {
                    let sum = pot.saturate(realign(back[j], backward_frac, f.pot_frac), &mut sat.potential);
                    *e = pot.saturate(shift_round(sum * below.d[j] as i64, f.act_frac), &mut sat.potential);
                }
            }

            self.layers[l].u = unit.u_next;
            new_values.push((unit.ub, unit.rate, unit.slope));
        }

        for (l, (ub, r, d)) in (0..depth).rev().zip(new_values) {
            let state = &mut self.layers[l];
            state.e.copy_from_slice(&e_new[l]);
            state.ub = ub;
            let n = state.d.len();
            state.r[..n].copy_from_slice(&r);
            state.d = d;
        }
        self.steps += 1;
    }

    /// Weight words of `layer`, row-major with the bias last in each row.
    pub fn weight_words(&self, layer: usize) -> &[i32] {
        &self.weights[layer]
    }
    pub fn u_words(&self, layer: usize) -> &[i64] {
        &self.layers[layer].u
    }
    pub fn prospective_words(&self, layer: usize) -> &[i64] {
        &self.layers[layer].ub
    }
    /// Rate words of `layer`, without the bias input.
    pub fn rate_words(&self, layer: usize) -> &[i32] {
        let n = self.layers[layer].d.len();
        &self.layers[layer].r[..n]
    }
    pub fn slope_words(&self, layer: usize) -> &[i32] {
        &self.layers[layer].d
    }
    pub fn error_words(&self, layer: usize) -> &[i64] {
        &self.layers[layer].e
    }
    pub fn rounding_state(&self) -> u32 {
        self.rounding_state
    }

    /// Weights of `layer` as real numbers, `n_out × n_in`, and its biases.
    pub fn real_parameters(&self, layer: usize) -> (Vec<f64>, Vec<f64>) {
        let w = self.format.weight();
        let n_cols = self.config.network.layers[layer] + 1;
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for row in self.weights[layer].chunks(n_cols) {
            weights.extend(row[..n_cols - 1].iter().map(|&x| w.to_f64(x as i64)));
            biases.push(w.to_f64(row[n_cols - 1] as i64));
        }
        (weights, biases)
    }

    pub fn state(&self) -> FixedState {
        let widen = |v: &[i32]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();
        FixedState {
            weights: self.weights.iter().map(|w| widen(w)).collect(),
            u: self.layers.iter().map(|l| l.u.clone()).collect(),
            e: self.layers.iter().map(|l| l.e.clone()).collect(),
            ub: self.layers.iter().map(|l| l.ub.clone()).collect(),
            r: self.layers.iter().map(|l| widen(&l.r[..l.d.len()])).collect(),
            d: self.layers.iter().map(|l| widen(&l.d)).collect(),
            rounding_state: self.rounding_state,
            eta_factor: self.eta_factor,
            saturations: self.saturations,
            steps: self.steps,
        }
    }

    /// Loads a state, checking every word against its format.
    pub fn set_state(&mut self, state: &FixedState) -> Result<(), DeviceError> {
        let f = self.format;
        let sizes = self.config.network.layers.clone();
        let depth = self.config.depth();
        let check = |name: &str, data: &Vec<Vec<i64>>, len: &dyn Fn(usize) -> usize, word: Word| -> Result<(), DeviceError> {
            if data.len() != depth {
                return Err(DeviceError::Snapshot(format!("`{name}` has {} layers, expected {depth}", data.len())));
            }
            for (l, v) in data.iter().enumerate() {
                if v.len() != len(l) {
                    return Err(DeviceError::Snapshot(format!("`{name}[{l}]` has {} words, expected {}", v.len(), len(l))));
                }
                if let Some(x) = v.iter().find(|&&x| x < word.min() || x > word.max()) {
                    return Err(DeviceError::Snapshot(format!(
                        "`{name}[{l}]` contains {x}, which is outside the {}-bit format",
                        word.bits
                    )));
                }
            }
            Ok(())
        };
        check("weights", &state.weights, &|l| sizes[l + 1] * (sizes[l] + 1), f.weight())?;
        for (name, data) in [("u", &state.u), ("e", &state.e), ("ub", &state.ub)] {
            check(name, data, &|l| sizes[l + 1], f.pot())?;
        }
        check("r", &state.r, &|l| sizes[l + 1], f.act())?;
        check("d", &state.d, &|l| sizes[l + 1], f.act())?;
        if !(state.eta_factor.is_finite() && state.eta_factor >= 0.0) {
            return Err(DeviceError::Snapshot(format!("`eta_factor` is {}, but it must be a finite number >= 0", state.eta_factor)));
        }
        if state.rounding_state == 0 {
            return Err(DeviceError::Snapshot("`rounding_state` is 0, which xorshift32 never leaves".into()));
        }
        let constants = Constants::from_config(&self.config, state.eta_factor)?;

        self.weights = state.weights.iter().map(|w| w.iter().map(|&x| x as i32).collect()).collect();
        for (l, layer) in self.layers.iter_mut().enumerate() {
            layer.u = state.u[l].clone();
            layer.e = state.e[l].clone();
            layer.ub = state.ub[l].clone();
            let n = layer.d.len();
            for (dst, &src) in layer.r[..n].iter_mut().zip(&state.r[l]) {
                *dst = src as i32;
            }
            layer.d = state.d[l].iter().map(|&x| x as i32).collect();
        }
        self.constants = constants;
        self.rounding_state = state.rounding_state;
        self.eta_factor = state.eta_factor;
        self.saturations = state.saturations;
        self.steps = state.steps;
        Ok(())
    }
}

/// Forward sums `Σ w16·r` of every row, without updating.
fn forward_sums(weights: &[i32], r_in: &[i32], n_cols: usize, slice_shift: u32) -> Vec<i64> {
    weights
        .chunks(n_cols)
        .map(|row| row.iter().zip(r_in).map(|(&w, &r)| ((w >> slice_shift) * r) as i64).sum())
        .collect()
}

/// Outputs of the neuron unit for one layer, one word per neuron.
struct NeuronOutputs {
    /// Next membrane potential `u`.
    u_next: Vec<i64>,
    /// Prospective potential `ŭ`.
    ub: Vec<i64>,
    rate: Vec<i32>,
    slope: Vec<i32>,
    /// Basal input `I`.
    current: Vec<i64>,
}

/// Runs the neuron unit of one layer on the forward sums of its weight pass.
fn neuron_unit(
    f: &Formats,
    k: &Constants,
    activation: Activation,
    state: &LayerState,
    sums: &[i64],
    forward_frac: u32,
    sat: &mut Saturations,
) -> NeuronOutputs {
    let (pot, act) = (f.pot(), f.act());
    let n = state.u.len();
    let mut out = NeuronOutputs {
        u_next: Vec::with_capacity(n),
        ub: Vec::with_capacity(n),
        rate: Vec::with_capacity(n),
        slope: Vec::with_capacity(n),
        current: Vec::with_capacity(n),
    };
    for ((&sum, &u), &e) in sums.iter().zip(&state.u).zip(&state.e) {
        let current = pot.saturate(realign(sum, forward_frac, f.pot_frac), &mut sat.potential);
        let v = pot.saturate(current - u + e, &mut sat.potential);
        let ub = pot.saturate(u + k.k_r.apply(v, 0), &mut sat.potential);
        out.u_next.push(pot.saturate(u + k.k_dt.apply(v, 0), &mut sat.potential));

        let one = pot.one();
        let (rate, slope) = match activation {
            Activation::HardSigmoid => (ub.clamp(0, one), (0..=one).contains(&ub)),
            Activation::Relu => (ub.max(0), ub > 0),
            Activation::Linear => (ub, true),
            Activation::Tanh | Activation::Logistic => unreachable!("rejected by Config::validate_fixed"),
        };
        out.rate.push(act.saturate(realign(rate, f.pot_frac, f.act_frac), &mut sat.rate) as i32);
        out.slope.push(if slope { act.one() as i32 } else { 0 });
        out.ub.push(ub);
        out.current.push(current);
    }
    out
}

impl Device for FixedModel {
    fn name(&self) -> &str {
        "software-fixed"
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn set_learning_rate_factor(&mut self, factor: f64) -> Result<(), DeviceError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(DeviceError::Other(format!("learning-rate factor {factor} is invalid: use a finite number >= 0")));
        }
        self.constants = Constants::from_config(&self.config, factor)?;
        self.eta_factor = factor;
        Ok(())
    }

    fn run_batch(&mut self, inputs: &[&[f64]], targets: Option<&[&[f64]]>) -> Result<Vec<Vec<f64>>, DeviceError> {
        check_batch(&self.config, 1, inputs, targets)?;
        let Some(x) = inputs.first() else { return Ok(Vec::new()) };
        let x = self.quantise_input(x);
        let y = targets.map(|t| self.quantise_target(t[0]));
        let p = self.config.presentation.clone();
        for step in 0..p.steps_per_sample {
            let nudge = if step >= p.settle_steps { y.as_deref() } else { None };
            self.step(&x, nudge);
        }
        let act = self.format.act();
        let top = self.rate_words(self.config.depth() - 1);
        Ok(vec![top.iter().map(|&r| act.to_f64(r as i64)).collect()])
    }

    fn saturations(&self) -> u64 {
        self.saturations.total()
    }

    fn parameters(&self) -> Result<Parameters, DeviceError> {
        let (weights, biases) = (0..self.config.depth()).map(|l| self.real_parameters(l)).unzip();
        Ok(Parameters { weights, biases })
    }

    fn snapshot(&self) -> Result<Snapshot, DeviceError> {
        Ok(Snapshot::Fixed(self.state()))
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), DeviceError> {
        match snapshot {
            Snapshot::Fixed(state) => self.set_state(state),
            Snapshot::Float(_) => Err(DeviceError::Snapshot(
                "it was taken on the float model; resume it with the software-float device".into(),
            )),
        }
    }
}

//! The float reference model: the discrete Latent Equilibrium step in f64.
//!
//! One time step, with every layer reading only the previous step's values:
//! 1. output error `e_N ← β·d_N ⊙ (r* − r_N)` (rate target) or `β·(r* − ŭ_N)` (voltage target),
//!    from the previous step's output; zero without a target;
//! 2. per layer: `I = W r_in + b`, `u̇ = (I − u + e)/τ_m`, `ŭ = u + τ_r·u̇`, `u ← u + dt·u̇`,
//!    `r = φ(ŭ)`, `d = φ'(ŭ)`, and the error for the layer below `d_below ⊙ Wᵀ m`;
//! 3. install the new errors and update `W += η e r_inᵀ`, `b += η e` (mean over network copies);
//! 4. the new rates and slopes become the previous ones.
//!
//! Layers are processed from the top down, so that one pass over each weight does the forward
//! product, the backward product (with the weight before its update) and the update.

use ndarray::{s, Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use crate::config::{Activation, Config, ErrorSource, TargetKind};
use crate::device::{check_batch, Device, DeviceError, Parameters, Snapshot};
use crate::init::initial_parameters;

/// Neuron state of one layer, one row per network copy.
#[derive(Clone, Debug)]
struct LayerState {
    /// Membrane potential `u`.
    u: Array2<f64>,
    /// Installed error `e`.
    e: Array2<f64>,
    /// Prospective potential `ŭ` of the last step.
    ub: Array2<f64>,
    /// Rate `r` of the last step.
    r: Array2<f64>,
    /// Slope `φ'(ŭ)` of the last step.
    d: Array2<f64>,
}

impl LayerState {
    fn zeros(batch: usize, n: usize) -> Self {
        let z = Array2::zeros((batch, n));
        LayerState { u: z.clone(), e: z.clone(), ub: z.clone(), r: z.clone(), d: z }
    }
}

/// The float reference model.
#[derive(Clone, Debug)]
pub struct FloatModel {
    config: Config,
    /// `weights[l]`: `layers[l+1] × layers[l]`.
    weights: Vec<Array2<f64>>,
    biases: Vec<Array1<f64>>,
    layers: Vec<LayerState>,
    eta_factor: f64,
    steps: u64,
}

/// Serialisable state of a [`FloatModel`]; arrays are row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatState {
    pub batch_size: usize,
    pub weights: Vec<Vec<f64>>,
    pub biases: Vec<Vec<f64>>,
    /// Per layer, `batch_size × n` values each.
    pub u: Vec<Vec<f64>>,
    pub e: Vec<Vec<f64>>,
    pub ub: Vec<Vec<f64>>,
    pub r: Vec<Vec<f64>>,
    pub d: Vec<Vec<f64>>,
    pub eta_factor: f64,
    pub steps: u64,
}

pub(crate) fn phi(act: Activation, x: f64) -> f64 {
    match act {
        Activation::HardSigmoid => x.clamp(0.0, 1.0),
        Activation::Relu => x.max(0.0),
        Activation::Linear => x,
        Activation::Tanh => x.tanh(),
        Activation::Logistic => 1.0 / (1.0 + (-x).exp()),
    }
}

pub(crate) fn phi_slope(act: Activation, x: f64) -> f64 {
    match act {
        Activation::HardSigmoid => {
            if (0.0..=1.0).contains(&x) {
                1.0
            } else {
                0.0
            }
        }
        Activation::Relu => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Linear => 1.0,
        Activation::Tanh => 1.0 - x.tanh().powi(2),
        Activation::Logistic => {
            let s = 1.0 / (1.0 + (-x).exp());
            s * (1.0 - s)
        }
    }
}

impl FloatModel {
    /// Builds the model with weights drawn by [`initial_parameters`] and all neuron state at zero.
    pub fn new(config: &Config) -> Result<FloatModel, DeviceError> {
        config.validate()?;
        let params = initial_parameters(config);
        FloatModel::with_parameters(config, &params)
    }

    /// Builds the model with the given weights and biases and all neuron state at zero.
    pub fn with_parameters(config: &Config, params: &Parameters) -> Result<FloatModel, DeviceError> {
        config.validate()?;
        let sizes = &config.network.layers;
        let batch = config.training.batch_size;
        check_parameter_shapes(config, params)?;
        let weights = (0..config.depth())
            .map(|l| Array2::from_shape_vec((sizes[l + 1], sizes[l]), params.weights[l].clone()).expect("shape checked"))
            .collect();
        let biases = params.biases.iter().map(|b| Array1::from_vec(b.clone())).collect();
        let layers = sizes[1..].iter().map(|&n| LayerState::zeros(batch, n)).collect();
        Ok(FloatModel { config: config.clone(), weights, biases, layers, eta_factor: 1.0, steps: 0 })
    }

    /// Runs one time step for the first `inputs.nrows()` network copies.
    ///
    /// `targets` (one row per copy) switches on nudging and plasticity for this step.
    pub fn step(&mut self, inputs: &Array2<f64>, targets: Option<&Array2<f64>>) {
        let n = inputs.nrows();
        let depth = self.config.depth();
        let cfg = &self.config;
        let (tau_m, tau_r, dt) = (cfg.neuron.tau_m, cfg.neuron.tau_r, cfg.neuron.dt);
        let learn = targets.is_some();

        // 1. Output error from the previous step's output.
        let mut e_new: Vec<Array2<f64>> = self.layers.iter().map(|l| Array2::zeros((n, l.e.ncols()))).collect();
        if let Some(targets) = targets {
            let top = &self.layers[depth - 1];
            let beta = cfg.learning.beta;
            let e_top = &mut e_new[depth - 1];
            for b in 0..n {
                for i in 0..e_top.ncols() {
                    e_top[[b, i]] = match cfg.learning.target {
                        TargetKind::Rate => beta * top.d[[b, i]] * (targets[[b, i]] - top.r[[b, i]]),
                        TargetKind::Voltage => beta * (targets[[b, i]] - top.ub[[b, i]]),
                    };
                }
            }
        }

        // 2. and 3. Layers from the top down.
        let mut new_rates: Vec<(Array2<f64>, Array2<f64>, Array2<f64>)> = Vec::with_capacity(depth);
        for l in (0..depth).rev() {
            let r_in: Array2<f64> = if l == 0 { inputs.clone() } else { self.layers[l - 1].r.slice(s![..n, ..]).to_owned() };
            let eta = if learn { cfg.learning.eta[l] * self.eta_factor } else { 0.0 };
            let e_old = self.layers[l].e.slice(s![..n, ..]).to_owned();
            let g = &e_new[l] * (eta / n as f64);

            // With one copy and `m = e`, a single fused pass does all three products.
            let fused = n == 1 && cfg.neuron.error_source == ErrorSource::TauM;
            let (current, fused_back) = if fused {
                let (i_row, back_row) =
                    fused_pass(&mut self.weights[l], &mut self.biases[l], r_in.row(0), e_old.row(0), g.row(0), l > 0);
                (i_row.insert_axis(Axis(0)), back_row.map(|b| b.insert_axis(Axis(0))))
            } else {
                // Forward with the weights before this step's update.
                let current = r_in.dot(&self.weights[l].t()) + &self.biases[l];
                (current, None)
            };

            let state = &mut self.layers[l];
            let u = state.u.slice(s![..n, ..]).to_owned();
            let udot = (&current - &u + &e_old) / tau_m;
            let ub = &u + &(&udot * tau_r);
            let u_next = &u + &(&udot * dt);
            let act = cfg.network.activations[l];
            let r_new = ub.mapv(|x| phi(act, x));
            let d_new = ub.mapv(|x| phi_slope(act, x));

            let back = if fused {
                fused_back
            } else {
                {
                    // Error message: `u + τ_m u̇ − I` (= e) or `ŭ − I`.
                    let message = match cfg.neuron.error_source {
                        ErrorSource::TauM => &u + &(&udot * tau_m) - &current,
                        ErrorSource::TauR => &ub - &current,
                    };
                    let back = if l > 0 { Some(message.dot(&self.weights[l])) } else { None };
                    if learn {
                        self.weights[l] += &g.t().dot(&r_in);
                        self.biases[l] += &g.sum_axis(Axis(0));
                    }
                    back
                }
            };
            if let Some(back) = back {
                e_new[l - 1] = &self.layers[l - 1].d.slice(s![..n, ..]) * &back;
            }

            self.layers[l].u.slice_mut(s![..n, ..]).assign(&u_next);
            new_rates.push((ub, r_new, d_new));
        }

        // 3. and 4. Install errors, roll rates and slopes.
        for (l, (ub, r, d)) in (0..depth).rev().zip(new_rates) {
            let state = &mut self.layers[l];
            state.e.slice_mut(s![..n, ..]).assign(&e_new[l]);
            state.ub.slice_mut(s![..n, ..]).assign(&ub);
            state.r.slice_mut(s![..n, ..]).assign(&r);
            state.d.slice_mut(s![..n, ..]).assign(&d);
        }
        self.steps += 1;
    }

    pub fn weights(&self, layer: usize) -> &Array2<f64> {
        &self.weights[layer]
    }
    pub fn biases(&self, layer: usize) -> &Array1<f64> {
        &self.biases[layer]
    }
    /// Membrane potentials of `layer` (0 is the first non-input layer), one row per copy.
    pub fn u(&self, layer: usize) -> &Array2<f64> {
        &self.layers[layer].u
    }
    pub fn prospective(&self, layer: usize) -> &Array2<f64> {
        &self.layers[layer].ub
    }
    pub fn rates(&self, layer: usize) -> &Array2<f64> {
        &self.layers[layer].r
    }
    pub fn errors(&self, layer: usize) -> &Array2<f64> {
        &self.layers[layer].e
    }

    pub fn state(&self) -> FloatState {
        let flat = |f: &dyn Fn(&LayerState) -> &Array2<f64>| -> Vec<Vec<f64>> {
            self.layers.iter().map(|l| f(l).iter().copied().collect()).collect()
        };
        FloatState {
            batch_size: self.config.training.batch_size,
            weights: self.weights.iter().map(|w| w.iter().copied().collect()).collect(),
            biases: self.biases.iter().map(|b| b.to_vec()).collect(),
            u: flat(&|l| &l.u),
            e: flat(&|l| &l.e),
            ub: flat(&|l| &l.ub),
            r: flat(&|l| &l.r),
            d: flat(&|l| &l.d),
            eta_factor: self.eta_factor,
            steps: self.steps,
        }
    }

    pub fn set_state(&mut self, state: &FloatState) -> Result<(), DeviceError> {
        let batch = self.config.training.batch_size;
        if state.batch_size != batch {
            return Err(DeviceError::Snapshot(format!(
                "it has {} network copies, the configuration {batch}",
                state.batch_size
            )));
        }
        let params = Parameters { weights: state.weights.clone(), biases: state.biases.clone() };
        check_parameter_shapes(&self.config, &params)?;
        let sizes = self.config.network.layers[1..].to_vec();
        let to_layers = |name: &str, data: &Vec<Vec<f64>>| -> Result<Vec<Array2<f64>>, DeviceError> {
            if data.len() != sizes.len() {
                return Err(DeviceError::Snapshot(format!("`{name}` has {} layers, expected {}", data.len(), sizes.len())));
            }
            data.iter()
                .zip(&sizes)
                .enumerate()
                .map(|(l, (v, &n))| {
                    Array2::from_shape_vec((batch, n), v.clone()).map_err(|_| {
                        DeviceError::Snapshot(format!("`{name}[{l}]` has {} values, expected {}", v.len(), batch * n))
                    })
                })
                .collect()
        };
        let (u, e, ub, r, d) =
            (to_layers("u", &state.u)?, to_layers("e", &state.e)?, to_layers("ub", &state.ub)?, to_layers("r", &state.r)?, to_layers("d", &state.d)?);
        let fresh = FloatModel::with_parameters(&self.config, &params)?;
        self.weights = fresh.weights;
        self.biases = fresh.biases;
        self.layers = (0..sizes.len())
            .map(|l| LayerState { u: u[l].clone(), e: e[l].clone(), ub: ub[l].clone(), r: r[l].clone(), d: d[l].clone() })
            .collect();
        self.eta_factor = state.eta_factor;
        self.steps = state.steps;
        Ok(())
    }
}

/// One pass over a layer's weights for a single network copy: returns the basal input
/// `W r + b` and, when `want_back`, the backward sum `Wᵀ m`, both with the weights before the
/// update, and applies `W += g rᵀ`, `b += g`.
fn fused_pass(
    weights: &mut Array2<f64>,
    biases: &mut Array1<f64>,
    r: ArrayView1<f64>,
    m: ArrayView1<f64>,
    g: ArrayView1<f64>,
    want_back: bool,
) -> (Array1<f64>, Option<Array1<f64>>) {
    let n_in = weights.ncols();
    let r = r.to_vec();
    let mut back = vec![0.0; n_in];
    let mut current = Array1::zeros(weights.nrows());
    let learn = g.iter().any(|&x| x != 0.0);
    for (i, mut row) in weights.rows_mut().into_iter().enumerate() {
        let row = row.as_slice_mut().expect("weights are standard layout");
        let (mi, gi) = (m[i], g[i]);
        let acc = match (learn, want_back) {
            (true, true) => fused_row::<true, true>(row, &r, &mut back, mi, gi),
            (true, false) => fused_row::<true, false>(row, &r, &mut back, mi, gi),
            (false, true) => fused_row::<false, true>(row, &r, &mut back, mi, gi),
            (false, false) => fused_row::<false, false>(row, &r, &mut back, mi, gi),
        };
        current[i] = acc + biases[i];
        biases[i] += gi;
    }
    (current, want_back.then(|| Array1::from_vec(back)))
}

/// One row of [`fused_pass`]: returns `Σ w·r`, adds `w·m` to `back` (when `BACK`) and applies
/// `w += g·r` (when `LEARN`).
#[inline(always)]
fn fused_row<const LEARN: bool, const BACK: bool>(row: &mut [f64], r: &[f64], back: &mut [f64], m: f64, g: f64) -> f64 {
    let n = row.len();
    let (r, back) = (&r[..n], &mut back[..n]);
    let mut acc = 0.0;
    for j in 0..n {
        let w = row[j];
        acc += w * r[j];
        if BACK {
            back[j] += w * m;
        }
        if LEARN {
            row[j] = w + g * r[j];
        }
    }
    acc
}

pub(crate) fn check_parameter_shapes(config: &Config, params: &Parameters) -> Result<(), DeviceError> {
    let sizes = &config.network.layers;
    if params.weights.len() != config.depth() || params.biases.len() != config.depth() {
        return Err(DeviceError::Snapshot(format!(
            "it has {} weight and {} bias layers, the configuration {}",
            params.weights.len(),
            params.biases.len(),
            config.depth()
        )));
    }
    for l in 0..config.depth() {
        if params.weights[l].len() != sizes[l] * sizes[l + 1] {
            return Err(DeviceError::Snapshot(format!(
                "layer {} has {} weights, the configuration {} × {}",
                l + 1,
                params.weights[l].len(),
                sizes[l + 1],
                sizes[l]
            )));
        }
        if params.biases[l].len() != sizes[l + 1] {
            return Err(DeviceError::Snapshot(format!(
                "layer {} has {} biases, the configuration {}",
                l + 1,
                params.biases[l].len(),
                sizes[l + 1]
            )));
        }
    }
    Ok(())
}

impl Device for FloatModel {
    fn name(&self) -> &str {
        "software-float"
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn batch_size(&self) -> usize {
        self.config.training.batch_size
    }

    fn set_learning_rate_factor(&mut self, factor: f64) -> Result<(), DeviceError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(DeviceError::Other(format!("learning-rate factor {factor} is invalid: use a finite number >= 0")));
        }
        self.eta_factor = factor;
        Ok(())
    }

    fn run_batch(&mut self, inputs: &[&[f64]], targets: Option<&[&[f64]]>) -> Result<Vec<Vec<f64>>, DeviceError> {
        check_batch(&self.config, self.batch_size(), inputs, targets)?;
        let n = inputs.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let x = Array2::from_shape_fn((n, self.config.n_inputs()), |(b, j)| inputs[b][j]);
        let y = targets.map(|t| Array2::from_shape_fn((n, self.config.n_outputs()), |(b, i)| t[b][i]));
        let p = self.config.presentation.clone();
        for step in 0..p.steps_per_sample {
            let nudge = if step >= p.settle_steps { y.as_ref() } else { None };
            self.step(&x, nudge);
        }
        let top = &self.layers[self.config.depth() - 1].r;
        Ok((0..n).map(|b| top.row(b).to_vec()).collect())
    }

    fn saturations(&self) -> u64 {
        0
    }

    fn parameters(&self) -> Result<Parameters, DeviceError> {
        Ok(Parameters {
            weights: self.weights.iter().map(|w| w.iter().copied().collect()).collect(),
            biases: self.biases.iter().map(|b| b.to_vec()).collect(),
        })
    }

    fn snapshot(&self) -> Result<Snapshot, DeviceError> {
        Ok(Snapshot::Float(self.state()))
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), DeviceError> {
        match snapshot {
            Snapshot::Float(state) => self.set_state(state),
            Snapshot::Fixed(_) => Err(DeviceError::Snapshot(
                "it was taken on the fixed-point model; resume it with the fixed-point device".into(),
            )),
        }
    }
}

//! Reference results of the synapse lane and the neuron unit, from the golden model's primitives.

use leap_model::format::{realign, update_weight, Coefficient, Formats};

/// Activation select codes of the neuron unit's `activation` port.
pub const HARD_SIGMOID: i64 = 0;
pub const RELU: i64 = 1;
pub const LINEAR: i64 = 2;

/// Inputs of one synapse-lane operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneInput {
    pub weight: i64,
    pub rate: i64,
    pub message: i64,
    pub update_factor: i64,
    /// Stochastic rounding bits; only the low `update_round_bits` bits are used.
    pub rounding: u32,
    pub learn: bool,
}

/// Outputs of one synapse-lane operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneOutput {
    pub forward: i64,
    pub backward: i64,
    pub weight_next: i64,
    pub saturated: bool,
}

/// Computes the lane's outputs as the golden model's row pass does for one weight.
pub fn lane(formats: &Formats, input: &LaneInput) -> LaneOutput {
    let slice = input.weight >> formats.weight_slice_shift();
    let forward = slice * input.rate;
    let backward = slice * input.message;
    if !input.learn {
        return LaneOutput {
            forward,
            backward,
            weight_next: input.weight,
            saturated: false,
        };
    }
    let bits = formats.update_round_bits();
    let mask = if bits == 0 { 0 } else { (1u64 << bits) - 1 };
    let rounding = (input.rounding as u64 & mask) as i64;
    let w = formats.weight();
    let (weight_next, saturated) = update_weight(
        input.weight as i32,
        input.update_factor as i32,
        input.rate as i32,
        rounding,
        bits,
        w.min(),
        w.max(),
    );
    LaneOutput {
        forward,
        backward,
        weight_next: weight_next as i64,
        saturated,
    }
}

/// Inputs of one neuron-unit operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeuronInput {
    /// Forward sum `Σ w16·r`, with `weight_slice_frac + act_frac` fractional bits.
    pub sum: i64,
    pub potential: i64,
    pub error: i64,
    pub k_r: Coefficient,
    pub k_dt: Coefficient,
    pub activation: i64,
}

/// Outputs of one neuron-unit operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NeuronOutput {
    pub current: i64,
    pub prospective: i64,
    pub potential_next: i64,
    pub rate: i64,
    pub slope: i64,
    pub current_saturated: bool,
    pub difference_saturated: bool,
    pub prospective_saturated: bool,
    pub potential_saturated: bool,
    pub rate_saturated: bool,
}

/// Computes the golden model's neuron unit for one neuron.
pub fn neuron(formats: &Formats, input: &NeuronInput) -> NeuronOutput {
    let (pot, act) = (formats.pot(), formats.act());
    let forward_frac = formats.weight_slice_frac() + formats.act_frac;
    let mut counts = [0u64; 5];

    let current = pot.saturate(
        realign(input.sum, forward_frac, formats.pot_frac),
        &mut counts[0],
    );
    let v = pot.saturate(current - input.potential + input.error, &mut counts[1]);
    let prospective = pot.saturate(input.potential + input.k_r.apply(v, 0), &mut counts[2]);
    let potential_next = pot.saturate(input.potential + input.k_dt.apply(v, 0), &mut counts[3]);

    let one = pot.one();
    let (value, active) = match input.activation {
        HARD_SIGMOID => (prospective.clamp(0, one), (0..=one).contains(&prospective)),
        RELU => (prospective.max(0), prospective > 0),
        _ => (prospective, true),
    };
    let rate = act.saturate(
        realign(value, formats.pot_frac, formats.act_frac),
        &mut counts[4],
    );
    NeuronOutput {
        current,
        prospective,
        potential_next,
        rate,
        slope: if active { act.one() } else { 0 },
        current_saturated: counts[0] > 0,
        difference_saturated: counts[1] > 0,
        prospective_saturated: counts[2] > 0,
        potential_saturated: counts[3] > 0,
        rate_saturated: counts[4] > 0,
    }
}

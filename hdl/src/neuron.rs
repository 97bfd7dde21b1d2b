//! The neuron unit: membrane update, prospective potential, rate and slope, one neuron every
//! third clock.

use leap_model::format::Formats;
use rust_hdl::prelude::*;

use crate::engine::units::EnableRegister;
use crate::leaf::{
    ActivationSelect, ActivityClamp, CoefficientShift, ErrorOffset, PotentialSplit, PotentialSum,
    ProductCombine, Register, Requantize, ResetRegister, RoundedSum, SignExtend,
};

/// Clocks from the neuron unit's inputs to its outputs. The K_dt products of a neuron are
/// shifted in its stage 4 and added to u in stage 5, and the unit saturates that sum in stage 6,
/// where its outputs show the neuron.
pub const NEURON_LATENCY: usize = 6;

/// Clocks from the neuron unit's inputs to the clock where its `current` output shows the
/// neuron's current.
pub const CURRENT_LATENCY: usize = 2;

/// Clocks from the neuron unit's inputs to the clock where its `prospective` output shows the
/// neuron's ŭ, the clock where `prospective_valid` is set.
pub const PROSPECTIVE_LATENCY: usize = 5;

/// One neuron every third clock, pipelined with a latency of [`NEURON_LATENCY`] clocks.
///
/// Each coefficient product takes both multipliers and the shifter for one clock, so a valid
/// input must be followed by at least two clocks with `valid` clear. The engine meets this
/// because a row of its weight stream takes at least three clocks, one of which it needs for
/// the lent multipliers. The spacing also lets every stage register keep its neuron for three
/// clocks: a register loads only when a neuron enters its stage, and the next neuron enters
/// three clocks later at the earliest. So a word is registered only in every third stage up to
/// the stage that reads it.
///
/// The unit stores the complement of `error` in the clocks where `error_load` is set and reads
/// it in the clock where `valid` is set. So the caller loads a neuron's error after the `valid`
/// of the neuron before it and before its own. The unit takes `potential` in the clock where
/// `valid` is set and again two clocks later, and `sum` in the clock after `valid`. So the
/// caller can pass the error and the sum from the memory and the register that form them, and
/// it reads u from memory twice instead of the unit keeping it for four clocks. The unit reads
/// K_r's mantissa and shift only while a neuron is in stage 3, K_dt's only while it is in stage
/// 4, and `activation` in stage 5, without copying them, so each must hold its value in those
/// clocks. The engine feeds both coefficients from one ring of registers that advances in
/// stages 2 to 4 (see `coefficient_stages`), and writes `activation` only between layers,
/// after the last neuron of a layer has returned.
///
/// The two multipliers and the product's shifter are lent out in every clock that no neuron
/// needs them. In those clocks `multipliers_busy` is clear and, combinationally,
/// `spare_product = spare_high · spare_mant · 2^15 + spare_low · spare_mant` and
/// `spare_halves` is `2 · spare_product` moved right by `spare_amount` as [`CoefficientShift`]
/// moves it. A neuron uses them in the same shape. The multipliers take the halves of its v
/// (see [`PotentialSplit`]) with K_r's mantissa in stage 3 and with K_dt's in stage 4, and the
/// shifter moves each product by its coefficient's shift in the same clock.
///
/// The rounded sum after the shifter is lent too, while no neuron is in stages 2 to 6. A clock
/// with `spare_base_load` set stores `spare_base` as the base of the sum. Two clocks later,
/// `prospective` and `potential_saturated` show `sat(spare_base + round(spare_halves))` of
/// that clock, rounded and saturated as ŭ is.
///
/// From the forward sum `Σ w16·r` (48 bits), the membrane potential `u` and the installed error
/// `e` (potential format, in 32-bit ports), and the coefficients `K_r = τ_r/τ_m` and
/// `K_dt = dt/τ_m` (16-bit mantissa, shift in 0..=46):
/// - `current = I = sat(realign(sum))` in the potential format;
/// - `v = sat(I − u + e)`;
/// - `prospective = ŭ = sat(u + K_r·v)` and `potential_next = sat(u + K_dt·v)`, each coefficient
///   product rounded half up by its shift;
/// - `rate = sat(realign(φ(ŭ)))` in the activity format and `slope = φ'(ŭ)` (1.0 or 0), with φ
///   chosen by `activation` (codes in [`crate::leaf::activation`]).
///
/// Each `*_saturated` flag is set when the matching word was clamped. The outputs hold a result
/// only in the clock where `out_valid` is set, except `current`, which shows a neuron's current
/// [`CURRENT_LATENCY`] clocks after its `valid`, and `prospective`, which shows its ŭ in the
/// clock before `out_valid`, where `prospective_valid` is set. Only the valid bits are reset.
#[derive(LogicBlock)]
pub struct NeuronUnit {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    /// The forward sum, in the clock after `valid`.
    pub sum: Signal<In, Signed<48>>,
    pub potential: Signal<In, Signed<32>>,
    /// The installed error, stored in the clocks where `error_load` is set.
    pub error: Signal<In, Signed<32>>,
    pub error_load: Signal<In, Bit>,
    pub k_r_mant: Signal<In, Signed<16>>,
    pub k_r_shift: Signal<In, Bits<6>>,
    pub k_dt_mant: Signal<In, Signed<16>>,
    pub k_dt_shift: Signal<In, Bits<6>>,
    pub activation: Signal<In, Bits<2>>,
    /// Operands of the lent multipliers and shifter.
    pub spare_high: Signal<In, Signed<16>>,
    pub spare_low: Signal<In, Signed<16>>,
    pub spare_mant: Signal<In, Signed<16>>,
    pub spare_amount: Signal<In, Bits<6>>,
    /// The base of the lent rounded sum, stored in the clocks where `spare_base_load` is set.
    pub spare_base: Signal<In, Signed<32>>,
    pub spare_base_load: Signal<In, Bit>,
    /// Set in the clocks where a neuron uses the multipliers and the shifter, so the spare
    /// results are invalid.
    pub multipliers_busy: Signal<Out, Bit>,
    /// Set while a neuron is in stage 2, 3 or 4: the clock before the multipliers take K_r and
    /// the clocks where they take K_r and K_dt.
    pub coefficient_stages: Signal<Out, Bit>,
    pub spare_product: Signal<Out, Signed<48>>,
    pub spare_halves: Signal<Out, Signed<34>>,
    pub out_valid: Signal<Out, Bit>,
    /// Set in the clock before `out_valid`, where `prospective` shows the neuron's ŭ.
    pub prospective_valid: Signal<Out, Bit>,
    /// The current of the neuron in stage 2, [`CURRENT_LATENCY`] clocks after its `valid`.
    pub current: Signal<Out, Signed<32>>,
    pub prospective: Signal<Out, Signed<32>>,
    pub potential_next: Signal<Out, Signed<32>>,
    pub rate: Signal<Out, Signed<16>>,
    pub slope: Signal<Out, Signed<16>>,
    pub current_saturated: Signal<Out, Bit>,
    pub difference_saturated: Signal<Out, Bit>,
    pub prospective_saturated: Signal<Out, Bit>,
    pub potential_saturated: Signal<Out, Bit>,
    pub rate_saturated: Signal<Out, Bit>,
    /// The input words sign-extended from the potential format's top bit, so that the
    /// registers after them store that bit once.
    potential_word: SignExtend<32>,
    error_word: SignExtend<32>,
    /// The complement of e, which the subtractor of stage 1 needs, loaded with `error_load`.
    error_complement: EnableRegister<Signed<32>>,
    // Stage 1: e − u from the input ports.
    error_offset: ErrorOffset,
    s1_valid: ResetRegister<Bit>,
    s1_offset: EnableRegister<Signed<32>>,
    // Stage 2: basal current I from the sum that arrives in stage 1.
    to_current: Requantize<48, 32>,
    s2_valid: ResetRegister<Bit>,
    s2_current: EnableRegister<Signed<32>>,
    s2_current_sat: EnableRegister<Bit>,
    // Stage 3: v = sat(I − u + e), which stages 3 and 4 split into the multipliers' halves.
    difference: PotentialSum,
    clamp_difference: Requantize<33, 32>,
    s3_valid: ResetRegister<Bit>,
    s3_v: EnableRegister<Signed<32>>,
    s3_v_sat: EnableRegister<Bit>,
    s3_current_sat: EnableRegister<Bit>,
    /// u from the `potential` port two clocks after `valid`, for the sums in stages 4 (K_r)
    /// and 5 (K_dt), or the lent sum's `spare_base`.
    s3_u: EnableRegister<Signed<32>>,
    split: PotentialSplit,
    // Stages 3 and 4: the two signed 16 x 16 multipliers, `high_operand · mant_operand` and
    // `low_operand · mant_operand`, their combined product and its shift. The K_r product is
    // shifted in stage 3 and the K_dt product in stage 4.
    high_operand: Signal<Local, Signed<16>>,
    low_operand: Signal<Local, Signed<16>>,
    mant_operand: Signal<Local, Signed<16>>,
    shift_amount: Signal<Local, Bits<6>>,
    high_product: Signal<Local, Signed<32>>,
    low_product: Signal<Local, Signed<32>>,
    combine: ProductCombine,
    shifter: CoefficientShift,
    /// The shifted product of every clock, for the sum in the clock after.
    shifted: Register<Signed<34>>,
    s4_valid: ResetRegister<Bit>,
    /// `u` plus the rounded shifted product of the clock before, `ŭ` in stage 5 and the next u
    /// in stage 6, before saturation.
    rounded_sum: RoundedSum,
    total: Register<Signed<34>>,
    saturate: Requantize<34, 32>,
    // Stage 5: ŭ saturated from `total`, its slope and the rate, `φ` applied to ŭ in the
    // activity format. φ reads the sum before saturation.
    s5_valid: ResetRegister<Bit>,
    phi: ActivationSelect<34>,
    to_rate: Requantize<32, 16>,
    rate_clamp: ActivityClamp,
    // Stage 6: the other outputs, with the next u saturated from `total`.
    s6_valid: ResetRegister<Bit>,
    s6_rate: EnableRegister<Signed<16>>,
    s6_rate_sat: EnableRegister<Bit>,
    s6_slope: EnableRegister<Signed<16>>,
    s6_ub_sat: EnableRegister<Bit>,
    s6_v_sat: EnableRegister<Bit>,
    s6_current_sat: EnableRegister<Bit>,
}

impl NeuronUnit {
    pub fn new(formats: &Formats) -> Self {
        let forward_frac = formats.weight_slice_frac() + formats.act_frac;
        NeuronUnit {
            clock: Default::default(),
            reset: Default::default(),
            valid: Default::default(),
            sum: Default::default(),
            potential: Default::default(),
            error: Default::default(),
            error_load: Default::default(),
            k_r_mant: Default::default(),
            k_r_shift: Default::default(),
            k_dt_mant: Default::default(),
            k_dt_shift: Default::default(),
            activation: Default::default(),
            spare_high: Default::default(),
            spare_low: Default::default(),
            spare_mant: Default::default(),
            spare_amount: Default::default(),
            spare_base: Default::default(),
            spare_base_load: Default::default(),
            multipliers_busy: Default::default(),
            coefficient_stages: Default::default(),
            spare_product: Default::default(),
            spare_halves: Default::default(),
            out_valid: Default::default(),
            prospective_valid: Default::default(),
            current: Default::default(),
            prospective: Default::default(),
            potential_next: Default::default(),
            rate: Default::default(),
            slope: Default::default(),
            current_saturated: Default::default(),
            difference_saturated: Default::default(),
            prospective_saturated: Default::default(),
            potential_saturated: Default::default(),
            rate_saturated: Default::default(),
            potential_word: SignExtend::new(formats.pot_bits),
            error_word: SignExtend::new(formats.pot_bits),
            error_complement: Default::default(),
            error_offset: Default::default(),
            s1_valid: Default::default(),
            s1_offset: Default::default(),
            to_current: Requantize::new(forward_frac, formats.pot_frac, formats.pot_bits),
            s2_valid: Default::default(),
            s2_current: Default::default(),
            s2_current_sat: Default::default(),
            difference: Default::default(),
            clamp_difference: Requantize::new(0, 0, formats.pot_bits),
            s3_valid: Default::default(),
            s3_v: Default::default(),
            s3_v_sat: Default::default(),
            s3_current_sat: Default::default(),
            s3_u: Default::default(),
            split: Default::default(),
            high_operand: Default::default(),
            low_operand: Default::default(),
            mant_operand: Default::default(),
            shift_amount: Default::default(),
            high_product: Default::default(),
            low_product: Default::default(),
            combine: Default::default(),
            shifter: Default::default(),
            shifted: Default::default(),
            s4_valid: Default::default(),
            rounded_sum: Default::default(),
            total: Default::default(),
            saturate: Requantize::new(0, 0, formats.pot_bits),
            s5_valid: Default::default(),
            phi: ActivationSelect::new(formats.pot_frac, formats.act_frac),
            s6_valid: Default::default(),
            s6_rate: Default::default(),
            s6_rate_sat: Default::default(),
            s6_slope: Default::default(),
            s6_ub_sat: Default::default(),
            s6_v_sat: Default::default(),
            s6_current_sat: Default::default(),
            to_rate: Requantize::new(formats.pot_frac, formats.act_frac, 16),
            rate_clamp: ActivityClamp::new(formats.act_frac),
        }
    }
}

impl Logic for NeuronUnit {
    #[hdl_gen]
    fn update(&mut self) {
        self.error_complement.clock.next = self.clock.val();
        self.s1_valid.clock.next = self.clock.val();
        self.s1_offset.clock.next = self.clock.val();
        self.s2_valid.clock.next = self.clock.val();
        self.s2_current.clock.next = self.clock.val();
        self.s2_current_sat.clock.next = self.clock.val();
        self.s3_valid.clock.next = self.clock.val();
        self.s3_v.clock.next = self.clock.val();
        self.s3_v_sat.clock.next = self.clock.val();
        self.s3_current_sat.clock.next = self.clock.val();
        self.s3_u.clock.next = self.clock.val();
        self.shifted.clock.next = self.clock.val();
        self.s4_valid.clock.next = self.clock.val();
        self.total.clock.next = self.clock.val();
        self.s5_valid.clock.next = self.clock.val();
        self.s6_valid.clock.next = self.clock.val();
        self.s6_rate.clock.next = self.clock.val();
        self.s6_rate_sat.clock.next = self.clock.val();
        self.s6_slope.clock.next = self.clock.val();
        self.s6_ub_sat.clock.next = self.clock.val();
        self.s6_v_sat.clock.next = self.clock.val();
        self.s6_current_sat.clock.next = self.clock.val();
        self.s1_valid.reset.next = self.reset.val();
        self.s2_valid.reset.next = self.reset.val();
        self.s3_valid.reset.next = self.reset.val();
        self.s4_valid.reset.next = self.reset.val();
        self.s5_valid.reset.next = self.reset.val();
        self.s6_valid.reset.next = self.reset.val();

        // The valid bits move one stage per clock. Each word register loads when its stage's
        // valid bit is about to be set.
        self.s1_valid.d.next = self.valid.val();
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s4_valid.d.next = self.s3_valid.q.val();
        self.s5_valid.d.next = self.s4_valid.q.val();
        self.s6_valid.d.next = self.s5_valid.q.val();

        // Stage 1, with e stored before `valid`.
        self.error_word.value.next = self.error.val();
        self.potential_word.value.next = self.potential.val();
        self.error_complement.enable.next = self.error_load.val();
        self.error_complement.d.next = signed_cast(!unsigned_cast(self.error_word.result.val()));
        self.error_offset.error_complement.next = self.error_complement.q.val();
        self.error_offset.potential.next = self.potential_word.result.val();
        self.s1_offset.enable.next = self.valid.val();
        self.s1_offset.d.next = self.error_offset.offset.val();

        // Stage 2, with the sum that arrives while the neuron is in stage 1.
        self.to_current.value.next = self.sum.val();
        self.s2_current.enable.next = self.s1_valid.q.val();
        self.s2_current_sat.enable.next = self.s1_valid.q.val();
        self.s2_current.d.next = self.to_current.result.val();
        self.s2_current_sat.d.next = self.to_current.saturated.val();

        // Stage 3, with e − u from stage 1.
        self.difference.current.next = self.s2_current.q.val();
        self.difference.offset.next = self.s1_offset.q.val();
        self.clamp_difference.value.next = self.difference.total.val();
        self.s3_v.enable.next = self.s2_valid.q.val();
        self.s3_v_sat.enable.next = self.s2_valid.q.val();
        self.s3_current_sat.enable.next = self.s2_valid.q.val();
        self.s3_v.d.next = self.clamp_difference.result.val();
        self.s3_v_sat.d.next = self.clamp_difference.saturated.val();
        self.s3_current_sat.d.next = self.s2_current_sat.q.val();
        // The `potential` port shows u again while the neuron is in stage 2.
        self.s3_u.enable.next = self.s2_valid.q.val() | self.spare_base_load.val();
        self.s3_u.d.next = self.spare_base.val();
        if self.s2_valid.q.val() {
            self.s3_u.d.next = self.potential_word.result.val();
        }

        // Stages 3 and 4 multiply the halves of v and shift the product: by K_r while the
        // neuron is in stage 3, by K_dt while it is in stage 4. Otherwise the multipliers and
        // the shifter take the spare operands.
        self.split.value.next = self.s3_v.q.val();
        self.high_operand.next = self.spare_high.val();
        self.low_operand.next = self.spare_low.val();
        self.mant_operand.next = self.spare_mant.val();
        self.shift_amount.next = self.spare_amount.val();
        if self.s3_valid.q.val() {
            self.high_operand.next = self.split.high.val();
            self.low_operand.next = self.split.low.val();
            self.mant_operand.next = self.k_r_mant.val();
            self.shift_amount.next = self.k_r_shift.val();
        }
        if self.s4_valid.q.val() {
            self.high_operand.next = self.split.high.val();
            self.low_operand.next = self.split.low.val();
            self.mant_operand.next = self.k_dt_mant.val();
            self.shift_amount.next = self.k_dt_shift.val();
        }
        self.high_product.next = self.high_operand.val() * self.mant_operand.val();
        self.low_product.next = self.low_operand.val() * self.mant_operand.val();
        self.combine.high.next = self.high_product.val();
        self.combine.low.next = self.low_product.val();
        self.shifter.doubled.next = self.combine.doubled.val();
        self.shifter.amount.next = self.shift_amount.val();
        self.shifted.d.next = self.shifter.halves.val();
        self.multipliers_busy.next = self.s3_valid.q.val() | self.s4_valid.q.val();
        self.coefficient_stages.next =
            self.s2_valid.q.val() | self.s3_valid.q.val() | self.s4_valid.q.val();
        self.spare_product.next = self.combine.product.val();
        self.spare_halves.next = self.shifter.halves.val();

        // Stages 4 and 5: the K_r sum in stage 4 and the K_dt sum in stage 5, both with u.
        self.rounded_sum.base.next = self.s3_u.q.val();
        self.rounded_sum.halves.next = self.shifted.q.val();
        self.total.d.next = self.rounded_sum.total.val();
        self.saturate.value.next = self.total.q.val();

        // Stage 5: ŭ is in `total` while the neuron is in stage 5.
        self.phi.prospective.next = self.total.q.val();
        self.phi.select.next = self.activation.val();
        self.to_rate.value.next = self.saturate.result.val();
        self.rate_clamp.value.next = self.to_rate.result.val();
        self.rate_clamp.value_saturated.next = self.to_rate.saturated.val();
        self.rate_clamp.clamp_zero.next = self.phi.clamp_zero.val();
        self.rate_clamp.clamp_one.next = self.phi.clamp_one.val();
        self.s6_rate.enable.next = self.s5_valid.q.val();
        self.s6_rate_sat.enable.next = self.s5_valid.q.val();
        self.s6_slope.enable.next = self.s5_valid.q.val();
        self.s6_ub_sat.enable.next = self.s5_valid.q.val();
        self.s6_v_sat.enable.next = self.s5_valid.q.val();
        self.s6_current_sat.enable.next = self.s5_valid.q.val();
        self.s6_rate.d.next = self.rate_clamp.result.val();
        self.s6_rate_sat.d.next = self.rate_clamp.saturated.val();
        self.s6_slope.d.next = self.phi.slope.val();
        self.s6_ub_sat.d.next = self.saturate.saturated.val();
        self.s6_v_sat.d.next = self.s3_v_sat.q.val();
        self.s6_current_sat.d.next = self.s3_current_sat.q.val();
        self.prospective_valid.next = self.s5_valid.q.val();
        self.prospective.next = self.saturate.result.val();

        // Stage 6: the next u is in `total` while the neuron is in stage 6.
        self.out_valid.next = self.s6_valid.q.val();
        self.current.next = self.s2_current.q.val();
        self.potential_next.next = self.saturate.result.val();
        self.rate.next = self.s6_rate.q.val();
        self.slope.next = self.s6_slope.q.val();
        self.current_saturated.next = self.s6_current_sat.q.val();
        self.difference_saturated.next = self.s6_v_sat.q.val();
        self.prospective_saturated.next = self.s6_ub_sat.q.val();
        self.potential_saturated.next = self.saturate.saturated.val();
        self.rate_saturated.next = self.s6_rate_sat.q.val();
    }
}

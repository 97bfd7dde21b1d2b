//! The neuron unit: membrane update, prospective potential, rate and slope, one neuron every
//! other clock.

use leap_model::format::Formats;
use rust_hdl::prelude::*;

use crate::leaf::{
    ActivationUnit, CoefficientStep, PotentialSplit, PotentialSum, Register, Requantize,
    ResetRegister,
};

/// Clocks from the neuron unit's inputs to its outputs.
pub const NEURON_LATENCY: usize = 7;

/// One neuron every other clock, pipelined with a latency of [`NEURON_LATENCY`] clocks.
///
/// Each coefficient product takes one multiplier for two clocks, so a valid input must be
/// followed by at least one clock with `valid` clear. The engine meets this because a row of its
/// weight stream takes at least two clocks.
///
/// The two multipliers are lent out in every clock that no neuron needs them. In those clocks
/// `multipliers_busy` is clear, `spare_high_product = spare_high · spare_mant` and
/// `spare_low_product = spare_low · spare_mant`, all combinationally.
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
/// Each `*_saturated` flag is set when the matching word was clamped. Only the valid bits are reset.
#[derive(LogicBlock)]
pub struct NeuronUnit {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub sum: Signal<In, Signed<48>>,
    pub potential: Signal<In, Signed<32>>,
    pub error: Signal<In, Signed<32>>,
    pub k_r_mant: Signal<In, Signed<16>>,
    pub k_r_shift: Signal<In, Bits<6>>,
    pub k_dt_mant: Signal<In, Signed<16>>,
    pub k_dt_shift: Signal<In, Bits<6>>,
    pub activation: Signal<In, Bits<2>>,
    /// Operands of the lent multipliers.
    pub spare_high: Signal<In, Signed<16>>,
    pub spare_low: Signal<In, Signed<16>>,
    pub spare_mant: Signal<In, Signed<16>>,
    /// Set in the clocks where a neuron uses the multipliers, so the spare products are invalid.
    pub multipliers_busy: Signal<Out, Bit>,
    pub spare_high_product: Signal<Out, Signed<32>>,
    pub spare_low_product: Signal<Out, Signed<32>>,
    pub out_valid: Signal<Out, Bit>,
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
    // Stage 1: input registers.
    s1_valid: ResetRegister<Bit>,
    s1_sum: Register<Signed<48>>,
    s1_u: Register<Signed<32>>,
    s1_e: Register<Signed<32>>,
    s1_kr_mant: Register<Signed<16>>,
    s1_kr_shift: Register<Bits<6>>,
    s1_kdt_mant: Register<Signed<16>>,
    s1_kdt_shift: Register<Bits<6>>,
    s1_act: Register<Bits<2>>,
    // Stage 2: basal current I.
    to_current: Requantize<48, 32>,
    s2_valid: ResetRegister<Bit>,
    s2_current: Register<Signed<32>>,
    s2_current_sat: Register<Bit>,
    s2_u: Register<Signed<32>>,
    s2_e: Register<Signed<32>>,
    s2_kr_mant: Register<Signed<16>>,
    s2_kr_shift: Register<Bits<6>>,
    s2_kdt_mant: Register<Signed<16>>,
    s2_kdt_shift: Register<Bits<6>>,
    s2_act: Register<Bits<2>>,
    // Stage 3: v = I - u + e.
    difference: PotentialSum,
    s3_valid: ResetRegister<Bit>,
    s3_v: Register<Signed<32>>,
    s3_v_sat: Register<Bit>,
    s3_current: Register<Signed<32>>,
    s3_current_sat: Register<Bit>,
    s3_u: Register<Signed<32>>,
    s3_kr_mant: Register<Signed<16>>,
    s3_kr_shift: Register<Bits<6>>,
    s3_kdt_mant: Register<Signed<16>>,
    s3_kdt_shift: Register<Bits<6>>,
    s3_act: Register<Bits<2>>,
    // Stages 4 and 5: two signed 16 x 16 multipliers, one per coefficient. Stage 4 takes the
    // products of the high half of v, stage 5 those of the low half, which stage 4 keeps.
    split: PotentialSplit,
    v_operand: Signal<Local, Signed<16>>,
    /// The second multiplier's copy of `v_operand`, which differs only for the spare products.
    v_spare_operand: Signal<Local, Signed<16>>,
    kr_operand: Signal<Local, Signed<16>>,
    kdt_operand: Signal<Local, Signed<16>>,
    kr_product: Signal<Local, Signed<32>>,
    kdt_product: Signal<Local, Signed<32>>,
    s4_valid: ResetRegister<Bit>,
    s4_kr_high: Register<Signed<32>>,
    s4_kdt_high: Register<Signed<32>>,
    s4_v_low: Register<Signed<16>>,
    s4_kr_mant: Register<Signed<16>>,
    s4_kdt_mant: Register<Signed<16>>,
    s4_kr_shift: Register<Bits<6>>,
    s4_kdt_shift: Register<Bits<6>>,
    s4_v_sat: Register<Bit>,
    s4_current: Register<Signed<32>>,
    s4_current_sat: Register<Bit>,
    s4_u: Register<Signed<32>>,
    s4_act: Register<Bits<2>>,
    s5_valid: ResetRegister<Bit>,
    s5_kr_high: Register<Signed<32>>,
    s5_kr_low: Register<Signed<32>>,
    s5_kdt_high: Register<Signed<32>>,
    s5_kdt_low: Register<Signed<32>>,
    s5_kr_shift: Register<Bits<6>>,
    s5_kdt_shift: Register<Bits<6>>,
    s5_v_sat: Register<Bit>,
    s5_current: Register<Signed<32>>,
    s5_current_sat: Register<Bit>,
    s5_u: Register<Signed<32>>,
    s5_act: Register<Bits<2>>,
    // Stage 6: ŭ. Stage 7 forms the next u with the same coefficient step, from the K_dt
    // products that stage 6 keeps. That works because a neuron in stage 6 leaves stage 5 empty.
    coefficient_step: CoefficientStep,
    s6_valid: ResetRegister<Bit>,
    s6_ub: Register<Signed<32>>,
    s6_ub_sat: Register<Bit>,
    s6_u: Register<Signed<32>>,
    s6_kdt_high: Register<Signed<32>>,
    s6_kdt_low: Register<Signed<32>>,
    s6_kdt_shift: Register<Bits<6>>,
    s6_v_sat: Register<Bit>,
    s6_current: Register<Signed<32>>,
    s6_current_sat: Register<Bit>,
    s6_act: Register<Bits<2>>,
    // Stage 7: activation, the next u and output registers.
    phi: ActivationUnit,
    s7_valid: ResetRegister<Bit>,
    s7_rate: Register<Signed<16>>,
    s7_slope: Register<Signed<16>>,
    s7_rate_sat: Register<Bit>,
    s7_ub: Register<Signed<32>>,
    s7_ub_sat: Register<Bit>,
    s7_u_next: Register<Signed<32>>,
    s7_u_sat: Register<Bit>,
    s7_v_sat: Register<Bit>,
    s7_current: Register<Signed<32>>,
    s7_current_sat: Register<Bit>,
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
            k_r_mant: Default::default(),
            k_r_shift: Default::default(),
            k_dt_mant: Default::default(),
            k_dt_shift: Default::default(),
            activation: Default::default(),
            spare_high: Default::default(),
            spare_low: Default::default(),
            spare_mant: Default::default(),
            multipliers_busy: Default::default(),
            spare_high_product: Default::default(),
            spare_low_product: Default::default(),
            out_valid: Default::default(),
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
            s1_valid: Default::default(),
            s1_sum: Default::default(),
            s1_u: Default::default(),
            s1_e: Default::default(),
            s1_kr_mant: Default::default(),
            s1_kr_shift: Default::default(),
            s1_kdt_mant: Default::default(),
            s1_kdt_shift: Default::default(),
            s1_act: Default::default(),
            to_current: Requantize::new(forward_frac, formats.pot_frac, formats.pot_bits),
            s2_valid: Default::default(),
            s2_current: Default::default(),
            s2_current_sat: Default::default(),
            s2_u: Default::default(),
            s2_e: Default::default(),
            s2_kr_mant: Default::default(),
            s2_kr_shift: Default::default(),
            s2_kdt_mant: Default::default(),
            s2_kdt_shift: Default::default(),
            s2_act: Default::default(),
            difference: PotentialSum::new(formats.pot_bits),
            s3_valid: Default::default(),
            s3_v: Default::default(),
            s3_v_sat: Default::default(),
            s3_current: Default::default(),
            s3_current_sat: Default::default(),
            s3_u: Default::default(),
            s3_kr_mant: Default::default(),
            s3_kr_shift: Default::default(),
            s3_kdt_mant: Default::default(),
            s3_kdt_shift: Default::default(),
            s3_act: Default::default(),
            split: Default::default(),
            v_operand: Default::default(),
            v_spare_operand: Default::default(),
            kr_operand: Default::default(),
            kdt_operand: Default::default(),
            kr_product: Default::default(),
            kdt_product: Default::default(),
            s4_valid: Default::default(),
            s4_kr_high: Default::default(),
            s4_kdt_high: Default::default(),
            s4_v_low: Default::default(),
            s4_kr_mant: Default::default(),
            s4_kdt_mant: Default::default(),
            s4_kr_shift: Default::default(),
            s4_kdt_shift: Default::default(),
            s4_v_sat: Default::default(),
            s4_current: Default::default(),
            s4_current_sat: Default::default(),
            s4_u: Default::default(),
            s4_act: Default::default(),
            s5_valid: Default::default(),
            s5_kr_high: Default::default(),
            s5_kr_low: Default::default(),
            s5_kdt_high: Default::default(),
            s5_kdt_low: Default::default(),
            s5_kr_shift: Default::default(),
            s5_kdt_shift: Default::default(),
            s5_v_sat: Default::default(),
            s5_current: Default::default(),
            s5_current_sat: Default::default(),
            s5_u: Default::default(),
            s5_act: Default::default(),
            coefficient_step: CoefficientStep::new(formats.pot_bits),
            s6_valid: Default::default(),
            s6_ub: Default::default(),
            s6_ub_sat: Default::default(),
            s6_u: Default::default(),
            s6_kdt_high: Default::default(),
            s6_kdt_low: Default::default(),
            s6_kdt_shift: Default::default(),
            s6_v_sat: Default::default(),
            s6_current: Default::default(),
            s6_current_sat: Default::default(),
            s6_act: Default::default(),
            phi: ActivationUnit::new(formats.pot_frac, formats.act_frac),
            s7_valid: Default::default(),
            s7_rate: Default::default(),
            s7_slope: Default::default(),
            s7_rate_sat: Default::default(),
            s7_ub: Default::default(),
            s7_ub_sat: Default::default(),
            s7_u_next: Default::default(),
            s7_u_sat: Default::default(),
            s7_v_sat: Default::default(),
            s7_current: Default::default(),
            s7_current_sat: Default::default(),
        }
    }
}

impl Logic for NeuronUnit {
    #[hdl_gen]
    fn update(&mut self) {
        self.s1_valid.clock.next = self.clock.val();
        self.s1_sum.clock.next = self.clock.val();
        self.s1_u.clock.next = self.clock.val();
        self.s1_e.clock.next = self.clock.val();
        self.s1_kr_mant.clock.next = self.clock.val();
        self.s1_kr_shift.clock.next = self.clock.val();
        self.s1_kdt_mant.clock.next = self.clock.val();
        self.s1_kdt_shift.clock.next = self.clock.val();
        self.s1_act.clock.next = self.clock.val();
        self.s2_valid.clock.next = self.clock.val();
        self.s2_current.clock.next = self.clock.val();
        self.s2_current_sat.clock.next = self.clock.val();
        self.s2_u.clock.next = self.clock.val();
        self.s2_e.clock.next = self.clock.val();
        self.s2_kr_mant.clock.next = self.clock.val();
        self.s2_kr_shift.clock.next = self.clock.val();
        self.s2_kdt_mant.clock.next = self.clock.val();
        self.s2_kdt_shift.clock.next = self.clock.val();
        self.s2_act.clock.next = self.clock.val();
        self.s3_valid.clock.next = self.clock.val();
        self.s3_v.clock.next = self.clock.val();
        self.s3_v_sat.clock.next = self.clock.val();
        self.s3_current.clock.next = self.clock.val();
        self.s3_current_sat.clock.next = self.clock.val();
        self.s3_u.clock.next = self.clock.val();
        self.s3_kr_mant.clock.next = self.clock.val();
        self.s3_kr_shift.clock.next = self.clock.val();
        self.s3_kdt_mant.clock.next = self.clock.val();
        self.s3_kdt_shift.clock.next = self.clock.val();
        self.s3_act.clock.next = self.clock.val();
        self.s4_valid.clock.next = self.clock.val();
        self.s4_kr_high.clock.next = self.clock.val();
        self.s4_kdt_high.clock.next = self.clock.val();
        self.s4_v_low.clock.next = self.clock.val();
        self.s4_kr_mant.clock.next = self.clock.val();
        self.s4_kdt_mant.clock.next = self.clock.val();
        self.s4_kr_shift.clock.next = self.clock.val();
        self.s4_kdt_shift.clock.next = self.clock.val();
        self.s4_v_sat.clock.next = self.clock.val();
        self.s4_current.clock.next = self.clock.val();
        self.s4_current_sat.clock.next = self.clock.val();
        self.s4_u.clock.next = self.clock.val();
        self.s4_act.clock.next = self.clock.val();
        self.s5_valid.clock.next = self.clock.val();
        self.s5_kr_high.clock.next = self.clock.val();
        self.s5_kr_low.clock.next = self.clock.val();
        self.s5_kdt_high.clock.next = self.clock.val();
        self.s5_kdt_low.clock.next = self.clock.val();
        self.s5_kr_shift.clock.next = self.clock.val();
        self.s5_kdt_shift.clock.next = self.clock.val();
        self.s5_v_sat.clock.next = self.clock.val();
        self.s5_current.clock.next = self.clock.val();
        self.s5_current_sat.clock.next = self.clock.val();
        self.s5_u.clock.next = self.clock.val();
        self.s5_act.clock.next = self.clock.val();
        self.s6_valid.clock.next = self.clock.val();
        self.s6_ub.clock.next = self.clock.val();
        self.s6_ub_sat.clock.next = self.clock.val();
        self.s6_u.clock.next = self.clock.val();
        self.s6_kdt_high.clock.next = self.clock.val();
        self.s6_kdt_low.clock.next = self.clock.val();
        self.s6_kdt_shift.clock.next = self.clock.val();
        self.s6_v_sat.clock.next = self.clock.val();
        self.s6_current.clock.next = self.clock.val();
        self.s6_current_sat.clock.next = self.clock.val();
        self.s6_act.clock.next = self.clock.val();
        self.s7_valid.clock.next = self.clock.val();
        self.s7_rate.clock.next = self.clock.val();
        self.s7_slope.clock.next = self.clock.val();
        self.s7_rate_sat.clock.next = self.clock.val();
        self.s7_ub.clock.next = self.clock.val();
        self.s7_ub_sat.clock.next = self.clock.val();
        self.s7_u_next.clock.next = self.clock.val();
        self.s7_u_sat.clock.next = self.clock.val();
        self.s7_v_sat.clock.next = self.clock.val();
        self.s7_current.clock.next = self.clock.val();
        self.s7_current_sat.clock.next = self.clock.val();
        self.s1_valid.reset.next = self.reset.val();
        self.s2_valid.reset.next = self.reset.val();
        self.s3_valid.reset.next = self.reset.val();
        self.s4_valid.reset.next = self.reset.val();
        self.s5_valid.reset.next = self.reset.val();
        self.s6_valid.reset.next = self.reset.val();
        self.s7_valid.reset.next = self.reset.val();

        // Stage 1.
        self.s1_valid.d.next = self.valid.val();
        self.s1_sum.d.next = self.sum.val();
        self.s1_u.d.next = self.potential.val();
        self.s1_e.d.next = self.error.val();
        self.s1_kr_mant.d.next = self.k_r_mant.val();
        self.s1_kr_shift.d.next = self.k_r_shift.val();
        self.s1_kdt_mant.d.next = self.k_dt_mant.val();
        self.s1_kdt_shift.d.next = self.k_dt_shift.val();
        self.s1_act.d.next = self.activation.val();

        // Stage 2.
        self.to_current.value.next = self.s1_sum.q.val();
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_current.d.next = self.to_current.result.val();
        self.s2_current_sat.d.next = self.to_current.saturated.val();
        self.s2_u.d.next = self.s1_u.q.val();
        self.s2_e.d.next = self.s1_e.q.val();
        self.s2_kr_mant.d.next = self.s1_kr_mant.q.val();
        self.s2_kr_shift.d.next = self.s1_kr_shift.q.val();
        self.s2_kdt_mant.d.next = self.s1_kdt_mant.q.val();
        self.s2_kdt_shift.d.next = self.s1_kdt_shift.q.val();
        self.s2_act.d.next = self.s1_act.q.val();

        // Stage 3.
        self.difference.current.next = self.s2_current.q.val();
        self.difference.potential.next = self.s2_u.q.val();
        self.difference.error.next = self.s2_e.q.val();
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s3_v.d.next = self.difference.result.val();
        self.s3_v_sat.d.next = self.difference.saturated.val();
        self.s3_current.d.next = self.s2_current.q.val();
        self.s3_current_sat.d.next = self.s2_current_sat.q.val();
        self.s3_u.d.next = self.s2_u.q.val();
        self.s3_kr_mant.d.next = self.s2_kr_mant.q.val();
        self.s3_kr_shift.d.next = self.s2_kr_shift.q.val();
        self.s3_kdt_mant.d.next = self.s2_kdt_mant.q.val();
        self.s3_kdt_shift.d.next = self.s2_kdt_shift.q.val();
        self.s3_act.d.next = self.s2_act.q.val();

        // Stages 4 and 5 share the multipliers. While stage 4 carries a neuron, stage 3 carries a
        // bubble, so the multipliers take the low half of the neuron in stage 4, the high half
        // of the neuron in stage 3, and the spare operands when neither stage has a neuron.
        self.split.value.next = self.s3_v.q.val();
        self.v_operand.next = self.spare_high.val();
        self.v_spare_operand.next = self.spare_low.val();
        self.kr_operand.next = self.spare_mant.val();
        self.kdt_operand.next = self.spare_mant.val();
        if self.s3_valid.q.val() {
            self.v_operand.next = self.split.high.val();
            self.v_spare_operand.next = self.split.high.val();
            self.kr_operand.next = self.s3_kr_mant.q.val();
            self.kdt_operand.next = self.s3_kdt_mant.q.val();
        }
        if self.s4_valid.q.val() {
            self.v_operand.next = self.s4_v_low.q.val();
            self.v_spare_operand.next = self.s4_v_low.q.val();
            self.kr_operand.next = self.s4_kr_mant.q.val();
            self.kdt_operand.next = self.s4_kdt_mant.q.val();
        }
        self.kr_product.next = self.v_operand.val() * self.kr_operand.val();
        self.kdt_product.next = self.v_spare_operand.val() * self.kdt_operand.val();
        self.multipliers_busy.next = self.s3_valid.q.val() | self.s4_valid.q.val();
        self.spare_high_product.next = self.kr_product.val();
        self.spare_low_product.next = self.kdt_product.val();

        // Stage 4: the products of the high half of v.
        self.s4_valid.d.next = self.s3_valid.q.val();
        self.s4_kr_high.d.next = self.kr_product.val();
        self.s4_kdt_high.d.next = self.kdt_product.val();
        self.s4_v_low.d.next = self.split.low.val();
        self.s4_kr_mant.d.next = self.s3_kr_mant.q.val();
        self.s4_kdt_mant.d.next = self.s3_kdt_mant.q.val();
        self.s4_kr_shift.d.next = self.s3_kr_shift.q.val();
        self.s4_kdt_shift.d.next = self.s3_kdt_shift.q.val();
        self.s4_v_sat.d.next = self.s3_v_sat.q.val();
        self.s4_current.d.next = self.s3_current.q.val();
        self.s4_current_sat.d.next = self.s3_current_sat.q.val();
        self.s4_u.d.next = self.s3_u.q.val();
        self.s4_act.d.next = self.s3_act.q.val();

        // Stage 5: the products of the low half of v.
        self.s5_valid.d.next = self.s4_valid.q.val();
        self.s5_kr_high.d.next = self.s4_kr_high.q.val();
        self.s5_kr_low.d.next = self.kr_product.val();
        self.s5_kdt_high.d.next = self.s4_kdt_high.q.val();
        self.s5_kdt_low.d.next = self.kdt_product.val();
        self.s5_kr_shift.d.next = self.s4_kr_shift.q.val();
        self.s5_kdt_shift.d.next = self.s4_kdt_shift.q.val();
        self.s5_v_sat.d.next = self.s4_v_sat.q.val();
        self.s5_current.d.next = self.s4_current.q.val();
        self.s5_current_sat.d.next = self.s4_current_sat.q.val();
        self.s5_u.d.next = self.s4_u.q.val();
        self.s5_act.d.next = self.s4_act.q.val();

        // Stages 6 and 7 share the coefficient step: it takes the K_dt products of the neuron
        // in stage 6 and otherwise the K_r products of the neuron in stage 5.
        self.coefficient_step.base.next = self.s5_u.q.val();
        self.coefficient_step.high.next = self.s5_kr_high.q.val();
        self.coefficient_step.low.next = self.s5_kr_low.q.val();
        self.coefficient_step.shift.next = self.s5_kr_shift.q.val();
        if self.s6_valid.q.val() {
            self.coefficient_step.base.next = self.s6_u.q.val();
            self.coefficient_step.high.next = self.s6_kdt_high.q.val();
            self.coefficient_step.low.next = self.s6_kdt_low.q.val();
            self.coefficient_step.shift.next = self.s6_kdt_shift.q.val();
        }

        // Stage 6.
        self.s6_valid.d.next = self.s5_valid.q.val();
        self.s6_ub.d.next = self.coefficient_step.result.val();
        self.s6_ub_sat.d.next = self.coefficient_step.saturated.val();
        self.s6_u.d.next = self.s5_u.q.val();
        self.s6_kdt_high.d.next = self.s5_kdt_high.q.val();
        self.s6_kdt_low.d.next = self.s5_kdt_low.q.val();
        self.s6_kdt_shift.d.next = self.s5_kdt_shift.q.val();
        self.s6_v_sat.d.next = self.s5_v_sat.q.val();
        self.s6_current.d.next = self.s5_current.q.val();
        self.s6_current_sat.d.next = self.s5_current_sat.q.val();
        self.s6_act.d.next = self.s5_act.q.val();

        // Stage 7.
        self.phi.prospective.next = self.s6_ub.q.val();
        self.phi.select.next = self.s6_act.q.val();
        self.s7_valid.d.next = self.s6_valid.q.val();
        self.s7_rate.d.next = self.phi.rate.val();
        self.s7_slope.d.next = self.phi.slope.val();
        self.s7_rate_sat.d.next = self.phi.saturated.val();
        self.s7_ub.d.next = self.s6_ub.q.val();
        self.s7_ub_sat.d.next = self.s6_ub_sat.q.val();
        self.s7_u_next.d.next = self.coefficient_step.result.val();
        self.s7_u_sat.d.next = self.coefficient_step.saturated.val();
        self.s7_v_sat.d.next = self.s6_v_sat.q.val();
        self.s7_current.d.next = self.s6_current.q.val();
        self.s7_current_sat.d.next = self.s6_current_sat.q.val();

        self.out_valid.next = self.s7_valid.q.val();
        self.current.next = self.s7_current.q.val();
        self.prospective.next = self.s7_ub.q.val();
        self.potential_next.next = self.s7_u_next.q.val();
        self.rate.next = self.s7_rate.q.val();
        self.slope.next = self.s7_slope.q.val();
        self.current_saturated.next = self.s7_current_sat.q.val();
        self.difference_saturated.next = self.s7_v_sat.q.val();
        self.prospective_saturated.next = self.s7_ub_sat.q.val();
        self.potential_saturated.next = self.s7_u_sat.q.val();
        self.rate_saturated.next = self.s7_rate_sat.q.val();
    }
}

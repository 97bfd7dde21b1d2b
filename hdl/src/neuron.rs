//! The neuron unit: membrane update, prospective potential, rate and slope, one neuron every
//! other clock.

use leap_model::format::Formats;
use rust_hdl::prelude::*;

use crate::leaf::{
    ActivationSelect, Clamp, PotentialSplit, PotentialSum, ProductCombine, Register, Requantize,
    ResetRegister, RoundedSum, ShiftStage,
};

/// Clocks from the neuron unit's inputs to its outputs.
pub const NEURON_LATENCY: usize = 7 + COEFFICIENT_LATENCY;

/// Clocks from a [`CoefficientPipeline`]'s inputs to its outputs.
pub const COEFFICIENT_LATENCY: usize = 5;

/// `sat(base + shift_round(x · mant, shift))` for a coefficient `mant · 2^-shift` and a potential
/// `x` of at most 31 bits, one operation per clock with a latency of [`COEFFICIENT_LATENCY`]
/// clocks. The product arrives as two signed 16 × 16 partial products,
/// `high = (x >>> 15) · mant` and `low = (x & 0x7fff) · mant`, so `x · mant = high · 2^15 + low`.
/// The product is rounded half up. Shifts above 46 are outside the coefficient format; the
/// pipeline then returns `base` plus the rounded product's sign (0 or -1).
///
/// Stage 1 combines the partial products into the doubled product with a 33-bit adder. Stage 2
/// shifts it right by `shift[5:3] · 8` bits, and stage 3 by `shift[2:0]` more bits and clamps
/// it to 35 bits. Stage 4 adds `base` with the rounding carry in a 36-bit adder, and stage 5
/// saturates. The clamp changes no result, because a product beyond 35 bits saturates the sum
/// either way.
/// No register is reset, so the outputs are undefined until an operation has passed through.
#[derive(LogicBlock)]
pub struct CoefficientPipeline {
    pub clock: Signal<In, Clock>,
    pub base: Signal<In, Signed<32>>,
    pub high: Signal<In, Signed<32>>,
    pub low: Signal<In, Signed<32>>,
    pub shift: Signal<In, Bits<6>>,
    pub result: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    combine: ProductCombine,
    s1_doubled: Register<Signed<49>>,
    s1_shift: Register<Bits<6>>,
    s1_base: Register<Signed<32>>,
    coarse: ShiftStage<49>,
    s2_halves: Register<Signed<49>>,
    s2_fine_shift: Register<Bits<3>>,
    s2_base: Register<Signed<32>>,
    fine: ShiftStage<49>,
    clamp: Clamp<49, 35>,
    s3_halves: Register<Signed<35>>,
    s3_base: Register<Signed<32>>,
    sum: RoundedSum,
    s4_total: Register<Signed<36>>,
    saturate: Requantize<36, 32>,
    s5_result: Register<Signed<32>>,
    s5_saturated: Register<Bit>,
}

impl CoefficientPipeline {
    /// Saturates the results to `bits` bits.
    pub fn new(bits: u32) -> Self {
        CoefficientPipeline {
            clock: Default::default(),
            base: Default::default(),
            high: Default::default(),
            low: Default::default(),
            shift: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            combine: Default::default(),
            s1_doubled: Default::default(),
            s1_shift: Default::default(),
            s1_base: Default::default(),
            coarse: ShiftStage::coarse(),
            s2_halves: Default::default(),
            s2_fine_shift: Default::default(),
            s2_base: Default::default(),
            fine: ShiftStage::fine(),
            clamp: Default::default(),
            s3_halves: Default::default(),
            s3_base: Default::default(),
            sum: Default::default(),
            s4_total: Default::default(),
            saturate: Requantize::new(0, 0, bits),
            s5_result: Default::default(),
            s5_saturated: Default::default(),
        }
    }
}

impl Logic for CoefficientPipeline {
    #[hdl_gen]
    fn update(&mut self) {
        self.s1_doubled.clock.next = self.clock.val();
        self.s1_shift.clock.next = self.clock.val();
        self.s1_base.clock.next = self.clock.val();
        self.s2_halves.clock.next = self.clock.val();
        self.s2_fine_shift.clock.next = self.clock.val();
        self.s2_base.clock.next = self.clock.val();
        self.s3_halves.clock.next = self.clock.val();
        self.s3_base.clock.next = self.clock.val();
        self.s4_total.clock.next = self.clock.val();
        self.s5_result.clock.next = self.clock.val();
        self.s5_saturated.clock.next = self.clock.val();

        // Stage 1.
        self.combine.high.next = self.high.val();
        self.combine.low.next = self.low.val();
        self.s1_doubled.d.next = self.combine.doubled.val();
        self.s1_shift.d.next = self.shift.val();
        self.s1_base.d.next = self.base.val();

        // Stage 2.
        self.coarse.value.next = self.s1_doubled.q.val();
        self.coarse.amount.next = self.s1_shift.q.val().get_bits::<3>(3);
        self.s2_halves.d.next = self.coarse.result.val();
        self.s2_fine_shift.d.next = self.s1_shift.q.val().get_bits::<3>(0);
        self.s2_base.d.next = self.s1_base.q.val();

        // Stage 3.
        self.fine.value.next = self.s2_halves.q.val();
        self.fine.amount.next = self.s2_fine_shift.q.val();
        self.clamp.value.next = self.fine.result.val();
        self.s3_halves.d.next = self.clamp.result.val();
        self.s3_base.d.next = self.s2_base.q.val();

        // Stage 4.
        self.sum.base.next = self.s3_base.q.val();
        self.sum.halves.next = self.s3_halves.q.val();
        self.s4_total.d.next = self.sum.total.val();

        // Stage 5.
        self.saturate.value.next = self.s4_total.q.val();
        self.s5_result.d.next = self.saturate.result.val();
        self.s5_saturated.d.next = self.saturate.saturated.val();

        self.result.next = self.s5_result.q.val();
        self.saturated.next = self.s5_saturated.q.val();
    }
}

/// Stages between the neuron unit's stage 6 and its output stage.
const CARRY_STAGES: usize = COEFFICIENT_LATENCY - 1;

/// Registers the words of a neuron that pass by the coefficient pipeline. Only `valid` is
/// reset.
#[derive(LogicBlock, Default)]
pub struct NeuronTags {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub v_sat: Signal<In, Bit>,
    pub current: Signal<In, Signed<32>>,
    pub current_sat: Signal<In, Bit>,
    pub act: Signal<In, Bits<2>>,
    pub valid_q: Signal<Out, Bit>,
    pub v_sat_q: Signal<Out, Bit>,
    pub current_q: Signal<Out, Signed<32>>,
    pub current_sat_q: Signal<Out, Bit>,
    pub act_q: Signal<Out, Bits<2>>,
    valid_register: ResetRegister<Bit>,
    v_sat_register: Register<Bit>,
    current_register: Register<Signed<32>>,
    current_sat_register: Register<Bit>,
    act_register: Register<Bits<2>>,
}

impl Logic for NeuronTags {
    #[hdl_gen]
    fn update(&mut self) {
        self.valid_register.clock.next = self.clock.val();
        self.valid_register.reset.next = self.reset.val();
        self.v_sat_register.clock.next = self.clock.val();
        self.current_register.clock.next = self.clock.val();
        self.current_sat_register.clock.next = self.clock.val();
        self.act_register.clock.next = self.clock.val();

        self.valid_register.d.next = self.valid.val();
        self.v_sat_register.d.next = self.v_sat.val();
        self.current_register.d.next = self.current.val();
        self.current_sat_register.d.next = self.current_sat.val();
        self.act_register.d.next = self.act.val();

        self.valid_q.next = self.valid_register.q.val();
        self.v_sat_q.next = self.v_sat_register.q.val();
        self.current_q.next = self.current_register.q.val();
        self.current_sat_q.next = self.current_sat_register.q.val();
        self.act_q.next = self.act_register.q.val();
    }
}

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
    // Stages 6 to 6 + COEFFICIENT_LATENCY share the coefficient pipeline: the K_r products of
    // the neuron in stage 5 enter it, and the K_dt products one clock later from stage 6. That
    // works because a neuron in stage 6 leaves stage 5 empty. ŭ leaves the pipeline in stage
    // 5 + COEFFICIENT_LATENCY, the next u one clock later.
    coefficient: CoefficientPipeline,
    s6_valid: ResetRegister<Bit>,
    s6_u: Register<Signed<32>>,
    s6_kdt_high: Register<Signed<32>>,
    s6_kdt_low: Register<Signed<32>>,
    s6_kdt_shift: Register<Bits<6>>,
    s6_v_sat: Register<Bit>,
    s6_current: Register<Signed<32>>,
    s6_current_sat: Register<Bit>,
    s6_act: Register<Bits<2>>,
    /// Stages 7 to 5 + COEFFICIENT_LATENCY: the neuron's words while the pipeline forms ŭ.
    carry: Vec<NeuronTags>,
    // Stage 6 + COEFFICIENT_LATENCY: the activation of ŭ and its slope.
    phi: ActivationSelect,
    phi_valid: ResetRegister<Bit>,
    phi_value: Register<Signed<32>>,
    phi_slope: Register<Signed<16>>,
    phi_ub: Register<Signed<32>>,
    phi_ub_sat: Register<Bit>,
    phi_v_sat: Register<Bit>,
    phi_current: Register<Signed<32>>,
    phi_current_sat: Register<Bit>,
    // Stage 7 + COEFFICIENT_LATENCY: the rate in the activity format and the output registers.
    to_rate: Requantize<32, 16>,
    out_valid_register: ResetRegister<Bit>,
    out_rate: Register<Signed<16>>,
    out_slope: Register<Signed<16>>,
    out_rate_sat: Register<Bit>,
    out_ub: Register<Signed<32>>,
    out_ub_sat: Register<Bit>,
    out_v_sat: Register<Bit>,
    out_current: Register<Signed<32>>,
    out_current_sat: Register<Bit>,
    out_u_next: Register<Signed<32>>,
    out_u_sat: Register<Bit>,
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
            coefficient: CoefficientPipeline::new(formats.pot_bits),
            s6_valid: Default::default(),
            s6_u: Default::default(),
            s6_kdt_high: Default::default(),
            s6_kdt_low: Default::default(),
            s6_kdt_shift: Default::default(),
            s6_v_sat: Default::default(),
            s6_current: Default::default(),
            s6_current_sat: Default::default(),
            s6_act: Default::default(),
            carry: (0..CARRY_STAGES).map(|_| NeuronTags::default()).collect(),
            phi: ActivationSelect::new(formats.pot_frac, formats.act_frac),
            phi_valid: Default::default(),
            phi_value: Default::default(),
            phi_slope: Default::default(),
            phi_ub: Default::default(),
            phi_ub_sat: Default::default(),
            phi_v_sat: Default::default(),
            phi_current: Default::default(),
            phi_current_sat: Default::default(),
            to_rate: Requantize::new(formats.pot_frac, formats.act_frac, 16),
            out_valid_register: Default::default(),
            out_rate: Default::default(),
            out_slope: Default::default(),
            out_rate_sat: Default::default(),
            out_ub: Default::default(),
            out_ub_sat: Default::default(),
            out_v_sat: Default::default(),
            out_current: Default::default(),
            out_current_sat: Default::default(),
            out_u_next: Default::default(),
            out_u_sat: Default::default(),
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
        self.s6_u.clock.next = self.clock.val();
        self.s6_kdt_high.clock.next = self.clock.val();
        self.s6_kdt_low.clock.next = self.clock.val();
        self.s6_kdt_shift.clock.next = self.clock.val();
        self.s6_v_sat.clock.next = self.clock.val();
        self.s6_current.clock.next = self.clock.val();
        self.s6_current_sat.clock.next = self.clock.val();
        self.s6_act.clock.next = self.clock.val();
        self.coefficient.clock.next = self.clock.val();
        self.phi_valid.clock.next = self.clock.val();
        self.phi_value.clock.next = self.clock.val();
        self.phi_slope.clock.next = self.clock.val();
        self.phi_ub.clock.next = self.clock.val();
        self.phi_ub_sat.clock.next = self.clock.val();
        self.phi_v_sat.clock.next = self.clock.val();
        self.phi_current.clock.next = self.clock.val();
        self.phi_current_sat.clock.next = self.clock.val();
        self.out_valid_register.clock.next = self.clock.val();
        self.out_u_next.clock.next = self.clock.val();
        self.out_u_sat.clock.next = self.clock.val();
        self.out_rate.clock.next = self.clock.val();
        self.out_slope.clock.next = self.clock.val();
        self.out_rate_sat.clock.next = self.clock.val();
        self.out_ub.clock.next = self.clock.val();
        self.out_ub_sat.clock.next = self.clock.val();
        self.out_v_sat.clock.next = self.clock.val();
        self.out_current.clock.next = self.clock.val();
        self.out_current_sat.clock.next = self.clock.val();
        for k in 0..CARRY_STAGES {
            self.carry[k].clock.next = self.clock.val();
            self.carry[k].reset.next = self.reset.val();
        }
        self.s1_valid.reset.next = self.reset.val();
        self.s2_valid.reset.next = self.reset.val();
        self.s3_valid.reset.next = self.reset.val();
        self.s4_valid.reset.next = self.reset.val();
        self.s5_valid.reset.next = self.reset.val();
        self.s6_valid.reset.next = self.reset.val();
        self.phi_valid.reset.next = self.reset.val();
        self.out_valid_register.reset.next = self.reset.val();

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

        // The coefficient pipeline takes the K_dt products of the neuron in stage 6 and
        // otherwise the K_r products of the neuron in stage 5.
        self.coefficient.base.next = self.s5_u.q.val();
        self.coefficient.high.next = self.s5_kr_high.q.val();
        self.coefficient.low.next = self.s5_kr_low.q.val();
        self.coefficient.shift.next = self.s5_kr_shift.q.val();
        if self.s6_valid.q.val() {
            self.coefficient.base.next = self.s6_u.q.val();
            self.coefficient.high.next = self.s6_kdt_high.q.val();
            self.coefficient.low.next = self.s6_kdt_low.q.val();
            self.coefficient.shift.next = self.s6_kdt_shift.q.val();
        }

        // Stage 6.
        self.s6_valid.d.next = self.s5_valid.q.val();
        self.s6_u.d.next = self.s5_u.q.val();
        self.s6_kdt_high.d.next = self.s5_kdt_high.q.val();
        self.s6_kdt_low.d.next = self.s5_kdt_low.q.val();
        self.s6_kdt_shift.d.next = self.s5_kdt_shift.q.val();
        self.s6_v_sat.d.next = self.s5_v_sat.q.val();
        self.s6_current.d.next = self.s5_current.q.val();
        self.s6_current_sat.d.next = self.s5_current_sat.q.val();
        self.s6_act.d.next = self.s5_act.q.val();

        // Stages 7 to 5 + COEFFICIENT_LATENCY carry the neuron while the pipeline forms ŭ.
        self.carry[0].valid.next = self.s6_valid.q.val();
        self.carry[0].v_sat.next = self.s6_v_sat.q.val();
        self.carry[0].current.next = self.s6_current.q.val();
        self.carry[0].current_sat.next = self.s6_current_sat.q.val();
        self.carry[0].act.next = self.s6_act.q.val();
        for k in 1..CARRY_STAGES {
            self.carry[k].valid.next = self.carry[k - 1].valid_q.val();
            self.carry[k].v_sat.next = self.carry[k - 1].v_sat_q.val();
            self.carry[k].current.next = self.carry[k - 1].current_q.val();
            self.carry[k].current_sat.next = self.carry[k - 1].current_sat_q.val();
            self.carry[k].act.next = self.carry[k - 1].act_q.val();
        }

        // Stage 6 + COEFFICIENT_LATENCY. The last carry stage feeds it: the last assignment in
        // the loop wins.
        self.phi.prospective.next = self.coefficient.result.val();
        for k in 0..CARRY_STAGES {
            self.phi.select.next = self.carry[k].act_q.val();
            self.phi_valid.d.next = self.carry[k].valid_q.val();
            self.phi_v_sat.d.next = self.carry[k].v_sat_q.val();
            self.phi_current.d.next = self.carry[k].current_q.val();
            self.phi_current_sat.d.next = self.carry[k].current_sat_q.val();
        }
        self.phi_value.d.next = self.phi.value.val();
        self.phi_slope.d.next = self.phi.slope.val();
        self.phi_ub.d.next = self.coefficient.result.val();
        self.phi_ub_sat.d.next = self.coefficient.saturated.val();

        // Stage 7 + COEFFICIENT_LATENCY. The next u left the pipeline one clock after ŭ.
        self.to_rate.value.next = self.phi_value.q.val();
        self.out_valid_register.d.next = self.phi_valid.q.val();
        self.out_rate.d.next = self.to_rate.result.val();
        self.out_rate_sat.d.next = self.to_rate.saturated.val();
        self.out_slope.d.next = self.phi_slope.q.val();
        self.out_ub.d.next = self.phi_ub.q.val();
        self.out_ub_sat.d.next = self.phi_ub_sat.q.val();
        self.out_v_sat.d.next = self.phi_v_sat.q.val();
        self.out_current.d.next = self.phi_current.q.val();
        self.out_current_sat.d.next = self.phi_current_sat.q.val();
        self.out_u_next.d.next = self.coefficient.result.val();
        self.out_u_sat.d.next = self.coefficient.saturated.val();

        self.out_valid.next = self.out_valid_register.q.val();
        self.current.next = self.out_current.q.val();
        self.prospective.next = self.out_ub.q.val();
        self.potential_next.next = self.out_u_next.q.val();
        self.rate.next = self.out_rate.q.val();
        self.slope.next = self.out_slope.q.val();
        self.current_saturated.next = self.out_current_sat.q.val();
        self.difference_saturated.next = self.out_v_sat.q.val();
        self.prospective_saturated.next = self.out_ub_sat.q.val();
        self.potential_saturated.next = self.out_u_sat.q.val();
        self.rate_saturated.next = self.out_rate_sat.q.val();
    }
}

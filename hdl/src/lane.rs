//! The synapse lane: forward, backward and update products of one weight per clock.

use leap_model::format::Formats;
use rust_hdl::prelude::*;

use crate::leaf::{Register, ResetRegister, WeightStep};

/// Clocks from a lane's inputs to its outputs: input registers, product registers, output
/// registers.
pub const LANE_LATENCY: usize = 3;

/// One synapse per clock, fully pipelined with a latency of [`LANE_LATENCY`] clocks.
///
/// The inputs are a weight word `w` (a value of the weight format in the 32-bit port), the
/// presynaptic rate `r`, the message `m` and update factor `g` of the postsynaptic neuron, and
/// the stochastic rounding bits `R`. With the 16-bit slice `w16 = w >> (weight_bits - 16)`:
/// - `forward = w16 · r` and `backward = w16 · m`, exact 32-bit products;
/// - with `learn`, `weight_next = sat(w + ((g·r + R) >>> k))` with `k = update_round_bits` and
///   `saturated` set when it clamped; without `learn`, `weight_next = w` and `saturated` is 0.
///
/// While `out_valid` is clear, `forward`, `backward` and `saturated` are 0 and `weight_next` is
/// undefined. Only the valid bits are reset; hold `reset` for at least [`LANE_LATENCY`] clocks so
/// that the zeros reach the outputs.
#[derive(LogicBlock)]
pub struct SynapseLane {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub weight: Signal<In, Signed<32>>,
    pub rate: Signal<In, Signed<16>>,
    pub message: Signal<In, Signed<16>>,
    pub update_factor: Signal<In, Signed<16>>,
    /// Stochastic rounding bits in the low `update_round_bits` bits.
    pub rounding: Signal<In, Bits<32>>,
    pub learn: Signal<In, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub forward: Signal<Out, Signed<32>>,
    pub backward: Signal<Out, Signed<32>>,
    pub weight_next: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    /// Position of the 16-bit slice in the weight word.
    slice_shift: Constant<Bits<5>>,
    // Stage 1: input registers.
    s1_valid: ResetRegister<Bit>,
    s1_slice: Register<Signed<16>>,
    s1_rate: Register<Signed<16>>,
    s1_message: Register<Signed<16>>,
    s1_factor: Register<Signed<16>>,
    s1_weight: Register<Signed<32>>,
    s1_rounding: Register<Bits<32>>,
    s1_learn: Register<Bit>,
    // Stage 2: products, each assigned straight into a full-width signal.
    forward_product: Signal<Local, Signed<32>>,
    backward_product: Signal<Local, Signed<32>>,
    update_product: Signal<Local, Signed<32>>,
    s2_valid: ResetRegister<Bit>,
    s2_forward: Register<Signed<32>>,
    s2_backward: Register<Signed<32>>,
    s2_update: Register<Signed<32>>,
    s2_weight: Register<Signed<32>>,
    s2_rounding: Register<Bits<32>>,
    s2_learn: Register<Bit>,
    // Stage 3: weight update and output registers.
    step: WeightStep,
    s3_valid: ResetRegister<Bit>,
    s3_forward: Register<Signed<32>>,
    s3_backward: Register<Signed<32>>,
    s3_weight: Register<Signed<32>>,
    s3_saturated: Register<Bit>,
}

impl SynapseLane {
    pub fn new(formats: &Formats) -> Self {
        SynapseLane {
            clock: Default::default(),
            reset: Default::default(),
            valid: Default::default(),
            weight: Default::default(),
            rate: Default::default(),
            message: Default::default(),
            update_factor: Default::default(),
            rounding: Default::default(),
            learn: Default::default(),
            out_valid: Default::default(),
            forward: Default::default(),
            backward: Default::default(),
            weight_next: Default::default(),
            saturated: Default::default(),
            slice_shift: Constant::new((formats.weight_slice_shift() as u64).to_bits()),
            s1_valid: Default::default(),
            s1_slice: Default::default(),
            s1_rate: Default::default(),
            s1_message: Default::default(),
            s1_factor: Default::default(),
            s1_weight: Default::default(),
            s1_rounding: Default::default(),
            s1_learn: Default::default(),
            forward_product: Default::default(),
            backward_product: Default::default(),
            update_product: Default::default(),
            s2_valid: Default::default(),
            s2_forward: Default::default(),
            s2_backward: Default::default(),
            s2_update: Default::default(),
            s2_weight: Default::default(),
            s2_rounding: Default::default(),
            s2_learn: Default::default(),
            step: WeightStep::new(formats.update_round_bits(), formats.weight_bits),
            s3_valid: Default::default(),
            s3_forward: Default::default(),
            s3_backward: Default::default(),
            s3_weight: Default::default(),
            s3_saturated: Default::default(),
        }
    }
}

impl Logic for SynapseLane {
    #[hdl_gen]
    fn update(&mut self) {
        self.s1_valid.clock.next = self.clock.val();
        self.s1_slice.clock.next = self.clock.val();
        self.s1_rate.clock.next = self.clock.val();
        self.s1_message.clock.next = self.clock.val();
        self.s1_factor.clock.next = self.clock.val();
        self.s1_weight.clock.next = self.clock.val();
        self.s1_rounding.clock.next = self.clock.val();
        self.s1_learn.clock.next = self.clock.val();
        self.s2_valid.clock.next = self.clock.val();
        self.s2_forward.clock.next = self.clock.val();
        self.s2_backward.clock.next = self.clock.val();
        self.s2_update.clock.next = self.clock.val();
        self.s2_weight.clock.next = self.clock.val();
        self.s2_rounding.clock.next = self.clock.val();
        self.s2_learn.clock.next = self.clock.val();
        self.s3_valid.clock.next = self.clock.val();
        self.s3_forward.clock.next = self.clock.val();
        self.s3_backward.clock.next = self.clock.val();
        self.s3_weight.clock.next = self.clock.val();
        self.s3_saturated.clock.next = self.clock.val();
        self.s1_valid.reset.next = self.reset.val();
        self.s2_valid.reset.next = self.reset.val();
        self.s3_valid.reset.next = self.reset.val();

        // Stage 1.
        self.s1_valid.d.next = self.valid.val();
        self.s1_slice.d.next = self
            .weight
            .val()
            .get_bits::<16>(self.slice_shift.val().index());
        self.s1_rate.d.next = self.rate.val();
        self.s1_message.d.next = self.message.val();
        self.s1_factor.d.next = self.update_factor.val();
        self.s1_weight.d.next = self.weight.val();
        self.s1_rounding.d.next = self.rounding.val();
        self.s1_learn.d.next = self.learn.val();

        // Stage 2: three signed 16 x 16 products.
        self.forward_product.next = self.s1_slice.q.val() * self.s1_rate.q.val();
        self.backward_product.next = self.s1_slice.q.val() * self.s1_message.q.val();
        self.update_product.next = self.s1_factor.q.val() * self.s1_rate.q.val();
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_forward.d.next = self.forward_product.val();
        self.s2_backward.d.next = self.backward_product.val();
        self.s2_update.d.next = self.update_product.val();
        self.s2_weight.d.next = self.s1_weight.q.val();
        self.s2_rounding.d.next = self.s1_rounding.q.val();
        self.s2_learn.d.next = self.s1_learn.q.val();

        // Stage 3.
        self.step.weight.next = self.s2_weight.q.val();
        self.step.product.next = self.s2_update.q.val();
        self.step.rounding.next = self.s2_rounding.q.val();
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s3_weight.d.next = self.s2_weight.q.val();
        // Zero products in bubbles let a consumer accumulate without looking at the valid bit.
        // The multiplexer also keeps yosys 0.23 from absorbing these registers into SB_MAC16 as
        // a second output stage, which it does wrongly (it leaves them driven by constant X).
        self.s3_forward.d.next = 0.into();
        self.s3_backward.d.next = 0.into();
        self.s3_saturated.d.next = false;
        if self.s2_valid.q.val() {
            self.s3_forward.d.next = self.s2_forward.q.val();
            self.s3_backward.d.next = self.s2_backward.q.val();
            if self.s2_learn.q.val() {
                self.s3_weight.d.next = self.step.result.val();
                self.s3_saturated.d.next = self.step.saturated.val();
            }
        }

        self.out_valid.next = self.s3_valid.q.val();
        self.forward.next = self.s3_forward.q.val();
        self.backward.next = self.s3_backward.q.val();
        self.weight_next.next = self.s3_weight.q.val();
        self.saturated.next = self.s3_saturated.q.val();
    }
}

//! The synapse lane: forward, backward and update products of one weight per clock.

use leap_model::format::Formats;
use rust_hdl::prelude::*;

use crate::engine::units::EnableRegister;
use crate::leaf::{saturate_value, signed_value, Register, ResetRegister};
use crate::verilog::extend;

/// Clocks from a lane's inputs to its outputs: input registers, product registers, output
/// registers.
pub const LANE_LATENCY: usize = 3;

/// One synapse per clock, fully pipelined with a latency of [`LANE_LATENCY`] clocks.
///
/// The inputs are the 16-bit slice `w16 = w >> (weight_bits - 16)` of a weight `w` of the
/// weight format, the presynaptic rate `r`, the message `m` and update factor `g` of the
/// postsynaptic neuron, and the stochastic rounding bits `R`. `R` arrives one clock after the
/// other inputs, and the weight's bits below the slice, `low`, two clocks after them, when the
/// update needs them. So the engine computes `R` a clock later and the weight bank reads `low`
/// from a memory of its own, and no register in the lane delays them.
/// - `forward = w16 · r` and `backward = w16 · m`, exact 32-bit products;
/// - with `learn`, `weight_next = sat(w + ((g·r + R) >>> k))` with `k = update_round_bits` and
///   `saturated` set when it clamped. Without `learn`, `saturated` is 0 and `weight_next` is
///   undefined, because the lane's slot writes no weight then.
///
/// While `out_valid` is clear, `forward`, `backward` and `saturated` are 0 and `weight_next` is
/// undefined. Hold `reset` for at least [`LANE_LATENCY`] clocks so that the zeros reach the
/// outputs.
///
/// The registers are laid out so that yosys 0.23 (`synth_ice40 -dsp`) packs each product with
/// its registers into one SB_MAC16. The rate, message and factor registers become its input
/// registers and the product registers its pipeline registers. The forward and backward output
/// registers have an enable, so they become its output registers and not its second pipeline
/// register, which yosys 0.23 leaves driven twice. The slice register is zeroed in bubbles, so
/// both products of a bubble are 0 without a multiplexer behind the SB_MAC16.
#[derive(LogicBlock)]
pub struct SynapseLane {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub slice: Signal<In, Signed<16>>,
    /// The weight's `weight_bits - 16` bits below the slice, in the low bits, two clocks after
    /// `slice`. The bits above them are ignored.
    pub low: Signal<In, Signed<16>>,
    pub rate: Signal<In, Signed<16>>,
    pub message: Signal<In, Signed<16>>,
    pub update_factor: Signal<In, Signed<16>>,
    /// Stochastic rounding bits in the low `update_round_bits` bits, one clock after `valid`.
    pub rounding: Signal<In, Bits<32>>,
    pub learn: Signal<In, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub forward: Signal<Out, Signed<32>>,
    pub backward: Signal<Out, Signed<32>>,
    pub weight_next: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    // Stage 1: input registers. The slice is 0 in a bubble and after reset.
    s1_valid: ResetRegister<Bit>,
    s1_slice: ResetRegister<Signed<16>>,
    s1_rate: Register<Signed<16>>,
    s1_message: Register<Signed<16>>,
    s1_factor: Register<Signed<16>>,
    s1_learn: Register<Bit>,
    // Stage 2: products, each assigned straight into a full-width signal.
    forward_product: Signal<Local, Signed<32>>,
    backward_product: Signal<Local, Signed<32>>,
    update_product: Signal<Local, Signed<32>>,
    s2_valid: ResetRegister<Bit>,
    s2_forward: Register<Signed<32>>,
    s2_backward: Register<Signed<32>>,
    s2_update: Register<Signed<32>>,
    s2_slice: Register<Signed<16>>,
    s2_rounding: Register<Bits<32>>,
    s2_learn: Register<Bit>,
    // Stage 3: weight update and output registers. The product registers load while a valid
    // product or a bubble's zero passes and during reset, and hold their zero otherwise.
    step: WeightUpdate,
    product_enable: Signal<Local, Bit>,
    s3_valid: ResetRegister<Bit>,
    s3_forward: EnableRegister<Signed<32>>,
    s3_backward: EnableRegister<Signed<32>>,
    s3_weight: Register<Signed<32>>,
    s3_saturated: Register<Bit>,
}

impl SynapseLane {
    pub fn new(formats: &Formats) -> Self {
        SynapseLane {
            clock: Default::default(),
            reset: Default::default(),
            valid: Default::default(),
            slice: Default::default(),
            low: Default::default(),
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
            s1_valid: Default::default(),
            s1_slice: Default::default(),
            s1_rate: Default::default(),
            s1_message: Default::default(),
            s1_factor: Default::default(),
            s1_learn: Default::default(),
            forward_product: Default::default(),
            backward_product: Default::default(),
            update_product: Default::default(),
            s2_valid: Default::default(),
            s2_forward: Default::default(),
            s2_backward: Default::default(),
            s2_update: Default::default(),
            s2_slice: Default::default(),
            s2_rounding: Default::default(),
            s2_learn: Default::default(),
            step: WeightUpdate::new(formats.update_round_bits(), formats.weight_bits),
            product_enable: Default::default(),
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
        self.s1_learn.clock.next = self.clock.val();
        self.s2_valid.clock.next = self.clock.val();
        self.s2_forward.clock.next = self.clock.val();
        self.s2_backward.clock.next = self.clock.val();
        self.s2_update.clock.next = self.clock.val();
        self.s2_slice.clock.next = self.clock.val();
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
        self.s1_slice.reset.next = self.reset.val() | !self.valid.val();
        self.s1_slice.d.next = self.slice.val();
        self.s1_rate.d.next = self.rate.val();
        self.s1_message.d.next = self.message.val();
        self.s1_factor.d.next = self.update_factor.val();
        self.s1_learn.d.next = self.learn.val();

        // Stage 2: three signed 16 x 16 products.
        self.forward_product.next = self.s1_slice.q.val() * self.s1_rate.q.val();
        self.backward_product.next = self.s1_slice.q.val() * self.s1_message.q.val();
        self.update_product.next = self.s1_factor.q.val() * self.s1_rate.q.val();
        self.s2_valid.d.next = self.s1_valid.q.val();
        self.s2_forward.d.next = self.forward_product.val();
        self.s2_backward.d.next = self.backward_product.val();
        self.s2_update.d.next = self.update_product.val();
        self.s2_slice.d.next = self.s1_slice.q.val();
        self.s2_rounding.d.next = self.rounding.val();
        self.s2_learn.d.next = self.s1_learn.q.val();

        // Stage 3, where `low` arrives. A bubble's products are 0 because its slice is 0. The output register loads
        // that 0 after a bubble and keeps it until the next valid product.
        self.step.apply.next = self.s2_valid.q.val() & self.s2_learn.q.val();
        self.step.slice.next = self.s2_slice.q.val();
        self.step.low.next = self.low.val();
        self.step.product.next = self.s2_update.q.val();
        self.step.rounding.next = self.s2_rounding.q.val();
        self.product_enable.next = self.reset.val() | self.s2_valid.q.val() | self.s3_valid.q.val();
        self.s3_valid.d.next = self.s2_valid.q.val();
        self.s3_forward.enable.next = self.product_enable.val();
        self.s3_backward.enable.next = self.product_enable.val();
        self.s3_forward.d.next = self.s2_forward.q.val();
        self.s3_backward.d.next = self.s2_backward.q.val();
        self.s3_weight.d.next = self.step.result.val();
        self.s3_saturated.d.next = self.step.saturated.val();

        self.out_valid.next = self.s3_valid.q.val();
        self.forward.next = self.s3_forward.q.val();
        self.backward.next = self.s3_backward.q.val();
        self.weight_next.next = self.s3_weight.q.val();
        self.saturated.next = self.s3_saturated.q.val();
    }
}

/// The weight update of one synapse in a single adder: `sat(w + ((product + R) >>> k))` with
/// `k = round_bits` and `R` the low `k` bits of `rounding`. The weight `w` is
/// `slice · 2^(weight_bits - 16) + low`, where `low` contains the weight's bits below the slice
/// in its low bits.
///
/// Because `0 <= R < 2^k`, `w · 2^k + R` is `w` with `R` appended, and the result equals
/// `sat(({w, R} + product) >>> k)`: one carry chain, then a saturation that tests the sign bits.
///
/// Only with `apply` does the result saturate and `saturated` report it. Without it, the
/// result keeps the sum's sign and its bits below `weight_bits - 1`, and `saturated` is 0.
#[derive(LogicBlock)]
pub struct WeightUpdate {
    pub apply: Signal<In, Bit>,
    pub slice: Signal<In, Signed<16>>,
    pub low: Signal<In, Signed<16>>,
    pub product: Signal<In, Signed<32>>,
    pub rounding: Signal<In, Bits<32>>,
    pub result: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    _round_bits: usize,
    _weight_bits: usize,
}

impl WeightUpdate {
    pub fn new(round_bits: u32, weight_bits: u32) -> Self {
        assert!(
            round_bits <= 31,
            "{round_bits} rounding bits do not fit the 32-bit rounding port"
        );
        assert!(
            (16..=32).contains(&weight_bits),
            "a {weight_bits}-bit weight has no 16-bit slice in a 32-bit word"
        );
        WeightUpdate {
            apply: Default::default(),
            slice: Default::default(),
            low: Default::default(),
            product: Default::default(),
            rounding: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            _round_bits: round_bits as usize,
            _weight_bits: weight_bits as usize,
        }
    }
}

impl Logic for WeightUpdate {
    fn update(&mut self) {
        let shift = self._weight_bits - 16;
        let low = signed_value(self.low.val()) & ((1i64 << shift) - 1);
        let weight = (signed_value(self.slice.val()) << shift) | low;
        let mask = (1u64 << self._round_bits) - 1;
        let rounding = (self.rounding.val().to_u64() & mask) as i128;
        let step = (signed_value(self.product.val()) as i128 + rounding) >> self._round_bits;
        let sum = weight as i128 + step;
        let (y, clamped) = if self.apply.val() {
            saturate_value(sum, self._weight_bits)
        } else {
            let below_sign = (1i128 << (self._weight_bits - 1)) - 1;
            let sign = if sum < 0 { !below_sign } else { 0 };
            (((sum & below_sign) | sign) as i64, false)
        };
        self.result.next = y.into();
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.result.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let (k, bits) = (self._round_bits, self._weight_bits);
        let shift = bits - 16;
        let mut parts = vec!["slice".to_string()];
        if shift > 0 {
            parts.push(format!("low[{}:0]", shift - 1));
        }
        if k > 0 {
            parts.push(format!("rounding[{}:0]", k - 1));
        }
        let joined = bits + k;
        let total = joined.max(32) + 1;
        let mut text = format!(
            "wire signed [{joined_top}:0] joined = {{{parts}}};\n\
             wire signed [{total_top}:0] total = {joined_ext} + {product_ext};\n\
             wire signed [{shifted_top}:0] shifted = total[{total_top}:{k}];\n",
            joined_top = joined - 1,
            total_top = total - 1,
            shifted_top = total - k - 1,
            parts = parts.join(", "),
            joined_ext = extend("joined", joined, total - joined),
            product_ext = extend("product", 32, total - 32),
        );
        if shift < 16 {
            // The lane ignores the bits of `low` above the weight's low bits.
            text += &format!("wire unused_slice_bits = &{{1'b0, low[15:{shift}]}};\n");
        }
        if k > 0 {
            // Only the carry out of the low k bits matters; the wire name keeps the lint quiet.
            text += &format!("wire unused_low_bits = &{{1'b0, total[{}:0]}};\n", k - 1);
        }
        // Saturation in a form that packs into the adder's logic cells. Bits `bits - 1` and up
        // repeat the sum's sign, which is also the sign of the clamped value. Below them, a
        // clamp to the maximum sets every bit and one to the minimum clears them. The set takes
        // the one free input of the adder's LUTs, and the clear becomes the synchronous reset
        // of the flip-flops behind them (the lane's `s3_weight`). `apply` makes each clamp
        // signal depend on at least four nets, so that abc cannot copy it into the LUT of every bit,
        // which would leave no free input.
        let (width, fit) = (total - k, bits - 1);
        text += &format!(
            "wire fits = (&shifted[{top}:{fit}]) | !(|shifted[{top}:{fit}]);\n\
             wire above = apply & !fits & !shifted[{top}];\n\
             wire below = apply & !fits & shifted[{top}];\n\
             always @(*) begin\n\
             \x20  result = {{{{{sign_bits}{{shifted[{top}]}}}}, below ? {fit}'d0 : (shifted[{low_top}:0] | {{{fit}{{above}}}})}};\n\
             \x20  saturated = apply & !fits;\n\
             end\n",
            top = width - 1,
            low_top = fit - 1,
            sign_bits = 32 - fit,
        );
        Verilog::Custom(text)
    }
}

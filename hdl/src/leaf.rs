//! Leaf blocks with hand-written Verilog.
//!
//! rust-hdl 0.46 has no arithmetic right shift for `Signed`. Its Verilog computes a product inside
//! a cast at the operand width while its simulator keeps the full product. Its `DFF` emits an
//! `initial` value that hides a missing reset. The blocks here therefore write their
//! Verilog by hand (through rust-hdl's custom-HDL mechanism), with every constant taken from the
//! number formats at generation time. Each block's `update` is a Rust model of the same behaviour
//! for rust-hdl's simulator; the Verilated model remains the reference for the hardware.

use rust_hdl::prelude::*;

use crate::verilog::{extend, literal, round_shift, saturate};

/// Reads a `Signed<N>` as an `i64`.
pub fn signed_value<const N: usize>(x: Signed<N>) -> i64 {
    let raw = x.inner().to_u64();
    if N >= 64 {
        raw as i64
    } else {
        ((raw << (64 - N)) as i64) >> (64 - N)
    }
}

/// Moves `x` right by `shift` bits rounding half up, or left by `-shift` bits.
pub fn round_shift_value(x: i128, shift: i32) -> i128 {
    if shift > 0 {
        (x + (1i128 << (shift - 1))) >> shift
    } else {
        x << (-shift)
    }
}

/// Clamps `x` to a `bits`-bit two's-complement range and returns whether it clamped.
pub fn saturate_value(x: i128, bits: usize) -> (i64, bool) {
    let max = (1i128 << (bits - 1)) - 1;
    let min = -(1i128 << (bits - 1));
    let y = x.clamp(min, max);
    (y as i64, y != x)
}

/// A register without reset and without an initial value. Its value is X (under Verilator with
/// `--x-initial unique`, a random value) until it is first written.
#[derive(LogicBlock, Default)]
pub struct Register<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub d: Signal<In, T>,
    pub q: Signal<Out, T>,
}

impl<T: Synth> Logic for Register<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.q.next = self.d.val();
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(posedge clock) begin\n   q <= d;\nend\n".into())
    }
}

/// A register with a synchronous, active-high reset to all zeros, which is `T::default()` for bits,
/// signed words and the first variant of an enum.
#[derive(LogicBlock, Default)]
pub struct ResetRegister<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub d: Signal<In, T>,
    pub q: Signal<Out, T>,
}

impl<T: Synth> Logic for ResetRegister<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.q.next = if self.reset.val() {
                T::default()
            } else {
                self.d.val()
            };
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(posedge clock) begin\n   if (reset) q <= {}'h0;\n   else q <= d;\nend\n",
            T::BITS
        ))
    }
}

/// Moves a word between fractional-bit positions and saturates it: `sat(realign(value))`.
/// A right shift rounds half up; a left shift is exact.
#[derive(LogicBlock)]
pub struct Requantize<const IN: usize, const OUT: usize> {
    pub value: Signal<In, Signed<IN>>,
    pub result: Signal<Out, Signed<OUT>>,
    pub saturated: Signal<Out, Bit>,
    /// Right shift in bits; negative for a left shift.
    _shift: i32,
    /// Width of the destination format, at most `OUT`.
    _bits: usize,
}

impl<const IN: usize, const OUT: usize> Requantize<IN, OUT> {
    /// Moves from `from_frac` to `to_frac` fractional bits and saturates to `bits` bits.
    pub fn new(from_frac: u32, to_frac: u32, bits: u32) -> Self {
        assert!(
            bits as usize <= OUT,
            "a {bits}-bit format does not fit a {OUT}-bit port"
        );
        Requantize {
            value: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            _shift: from_frac as i32 - to_frac as i32,
            _bits: bits as usize,
        }
    }
}

impl<const IN: usize, const OUT: usize> Logic for Requantize<IN, OUT> {
    fn update(&mut self) {
        let shifted = round_shift_value(signed_value(self.value.val()) as i128, self._shift);
        let (y, clamped) = saturate_value(shifted, self._bits);
        self.result.next = y.into();
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.result.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let (text, width) = round_shift("value", IN, self._shift, "shifted");
        Verilog::Custom(text + &saturate("shifted", width, self._bits, "result", OUT, "saturated"))
    }
}

/// The first stage of a coefficient product: `doubled = 2 · (high · 2^15 + low)` from the two
/// signed 16 × 16 partial products `high = (x >>> 15) · mant` and `low = (x & 0x7fff) · mant` of
/// a potential `x` of at most 31 bits and a mantissa `mant`. The product is doubled so that a
/// shift by `s` leaves its rounding bit in bit 0 (see [`RoundedSum`]).
///
/// The low 15 bits of the product are those of `low`, so the adder is 33 bits wide:
/// `high + (low >>> 15)`.
#[derive(LogicBlock, Default)]
pub struct ProductCombine {
    pub high: Signal<In, Signed<32>>,
    pub low: Signal<In, Signed<32>>,
    pub doubled: Signal<Out, Signed<49>>,
}

impl Logic for ProductCombine {
    fn update(&mut self) {
        let product = (signed_value(self.high.val()) << 15) + signed_value(self.low.val());
        self.doubled.next = (product << 1).into();
    }
    fn connect(&mut self) {
        self.doubled.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "wire signed [32:0] upper = {high[31], high} + {{16{low[31]}}, low[31:15]};\n\
             always @(*) doubled = {upper, low[14:0], 1'b0};\n"
                .into(),
        )
    }
}

/// One stage of an arithmetic right shift by a 6-bit amount, which takes 3 of its bits: the
/// coarse stage shifts by `amount · 8` for the high 3 bits, the fine stage by `amount` for the
/// low 3 bits. A coarse stage followed by a fine stage shifts by the whole amount, and a shift
/// past the width leaves the sign in every bit.
#[derive(LogicBlock)]
pub struct ShiftStage<const N: usize> {
    pub value: Signal<In, Signed<N>>,
    pub amount: Signal<In, Bits<3>>,
    pub result: Signal<Out, Signed<N>>,
    /// log2 of the bits each step of `amount` shifts: 3 for the coarse stage, 0 for the fine.
    _step_bits: usize,
}

impl<const N: usize> ShiftStage<N> {
    /// Makes the stage that shifts by `amount · 8` bits.
    pub fn coarse() -> Self {
        ShiftStage {
            value: Default::default(),
            amount: Default::default(),
            result: Default::default(),
            _step_bits: 3,
        }
    }

    /// Makes the stage that shifts by `amount` bits.
    pub fn fine() -> Self {
        ShiftStage {
            _step_bits: 0,
            ..Self::coarse()
        }
    }
}

impl<const N: usize> Logic for ShiftStage<N> {
    fn update(&mut self) {
        let bits = self.amount.val().to_u64() << self._step_bits;
        let x = signed_value(self.value.val());
        self.result.next = (x >> bits.min(63)).into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let amount = match self._step_bits {
            0 => "amount".to_string(),
            step => format!("{{amount, {step}'b0}}"),
        };
        Verilog::Custom(format!("always @(*) result = value >>> {amount};\n"))
    }
}

/// The fine stage of the coefficient shift with the clamp that follows it:
/// `result = sat(value >>> amount)` in 35 bits, for a 3-bit `amount`.
///
/// The shifted word fits 35 bits exactly when `value` fits `35 + amount` bits, that is when bits
/// `34 + amount` to 47 all equal the sign. So the clamp tests bits of `value`, and the shifter
/// forms only the 35 bits of the result from the low 42 bits of `value`.
#[derive(LogicBlock, Default)]
pub struct FineShiftClamp {
    pub value: Signal<In, Signed<49>>,
    pub amount: Signal<In, Bits<3>>,
    pub result: Signal<Out, Signed<35>>,
}

impl Logic for FineShiftClamp {
    fn update(&mut self) {
        let shifted = signed_value(self.value.val()) >> self.amount.val().to_u64();
        let (y, _) = saturate_value(shifted as i128, 35);
        self.result.next = y.into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let cases: String = (0..8)
            .map(|a| format!("      3'd{a}: beyond = |differs[47:{}];\n", 34 + a))
            .collect();
        Verilog::Custom(format!(
            "wire [47:0] differs = value[47:0] ^ {{48{{value[48]}}}};\n\
             reg beyond;\n\
             always @(*) begin\n\
             \x20  case (amount)\n\
             {cases}\
             \x20  endcase\n\
             end\n\
             wire signed [41:0] low = value[41:0];\n\
             wire signed [41:0] shifted = low >>> amount;\n\
             always @(*) result = beyond ? (value[48] ? {min} : {max}) : shifted[34:0];\n\
             wire unused_bits = &{{1'b0, differs[33:0], shifted[41:35]}};\n",
            min = literal(-(1i128 << 34), 35),
            max = literal((1i128 << 34) - 1, 35),
        ))
    }
}

/// Clamps a word to the range of `OUT` bits, without a flag: `result = sat(value)`.
#[derive(LogicBlock, Default)]
pub struct Clamp<const IN: usize, const OUT: usize> {
    pub value: Signal<In, Signed<IN>>,
    pub result: Signal<Out, Signed<OUT>>,
}

impl<const IN: usize, const OUT: usize> Logic for Clamp<IN, OUT> {
    fn update(&mut self) {
        let (y, _) = saturate_value(signed_value(self.value.val()) as i128, OUT);
        self.result.next = y.into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(OUT < IN, "a clamp from {IN} to {OUT} bits does not narrow");
        // The word fits when its bits from OUT - 1 up all equal the sign.
        let top = format!("value[{}:{}]", IN - 1, OUT - 1);
        Verilog::Custom(format!(
            "always @(*) result = ((&{top}) || !(|{top})) ? value[{high}:0]\n\
             \x20  : (value[{sign}] ? {min} : {max});\n",
            high = OUT - 1,
            sign = IN - 1,
            min = literal(-(1i128 << (OUT - 1)), OUT),
            max = literal((1i128 << (OUT - 1)) - 1, OUT),
        ))
    }
}

/// The sum of a coefficient product: `total = base + ((halves + 1) >>> 1)`, where `halves` is
/// the doubled product moved right by the coefficient's shift, so the sum rounds half up. It
/// adds `halves >>> 1` with `halves[0]` as the carry in, one 36-bit adder. `halves` has 35 bits,
/// enough to saturate a 32-bit `base` plus the product the same way as the exact sum does.
#[derive(LogicBlock, Default)]
pub struct RoundedSum {
    pub base: Signal<In, Signed<32>>,
    pub halves: Signal<In, Signed<35>>,
    pub total: Signal<Out, Signed<36>>,
}

impl Logic for RoundedSum {
    fn update(&mut self) {
        let halves = signed_value(self.halves.val());
        let total = signed_value(self.base.val()) + ((halves + 1) >> 1);
        self.total.next = total.into();
    }
    fn connect(&mut self) {
        self.total.connect();
    }
    fn hdl(&self) -> Verilog {
        // Rounding half up, `(x + 2^(s-1)) >> s` equals `((2x >> s) + 1) >> 1`, also for s = 0,
        // and `(h + 1) >> 1` equals `(h >> 1) + h[0]`.
        Verilog::Custom(format!(
            "always @(*) total = {} + {{{{2{{halves[34]}}}}, halves[34:1]}} + {{35'b0, halves[0]}};\n",
            extend("base", 32, 4),
        ))
    }
}

/// `offset = error − potential`, exact in 33 bits: the part of the potential difference `v`
/// that does not need the current, so [`PotentialSum`] adds only the current to it.
///
/// It takes the bitwise complement `~error` and forms `~(~error + potential)`, which equals
/// `error − potential`. An iCE40 subtractor spends a LUT per bit on inverting an operand for
/// its carry chain, while the caller can form the complement in a LUT that shares a logic cell
/// with its register.
#[derive(LogicBlock, Default)]
pub struct ErrorOffset {
    pub error_complement: Signal<In, Signed<32>>,
    pub potential: Signal<In, Signed<32>>,
    pub offset: Signal<Out, Signed<33>>,
}

impl Logic for ErrorOffset {
    fn update(&mut self) {
        let error = !signed_value(self.error_complement.val());
        let offset = error - signed_value(self.potential.val());
        self.offset.next = offset.into();
    }
    fn connect(&mut self) {
        self.offset.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(*) offset = ~({} + {});\n",
            extend("error_complement", 32, 1),
            extend("potential", 32, 1)
        ))
    }
}

/// A register that stores the bitwise complement of its input, `q = ~d`, without reset.
#[derive(LogicBlock, Default)]
pub struct ComplementRegister<const N: usize> {
    pub clock: Signal<In, Clock>,
    pub d: Signal<In, Signed<N>>,
    pub q: Signal<Out, Signed<N>>,
}

impl<const N: usize> Logic for ComplementRegister<N> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.q.next = (!signed_value(self.d.val())).into();
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(posedge clock) begin\n   q <= ~d;\nend\n".into())
    }
}

/// `total = current + offset`, exact in 34 bits, with `offset = error − potential` from an
/// [`ErrorOffset`]: the potential difference `v = current − potential + error` before it is
/// saturated.
#[derive(LogicBlock, Default)]
pub struct PotentialSum {
    pub current: Signal<In, Signed<32>>,
    pub offset: Signal<In, Signed<33>>,
    pub total: Signal<Out, Signed<34>>,
}

impl Logic for PotentialSum {
    fn update(&mut self) {
        let total = signed_value(self.current.val()) + signed_value(self.offset.val());
        self.total.next = total.into();
    }
    fn connect(&mut self) {
        self.total.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(*) total = {} + {};\n",
            extend("current", 32, 2),
            extend("offset", 33, 1)
        ))
    }
}

/// Activation select codes of the neuron unit.
pub mod activation {
    pub const HARD_SIGMOID: u64 = 0;
    pub const RELU: u64 = 1;
    /// Codes 2 and 3 both select the identity.
    pub const LINEAR: u64 = 2;
}

/// The activation of ŭ as a choice, and its slope: `φ(ŭ)` is 0 when `clamp_zero` is set, 1.0
/// when `clamp_one` is set and `ŭ` itself otherwise, and `slope = φ'(ŭ)` in the activity format,
/// which is 1.0 or 0. Select codes are in [`activation`]. The comparisons with 0 and 1.0 test bits of
/// `ŭ`, not carry chains. `prospective` may be the `N`-bit sum before ŭ is saturated to the
/// potential format, because saturation keeps its order against 0 and 1.0.
///
/// φ only clamps, so the rate `sat(realign(φ(ŭ)))` equals [`ActivityClamp`] applied to
/// `sat(realign(ŭ))` with these flags: realignment and saturation keep the order of words and
/// map 0 and 1.0 to 0 and 1.0.
#[derive(LogicBlock)]
pub struct ActivationSelect<const N: usize> {
    pub prospective: Signal<In, Signed<N>>,
    pub select: Signal<In, Bits<2>>,
    pub clamp_zero: Signal<Out, Bit>,
    pub clamp_one: Signal<Out, Bit>,
    pub slope: Signal<Out, Signed<16>>,
    _pot_frac: u32,
    _act_frac: u32,
}

impl<const N: usize> ActivationSelect<N> {
    pub fn new(pot_frac: u32, act_frac: u32) -> Self {
        assert!(
            pot_frac >= act_frac,
            "pot_frac {pot_frac} is below act_frac {act_frac}"
        );
        assert!(
            pot_frac < 31,
            "pot_frac {pot_frac} does not fit a 31-bit potential"
        );
        assert!(
            act_frac < 15,
            "act_frac {act_frac} does not fit a 16-bit activity"
        );
        ActivationSelect {
            prospective: Default::default(),
            select: Default::default(),
            clamp_zero: Default::default(),
            clamp_one: Default::default(),
            slope: Default::default(),
            _pot_frac: pot_frac,
            _act_frac: act_frac,
        }
    }
}

impl<const N: usize> Logic for ActivationSelect<N> {
    fn update(&mut self) {
        let x = signed_value(self.prospective.val());
        let one = 1i64 << self._pot_frac;
        let (below, above, slope) = match self.select.val().to_u64() {
            activation::HARD_SIGMOID => (x < 0, x > one, (0..=one).contains(&x)),
            activation::RELU => (x < 0, false, x > 0),
            _ => (false, false, true),
        };
        self.clamp_zero.next = below;
        self.clamp_one.next = above;
        self.slope.next = if slope {
            (1i64 << self._act_frac).into()
        } else {
            0i64.into()
        };
    }
    fn connect(&mut self) {
        self.clamp_zero.connect();
        self.clamp_one.connect();
        self.slope.connect();
    }
    fn hdl(&self) -> Verilog {
        let f = self._pot_frac as usize;
        // `ŭ > 1.0` for a non-negative ŭ: a bit above the one is set, or the one's bit and a
        // bit below it.
        let mut above_one = Vec::new();
        if f < N - 2 {
            above_one.push(format!("(|prospective[{}:{}])", N - 2, f + 1));
        }
        if f > 0 {
            above_one.push(format!("(prospective[{f}] && (|prospective[{}:0]))", f - 1));
        }
        let above_one = format!("({})", above_one.join(" || "));
        Verilog::Custom(format!(
            "wire negative = prospective[{sign}];\n\
             wire above = !negative && {above_one};\n\
             wire positive = !negative && (|prospective[{magnitude}:0]);\n\
             reg active;\n\
             always @(*) begin\n\
             \x20  case (select)\n\
             \x20     2'd0: begin\n\
             \x20        clamp_zero = negative;\n\
             \x20        clamp_one = above;\n\
             \x20        active = !negative && !above;\n\
             \x20     end\n\
             \x20     2'd1: begin\n\
             \x20        clamp_zero = negative;\n\
             \x20        clamp_one = 1'b0;\n\
             \x20        active = positive;\n\
             \x20     end\n\
             \x20     default: begin\n\
             \x20        clamp_zero = 1'b0;\n\
             \x20        clamp_one = 1'b0;\n\
             \x20        active = 1'b1;\n\
             \x20     end\n\
             \x20  endcase\n\
             \x20  slope = active ? {act_one} : 16'sh0;\n\
             end\n",
            act_one = literal(1i128 << self._act_frac, 16),
            sign = N - 1,
            magnitude = N - 2,
        ))
    }
}

/// The rate `φ(r)` of an activity word `r = sat(realign(ŭ))`, with φ's clamp given by the
/// `clamp_zero` and `clamp_one` flags of an [`ActivationSelect`]: 0, 1.0 or `value`.
/// `saturated` passes `value_saturated` only when `value` is the result.
#[derive(LogicBlock)]
pub struct ActivityClamp {
    pub value: Signal<In, Signed<16>>,
    pub value_saturated: Signal<In, Bit>,
    pub clamp_zero: Signal<In, Bit>,
    pub clamp_one: Signal<In, Bit>,
    pub result: Signal<Out, Signed<16>>,
    pub saturated: Signal<Out, Bit>,
    _act_frac: u32,
}

impl ActivityClamp {
    pub fn new(act_frac: u32) -> Self {
        assert!(
            act_frac < 15,
            "act_frac {act_frac} does not fit a 16-bit activity"
        );
        ActivityClamp {
            value: Default::default(),
            value_saturated: Default::default(),
            clamp_zero: Default::default(),
            clamp_one: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            _act_frac: act_frac,
        }
    }
}

impl Logic for ActivityClamp {
    fn update(&mut self) {
        let (result, saturated) = if self.clamp_zero.val() {
            (0, false)
        } else if self.clamp_one.val() {
            (1i64 << self._act_frac, false)
        } else {
            (signed_value(self.value.val()), self.value_saturated.val())
        };
        self.result.next = result.into();
        self.saturated.next = saturated;
    }
    fn connect(&mut self) {
        self.result.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(*) begin\n\
             \x20  result = clamp_zero ? 16'sh0 : (clamp_one ? {act_one} : value);\n\
             \x20  saturated = !clamp_zero && !clamp_one && value_saturated;\n\
             end\n",
            act_one = literal(1i128 << self._act_frac, 16),
        ))
    }
}

/// Splits a potential of at most 31 bits into signed 16-bit multiplier operands:
/// `high = value >>> 15` and the non-negative `low = value & 0x7fff`.
#[derive(LogicBlock, Default)]
pub struct PotentialSplit {
    pub value: Signal<In, Signed<32>>,
    pub high: Signal<Out, Signed<16>>,
    pub low: Signal<Out, Signed<16>>,
}

impl Logic for PotentialSplit {
    fn update(&mut self) {
        let x = signed_value(self.value.val());
        self.high.next = (x >> 15).into();
        self.low.next = (x & 0x7fff).into();
    }
    fn connect(&mut self) {
        self.high.connect();
        self.low.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) begin\n   high = value[30:15];\n   low = {1'b0, value[14:0]};\nend\n"
                .into(),
        )
    }
}

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

/// Combines the two signed 16 × 16 partial products `high = (x >>> 15) · mant` and
/// `low = (x & 0x7fff) · mant` of a potential `x` of at most 31 bits and a mantissa `mant`
/// into `product = high · 2^15 + low = x · mant` and `doubled = 2 · product`. The product is
/// doubled so that a shift by `s` leaves its rounding bit in bit 0 (see [`RoundedSum`]).
///
/// The product `x · mant` fits 47 bits, so `doubled` fits 48. The product's low 15 bits are
/// those of `low`, and the rest is `high + (low >>> 15)`, which a 32-bit adder forms exactly.
/// The sum is exact for any two 16-bit operands of each partial product, not only for the
/// halves of a potential.
#[derive(LogicBlock, Default)]
pub struct ProductCombine {
    pub high: Signal<In, Signed<32>>,
    pub low: Signal<In, Signed<32>>,
    pub product: Signal<Out, Signed<48>>,
    pub doubled: Signal<Out, Signed<48>>,
}

impl Logic for ProductCombine {
    fn update(&mut self) {
        let product = (signed_value(self.high.val()) << 15) + signed_value(self.low.val());
        self.product.next = product.into();
        self.doubled.next = (product << 1).into();
    }
    fn connect(&mut self) {
        self.product.connect();
        self.doubled.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "wire signed [31:0] upper = high + {{15{low[31]}}, low[31:15]};\n\
             always @(*) product = {upper[31], upper, low[14:0]};\n\
             always @(*) doubled = {upper, low[14:0], 1'b0};\n"
                .into(),
        )
    }
}

/// The shift of a product: `halves = doubled >>> amount`, for the doubled product of a
/// [`ProductCombine`] and a 6-bit shift, as a 34-bit word that keeps the sums and roundings
/// after it exact or saturated in the same way. The neuron unit shifts its coefficient products
/// with it and lends it to the engine (see `crate::engine::units::RoundHalves`).
///
/// `halves` is exact when the shifted word fits 34 bits. Otherwise its top two bits are the sign
/// and its complement, so it is at least 2^32 or below −2^32 with the sign of the product. Then
/// a [`RoundedSum`] with a base of at most 31 bits lies beyond the 31-bit range on the same side
/// as the exact sum, so saturation and the comparisons of [`ActivationSelect`] treat both alike.
#[derive(LogicBlock, Default)]
pub struct CoefficientShift {
    pub doubled: Signal<In, Signed<48>>,
    pub amount: Signal<In, Bits<6>>,
    pub halves: Signal<Out, Signed<34>>,
}

impl Logic for CoefficientShift {
    fn update(&mut self) {
        let shifted = signed_value(self.doubled.val()) >> self.amount.val().to_u64();
        let limit = 1i64 << 33;
        let halves = if shifted >= limit {
            limit >> 1
        } else if shifted < -limit {
            -limit
        } else {
            shifted
        };
        self.halves.next = halves.into();
    }
    fn connect(&mut self) {
        self.halves.connect();
    }
    fn hdl(&self) -> Verilog {
        // The shifter forms only the 34 bits of the result, widest stage first. The shifted word
        // fits 34 bits exactly when bits `33 + amount` to 47 all equal the sign, which can fail
        // only for an amount up to 13.
        let cases: String = (0..14)
            .map(|a| format!("      6'd{a}: beyond = |differs[46:{}];\n", 33 + a))
            .collect();
        Verilog::Custom(format!(
            "wire sign = doubled[47];\n\
             wire signed [47:0] by32 = amount[5] ? (doubled >>> 32) : doubled;\n\
             wire signed [47:0] by16 = amount[4] ? (by32 >>> 16) : by32;\n\
             wire signed [40:0] by8 = amount[3] ? {{by16[47], by16[47:8]}} : by16[40:0];\n\
             wire signed [36:0] by4 = amount[2] ? by8[40:4] : by8[36:0];\n\
             wire signed [34:0] by2 = amount[1] ? by4[36:2] : by4[34:0];\n\
             wire signed [33:0] shifted = amount[0] ? by2[34:1] : by2[33:0];\n\
             wire [46:0] differs = doubled[46:0] ^ {{47{{sign}}}};\n\
             reg beyond;\n\
             always @(*) begin\n\
             \x20  case (amount)\n\
             {cases}\
             \x20     default: beyond = 1'b0;\n\
             \x20  endcase\n\
             end\n\
             always @(*) halves = beyond ? {{sign, !sign, shifted[31:0]}} : shifted;\n\
             wire unused_bits = &{{1'b0, differs[32:0]}};\n"
        ))
    }
}

/// `result` is the low `bits` bits of `value`, sign-extended to `N` bits. A word of a `bits`-bit
/// format keeps its value, and the bits from `bits - 1` up become copies of one bit, so
/// synthesis merges the registers that store them.
#[derive(LogicBlock)]
pub struct SignExtend<const N: usize> {
    pub value: Signal<In, Signed<N>>,
    pub result: Signal<Out, Signed<N>>,
    _bits: usize,
}

impl<const N: usize> SignExtend<N> {
    pub fn new(bits: u32) -> Self {
        let bits = bits as usize;
        assert!((1..=N).contains(&bits), "{bits} bits do not fit {N}");
        SignExtend {
            value: Default::default(),
            result: Default::default(),
            _bits: bits,
        }
    }
}

impl<const N: usize> Logic for SignExtend<N> {
    fn update(&mut self) {
        let shift = 64 - self._bits;
        let value = signed_value(self.value.val());
        self.result.next = ((value << shift) >> shift).into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let bits = self._bits;
        if bits == N {
            return Verilog::Custom("always @(*) result = value;\n".into());
        }
        Verilog::Custom(format!(
            "always @(*) result = {{{{{}{{value[{top}]}}}}, value[{top}:0]}};\n\
             wire unused_high_bits = &{{1'b0, value[{}:{bits}]}};\n",
            N - bits,
            N - 1,
            top = bits - 1,
        ))
    }
}

/// The sum of a coefficient product: `total = base + ((halves + 1) >>> 1)`, where `halves` is
/// the doubled product moved right by the coefficient's shift, so the sum rounds half up. It
/// adds `halves >>> 1` with `halves[0]` as the carry in, one 34-bit adder. `base` has at most 31
/// bits, so 34 bits hold every sum of it and a 34-bit `halves`.
#[derive(LogicBlock, Default)]
pub struct RoundedSum {
    pub base: Signal<In, Signed<32>>,
    pub halves: Signal<In, Signed<34>>,
    pub total: Signal<Out, Signed<34>>,
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
            "always @(*) total = {} + {{halves[33], halves[33:1]}} + {{33'b0, halves[0]}};\n",
            extend("base", 32, 2),
        ))
    }
}

/// `offset = error − potential`, exact in 32 bits for words of at most 31 bits: the part of the potential difference `v`
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
    pub offset: Signal<Out, Signed<32>>,
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
        Verilog::Custom("always @(*) offset = ~(error_complement + potential);\n".into())
    }
}

/// `total = current + offset`, exact in 33 bits, with `offset = error − potential` from an
/// [`ErrorOffset`]: the potential difference `v = current − potential + error` before it is
/// saturated.
#[derive(LogicBlock, Default)]
pub struct PotentialSum {
    pub current: Signal<In, Signed<32>>,
    pub offset: Signal<In, Signed<32>>,
    pub total: Signal<Out, Signed<33>>,
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
            extend("current", 32, 1),
            extend("offset", 32, 1)
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

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

/// The weight update of one synapse: `sat(weight + ((product + rounding) >>> round_bits))`, where
/// `product` is `g·r` and `rounding` carries the stochastic rounding bits in its low `round_bits`
/// bits (higher bits are ignored). The shift is a floor, so the expected update is exact.
#[derive(LogicBlock)]
pub struct WeightStep {
    pub weight: Signal<In, Signed<32>>,
    pub product: Signal<In, Signed<32>>,
    pub rounding: Signal<In, Bits<32>>,
    pub result: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    _round_bits: usize,
    _weight_bits: usize,
}

impl WeightStep {
    pub fn new(round_bits: u32, weight_bits: u32) -> Self {
        assert!(
            round_bits <= 31,
            "{round_bits} rounding bits do not fit the 32-bit rounding port"
        );
        WeightStep {
            weight: Default::default(),
            product: Default::default(),
            rounding: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            _round_bits: round_bits as usize,
            _weight_bits: weight_bits as usize,
        }
    }
}

impl Logic for WeightStep {
    fn update(&mut self) {
        let mask = (1u64 << self._round_bits) - 1;
        let rounding = (self.rounding.val().to_u64() & mask) as i128;
        let step = (signed_value(self.product.val()) as i128 + rounding) >> self._round_bits;
        let (y, clamped) = saturate_value(
            signed_value(self.weight.val()) as i128 + step,
            self._weight_bits,
        );
        self.result.next = y.into();
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.result.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let k = self._round_bits;
        let rounding = if k == 0 {
            "33'sh0".to_string()
        } else {
            format!("{{{}'b0, rounding[{}:0]}}", 33 - k, k - 1)
        };
        let text = format!(
            "wire signed [32:0] biased = {product} + {rounding};\n\
             wire signed [32:0] increment = biased >>> {k};\n\
             wire signed [33:0] total = {weight} + {increment};\n",
            product = extend("product", 32, 1),
            weight = extend("weight", 32, 2),
            increment = extend("increment", 33, 1),
        );
        Verilog::Custom(text + &saturate("total", 34, self._weight_bits, "result", 32, "saturated"))
    }
}

/// `sat(base + shift_round(x · mant, shift))` for a coefficient `mant · 2^-shift` and a potential
/// `x` of at most 31 bits. The product arrives as two signed 16 × 16 partial products,
/// `high = (x >>> 15) · mant` and `low = (x & 0x7fff) · mant`, so `x · mant = high · 2^15 + low`.
/// Shifts above 46 are outside the coefficient format; the block then returns `base` plus
/// the rounded product's sign (0 or -1).
#[derive(LogicBlock)]
pub struct CoefficientStep {
    pub base: Signal<In, Signed<32>>,
    pub high: Signal<In, Signed<32>>,
    pub low: Signal<In, Signed<32>>,
    pub shift: Signal<In, Bits<6>>,
    pub result: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    _bits: usize,
}

impl CoefficientStep {
    pub fn new(bits: u32) -> Self {
        CoefficientStep {
            base: Default::default(),
            high: Default::default(),
            low: Default::default(),
            shift: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            _bits: bits as usize,
        }
    }
}

impl Logic for CoefficientStep {
    fn update(&mut self) {
        let product =
            ((signed_value(self.high.val()) as i128) << 15) + signed_value(self.low.val()) as i128;
        let shift = self.shift.val().to_u64() as i32;
        let half = if shift == 0 || shift > 47 {
            0
        } else {
            1i128 << (shift - 1)
        };
        // The Verilog computes in 48 bits; wrap the same way.
        let biased = (((product + half) as i64) << 16) >> 16;
        let rounded = (biased >> shift.min(63)) as i128;
        let (y, clamped) =
            saturate_value(signed_value(self.base.val()) as i128 + rounded, self._bits);
        self.result.next = y.into();
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.result.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let text = format!(
            "wire signed [47:0] product = {{high[31], high, 15'b0}} + {low};\n\
             wire signed [48:0] doubled = {{product, 1'b0}};\n\
             wire signed [48:0] halves = doubled >>> shift;\n\
             wire signed [49:0] bumped = {{halves[48], halves}} + 50'sd1;\n\
             wire signed [49:0] rounded = bumped >>> 1;\n\
             wire signed [50:0] total = {base} + {rounded};\n",
            low = extend("low", 32, 16),
            base = extend("base", 32, 19),
            rounded = extend("rounded", 50, 1),
        );
        // Rounding half up, `(x + 2^(s-1)) >> s` equals `((2x >> s) + 1) >> 1`, also for s = 0.
        Verilog::Custom(text + &saturate("total", 51, self._bits, "result", 32, "saturated"))
    }
}

/// `sat(current - potential + error)`: the potential difference `v` that drives the membrane.
#[derive(LogicBlock)]
pub struct PotentialSum {
    pub current: Signal<In, Signed<32>>,
    pub potential: Signal<In, Signed<32>>,
    pub error: Signal<In, Signed<32>>,
    pub result: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    _bits: usize,
}

impl PotentialSum {
    pub fn new(bits: u32) -> Self {
        PotentialSum {
            current: Default::default(),
            potential: Default::default(),
            error: Default::default(),
            result: Default::default(),
            saturated: Default::default(),
            _bits: bits as usize,
        }
    }
}

impl Logic for PotentialSum {
    fn update(&mut self) {
        let total = signed_value(self.current.val()) as i128
            - signed_value(self.potential.val()) as i128
            + signed_value(self.error.val()) as i128;
        let (y, clamped) = saturate_value(total, self._bits);
        self.result.next = y.into();
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.result.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let text = format!(
            "wire signed [33:0] total = {} - {} + {};\n",
            extend("current", 32, 2),
            extend("potential", 32, 2),
            extend("error", 32, 2)
        );
        Verilog::Custom(text + &saturate("total", 34, self._bits, "result", 32, "saturated"))
    }
}

/// Activation select codes of the neuron unit.
pub mod activation {
    pub const HARD_SIGMOID: u64 = 0;
    pub const RELU: u64 = 1;
    /// Codes 2 and 3 both select the identity.
    pub const LINEAR: u64 = 2;
}

/// The activation and its slope: `r = sat(realign(φ(ŭ)))` in the activity format and
/// `d = φ'(ŭ)`, which is 1.0 or 0. Select codes are in [`activation`].
#[derive(LogicBlock)]
pub struct ActivationUnit {
    pub prospective: Signal<In, Signed<32>>,
    pub select: Signal<In, Bits<2>>,
    pub rate: Signal<Out, Signed<16>>,
    pub slope: Signal<Out, Signed<16>>,
    pub saturated: Signal<Out, Bit>,
    _pot_frac: u32,
    _act_frac: u32,
}

impl ActivationUnit {
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
        ActivationUnit {
            prospective: Default::default(),
            select: Default::default(),
            rate: Default::default(),
            slope: Default::default(),
            saturated: Default::default(),
            _pot_frac: pot_frac,
            _act_frac: act_frac,
        }
    }
}

impl Logic for ActivationUnit {
    fn update(&mut self) {
        let x = signed_value(self.prospective.val());
        let one = 1i64 << self._pot_frac;
        let (value, slope) = match self.select.val().to_u64() {
            activation::HARD_SIGMOID => (x.clamp(0, one), (0..=one).contains(&x)),
            activation::RELU => (x.max(0), x > 0),
            _ => (x, true),
        };
        let shifted = round_shift_value(value as i128, (self._pot_frac - self._act_frac) as i32);
        let (rate, clamped) = saturate_value(shifted, 16);
        self.rate.next = rate.into();
        self.slope.next = if slope {
            (1i64 << self._act_frac).into()
        } else {
            0i64.into()
        };
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.rate.connect();
        self.slope.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let one = literal(1i128 << self._pot_frac, 32);
        let zero = literal(0, 32);
        let mut text = format!(
            "reg signed [31:0] value;\n\
             reg active;\n\
             always @(*) begin\n\
             \x20  case (select)\n\
             \x20     2'd0: begin\n\
             \x20        if (prospective < {zero}) value = {zero};\n\
             \x20        else if (prospective > {one}) value = {one};\n\
             \x20        else value = prospective;\n\
             \x20        active = (prospective >= {zero}) && (prospective <= {one});\n\
             \x20     end\n\
             \x20     2'd1: begin\n\
             \x20        value = (prospective < {zero}) ? {zero} : prospective;\n\
             \x20        active = prospective > {zero};\n\
             \x20     end\n\
             \x20     default: begin\n\
             \x20        value = prospective;\n\
             \x20        active = 1'b1;\n\
             \x20     end\n\
             \x20  endcase\n\
             \x20  slope = active ? {act_one} : 16'sh0;\n\
             end\n",
            act_one = literal(1i128 << self._act_frac, 16),
        );
        let (shift_text, width) = round_shift(
            "value",
            32,
            (self._pot_frac - self._act_frac) as i32,
            "shifted",
        );
        text += &shift_text;
        text += &saturate("shifted", width, 16, "rate", 16, "saturated");
        Verilog::Custom(text)
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

//! Number formats and arithmetic primitives of the fixed-point golden model.
//!
//! This module is the arithmetic specification shared by the golden model, the RTL generator and
//! the host. Every word is a two's-complement integer with a stated width and number of fractional
//! bits. Unless a rule below states otherwise:
//! - a sum is computed exactly and then saturated to the destination width;
//! - a right shift rounds half up: `(x + 2^(s-1)) >> s` with an arithmetic shift;
//! - saturation clamps to the destination's range and increments a counter, so nothing wraps.
//!
//! Formats (defaults in brackets):
//! - activity `A` (16 bits, `act_frac` [12] fractional bits): rates `r`, slopes `d`, inputs and targets.
//! - weight `W` (`weight_bits` [32], `weight_frac` [28]): stored weights and biases. A product uses
//!   the top 16 bits, `W >> (weight_bits - 16)`, so the multiplicand has `weight_frac - weight_bits + 16`
//!   [12] fractional bits. The slice is the weight rounded down, which costs no logic; it makes
//!   forward and backward sums low by half a slice LSB per unit of input on average.
//! - potential `P` (`pot_bits` [31], `pot_frac` [24]): `I`, `u`, `ŭ`, `e`. 31 bits let a coefficient
//!   product split into two signed 16 × 16 products: the high part `x >> 15` and the non-negative low
//!   part `x & 0x7fff` both fit a signed 16-bit operand.
//! - error message `M` (16 bits, `msg_frac` [14]): the error each neuron sends down, `m`.
//! - update factor `G` (16 bits, `upd_frac` [21]): `g = η·e`, formed once per neuron and step.
//! - accumulators (48 bits): forward sums `Σ W·r` and backward sums `Σ W·m`. Every product of two
//!   16-bit operands is below 2^30 in magnitude and a layer has at most 65 537 inputs (biases
//!   included), so no sum reaches 2^47 and the accumulators cannot overflow.
//! - coefficient `K`: a constant `mant · 2^-shift` with a signed 16-bit `mant`, for `dt/τ_m`,
//!   `τ_r/τ_m`, `β` and `η`. A coefficient product `x · K` is the exact product rounded by `shift`.
//!
//! Weight updates round stochastically (see [`stochastic_bits`]): the update `g·r` has
//! `upd_frac + act_frac` [33] fractional bits and the weight `weight_frac` [28], so the low
//! `upd_frac + act_frac - weight_frac` [5] bits are rounded by adding that many pseudo-random bits
//! before the shift. The expected update is then exact, and updates smaller than a weight LSB still
//! move a weight by the right total over many steps.

use serde::{Deserialize, Serialize};

use crate::config::{invalid, ConfigError};

/// Word widths and fractional bits of every fixed-point format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Formats {
    pub act_frac: u32,
    pub weight_bits: u32,
    pub weight_frac: u32,
    pub pot_bits: u32,
    pub pot_frac: u32,
    pub msg_frac: u32,
    pub upd_frac: u32,
}

/// Width of every multiplier operand: activities, weight slices, messages, update factors and
/// coefficient mantissas.
pub const OPERAND_BITS: u32 = 16;
/// Width of the forward and backward accumulators.
pub const ACC_BITS: u32 = 48;

impl Default for Formats {
    fn default() -> Self {
        Formats { act_frac: 12, weight_bits: 32, weight_frac: 28, pot_bits: 31, pot_frac: 24, msg_frac: 14, upd_frac: 21 }
    }
}

impl Formats {
    /// Returns each format field with its key in the `[fixed]` section of a configuration.
    pub fn fields(&self) -> [(&'static str, u32); 7] {
        [
            ("act_frac", self.act_frac),
            ("weight_bits", self.weight_bits),
            ("weight_frac", self.weight_frac),
            ("pot_bits", self.pot_bits),
            ("pot_frac", self.pot_frac),
            ("msg_frac", self.msg_frac),
            ("upd_frac", self.upd_frac),
        ]
    }

    /// Returns the key, this value and `other`'s value of the first field that differs.
    pub fn first_difference(&self, other: &Formats) -> Option<(&'static str, u32, u32)> {
        self.fields()
            .into_iter()
            .zip(other.fields())
            .find(|((_, a), (_, b))| a != b)
            .map(|((key, a), (_, b))| (key, a, b))
    }

    /// Checks that the formats fit the datapath: operands of 16 bits, exact integer alignments.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // 1.0 (the bias input, a full slope) must fit the signed 16-bit activity word.
        if !(4..=14).contains(&self.act_frac) {
            return Err(invalid("fixed.act_frac", self.act_frac, "in 4..=14"));
        }
        if !(16..=32).contains(&self.weight_bits) {
            return Err(invalid("fixed.weight_bits", self.weight_bits, "in 16..=32"));
        }
        if self.weight_frac >= self.weight_bits || self.weight_slice_frac() < 4 {
            return Err(invalid(
                "fixed.weight_frac",
                self.weight_frac,
                format!(
                    "below fixed.weight_bits ({}) and at least fixed.weight_bits - 12 so that the 16-bit slice keeps 4 fractional bits",
                    self.weight_bits
                ),
            ));
        }
        if !(17..=31).contains(&self.pot_bits) {
            return Err(invalid("fixed.pot_bits", self.pot_bits, "in 17..=31"));
        }
        if self.pot_frac >= self.pot_bits || self.pot_frac < self.act_frac {
            return Err(invalid(
                "fixed.pot_frac",
                self.pot_frac,
                format!("in fixed.act_frac ({})..fixed.pot_bits ({})", self.act_frac, self.pot_bits),
            ));
        }
        // One unit must fit the potential format with room for sums of a few units.
        if self.pot_bits - self.pot_frac < 3 {
            return Err(invalid("fixed.pot_frac", self.pot_frac, format!("at most fixed.pot_bits - 3 ({})", self.pot_bits - 3)));
        }
        if !(8..=30).contains(&self.msg_frac) {
            return Err(invalid("fixed.msg_frac", self.msg_frac, "in 8..=30"));
        }
        if !(8..=40).contains(&self.upd_frac) {
            return Err(invalid("fixed.upd_frac", self.upd_frac, "in 8..=40"));
        }
        if self.upd_frac + self.act_frac < self.weight_frac {
            return Err(invalid(
                "fixed.upd_frac",
                self.upd_frac,
                format!("at least fixed.weight_frac - fixed.act_frac ({})", self.weight_frac - self.act_frac),
            ));
        }
        if self.update_round_bits() > 24 {
            return Err(invalid(
                "fixed.upd_frac",
                self.upd_frac,
                format!("at most fixed.weight_frac - fixed.act_frac + 24 ({})", self.weight_frac + 24 - self.act_frac),
            ));
        }
        Ok(())
    }

    /// Fractional bits of the 16-bit weight slice that enters the multipliers.
    pub fn weight_slice_frac(&self) -> u32 {
        (self.weight_frac + OPERAND_BITS).saturating_sub(self.weight_bits)
    }

    /// Right shift from a weight word to its 16-bit slice.
    pub fn weight_slice_shift(&self) -> u32 {
        self.weight_bits - OPERAND_BITS
    }

    /// Pseudo-random bits added to a weight update before it is shifted to the weight format.
    pub fn update_round_bits(&self) -> u32 {
        self.upd_frac + self.act_frac - self.weight_frac
    }

    pub fn act(&self) -> Word {
        Word { bits: OPERAND_BITS, frac: self.act_frac }
    }
    pub fn weight(&self) -> Word {
        Word { bits: self.weight_bits, frac: self.weight_frac }
    }
    pub fn pot(&self) -> Word {
        Word { bits: self.pot_bits, frac: self.pot_frac }
    }
    pub fn msg(&self) -> Word {
        Word { bits: OPERAND_BITS, frac: self.msg_frac }
    }
    pub fn upd(&self) -> Word {
        Word { bits: OPERAND_BITS, frac: self.upd_frac }
    }
}

/// A two's-complement format: `bits` wide with `frac` fractional bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    pub bits: u32,
    pub frac: u32,
}

impl Word {
    pub fn min(&self) -> i64 {
        -(1i64 << (self.bits - 1))
    }
    pub fn max(&self) -> i64 {
        (1i64 << (self.bits - 1)) - 1
    }
    /// Returns the word that represents 1.0.
    pub fn one(&self) -> i64 {
        1i64 << self.frac
    }
    /// Returns the value of the least significant bit.
    pub fn lsb(&self) -> f64 {
        (-(self.frac as f64)).exp2()
    }

    /// Clamps `x` to the range, counting a saturation when it had to clamp.
    #[inline(always)]
    pub fn saturate(&self, x: i64, saturations: &mut u64) -> i64 {
        let y = x.clamp(self.min(), self.max());
        *saturations += (y != x) as u64;
        y
    }

    /// Converts a real number, rounding to nearest (ties away from zero) and saturating.
    pub fn from_f64(&self, x: f64, saturations: &mut u64) -> i64 {
        if x.is_nan() {
            *saturations += 1;
            return 0;
        }
        let scaled = (x * self.one() as f64).round();
        if scaled < self.min() as f64 {
            *saturations += 1;
            self.min()
        } else if scaled > self.max() as f64 {
            *saturations += 1;
            self.max()
        } else {
            scaled as i64
        }
    }

    pub fn to_f64(&self, x: i64) -> f64 {
        x as f64 * self.lsb()
    }
}

/// Arithmetic right shift by `s` that rounds half up; `s = 0` returns `x`.
#[inline(always)]
pub fn shift_round(x: i64, s: u32) -> i64 {
    if s == 0 {
        x
    } else {
        (x + (1i64 << (s - 1))) >> s
    }
}

/// Moves `x` from `from` to `to` fractional bits: rounds half up when dropping bits, exact otherwise.
#[inline(always)]
pub fn realign(x: i64, from: u32, to: u32) -> i64 {
    if from >= to {
        shift_round(x, from - to)
    } else {
        x << (to - from)
    }
}

/// A constant `mant · 2^-shift` with a signed 16-bit mantissa.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Coefficient {
    pub mant: i16,
    pub shift: u32,
}

/// Largest coefficient shift; it keeps every coefficient product inside 64-bit arithmetic.
pub const MAX_COEFFICIENT_SHIFT: u32 = 46;

impl Coefficient {
    pub const ZERO: Coefficient = Coefficient { mant: 0, shift: 0 };

    /// Finds the most precise coefficient for `value`: the largest shift whose rounded mantissa
    /// still fits 16 bits. Magnitudes below 2^-47 round to zero; magnitudes of 2^15 or more and
    /// non-finite values are not representable.
    pub fn from_f64(value: f64) -> Option<Coefficient> {
        if !value.is_finite() {
            return None;
        }
        if value == 0.0 {
            return Some(Coefficient::ZERO);
        }
        for shift in (0..=MAX_COEFFICIENT_SHIFT).rev() {
            let mant = (value * (shift as f64).exp2()).round();
            if (i16::MIN as f64..=i16::MAX as f64).contains(&mant) {
                let mant = mant as i16;
                if mant == 0 {
                    return Some(Coefficient::ZERO);
                }
                return Some(Coefficient { mant, shift });
            }
        }
        None
    }

    pub fn to_f64(&self) -> f64 {
        self.mant as f64 * (-(self.shift as f64)).exp2()
    }

    /// Multiplies `x` by the mantissa exactly and rounds the product half up by `shift + extra` bits.
    #[inline(always)]
    pub fn apply(&self, x: i64, extra: u32) -> i64 {
        shift_round(x * self.mant as i64, self.shift + extra)
    }
}

/// Advances a 32-bit xorshift generator by one step (shifts 13, 17, 5), a bijection on nonzero words.
#[inline(always)]
pub fn xorshift32(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

/// The pseudo-random rounding bits for the weight at `address` in the time step whose
/// generator state is `step_state`: the low `bits` bits of `xorshift32(step_state ^ address)`.
///
/// `address` is the weight's position in the network: layer by layer from the first non-input
/// layer, row by row, each row holding the neuron's weights and then its bias. The step state
/// advances by one `xorshift32` step per time step. Because `xorshift32` is a bijection, the bits
/// are uniform whenever the step state is, which makes stochastic rounding unbiased.
#[inline(always)]
pub fn stochastic_bits(step_state: u32, address: u32, bits: u32) -> i64 {
    (xorshift32(step_state ^ address) & ((1u32 << bits) - 1)) as i64
}

/// Applies one weight update: `w + ((g·r + rounding) >> round_bits)`, saturated to
/// `[w_min, w_max]`. Returns the new word and whether it saturated.
///
/// `g` is an update factor and `r` a rate (16-bit operands each), `rounding` contains `round_bits`
/// pseudo-random bits from [`stochastic_bits`]; adding them before the arithmetic shift rounds
/// the update stochastically, with an expected value of exactly `g·r / 2^round_bits`.
#[inline(always)]
pub fn update_weight(w: i32, g: i32, r: i32, rounding: i64, round_bits: u32, w_min: i64, w_max: i64) -> (i32, bool) {
    let updated = w as i64 + (((g * r) as i64 + rounding) >> round_bits);
    let clamped = updated.clamp(w_min, w_max);
    (clamped as i32, clamped != updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_round_ties_go_up() {
        assert_eq!(shift_round(3, 1), 2);
        assert_eq!(shift_round(-3, 1), -1);
        assert_eq!(shift_round(-4, 1), -2);
        assert_eq!(shift_round(5, 2), 1);
        assert_eq!(shift_round(6, 2), 2);
        assert_eq!(shift_round(-6, 2), -1);
        assert_eq!(shift_round(7, 0), 7);
    }

    #[test]
    fn saturate_counts_both_ends() {
        let p = Formats::default().pot();
        let mut n = 0;
        assert_eq!(p.saturate(p.max() + 1, &mut n), p.max());
        assert_eq!(p.saturate(p.min() - 5, &mut n), p.min());
        assert_eq!(p.saturate(p.min(), &mut n), p.min());
        assert_eq!(n, 2);
    }

    #[test]
    fn coefficient_is_precise() {
        for v in [1.0, 0.5, 1.0 / 2000.0, 0.1, 0.75, -0.3, 3.0, 1e-9, 1000.0] {
            let c = Coefficient::from_f64(v).unwrap();
            assert!(((c.to_f64() - v) / v).abs() < 4e-5, "{v} -> {c:?}");
        }
        assert_eq!(Coefficient::from_f64(1.0), Some(Coefficient { mant: 16384, shift: 14 }));
        assert_eq!(Coefficient::from_f64(0.0), Some(Coefficient::ZERO));
        assert_eq!(Coefficient::from_f64(1e-20), Some(Coefficient::ZERO));
        assert_eq!(Coefficient::from_f64(1e6), None);
        assert_eq!(Coefficient::from_f64(f64::NAN), None);
    }

    #[test]
    fn unit_coefficient_is_exact() {
        let one = Coefficient::from_f64(1.0).unwrap();
        let p = Formats::default().pot();
        for x in [p.min(), -1, 0, 1, 12345, p.max()] {
            assert_eq!(one.apply(x, 0), x);
        }
    }

    #[test]
    fn coefficient_products_stay_in_range() {
        // The minimum potential times the minimum mantissa must not overflow i64.
        let p = Formats::default().pot();
        let c = Coefficient { mant: i16::MIN, shift: 0 };
        assert_eq!(c.apply(p.min(), 0), p.min() * i16::MIN as i64);
    }

    #[test]
    fn from_f64_rounds_and_saturates() {
        let a = Formats::default().act();
        let mut n = 0;
        assert_eq!(a.from_f64(1.0, &mut n), 4096);
        assert_eq!(a.from_f64(-8.0, &mut n), -32768);
        assert_eq!(n, 0);
        assert_eq!(a.from_f64(8.0, &mut n), 32767);
        assert_eq!(a.from_f64(-9.0, &mut n), -32768);
        assert_eq!(a.from_f64(f64::NAN, &mut n), 0);
        assert_eq!(n, 3);
    }

    #[test]
    fn stochastic_bits_are_uniform() {
        // Over many step states, each rounding value occurs equally often.
        let mut counts = [0u32; 16];
        let mut s = 1u32;
        for _ in 0..160_000 {
            s = xorshift32(s);
            counts[stochastic_bits(s, 77, 4) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }

    /// Runs `steps` updates of `g·r` on one weight, each with fresh rounding bits.
    fn accumulate(g: i32, r: i32, steps: u32) -> i64 {
        let f = Formats::default();
        let w = f.weight();
        let bits = f.update_round_bits();
        let mut state = 0x1234_5678u32;
        let mut word = 0i32;
        for _ in 0..steps {
            state = xorshift32(state);
            let (next, saturated) = update_weight(word, g, r, stochastic_bits(state, 4711, bits), bits, w.min(), w.max());
            assert!(!saturated);
            word = next;
        }
        word as i64
    }

    #[test]
    fn sub_lsb_updates_add_up() {
        // g·r = 3 product LSBs = 3/32 of a weight LSB per step; 200 000 steps should move the
        // weight by 18 750 LSBs. The standard deviation of the sum is about
        // sqrt(steps · p(1-p)) ≈ 130 LSBs, so 5 % leaves a margin of 7 standard deviations.
        let steps = 200_000;
        for (g, r) in [(3, 1), (-3, 1), (1, -3), (-1, -3)] {
            let expected = (g * r) as f64 * steps as f64 / 32.0;
            let total = accumulate(g, r, steps) as f64;
            assert!((total - expected).abs() < 0.05 * expected.abs(), "g {g}, r {r}: moved {total}, expected {expected}");
        }
    }

    #[test]
    fn truncation_would_lose_sub_lsb_updates() {
        // The same updates with zero rounding bits vanish (positive) or drift by a whole LSB per
        // step (negative), which is what stochastic rounding prevents.
        let f = Formats::default();
        let w = f.weight();
        let (up, _) = update_weight(0, 3, 1, 0, f.update_round_bits(), w.min(), w.max());
        let (down, _) = update_weight(0, -3, 1, 0, f.update_round_bits(), w.min(), w.max());
        assert_eq!((up, down), (0, -1));
    }

    #[test]
    fn most_negative_operands() {
        let f = Formats::default();
        let w = f.weight();
        let bits = f.update_round_bits();
        let max_round = (1i64 << bits) - 1;
        // (-2^15)·(-2^15) = 2^30 is the largest product and must not overflow.
        let (word, saturated) = update_weight(i32::MAX, i16::MIN as i32, i16::MIN as i32, max_round, bits, w.min(), w.max());
        assert_eq!((word, saturated), (i32::MAX, true));
        let (word, saturated) = update_weight(i32::MIN, i16::MIN as i32, i16::MAX as i32, 0, bits, w.min(), w.max());
        assert_eq!((word, saturated), (i32::MIN, true));
        let (word, saturated) = update_weight(i32::MIN, i16::MIN as i32, i16::MIN as i32, max_round, bits, w.min(), w.max());
        assert_eq!(word as i64, i32::MIN as i64 + (((1i64 << 30) + max_round) >> bits));
        assert!(!saturated);
        // The top slice of the most negative weight is the most negative operand.
        assert_eq!(i32::MIN >> f.weight_slice_shift(), i16::MIN as i32);
        // Rounding half up of the most negative potential stays in range.
        let p = f.pot();
        assert_eq!(shift_round(p.min(), 10), p.min() >> 10);
    }

    #[test]
    fn default_formats_are_valid() {
        let f = Formats::default();
        f.validate().unwrap();
        assert_eq!(f.weight_slice_frac(), 12);
        assert_eq!(f.update_round_bits(), 5);
    }
}

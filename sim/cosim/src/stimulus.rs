//! Seeded random stimuli that favour the corners of each format.

use leap_model::format::{Coefficient, MAX_COEFFICIENT_SHIFT};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Replaces the low `shift` bits of `x` with exactly one half (`1 << (shift - 1)`), the tie of a
/// rounding shift by `shift` bits; `shift = 0` returns `x`.
pub fn tie(x: i64, shift: u32) -> i64 {
    if shift == 0 {
        return x;
    }
    (x & !((1i64 << shift) - 1)) | (1i64 << (shift - 1))
}

/// A seeded source of test words.
pub struct Stimulus {
    rng: ChaCha8Rng,
}

impl Stimulus {
    pub fn new(seed: u64) -> Stimulus {
        Stimulus {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Draws a value of a `bits`-bit two's-complement format. One draw in eight is a corner
    /// (the minimum, the maximum, 0, ±1, minimum + 1, maximum − 1). The others have a random bit
    /// length, so small and large magnitudes are equally likely.
    pub fn word(&mut self, bits: u32) -> i64 {
        let min = -(1i64 << (bits - 1));
        let max = (1i64 << (bits - 1)) - 1;
        if self.rng.gen_ratio(1, 8) {
            let corners = [min, max, 0, 1, -1, min + 1, max - 1];
            return corners[self.rng.gen_range(0..corners.len())];
        }
        let length = self.rng.gen_range(1..=bits);
        self.rng
            .gen_range(-(1i64 << (length - 1))..(1i64 << (length - 1)))
    }

    pub fn chance(&mut self, numerator: u32, denominator: u32) -> bool {
        self.rng.gen_ratio(numerator, denominator)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.gen_range(0..n)
    }

    pub fn next_u32(&mut self) -> u32 {
        self.rng.gen()
    }

    /// Draws a coefficient with any 16-bit mantissa and a shift in `0..=MAX_COEFFICIENT_SHIFT`.
    /// One draw in four has a power-of-two mantissa, which makes rounding ties likely.
    pub fn coefficient(&mut self) -> Coefficient {
        let shift = self.rng.gen_range(0..=MAX_COEFFICIENT_SHIFT);
        let mant = if self.rng.gen_ratio(1, 4) {
            let power = 1i32 << self.rng.gen_range(0..15);
            if self.rng.gen() {
                power as i16
            } else {
                (-power) as i16
            }
        } else {
            self.word(16) as i16
        };
        Coefficient { mant, shift }
    }
}

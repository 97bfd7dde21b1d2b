//! The Yin-Yang data set of Kriener, Göltz and Petrovici, "The Yin-Yang dataset" (2021).
//!
//! Samples are points in the disc of radius 0.5 centred at (0.5, 0.5), with the features
//! `(x, y, 1 − x, 1 − y)` and one of three classes: 0 (yin), 1 (yang) and 2 (the two dots).
//! The generator reproduces the authors' numpy implementation bit for bit: it draws from
//! numpy's legacy `RandomState`, which is a 32-bit Mersenne Twister, in the same order and
//! compares the same f64 distances.

use super::{Dataset, Splits};

/// Radius of the whole yin-yang disc.
const R_BIG: f64 = 0.5;
/// Radius of the two dots.
const R_SMALL: f64 = 0.1;
/// Centre of the disc, which is also the y coordinate of both dots.
const CENTRE: f64 = 0.5;
/// x coordinate of the left dot.
const LEFT_DOT_X: f64 = 0.25;
/// x coordinate of the right dot.
const RIGHT_DOT_X: f64 = 0.75;

/// Number of features per sample: `x`, `y`, `1 − x` and `1 − y`.
pub const N_FEATURES: usize = 4;
/// Number of classes: yin, yang and dot.
pub const N_CLASSES: usize = 3;

/// Generates `n` samples from the Mersenne Twister seeded with `seed`.
///
/// The result equals `YinYangDataset(size=n, seed=seed)` of the reference implementation.
/// Each sample first draws its class uniformly, then draws points until one lies in the
/// disc and has that class, so the classes are balanced in expectation.
pub fn generate(n: usize, seed: u32) -> Dataset {
    let mut rng = Mt19937::new(seed);
    let mut features = Vec::with_capacity(n * N_FEATURES);
    let mut labels = Vec::with_capacity(n);

    for _ in 0..n {
        let goal = rng.next_below(N_CLASSES as u32) as usize;
        let (x, y) = sample_point(&mut rng, goal);
        features.extend_from_slice(&[x, y, 1.0 - x, 1.0 - y]);
        labels.push(goal);
    }

    Dataset {
        name: "yinyang".to_string(),
        n_features: N_FEATURES,
        n_classes: N_CLASSES,
        features,
        labels,
    }
}

/// Generates the standard splits: 5000 training samples (seed 42), 1000 validation
/// samples (seed 41) and 1000 test samples (seed 40).
pub fn splits() -> Splits {
    Splits {
        train: generate(5000, 42),
        validation: generate(1000, 41),
        test: generate(1000, 40),
    }
}

/// Draws points until one lies in the disc and belongs to class `goal`.
fn sample_point(rng: &mut Mt19937, goal: usize) -> (f64, f64) {
    loop {
        // The reference scales the draws by 2·R_BIG = 1, which leaves them unchanged.
        let x = rng.next_f64();
        let y = rng.next_f64();
        // Points on the rim stay, as in the reference, which rejects only distances > R_BIG.
        if distance(x, y, CENTRE, CENTRE) > R_BIG {
            continue;
        }
        if class_of(x, y) == goal {
            return (x, y);
        }
    }
}

/// Returns the class of a point in the disc: 2 inside either dot, 1 in the yang half, 0 in the yin half.
fn class_of(x: f64, y: f64) -> usize {
    let d_right = distance(x, y, RIGHT_DOT_X, CENTRE);
    let d_left = distance(x, y, LEFT_DOT_X, CENTRE);

    if d_right < R_SMALL || d_left < R_SMALL {
        return 2;
    }

    let in_right_dot = d_right <= R_SMALL;
    let around_left_dot = d_left > R_SMALL && d_left <= 0.5 * R_BIG;
    let upper_outside_right = y > CENTRE && d_right > 0.5 * R_BIG;
    usize::from(in_right_dot || around_left_dot || upper_outside_right)
}

/// Returns the Euclidean distance between (x, y) and (cx, cy).
///
/// The reference squares with numpy's `** 2`, which may round differently from `dx * dx`
/// in the last bit. No decision in the standard splits differs, as far as a test can tell:
/// a changed decision would shift all later random draws, and the class counts match.
fn distance(x: f64, y: f64, cx: f64, cy: f64) -> f64 {
    let dx = x - cx;
    let dy = y - cy;
    (dx * dx + dy * dy).sqrt()
}

/// The 32-bit Mersenne Twister MT19937 (Matsumoto and Nishimura, 1998), as numpy's legacy
/// `RandomState` uses it.
struct Mt19937 {
    state: [u32; MT_N],
    /// Index of the next state word to temper and output. `MT_N` means the state must be regenerated.
    index: usize,
}

const MT_N: usize = 624;
const MT_M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

impl Mt19937 {
    /// Seeds the generator like `init_genrand` of the reference C code and numpy's `RandomState(seed)`.
    fn new(seed: u32) -> Self {
        let mut state = [0u32; MT_N];
        state[0] = seed;
        for i in 1..MT_N {
            let previous = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(previous ^ (previous >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: MT_N }
    }

    /// Regenerates all state words. Updating in place with wrapped indices reads the
    /// already-updated words exactly where the reference loops do.
    fn regenerate(&mut self) {
        for i in 0..MT_N {
            let y = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % MT_N] & LOWER_MASK);
            let mut next = self.state[(i + MT_M) % MT_N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= MATRIX_A;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// Returns the next 32-bit output (`genrand_int32`).
    fn next_u32(&mut self) -> u32 {
        if self.index >= MT_N {
            self.regenerate();
        }
        let mut y = self.state[self.index];
        self.index += 1;

        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Returns a uniform double in [0, 1) with 53 random bits, built from two outputs like
    /// `genrand_res53` and numpy's `random_sample`.
    fn next_f64(&mut self) -> f64 {
        let high = f64::from(self.next_u32() >> 5);
        let low = f64::from(self.next_u32() >> 6);
        (high * 67_108_864.0 + low) / 9_007_199_254_740_992.0
    }

    /// Returns a uniform integer in `0..bound` like numpy's legacy `randint(bound)`: mask
    /// each output down to the smallest all-ones bit pattern covering `bound − 1` and
    /// redraw while the result is too large.
    ///
    /// # Panics
    /// Panics if `bound` is 0.
    fn next_below(&mut self, bound: u32) -> u32 {
        assert!(bound > 0, "next_below needs a positive bound");
        let max = bound - 1;
        let mask = match max {
            0 => 0,
            _ => u32::MAX >> max.leading_zeros(),
        };
        loop {
            let value = self.next_u32() & mask;
            if value <= max {
                return value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_outputs() {
        // Reference values: the first output for the default seed 5489 from mt19937ar.c,
        // and the 10000th output, which the C++ standard requires of std::mt19937.
        let mut rng = Mt19937::new(5489);
        assert_eq!(rng.next_u32(), 3_499_211_612);
        for _ in 1..9999 {
            rng.next_u32();
        }
        assert_eq!(rng.next_u32(), 4_123_659_995);
    }

    #[test]
    fn uniform_double_matches_numpy() {
        // numpy.random.RandomState(42).rand(2)
        let mut rng = Mt19937::new(42);
        assert_eq!(rng.next_f64(), 0.3745401188473625);
        assert!((rng.next_f64() - 0.95071431).abs() < 1e-8);
    }

    #[test]
    fn next_below_stays_in_range() {
        let mut rng = Mt19937::new(1);
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let value = rng.next_below(3);
            assert!(value < 3, "next_below(3) returned {value}");
            seen[value as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        assert_eq!(rng.next_below(1), 0);
    }

    #[test]
    fn next_below_redraws_masked_three() {
        // With the mask 0b11, the reference discards any output whose low two bits are 3
        // and uses the next one, so replay the raw outputs to predict the draws.
        let mut raw = Mt19937::new(7);
        let mut rng = Mt19937::new(7);
        for _ in 0..200 {
            let expected = loop {
                let value = raw.next_u32() & 3;
                if value != 3 {
                    break value;
                }
            };
            assert_eq!(rng.next_below(3), expected);
        }
    }

    #[test]
    fn first_training_sample() {
        let train = generate(1, 42);
        let (features, label) = train.sample(0);
        assert_eq!(features[0], 0.6803075385877797);
        assert_eq!(features[1], 0.450499251969543);
        assert_eq!(features[2], 1.0 - 0.6803075385877797);
        assert_eq!(features[3], 1.0 - 0.450499251969543);
        assert_eq!(label, 2);
    }

    #[test]
    fn standard_split_class_counts() {
        let splits = splits();
        assert_eq!(splits.train.class_counts(), vec![1681, 1702, 1617]);
        assert_eq!(splits.validation.class_counts(), vec![316, 336, 348]);
        assert_eq!(splits.test.class_counts(), vec![350, 316, 334]);
    }

    #[test]
    fn standard_split_shapes() {
        let splits = splits();
        for (split, expected_len) in [
            (&splits.train, 5000),
            (&splits.validation, 1000),
            (&splits.test, 1000),
        ] {
            assert_eq!(split.name, "yinyang");
            assert_eq!(split.len(), expected_len);
            assert_eq!(split.n_features, 4);
            assert_eq!(split.n_classes, 3);
            assert_eq!(split.features.len(), expected_len * 4);
        }
    }

    #[test]
    fn samples_lie_in_disc_with_their_class() {
        let data = generate(2000, 3);
        for i in 0..data.len() {
            let (features, label) = data.sample(i);
            let (x, y) = (features[0], features[1]);
            assert!(
                distance(x, y, 0.5, 0.5) <= 0.5,
                "sample {i} at ({x}, {y}) lies outside the disc"
            );
            assert_eq!(class_of(x, y), label, "sample {i} at ({x}, {y})");
            assert_eq!(features[2], 1.0 - x);
            assert_eq!(features[3], 1.0 - y);
        }
    }

    #[test]
    fn generate_is_deterministic() {
        assert_eq!(generate(100, 9), generate(100, 9));
        assert_ne!(generate(100, 9), generate(100, 10));
    }

    #[test]
    fn class_of_regions() {
        let cases = [
            // Centres of the dots.
            ((0.25, 0.5), 2),
            ((0.75, 0.5), 2),
            ((0.75, 0.55), 2),
            // Ring around the left dot.
            ((0.4, 0.5), 1),
            ((0.25, 0.3), 1),
            // Upper half away from the right dot.
            ((0.5, 0.9), 1),
            // Lower half away from both dots.
            ((0.5, 0.1), 0),
            // Ring around the right dot, both above and below the centre line.
            ((0.75, 0.3), 0),
            ((0.75, 0.7), 0),
        ];
        for ((x, y), expected) in cases {
            assert_eq!(class_of(x, y), expected, "point ({x}, {y})");
        }
    }
}

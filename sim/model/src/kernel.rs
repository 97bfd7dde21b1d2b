//! The inner loop of the fixed-point model: one pass over one row of weight words.
//!
//! The arithmetic is the specification's (`format`), written as a loop the compiler can
//! vectorise. On x86-64 processors with AVX2 the same loop is compiled a second time with AVX2
//! enabled and chosen at run time. Both versions compute identical words, which a test checks.

use crate::format::{stochastic_bits, update_weight};

/// Constants of one pass over a layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowPass {
    pub slice_shift: u32,
    pub round_bits: u32,
    pub w_min: i64,
    pub w_max: i64,
    pub rounding_state: u32,
}

/// Per-row results: the forward sum and the number of saturated weight updates.
pub(crate) struct RowResult {
    pub sum: i64,
    pub saturated: u64,
}

/// Streams one row: `Σ w16·r`, `back[j] += w16·m` (when `BACK`) and, when `LEARN`, the
/// stochastically rounded update `w += g·r`. Every product uses the word before its update.
#[inline(always)]
fn row_generic<const LEARN: bool, const BACK: bool>(
    p: &RowPass,
    row: &mut [i32],
    r_in: &[i32],
    back: &mut [i64],
    m: i32,
    g: i32,
    row_address: u32,
) -> RowResult {
    let n = row.len();
    let r_in = &r_in[..n];
    let back = if BACK { &mut back[..n] } else { &mut back[..0] };
    let mut sum = 0i64;
    let mut saturated = 0u64;
    for j in 0..n {
        let w = row[j];
        let w16 = w >> p.slice_shift;
        sum += (w16 * r_in[j]) as i64;
        if BACK {
            back[j] += (w16 * m) as i64;
        }
        if LEARN {
            let rounding = stochastic_bits(p.rounding_state, row_address.wrapping_add(j as u32), p.round_bits);
            let (updated, clipped) = update_weight(w, g, r_in[j], rounding, p.round_bits, p.w_min, p.w_max);
            saturated += clipped as u64;
            row[j] = updated;
        }
    }
    RowResult { sum, saturated }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_avx2<const LEARN: bool, const BACK: bool>(
    p: &RowPass,
    row: &mut [i32],
    r_in: &[i32],
    back: &mut [i64],
    m: i32,
    g: i32,
    row_address: u32,
) -> RowResult {
    row_generic::<LEARN, BACK>(p, row, r_in, back, m, g, row_address)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs [`row_generic`] with the widest instruction set the processor has.
#[inline]
pub(crate) fn row_pass<const LEARN: bool, const BACK: bool>(
    p: &RowPass,
    row: &mut [i32],
    r_in: &[i32],
    back: &mut [i64],
    m: i32,
    g: i32,
    row_address: u32,
) -> RowResult {
    if has_avx2() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the processor supports AVX2, checked at run time just above.
        return unsafe { row_avx2::<LEARN, BACK>(p, row, r_in, back, m, g, row_address) };
    }
    row_generic::<LEARN, BACK>(p, row, r_in, back, m, g, row_address)
}

/// Runs one pass over every row of a layer: returns the forward sums, accumulates the
/// backward sums into `back` (when it is not empty) and adds saturated updates to `saturated`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn layer_pass(
    p: &RowPass,
    weights: &mut [i32],
    r_in: &[i32],
    back: &mut [i64],
    m: &[i32],
    g: &[i32],
    learn: bool,
    base_address: u32,
    saturated: &mut u64,
) -> Vec<i64> {
    let n_cols = r_in.len();
    let want_back = !back.is_empty();
    let mut sums = Vec::with_capacity(m.len());
    for (i, row) in weights.chunks_exact_mut(n_cols).enumerate() {
        let address = base_address.wrapping_add((i * n_cols) as u32);
        let result = match (learn, want_back) {
            (true, true) => row_pass::<true, true>(p, row, r_in, back, m[i], g[i], address),
            (true, false) => row_pass::<true, false>(p, row, r_in, back, m[i], g[i], address),
            (false, true) => row_pass::<false, true>(p, row, r_in, back, m[i], g[i], address),
            (false, false) => row_pass::<false, false>(p, row, r_in, back, m[i], g[i], address),
        };
        *saturated += result.saturated;
        sums.push(result.sum);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{xorshift32, Formats};

    /// The run-time dispatched kernel and the portable one give identical words.
    #[test]
    fn dispatched_kernel_matches_portable() {
        let f = Formats::default();
        let p = RowPass {
            slice_shift: f.weight_slice_shift(),
            round_bits: f.update_round_bits(),
            w_min: f.weight().min(),
            w_max: f.weight().max(),
            rounding_state: 0x9e37_79b9,
        };
        let mut seed = 12345u32;
        let mut next = || {
            seed = xorshift32(seed);
            seed
        };
        for n in [1usize, 3, 7, 16, 33, 785] {
            let row: Vec<i32> = (0..n).map(|k| if k == 0 { i32::MIN } else if k == 1 { i32::MAX } else { next() as i32 }).collect();
            let r_in: Vec<i32> = (0..n).map(|_| (next() as i32) >> 16).collect();
            let (m, g) = ((next() as i32) >> 16, (next() as i32) >> 16);
            let (mut row_a, mut row_b) = (row.clone(), row);
            let (mut back_a, mut back_b) = (vec![7i64; n], vec![7i64; n]);
            let a = row_generic::<true, true>(&p, &mut row_a, &r_in, &mut back_a, m, g, 100);
            let b = row_pass::<true, true>(&p, &mut row_b, &r_in, &mut back_b, m, g, 100);
            assert_eq!(row_a, row_b, "weights, n = {n}");
            assert_eq!(back_a, back_b, "backward sums, n = {n}");
            assert_eq!((a.sum, a.saturated), (b.sum, b.saturated), "n = {n}");
        }
    }
}

//! The Verilated synapse lane against the golden model's weight arithmetic, bit for bit.

use std::collections::VecDeque;

use leap_cosim::describe;
use leap_cosim::reference::{lane, LaneInput, LaneOutput};
use leap_cosim::stimulus::Stimulus;
use leap_model::format::Formats;
use leap_verilator_sys::{alternate_formats, Model};

/// Clocks from the lane's inputs to its outputs, as leap-hdl's `LANE_LATENCY` states.
const LATENCY: usize = 3;
const RANDOM_VECTORS: usize = 100_000;

/// How often each interesting case occurred in a run.
#[derive(Default, Debug)]
struct Coverage {
    saturated_high: usize,
    saturated_low: usize,
    learn_off: usize,
    most_negative_operands: usize,
}

/// Streams `vectors` through the lane, one per clock with random bubbles, and compares every
/// output of every valid result. Panics at the first difference. Each vector's rounding bits go
/// in one clock after its other inputs and its weight's low bits two clocks after them, as the
/// engine drives them.
fn run(model_name: &str, formats: &Formats, vectors: &[LaneInput], seed: u64) -> Coverage {
    let mut model = Model::new(model_name, seed as u32);
    let ports = [
        "valid",
        "slice",
        "low",
        "rate",
        "message",
        "update_factor",
        "rounding",
        "learn",
        "out_valid",
        "forward",
        "backward",
        "weight_next",
        "saturated",
    ]
    .map(|name| model.port(name));
    let [valid, slice, low, rate, message, update_factor, rounding, learn, out_valid, forward, backward, weight_next, saturated] =
        ports;
    model.reset(LATENCY as u32);

    let mut bubbles = Stimulus::new(seed ^ 0xb0bb1e);
    let mut coverage = Coverage::default();
    // Entry k is what the outputs show k clocks from now; `None` is a bubble.
    let mut in_flight: VecDeque<Option<(usize, LaneInput)>> =
        (0..LATENCY - 1).map(|_| None).collect();
    let slice_shift = formats.weight_slice_shift();
    let low_mask = (1i64 << slice_shift) - 1;
    let mut next = 0;
    let mut clocks = 0;
    while next < vectors.len() || in_flight.iter().any(Option::is_some) {
        // The vectors that entered one and two clocks ago take their rounding bits and low
        // bits now. A bubble's are random, and the lane ignores them.
        match in_flight[1] {
            Some((_, v)) => model.set(rounding, v.rounding as i64),
            None => model.set(rounding, bubbles.word(32)),
        }
        match in_flight[0] {
            Some((_, v)) => model.set(low, v.weight & low_mask),
            None => model.set(low, bubbles.word(16)),
        }
        let entry = if next < vectors.len() && !bubbles.chance(1, 16) {
            let v = vectors[next];
            model.set(valid, 1);
            model.set(slice, v.weight >> slice_shift);
            model.set(rate, v.rate);
            model.set(message, v.message);
            model.set(update_factor, v.update_factor);
            model.set(learn, v.learn as i64);
            next += 1;
            Some((next - 1, v))
        } else {
            // A bubble drives random data, which the lane must ignore.
            model.set(valid, 0);
            model.set(slice, bubbles.word(16));
            model.set(learn, bubbles.chance(1, 2) as i64);
            None
        };
        model.clock();
        clocks += 1;
        in_flight.push_back(entry);
        let shown = in_flight
            .pop_front()
            .expect("the queue holds LATENCY - 1 entries before the push");

        let Some((index, input)) = shown else {
            assert_eq!(
                model.get(out_valid),
                0,
                "{model_name}: out_valid set for a bubble at clock {clocks}"
            );
            assert_eq!(
                model.get(forward),
                0,
                "{model_name}: forward is not 0 in a bubble at clock {clocks}"
            );
            assert_eq!(
                model.get(backward),
                0,
                "{model_name}: backward is not 0 in a bubble at clock {clocks}"
            );
            assert_eq!(
                model.get(saturated),
                0,
                "{model_name}: saturated set in a bubble at clock {clocks}"
            );
            continue;
        };
        assert_eq!(
            model.get(out_valid),
            1,
            "{model_name}: out_valid clear for vector #{index} at clock {clocks}"
        );
        let expected = lane(formats, &input);
        // Without learn the lane's weight_next is undefined, because its slot writes no weight.
        let got = LaneOutput {
            forward: model.get_signed(forward),
            backward: model.get_signed(backward),
            weight_next: if input.learn {
                model.get_signed(weight_next)
            } else {
                expected.weight_next
            },
            saturated: model.get(saturated) == 1,
        };
        if got != expected {
            panic!(
                "{model_name}: first difference at vector #{index} (clock {clocks})\n  inputs: {}\n  RTL:       {got:?}\n  reference: {expected:?}",
                describe(&[
                    ("weight", input.weight),
                    ("rate", input.rate),
                    ("message", input.message),
                    ("update_factor", input.update_factor),
                    ("rounding", input.rounding as i64),
                    ("learn", input.learn as i64),
                ])
            );
        }
        if expected.saturated && expected.weight_next == formats.weight().max() {
            coverage.saturated_high += 1;
        }
        if expected.saturated && expected.weight_next == formats.weight().min() {
            coverage.saturated_low += 1;
        }
        coverage.learn_off += !input.learn as usize;
        coverage.most_negative_operands +=
            (input.rate == -32768 && input.update_factor == -32768) as usize;
    }
    coverage
}

fn random_vectors(formats: &Formats, count: usize, seed: u64) -> Vec<LaneInput> {
    let mut s = Stimulus::new(seed);
    let w = formats.weight();
    (0..count)
        .map(|_| {
            let mut weight = s.word(formats.weight_bits);
            // Weights next to either end make saturation common.
            if s.chance(1, 8) {
                weight = if s.chance(1, 2) {
                    w.max() - s.below(1 << 20) as i64
                } else {
                    w.min() + s.below(1 << 20) as i64
                };
            }
            LaneInput {
                weight,
                rate: s.word(16),
                message: s.word(16),
                update_factor: s.word(16),
                rounding: s.next_u32(),
                learn: !s.chance(1, 8),
            }
        })
        .collect()
}

/// Hand-picked corners: the most negative value of every operand, saturation at both ends,
/// rounding bits all ones and all zeros, zero products.
fn corner_vectors(formats: &Formats) -> Vec<LaneInput> {
    let w = formats.weight();
    let weights = [w.min(), w.min() + 1, -1, 0, 1, w.max() - 1, w.max()];
    let operands = [
        i16::MIN as i64,
        i16::MIN as i64 + 1,
        -1,
        0,
        1,
        i16::MAX as i64,
    ];
    let roundings = [
        0u32,
        u32::MAX,
        1 << formats.update_round_bits().saturating_sub(1),
    ];
    let mut vectors = Vec::new();
    for &weight in &weights {
        for &rate in &operands {
            for &factor in &operands {
                for &rounding in &roundings {
                    for learn in [true, false] {
                        vectors.push(LaneInput {
                            weight,
                            rate,
                            message: factor,
                            update_factor: factor,
                            rounding,
                            learn,
                        });
                    }
                }
            }
        }
    }
    vectors
}

#[test]
fn lane_random_default_formats() {
    let formats = Formats::default();
    let coverage = run(
        "lane",
        &formats,
        &random_vectors(&formats, RANDOM_VECTORS, 1),
        11,
    );
    assert!(
        coverage.saturated_high > 100,
        "too few saturations at the maximum: {coverage:?}"
    );
    assert!(
        coverage.saturated_low > 100,
        "too few saturations at the minimum: {coverage:?}"
    );
    assert!(
        coverage.learn_off > 1000,
        "too few vectors without learning: {coverage:?}"
    );
}

#[test]
fn lane_random_alternate_formats() {
    let formats = alternate_formats();
    let coverage = run(
        "lane_alt",
        &formats,
        &random_vectors(&formats, RANDOM_VECTORS, 2),
        12,
    );
    assert!(
        coverage.saturated_high > 100,
        "too few saturations at the maximum: {coverage:?}"
    );
    assert!(
        coverage.saturated_low > 100,
        "too few saturations at the minimum: {coverage:?}"
    );
}

#[test]
fn lane_corners_both_formats() {
    for (name, formats) in [
        ("lane", Formats::default()),
        ("lane_alt", alternate_formats()),
    ] {
        let coverage = run(name, &formats, &corner_vectors(&formats), 13);
        assert!(
            coverage.saturated_high > 0,
            "{name}: no saturation at the maximum: {coverage:?}"
        );
        assert!(
            coverage.saturated_low > 0,
            "{name}: no saturation at the minimum: {coverage:?}"
        );
        assert!(coverage.most_negative_operands > 0, "{name}: {coverage:?}");
    }
}

/// Two runs of the same vectors with different random initial register values agree: no output
/// depends on a register without a reset.
#[test]
fn lane_ignores_initial_values() {
    let formats = Formats::default();
    let vectors = random_vectors(&formats, 2_000, 3);
    for seed in [101, 202, 303] {
        run("lane", &formats, &vectors, seed);
    }
}

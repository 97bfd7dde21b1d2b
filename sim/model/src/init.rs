//! Initial weights and biases.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::config::Config;
use crate::device::Parameters;

/// Draws every weight and bias from `N(0, init_std²)` with a generator seeded by `training.seed`.
///
/// Layers are drawn in order, each row's weights before the next row, and all biases of a layer
/// after its weights, so a seed gives the same network on every device.
pub fn initial_parameters(config: &Config) -> Parameters {
    let mut rng = ChaCha8Rng::seed_from_u64(config.training.seed);
    let normal = Normal::new(0.0, config.training.init_std).expect("validated init_std is finite and >= 0");
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for pair in config.network.layers.windows(2) {
        let (n_in, n_out) = (pair[0], pair[1]);
        weights.push((0..n_in * n_out).map(|_| normal.sample(&mut rng)).collect());
        biases.push((0..n_out).map(|_| normal.sample(&mut rng)).collect());
    }
    Parameters { weights, biases }
}

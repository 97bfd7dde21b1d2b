// Shared by build.rs (through `include!`) and the library: the models this crate builds.

use leap_model::format::Formats;

/// Formats that differ from the defaults in every width and in the direction of every
/// alignment: 24-bit weights, a left shift from forward sums to potentials, no stochastic
/// rounding bits and a 14-bit shift from potentials to rates.
pub fn alternate_formats() -> Formats {
    Formats {
        act_frac: 10,
        weight_bits: 24,
        weight_frac: 20,
        pot_bits: 29,
        pot_frac: 24,
        msg_frac: 12,
        upd_frac: 10,
    }
}

/// One model this crate builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantSpec {
    pub name: &'static str,
    /// The leap-hdl design: `lane`, `neuron` or `engine`.
    pub design: &'static str,
    pub formats: Formats,
    /// Synapse lanes of an engine; ignored for the other designs.
    pub lanes: usize,
}

/// Lists every model this crate builds.
pub fn variant_specs() -> Vec<VariantSpec> {
    let spec = |name, design, formats, lanes| VariantSpec {
        name,
        design,
        formats,
        lanes,
    };
    vec![
        spec("lane", "lane", Formats::default(), 1),
        spec("neuron", "neuron", Formats::default(), 1),
        spec("lane_alt", "lane", alternate_formats(), 1),
        spec("neuron_alt", "neuron", alternate_formats(), 1),
        spec("engine", "engine", Formats::default(), 2),
        spec("engine_alt", "engine", alternate_formats(), 3),
    ]
}

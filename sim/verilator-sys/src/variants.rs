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
    /// The leap-hdl design: `lane`, `neuron`, `engine`, `decoder`, `encoder` or `uart`.
    pub design: &'static str,
    pub formats: Formats,
    /// Synapse lanes of an engine; ignored for the other designs.
    pub lanes: usize,
    /// Memory sizes of an engine; `None` keeps `leap_hdl::engine::EngineParams::default`.
    pub size: Option<EngineSize>,
    /// Parameters of a link design; `None` keeps `leap_hdl::link::LinkParams::default`.
    pub link: Option<LinkSize>,
}

/// Parameters of a link design, as the fields of `leap_hdl::link::LinkParams` of the same names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkSize {
    pub max_payload: usize,
    pub timeout_clocks: u64,
    pub clocks_per_bit: usize,
}

/// Memory sizes of an engine, as the fields of `leap_hdl::engine::EngineParams` of the same names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineSize {
    pub max_layers: usize,
    pub state_words: usize,
    pub max_rows: usize,
    pub max_columns: usize,
    pub max_inputs: usize,
    pub weight_words: usize,
}

/// Lists every model this crate builds.
pub fn variant_specs() -> Vec<VariantSpec> {
    let spec = |name, design, formats, lanes| VariantSpec {
        name,
        design,
        formats,
        lanes,
        size: None,
        link: None,
    };
    let link = |name, design, max_payload, timeout_clocks, clocks_per_bit| VariantSpec {
        name,
        design,
        formats: Formats::default(),
        lanes: 1,
        size: None,
        link: Some(LinkSize {
            max_payload,
            timeout_clocks,
            clocks_per_bit,
        }),
    };
    vec![
        spec("lane", "lane", Formats::default(), 1),
        spec("neuron", "neuron", Formats::default(), 1),
        spec("lane_alt", "lane", alternate_formats(), 1),
        spec("neuron_alt", "neuron", alternate_formats(), 1),
        spec("engine", "engine", Formats::default(), 2),
        spec("engine_alt", "engine", alternate_formats(), 3),
        // The sizes of `leap_hdl::engine::EngineParams::icebreaker`, exactly full with 4-120-3.
        VariantSpec {
            size: Some(EngineSize {
                max_layers: 2,
                state_words: 123,
                max_rows: 120,
                max_columns: 121,
                max_inputs: 4,
                weight_words: 543,
            }),
            ..spec("engine_icebreaker", "engine", Formats::default(), 2)
        },
        // The link tests use short inter-byte timeouts so that a gap costs few simulated clocks.
        link("decoder", "decoder", 256, 600, 16),
        link("decoder_4096", "decoder", 4096, 2000, 16),
        link("encoder_4096", "encoder", 4096, 2000, 16),
        link("uart", "uart", 256, 600, 16),
        link("uart_fast", "uart", 256, 600, 4),
    ]
}

/// Engines for the `engine-bench` binary of leap-cosim, built only with the `bench-engines`
/// feature because verilating them takes minutes. Both fit a 784-100-10 network: at P = 2 its
/// layers take 39,810 weight words per lane, at P = 52 they take 1,620.
pub fn bench_variant_specs() -> Vec<VariantSpec> {
    let spec = |name, lanes, weight_words| VariantSpec {
        name,
        design: "engine",
        formats: Formats::default(),
        lanes,
        size: Some(EngineSize {
            max_layers: 4,
            state_words: 256,
            max_rows: 128,
            max_columns: 785,
            max_inputs: 784,
            weight_words,
        }),
        link: None,
    };
    vec![
        spec("engine_bench_p2", 2, 65536),
        spec("engine_bench_p52", 52, 2048),
    ]
}

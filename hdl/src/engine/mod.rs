//! The LE engine: P synapse lanes, the neuron unit, block RAM for weights and neuron state, and
//! the controller that runs time steps exactly as `leap_model::FixedModel::step` does.
//!
//! Per time step the controller advances the stochastic-rounding state and processes the layers
//! from the top down. For each layer it:
//! 1. loads the layer's descriptor from the layer table (16 clocks);
//! 2. for the top layer, forms the output errors from the previous step's output, two neurons
//!    in four clocks. Both products of an output error take the shared product, and the neuron
//!    unit's rounded sum adds and clamps each of them two clocks later;
//! 3. copies two kinds of words side by side, one clock per word plus one. Below the top layer,
//!    it forms the loaded layer's errors `e_new` from the backward sums that the layer above left
//!    in the lanes, and waits one clock more for the neuron unit's rounded sum to clamp the last
//!    of them. When the host has changed rates or inputs since the last step, it also copies
//!    the layer's presynaptic rates into the lanes' rate banks;
//! 4. streams every weight once through the lanes, `max(groups, 3)` clocks per row (forward
//!    sums, backward sums, weight update and write-back). The update factor `g` and message `m`
//!    of a row are formed from its errors while the row before it streams. `g` takes the
//!    neuron unit's two multipliers in a clock where no neuron uses them, and every row of at
//!    least 3 clocks has one. When a row's last
//!    group has its forward sum, the neuron unit takes that row's neuron, so the neuron phase
//!    runs inside the stream. Its rates also go into the lanes' region of the layer above, for
//!    that layer's stream in the next step;
//! 5. waits for the neuron unit to return the last row (10 clocks after the stream's last
//!    clock, minus the `3 − groups` bubbles after each row of a layer of fewer than 3 column
//!    groups).
//!
//! A learning step with the same input as the step before therefore takes
//!
//! ```text
//! Σ_l rows_l · max(groups_l, 3)                     the weight stream
//! + 2 · rows_top + (rows_top mod 2)                 output errors
//! + Σ_{l < top} (rows_l + 1)                        errors of the layers below the top
//! + Σ_l (31 − (max(groups_l, 3) − groups_l))        per-layer overhead
//! + 5                                               per-step overhead
//! ```
//!
//! clocks. The first step after a new input adds `max(0, inputs − rows_1)` for the copy of
//! the inputs, or `inputs + 1` when the first layer is the top. The weight stream is the ideal
//! `synapses / P` up to the padding of each row to whole groups and to at least 3 clocks. The
//! 4-120-3 Yin-Yang network at P = 2 takes 738 clocks per step. The wait and the per-layer
//! overhead grow clock for clock with [`crate::NEURON_LATENCY`] (6).
//!
//! Rates, slopes and errors are double-buffered: a step reads the bank written by the previous
//! step and writes the other. Each layer's presynaptic rates keep a region of every lane's rate
//! bank (see [`EngineParams::rate_words`]), laid out from the top layer down.
//!
//! The host drives the engine through a command port (see [`EngineCommand`]) and describes the
//! network with a layer table (see [`field`]). `leap-cosim` has a driver that loads a
//! `FixedModel`'s configuration and state.
//!
//! NOTE: only the `tau_m` error source is implemented. `tau_r` takes its messages from `ŭ − I` of
//! the same step, which needs a forward pass over the layer before the stream.

mod slot;
mod tags;
pub mod units;

use rust_hdl::prelude::*;

/// Generation parameters of the engine.
///
/// NOTE: with [`EngineParams::icebreaker`], yosys 0.23 `synth_ice40 -dsp -spram` maps the engine
/// to 2,763 SB_LUT4, 990 flip-flops, 28 SB_RAM40_4K, 1 SB_SPRAM256KA (the counter bank) and 8
/// SB_MAC16 (leap-cosim's board_synthesis test). The rest of the iCEBreaker board core (link
/// blocks, command executor, reply cache) takes about 2,490 SB_LUT4, 2 SB_RAM40_4K, 3
/// SB_SPRAM256KA and no SB_MAC16. Its multipliers and memories fit an iCE40UP5K, but its logic
/// does not fit yet: nextpnr packs the core into 5,735 logic cells of the 5,280. The
/// multipliers are the lanes' 6 and the neuron unit's 2, which also form the per-neuron
/// products. Each lane's weight bank (543 words of 32 bits) takes 6 block RAMs and its backward
/// sums 3, so the lanes alone take 20.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineParams {
    /// Synapse lanes: weights processed per clock.
    pub lanes: usize,
    /// Layers the layer table can describe.
    pub max_layers: usize,
    /// Neurons of all non-input layers together (the state memories).
    pub state_words: usize,
    /// Rows of the widest layer (its neurons).
    pub max_rows: usize,
    /// Columns of the widest layer: its inputs plus the bias.
    pub max_columns: usize,
    /// Network inputs.
    pub max_inputs: usize,
    /// Words per lane's weight bank.
    pub weight_words: usize,
}

impl Default for EngineParams {
    fn default() -> Self {
        EngineParams {
            lanes: 2,
            max_layers: 4,
            state_words: 256,
            max_rows: 128,
            max_columns: 128,
            max_inputs: 16,
            weight_words: 1024,
        }
    }
}

impl EngineParams {
    /// Memory sizes for the default Yin-Yang network (4-120-3) on an iCEBreaker (iCE40UP5K) with
    /// 2 lanes: 2 layers, 123 neurons, 120 rows, 121 columns and 4 inputs. Each lane's weight
    /// bank has 543 words: 120 rows of 3 groups in the first layer and 3 rows of 61 groups in
    /// the second.
    pub fn icebreaker() -> Self {
        EngineParams {
            lanes: 2,
            max_layers: 2,
            state_words: 123,
            max_rows: 120,
            max_columns: 121,
            max_inputs: 4,
            weight_words: 543,
        }
    }

    /// Words per lane's rate bank: enough for the regions of every layer, one word per column
    /// group. The columns of all layers together are at most `max_inputs + state_words +
    /// max_layers`, and rounding each layer's groups up adds at most one word per layer.
    pub fn rate_words(&self) -> usize {
        (self.max_inputs + self.state_words + self.max_layers).div_ceil(self.lanes)
            + self.max_layers
    }

    /// Address bits that select a lane in a host weight address.
    pub fn bank_bits(&self) -> usize {
        (usize::BITS - (self.lanes.max(2) - 1).leading_zeros()) as usize
    }
}

/// Returns the bits that an unsigned value up to `max` needs (at least 1).
pub(crate) fn bits_for(max: usize) -> usize {
    (usize::BITS - max.leading_zeros()).max(1) as usize
}

/// Lanes an engine can have: the lane index is an 8-bit word, and each lane adds at most one to
/// the 8-bit count of weight clamps that travels along the lanes.
pub const MAX_LANES: usize = 128;

/// Clocks a row of the weight stream takes at least: rows of fewer column groups stream bubbles,
/// so that the neuron unit's multipliers have a clock per row for the per-neuron products.
pub const MIN_ROW_CLOCKS: usize = 3;

/// Time steps one `run` command takes at most. The engine counts them in 20 bits, which hold
/// the protocol's 1,000,000 steps per sample.
pub const MAX_RUN_STEPS: u64 = (1 << 20) - 1;

/// Commands of the host port, one per strobe input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineCommand {
    /// `write`: store `data` at (`select`, `address`); only while idle.
    Write,
    /// `read`: `read_data` is the word at (`select`, `address`) while `read_valid` pulses.
    Read,
    /// `run`: run `data` time steps (1 to `MAX_RUN_STEPS`), with nudging and learning when
    /// `learn` is set.
    Run,
}

/// Codes of the `select` port: what the host reads or writes.
pub mod select {
    /// Weight words; address `(word << bank_bits) | lane`. Addresses whose word does not fit the
    /// 16-bit bank address write nothing and read 0. Words from `EngineParams::weight_words` on
    /// that fit it are undefined: the bank stores exactly `weight_words` words.
    pub const WEIGHT: u64 = 0;
    /// Membrane potentials `u`, by state index (the layer's state base plus the neuron).
    pub const POTENTIAL: u64 = 1;
    /// Prospective potentials `ŭ`.
    pub const PROSPECTIVE: u64 = 2;
    /// Installed errors `e` (the bank the next step reads).
    pub const ERROR: u64 = 3;
    /// Rates `r` (the bank the next step reads).
    pub const RATE: u64 = 4;
    /// Slopes `d` (the bank the next step reads).
    pub const SLOPE: u64 = 5;
    /// Clamped input activities.
    pub const INPUT: u64 = 6;
    /// Target words of the output neurons.
    pub const TARGET: u64 = 7;
    /// Layer table; address `layer * 16 + field` (see [`super::field`]).
    pub const LAYER_TABLE: u64 = 8;
    /// Constants (write only); addresses in [`super::constant`].
    pub const CONSTANT: u64 = 9;
    /// Counters (read only); addresses in [`super::counter`].
    pub const COUNTER: u64 = 10;
}

/// Fields of a layer-table entry, each a 32-bit word.
pub mod field {
    /// Neurons of the layer (rows).
    pub const ROWS: u64 = 0;
    /// Inputs plus the bias (columns).
    pub const COLUMNS: u64 = 1;
    /// Column groups per row: `ceil(COLUMNS / lanes)`.
    pub const GROUPS: u64 = 2;
    /// Clocks per row minus one: `max(GROUPS, 3) - 1`. A row needs 3 clocks so that the neuron
    /// unit's multipliers are idle in one of them for the next row's update factor.
    pub const CADENCE_LAST: u64 = 3;
    /// First word of the layer in every weight bank.
    pub const WEIGHT_BASE: u64 = 4;
    /// Address of the layer's first weight in the network-wide numbering of stochastic rounding.
    pub const ADDRESS_BASE: u64 = 5;
    /// State index of the layer's first neuron.
    pub const STATE_BASE: u64 = 6;
    /// State index of the first neuron of the layer below (unused for the first layer).
    pub const INPUT_BASE: u64 = 7;
    /// Activation code (`crate::leaf::activation`).
    pub const ACTIVATION: u64 = 8;
    pub const ETA_MANT: u64 = 9;
    pub const ETA_SHIFT: u64 = 10;
    /// 1 for the first layer, whose inputs are the clamped input activities.
    pub const FIRST: u64 = 11;
    /// Inputs without the bias.
    pub const INPUTS: u64 = 12;
    /// `GROUPS - 1`.
    pub const GROUPS_LAST: u64 = 13;
    /// In the first entry only: β's mantissa, which the engine stores here on a host write of
    /// [`super::constant::BETA_MANT`], so a host write of this table word also sets β. The
    /// other entries leave this word unused.
    pub const BETA_MANT: u64 = 14;
    /// Fields per entry, and the stride of the table's addresses.
    pub const STRIDE: u64 = 16;
}

/// Addresses of the constants (`select::CONSTANT`).
pub mod constant {
    pub const K_R_MANT: u64 = 0;
    pub const K_R_SHIFT: u64 = 1;
    pub const K_DT_MANT: u64 = 2;
    pub const K_DT_SHIFT: u64 = 3;
    pub const BETA_MANT: u64 = 4;
    pub const BETA_SHIFT: u64 = 5;
    /// Table address of the top layer: `(layers - 1) * field::STRIDE`. The engine ignores
    /// the address bits below the stride.
    pub const TOP_BASE: u64 = 6;
    /// 1 for a voltage target, 0 for a rate target.
    pub const VOLTAGE: u64 = 7;
    /// The stochastic-rounding state; must not be 0.
    pub const ROUNDING_STATE: u64 = 8;
}

/// Addresses of the counters (`select::COUNTER`).
pub mod counter {
    /// Clocks since reset or `clear_counters`, up to the clock in which the counter bank folded
    /// the count's low word for the read (a few clocks before the read returns).
    pub const CYCLES: u64 = 0;
    pub const STEPS: u64 = 1;
    pub const POTENTIAL: u64 = 2;
    pub const RATE: u64 = 3;
    pub const MESSAGE: u64 = 4;
    pub const UPDATE: u64 = 5;
    pub const WEIGHT: u64 = 6;
    pub const ROUNDING_STATE: u64 = 7;
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum EngineState {
    Idle,
    ReadWait,
    StepStart,
    LoadStart,
    Load,
    Output,
    Copy,
    StreamStart,
    StreamStart2,
    Stream,
    Finish,
    LayerNext,
    StepEnd,
    StepCheck,
}

mod engine_block;
pub use engine_block::Engine;

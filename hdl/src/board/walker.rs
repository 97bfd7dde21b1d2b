//! Translation of the protocol's network-wide weight addresses to the engine's host addresses.

use rust_hdl::prelude::*;

use super::units::AddressJoin;
use crate::engine::units::{Counter, EnableRegister};
use crate::leaf::ResetRegister;

/// Placement of one layer's weights, fixed at generation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerWeights {
    /// Neurons (rows).
    pub rows: usize,
    /// Inputs plus the bias (columns).
    pub columns: usize,
    /// Column groups per row: `ceil(columns / lanes)`, the bank words of a row.
    pub groups: usize,
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum WalkState {
    /// The address is valid; `advance` moves to the next weight.
    Ready,
    /// Skipping whole layers.
    Layer,
    /// Skipping whole rows of the layer.
    Row,
    /// Stepping through the columns of the row.
    Column,
}

/// Walks the weights in network-wide order (layer by layer, row by row, the bias last in each row)
/// and presents the engine's host address `(bank word << bank_bits) | lane` of the current one.
///
/// `start` (strobe) locates the weight at `offset` by skipping whole layers, then whole rows, then
/// single columns, one per clock, so it takes at most `layers + rows + columns` clocks and needs
/// no divider. `ready` is high once it is found. A `start` while a walk is in progress begins
/// the new one, so an offset that the caller rejects never delays the next request. Each
/// `advance` strobe (while ready) moves to the next weight in one clock. Layers sit back to back
/// in the banks, so the bank word only ever counts up. Offsets past the last weight are the
/// caller's to reject: the walker keeps only the bits that the network's weight count needs, so
/// it locates such an offset modulo a power of two.
#[derive(LogicBlock)]
pub struct WeightWalker {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub start: Signal<In, Bit>,
    pub offset: Signal<In, Bits<32>>,
    pub advance: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub address: Signal<Out, Bits<32>>,
    state: ResetRegister<WalkState>,
    /// Weights still to skip while locating, masked to the bits of the network's weight count.
    remaining: EnableRegister<Bits<32>>,
    // The counters keep the bits that the network's largest layer, row and weight count need.
    layer: Counter<8>,
    row: Counter<16>,
    column: Counter<16>,
    lane: Counter<8>,
    /// Bank word of the current weight, counted from the first layer's first word.
    word: Counter<16>,
    address_join: AddressJoin,
    /// Weights that the current state skips at once: the layer's, a row's, or one. One
    /// subtractor serves every state, and its borrow shows that `remaining` is below `skip`.
    skip: Signal<Local, Bits<32>>,
    /// `remaining - skip`, one bit wider than `remaining`, whose top bit is the borrow.
    difference: Signal<Local, Bits<32>>,
    /// `remaining < skip`.
    short: Signal<Local, Bit>,
    layer_size: Signal<Local, Bits<32>>,
    layer_words: Signal<Local, Bits<16>>,
    rows_last: Signal<Local, Bits<16>>,
    columns_wide: Signal<Local, Bits<32>>,
    columns_last: Signal<Local, Bits<16>>,
    groups: Signal<Local, Bits<16>>,
    layer_index: Vec<Constant<Bits<8>>>,
    layer_sizes: Vec<Constant<Bits<32>>>,
    layer_word_counts: Vec<Constant<Bits<16>>>,
    layer_rows_last: Vec<Constant<Bits<16>>>,
    layer_columns: Vec<Constant<Bits<32>>>,
    layer_columns_last: Vec<Constant<Bits<16>>>,
    layer_groups: Vec<Constant<Bits<16>>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    one32: Constant<Bits<32>>,
    lanes_last: Constant<Bits<8>>,
    remaining_mask: Constant<Bits<32>>,
    difference_mask: Constant<Bits<32>>,
    borrow_bit: Constant<Bits<32>>,
    _depth: usize,
}

impl WeightWalker {
    pub fn new(layers: &[LayerWeights], lanes: usize, bank_bits: usize) -> Self {
        assert!(!layers.is_empty(), "a network has at least one layer");
        let constant16 = |f: &dyn Fn(&LayerWeights) -> usize| -> Vec<Constant<Bits<16>>> {
            layers
                .iter()
                .map(|l| {
                    let v = f(l);
                    assert!(v < 1 << 16, "{v} does not fit the walker's 16-bit counters");
                    Constant::new((v as u64).to_bits())
                })
                .collect()
        };
        let max_of = |f: &dyn Fn(&LayerWeights) -> usize| -> u64 {
            layers.iter().map(|l| f(l) as u64).max().unwrap_or(0)
        };
        let mask = weight_mask(layers);
        assert!(
            mask < 1 << 31,
            "the walker's subtractor needs a bit above the weight offsets' {mask:#x}"
        );
        WeightWalker {
            clock: Default::default(),
            reset: Default::default(),
            start: Default::default(),
            offset: Default::default(),
            advance: Default::default(),
            ready: Default::default(),
            address: Default::default(),
            state: Default::default(),
            remaining: Default::default(),
            layer: Counter::up_to(layers.len() as u64),
            row: Counter::up_to(max_of(&|l| l.rows - 1)),
            column: Counter::up_to(max_of(&|l| l.columns - 1)),
            lane: Counter::up_to(lanes as u64 - 1),
            word: Counter::up_to(layers.iter().map(|l| (l.rows * l.groups) as u64).sum()),
            address_join: AddressJoin::new(bank_bits),
            skip: Default::default(),
            difference: Default::default(),
            short: Default::default(),
            layer_size: Default::default(),
            layer_words: Default::default(),
            rows_last: Default::default(),
            columns_wide: Default::default(),
            columns_last: Default::default(),
            groups: Default::default(),
            layer_index: (0..layers.len())
                .map(|l| Constant::new((l as u64).to_bits()))
                .collect(),
            layer_sizes: layers
                .iter()
                .map(|l| Constant::new(((l.rows * l.columns) as u64).to_bits()))
                .collect(),
            layer_word_counts: constant16(&|l| l.rows * l.groups),
            layer_rows_last: constant16(&|l| l.rows - 1),
            layer_columns: layers
                .iter()
                .map(|l| Constant::new((l.columns as u64).to_bits()))
                .collect(),
            layer_columns_last: constant16(&|l| l.columns - 1),
            layer_groups: constant16(&|l| l.groups),
            zero8: Constant::new(0u64.to_bits()),
            one8: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            one16: Constant::new(1u64.to_bits()),
            zero32: Constant::new(0u64.to_bits()),
            one32: Constant::new(1u64.to_bits()),
            lanes_last: Constant::new(((lanes - 1) as u64).to_bits()),
            remaining_mask: Constant::new(mask.to_bits()),
            difference_mask: Constant::new((mask << 1 | 1).to_bits()),
            borrow_bit: Constant::new((mask + 1).to_bits()),
            _depth: layers.len(),
        }
    }
}

/// Returns the mask of the bits that every weight offset of `layers`, up to their weight
/// count, needs.
fn weight_mask(layers: &[LayerWeights]) -> u64 {
    let weights: usize = layers.iter().map(|l| l.rows * l.columns).sum();
    u64::MAX
        .checked_shr((weights as u64).leading_zeros())
        .unwrap_or(0)
        & u32::MAX as u64
}

impl Logic for WeightWalker {
    #[hdl_gen]
    fn update(&mut self) {
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.remaining.clock.next = self.clock.val();
        self.layer.clock.next = self.clock.val();
        self.layer.reset.next = self.reset.val();
        self.row.clock.next = self.clock.val();
        self.row.reset.next = self.reset.val();
        self.column.clock.next = self.clock.val();
        self.column.reset.next = self.reset.val();
        self.lane.clock.next = self.clock.val();
        self.lane.reset.next = self.reset.val();
        self.word.clock.next = self.clock.val();
        self.word.reset.next = self.reset.val();

        // Constants of the current layer.
        self.layer_size.next = self.layer_sizes[0].val();
        self.layer_words.next = self.layer_word_counts[0].val();
        self.rows_last.next = self.layer_rows_last[0].val();
        self.columns_wide.next = self.layer_columns[0].val();
        self.columns_last.next = self.layer_columns_last[0].val();
        self.groups.next = self.layer_groups[0].val();
        for l in 1..self._depth {
            if self.layer.q.val() == self.layer_index[l].val() {
                self.layer_size.next = self.layer_sizes[l].val();
                self.layer_words.next = self.layer_word_counts[l].val();
                self.rows_last.next = self.layer_rows_last[l].val();
                self.columns_wide.next = self.layer_columns[l].val();
                self.columns_last.next = self.layer_columns_last[l].val();
                self.groups.next = self.layer_groups[l].val();
            }
        }

        // Defaults: hold every counter.
        self.state.d.next = self.state.q.val();
        self.remaining.enable.next = false;
        // Every skipped amount is at most the weight count, so the difference lies between
        // minus the mask and the mask, and its bit above the mask is the borrow.
        self.skip.next = self.one32.val();
        if self.state.q.val() == WalkState::Layer {
            self.skip.next = self.layer_size.val();
        }
        if self.state.q.val() == WalkState::Row {
            self.skip.next = self.columns_wide.val();
        }
        self.difference.next =
            (self.remaining.q.val() - self.skip.val()) & self.difference_mask.val();
        self.short.next = (self.difference.val() & self.borrow_bit.val()) != self.zero32.val();
        self.remaining.d.next = self.difference.val() & self.remaining_mask.val();
        self.layer.load.next = false;
        self.layer.value.next = self.zero8.val();
        self.layer.enable.next = false;
        self.layer.step.next = self.one8.val();
        self.row.load.next = false;
        self.row.value.next = self.zero16.val();
        self.row.enable.next = false;
        self.row.step.next = self.one16.val();
        self.column.load.next = false;
        self.column.value.next = self.zero16.val();
        self.column.enable.next = false;
        self.column.step.next = self.one16.val();
        self.lane.load.next = false;
        self.lane.value.next = self.zero8.val();
        self.lane.enable.next = false;
        self.lane.step.next = self.one8.val();
        self.word.load.next = false;
        self.word.value.next = self.zero16.val();
        self.word.enable.next = false;
        self.word.step.next = self.one16.val();

        self.address_join.word.next = self.word.q.val();
        self.address_join.lane.next = self.lane.q.val();
        self.address.next = self.address_join.address.val();
        self.ready.next = false;

        match self.state.q.val() {
            WalkState::Ready => {
                self.ready.next = true;
                if self.advance.val() {
                    // One weight on: the next lane, the next bank word after the last lane or
                    // the last column, the next row after the last column, the next layer after
                    // the last row.
                    if self.column.q.val() == self.columns_last.val() {
                        self.column.load.next = true;
                        self.lane.load.next = true;
                        self.word.enable.next = true;
                        if self.row.q.val() == self.rows_last.val() {
                            self.row.load.next = true;
                            self.layer.enable.next = true;
                        } else {
                            self.row.enable.next = true;
                        }
                    } else {
                        self.column.enable.next = true;
                        if self.lane.q.val() == self.lanes_last.val() {
                            self.lane.load.next = true;
                            self.word.enable.next = true;
                        } else {
                            self.lane.enable.next = true;
                        }
                    }
                }
            }
            WalkState::Layer => {
                if !self.short.val() {
                    self.remaining.enable.next = true;
                    self.layer.enable.next = true;
                    self.word.step.next = self.layer_words.val();
                    self.word.enable.next = true;
                } else {
                    self.state.d.next = WalkState::Row;
                }
            }
            WalkState::Row => {
                if !self.short.val() {
                    self.remaining.enable.next = true;
                    self.row.enable.next = true;
                    self.word.step.next = self.groups.val();
                    self.word.enable.next = true;
                } else {
                    self.state.d.next = WalkState::Column;
                }
            }
            WalkState::Column => {
                if !self.short.val() {
                    self.remaining.enable.next = true;
                    self.column.enable.next = true;
                    if self.lane.q.val() == self.lanes_last.val() {
                        self.lane.load.next = true;
                        self.word.enable.next = true;
                    } else {
                        self.lane.enable.next = true;
                    }
                } else {
                    self.state.d.next = WalkState::Ready;
                }
            }
            _ => {
                self.state.d.next = WalkState::Ready;
            }
        }

        // A start overrides the step above: every counter loads, which takes priority over
        // its enable.
        if self.start.val() {
            self.remaining.d.next = self.offset.val() & self.remaining_mask.val();
            self.remaining.enable.next = true;
            self.layer.load.next = true;
            self.row.load.next = true;
            self.column.load.next = true;
            self.lane.load.next = true;
            self.word.load.next = true;
            self.state.d.next = WalkState::Layer;
        }
    }
}

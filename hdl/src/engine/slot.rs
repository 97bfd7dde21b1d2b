//! One lane of the engine with its memories: weight bank, rate bank and backward accumulators.

use leap_model::format::{Formats, ACC_BITS};
use rust_hdl::prelude::*;

use super::units::{Memory, Widen, Xorshift};
use super::EngineParams;
use crate::lane::SynapseLane;
use crate::leaf::Register;
use crate::leaf::ResetRegister;

/// Lane `index` of the engine. Lane `p` handles the columns `j` with `j mod P = p`: its weight
/// bank contains those weights of every row, its rate bank the matching presynaptic rates, and
/// its backward bank the accumulators `acc_B[j]`.
///
/// Timing counts clocks after the engine issues a group of columns (stage 0). Memories return
/// data at stage 1, which feeds the lane. The lane's results appear at stage 4, where the weight
/// is written back and the backward accumulator is read. The accumulator is written at stage 5.
/// A row takes at least two clocks, so the write of `acc_B[j]` lands before the next row reads it.
#[derive(LogicBlock)]
pub struct LaneSlot {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// Stage 0: the weight word to read (stream) or the host's word.
    pub weight_read_address: Signal<In, Bits<16>>,
    /// Stage 4 (stream) or the host's word.
    pub weight_write_address: Signal<In, Bits<16>>,
    pub host_weight: Signal<In, Signed<32>>,
    /// The host writes `host_weight` when this is set and `host_bank` is this lane.
    pub host_weight_write: Signal<In, Bit>,
    pub host_bank: Signal<In, Bits<8>>,
    pub rate_read_address: Signal<In, Bits<16>>,
    pub rate_write_address: Signal<In, Bits<16>>,
    pub rate_write_data: Signal<In, Signed<16>>,
    /// Writes `rate_write_data` when set and `rate_bank` is this lane.
    pub rate_write: Signal<In, Bit>,
    pub rate_bank: Signal<In, Bits<8>>,
    /// Stage 1 inputs of the lane.
    pub issue_valid: Signal<In, Bit>,
    pub group_column: Signal<In, Bits<16>>,
    pub columns: Signal<In, Bits<16>>,
    pub group_address: Signal<In, Bits<32>>,
    pub message: Signal<In, Signed<16>>,
    pub update_factor: Signal<In, Signed<16>>,
    pub rounding_state: Signal<In, Bits<32>>,
    pub learn: Signal<In, Bit>,
    /// Backward accumulators: read address (stage 4 or the engine's), write address and
    /// first-row flag at stage 5.
    pub backward_read_address: Signal<In, Bits<16>>,
    pub backward_write_address: Signal<In, Bits<16>>,
    pub backward_first: Signal<In, Bit>,
    /// Chains through the lanes: forward sums, weight saturations and the host's weight read.
    pub forward_in: Signal<In, Signed<48>>,
    pub forward_out: Signal<Out, Signed<48>>,
    pub saturations_in: Signal<In, Bits<8>>,
    pub saturations_out: Signal<Out, Bits<8>>,
    pub weight_in: Signal<In, Signed<32>>,
    pub weight_out: Signal<Out, Signed<32>>,
    pub backward_in: Signal<In, Signed<48>>,
    pub backward_out: Signal<Out, Signed<48>>,
    index: Constant<Bits<8>>,
    index_wide: Constant<Bits<16>>,
    index_address: Constant<Bits<32>>,
    one: Constant<Bits<8>>,
    weights: Memory<Signed<32>>,
    rates: Memory<Signed<16>>,
    backward: Memory<Signed<48>>,
    lane: SynapseLane,
    rounding: Xorshift,
    widen_forward: Widen,
    widen_backward: Widen,
    column: Signal<Local, Bits<16>>,
    backward_valid: ResetRegister<Bit>,
    backward_product: Register<Signed<48>>,
    backward_sum: Signal<Local, Signed<48>>,
}

impl LaneSlot {
    pub fn new(formats: &Formats, params: &EngineParams, index: usize) -> Self {
        let rate_depth = params.rate_words();
        LaneSlot {
            clock: Default::default(),
            reset: Default::default(),
            weight_read_address: Default::default(),
            weight_write_address: Default::default(),
            host_weight: Default::default(),
            host_weight_write: Default::default(),
            host_bank: Default::default(),
            rate_read_address: Default::default(),
            rate_write_address: Default::default(),
            rate_write_data: Default::default(),
            rate_write: Default::default(),
            rate_bank: Default::default(),
            issue_valid: Default::default(),
            group_column: Default::default(),
            columns: Default::default(),
            group_address: Default::default(),
            message: Default::default(),
            update_factor: Default::default(),
            rounding_state: Default::default(),
            learn: Default::default(),
            backward_read_address: Default::default(),
            backward_write_address: Default::default(),
            backward_first: Default::default(),
            forward_in: Default::default(),
            forward_out: Default::default(),
            saturations_in: Default::default(),
            saturations_out: Default::default(),
            weight_in: Default::default(),
            weight_out: Default::default(),
            backward_in: Default::default(),
            backward_out: Default::default(),
            index: Constant::new((index as u64).to_bits()),
            index_wide: Constant::new((index as u64).to_bits()),
            index_address: Constant::new((index as u64).to_bits()),
            one: Constant::new(1u64.to_bits()),
            weights: Memory::exact(params.weight_words, formats.weight_bits as usize, true),
            rates: Memory::new(rate_depth, 16, true),
            backward: Memory::new(
                params.max_columns.div_ceil(params.lanes),
                ACC_BITS as usize,
                true,
            ),
            lane: SynapseLane::new(formats),
            rounding: Xorshift::new(((1u64 << formats.update_round_bits()) - 1) as u32),
            widen_forward: Default::default(),
            widen_backward: Default::default(),
            column: Default::default(),
            backward_valid: Default::default(),
            backward_product: Default::default(),
            backward_sum: Default::default(),
        }
    }
}

impl Logic for LaneSlot {
    #[hdl_gen]
    fn update(&mut self) {
        self.weights.clock.next = self.clock.val();
        self.rates.clock.next = self.clock.val();
        self.backward.clock.next = self.clock.val();
        self.lane.clock.next = self.clock.val();
        self.lane.reset.next = self.reset.val();
        self.backward_valid.clock.next = self.clock.val();
        self.backward_valid.reset.next = self.reset.val();
        self.backward_product.clock.next = self.clock.val();

        // Weight bank: the host writes while the engine is idle, the lane writes back at stage 4.
        self.weights.read_address.next = self.weight_read_address.val();
        self.weights.write_address.next = self.weight_write_address.val();
        self.weights.write_data.next = self.lane.weight_next.val();
        self.weights.write_enable.next = self.lane.out_valid.val() & self.learn.val();
        if self.host_weight_write.val() & (self.host_bank.val() == self.index.val()) {
            self.weights.write_data.next = self.host_weight.val();
            self.weights.write_enable.next = true;
        }

        // Rate bank.
        self.rates.read_address.next = self.rate_read_address.val();
        self.rates.write_address.next = self.rate_write_address.val();
        self.rates.write_data.next = self.rate_write_data.val();
        self.rates.write_enable.next =
            self.rate_write.val() & (self.rate_bank.val() == self.index.val());

        // The lane at stage 1; columns past the row's end are bubbles.
        self.column.next = self.group_column.val() + self.index_wide.val();
        self.rounding.state.next = self.rounding_state.val();
        self.rounding.address.next = self.group_address.val() + self.index_address.val();
        self.lane.valid.next = self.issue_valid.val() & (self.column.val() < self.columns.val());
        self.lane.weight.next = self.weights.read_data.val();
        self.lane.rate.next = self.rates.read_data.val();
        self.lane.message.next = self.message.val();
        self.lane.update_factor.next = self.update_factor.val();
        self.lane.rounding.next = self.rounding.bits.val();
        self.lane.learn.next = self.learn.val();

        // Stage 4: chain the forward product and the saturation flag; read acc_B.
        self.widen_forward.value.next = self.lane.forward.val();
        self.forward_out.next = self.forward_in.val() + self.widen_forward.result.val();
        self.saturations_out.next = self.saturations_in.val();
        if self.lane.saturated.val() {
            self.saturations_out.next = self.saturations_in.val() + self.one.val();
        }
        self.widen_backward.value.next = self.lane.backward.val();
        self.backward.read_address.next = self.backward_read_address.val();
        self.backward_valid.d.next = self.lane.out_valid.val();
        self.backward_product.d.next = self.widen_backward.result.val();

        // Stage 5: acc_B[j] = (first row ? 0 : acc_B[j]) + w16·m.
        self.backward_sum.next = self.backward.read_data.val() + self.backward_product.q.val();
        if self.backward_first.val() {
            self.backward_sum.next = self.backward_product.q.val();
        }
        self.backward.write_address.next = self.backward_write_address.val();
        self.backward.write_data.next = self.backward_sum.val();
        self.backward.write_enable.next = self.backward_valid.q.val();

        // Host and error-phase reads pass along the chain, and this lane drives the words of its bank.
        self.weight_out.next = self.weight_in.val();
        self.backward_out.next = self.backward_in.val();
        if self.host_bank.val() == self.index.val() {
            self.weight_out.next = self.weights.read_data.val();
            self.backward_out.next = self.backward.read_data.val();
        }
    }
}

//! One lane of the engine with its memories: weight bank, rate bank and backward accumulators.

use leap_model::format::{Formats, ACC_BITS};
use rust_hdl::prelude::*;

use super::units::{Memory, Widen, Xorshift};
use super::EngineParams;
use crate::lane::SynapseLane;
use crate::leaf::signed_value;
use crate::verilog::extend;

/// Bits of a signed sum of `terms` products of two signed 16-bit operands. Each product lies in
/// `[-(2^30 - 2^15), 2^30]`, so the sum needs `32 + floor(log2(terms))` bits.
pub fn product_sum_bits(terms: usize) -> usize {
    32 + terms.max(1).ilog2() as usize
}

/// Lane `index` of the engine. Lane `p` handles the columns `j` with `j mod P = p`: its weight
/// bank contains those weights of every row, its rate bank the matching presynaptic rates, and
/// its backward bank the accumulators `acc_B[j]`.
///
/// Timing counts clocks after the engine issues a group of columns (stage 0). Memories return
/// data at stage 1, which feeds the lane. The weights' low bits are read at stage 2 and the
/// backward accumulator at stage 3. The lane's
/// results appear at stage 4, where the weight is written back and the accumulator is written.
/// A row takes at least two clocks, so the write of `acc_B[j]` lands before the next row reads it.
///
/// Every value is kept in the bits its range needs: the forward chain after lane `p` in
/// [`product_sum_bits`]`(p + 1)`, `acc_B` in `product_sum_bits(max_rows)`, the weight chain in
/// `weight_bits`, the column in the bits of `max_columns + lanes`. The chains' ports stay 48 and
/// 32 bits wide and carry the values sign-extended.
#[derive(LogicBlock)]
pub struct LaneSlot {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    /// Stage 0: the weight word to read (stream) or the host's word.
    pub weight_read_address: Signal<In, Bits<16>>,
    /// The word whose low bits to read: stage 2 (stream) or the host's word.
    pub weight_low_address: Signal<In, Bits<16>>,
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
    pub last_group: Signal<In, Bit>,
    /// The group's first column. Only a lane count that is not a power of two reads it.
    pub group_column: Signal<In, Bits<16>>,
    pub columns: Signal<In, Bits<16>>,
    /// Stage 2: the network-wide address of the group's first weight, for stochastic rounding.
    pub group_address: Signal<In, Bits<32>>,
    pub message: Signal<In, Signed<16>>,
    pub update_factor: Signal<In, Signed<16>>,
    pub rounding_state: Signal<In, Bits<32>>,
    pub learn: Signal<In, Bit>,
    /// Backward accumulators: read address (stage 3 or the engine's), write address and
    /// first-row flag at stage 4.
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
    index_address: Constant<Bits<32>>,
    one: Constant<Bits<8>>,
    weights: WeightBank,
    rates: Memory<Signed<16>>,
    backward: Memory<Signed<48>>,
    lane: SynapseLane,
    rounding: Xorshift,
    forward_sum: ChainSum,
    weight_select: ChainSelect<32>,
    backward_select: ChainSelect<48>,
    widen_backward: Widen,
    column: ColumnValid,
    backward_sum: Signal<Local, Signed<48>>,
}

impl LaneSlot {
    pub fn new(formats: &Formats, params: &EngineParams, index: usize) -> Self {
        let rate_depth = params.rate_words();
        let column_bits = (params.max_columns + params.lanes).ilog2() + 1;
        // NOTE: acc_B fits these bits only for layers of at most `max_rows` rows, which the
        // drivers (the board's command executor and leap-cosim's engine driver) check.
        let backward_bits = product_sum_bits(params.max_rows).min(ACC_BITS as usize);
        LaneSlot {
            clock: Default::default(),
            reset: Default::default(),
            weight_read_address: Default::default(),
            weight_low_address: Default::default(),
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
            last_group: Default::default(),
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
            index_address: Constant::new((index as u64).to_bits()),
            one: Constant::new(1u64.to_bits()),
            weights: WeightBank::new(params.weight_words, formats.weight_bits as usize),
            rates: Memory::new(rate_depth, 16, true),
            backward: Memory::new(
                params.max_columns.div_ceil(params.lanes),
                backward_bits,
                true,
            ),
            lane: SynapseLane::new(formats),
            rounding: Xorshift::new(((1u64 << formats.update_round_bits()) - 1) as u32),
            forward_sum: ChainSum::new(product_sum_bits(index + 1)),
            weight_select: ChainSelect::new(formats.weight_bits as usize),
            backward_select: ChainSelect::new(backward_bits),
            widen_backward: Default::default(),
            column: ColumnValid::new(index, column_bits as usize, params.lanes),
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

        // Weight bank: the host writes while the engine is idle, the lane writes back at stage 4.
        self.weights.read_address.next = self.weight_read_address.val();
        self.weights.low_read_address.next = self.weight_low_address.val();
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

        // The lane at stage 1; columns past the row's end are bubbles. Its rounding bits follow
        // at stage 2.
        self.column.issue.next = self.issue_valid.val();
        self.column.last_group.next = self.last_group.val();
        self.column.group_column.next = self.group_column.val();
        self.column.columns.next = self.columns.val();
        self.rounding.state.next = self.rounding_state.val();
        self.rounding.address.next = self.group_address.val() + self.index_address.val();
        self.lane.valid.next = self.column.valid.val();
        self.lane.slice.next = self.weights.slice.val();
        self.lane.low.next = self.weights.low.val();
        self.lane.rate.next = self.rates.read_data.val();
        self.lane.message.next = self.message.val();
        self.lane.update_factor.next = self.update_factor.val();
        self.lane.rounding.next = self.rounding.bits.val();
        self.lane.learn.next = self.learn.val();

        // Stage 3: read acc_B.
        self.backward.read_address.next = self.backward_read_address.val();

        // Stage 4: chain the forward product and the saturation flag.
        self.forward_sum.chain.next = self.forward_in.val();
        self.forward_sum.value.next = self.lane.forward.val();
        self.forward_out.next = self.forward_sum.result.val();
        self.saturations_out.next = self.saturations_in.val();
        if self.lane.saturated.val() {
            self.saturations_out.next = self.saturations_in.val() + self.one.val();
        }

        // Stage 4: acc_B[j] = (first row ? 0 : acc_B[j]) + w16·m. The memory stores only the
        // sum's low bits, which represent it exactly, so yosys trims the adder to them.
        self.widen_backward.value.next = self.lane.backward.val();
        self.backward_sum.next = self.backward.read_data.val() + self.widen_backward.result.val();
        if self.backward_first.val() {
            self.backward_sum.next = self.widen_backward.result.val();
        }
        self.backward.write_address.next = self.backward_write_address.val();
        self.backward.write_data.next = self.backward_sum.val();
        self.backward.write_enable.next = self.lane.out_valid.val();

        // Host and error-phase reads pass along the chain, and this lane drives the words of its bank.
        self.weight_select.select.next = self.host_bank.val() == self.index.val();
        self.weight_select.data.next = self.weights.read_data.val();
        self.weight_select.chain.next = self.weight_in.val();
        self.weight_out.next = self.weight_select.result.val();
        self.backward_select.select.next = self.host_bank.val() == self.index.val();
        self.backward_select.data.next = self.backward.read_data.val();
        self.backward_select.chain.next = self.backward_in.val();
        self.backward_out.next = self.backward_select.result.val();
    }
}

/// Declares a wire that reads the bits of each `(port, width, used)` from `used` up, which the
/// block ignores. Verilator's lint skips a signal whose name contains `unused`, and yosys
/// removes the wire.
pub fn unused_bits(ports: &[(&str, usize, usize)]) -> String {
    let slices: Vec<String> = ports
        .iter()
        .filter(|(_, width, used)| used < width)
        .map(|(port, width, used)| format!("{port}[{}:{used}]", width - 1))
        .collect();
    if slices.is_empty() {
        return String::new();
    }
    format!(
        "wire unused_high_bits = &{{1'b0, {}}};\n",
        slices.join(", ")
    )
}

/// Reads the low `bits` bits of a signed word and sign-extends them to 64 bits.
fn wrap_signed(value: i64, bits: usize) -> i64 {
    (value << (64 - bits)) >> (64 - bits)
}

/// One link of the forward chain: `result = chain + value`, computed in `bits` bits and
/// sign-extended to the 48-bit port. The sum fits `bits` bits when every link before it sums
/// products in the same way (see [`product_sum_bits`]).
#[derive(LogicBlock)]
pub struct ChainSum {
    pub chain: Signal<In, Signed<48>>,
    pub value: Signal<In, Signed<32>>,
    pub result: Signal<Out, Signed<48>>,
    _bits: usize,
}

impl ChainSum {
    pub fn new(bits: usize) -> Self {
        assert!(
            (32..=48).contains(&bits),
            "a {bits}-bit forward sum does not fit between the 32-bit product and the 48-bit chain"
        );
        ChainSum {
            chain: Default::default(),
            value: Default::default(),
            result: Default::default(),
            _bits: bits,
        }
    }
}

impl Logic for ChainSum {
    fn update(&mut self) {
        let sum = signed_value(self.chain.val()) + signed_value(self.value.val());
        self.result.next = wrap_signed(sum, self._bits).into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let n = self._bits;
        Verilog::Custom(format!(
            "wire [{top}:0] sum = chain[{top}:0] + {value};\n\
             always @(*) result = {result};\n{unused}",
            top = n - 1,
            value = extend("value", 32, n - 32),
            result = extend("sum", n, 48 - n),
            unused = unused_bits(&[("chain", 48, n)]),
        ))
    }
}

/// One link of a read chain: `result` is `data` when `select` is set, else `chain`, both read
/// as `bits`-bit signed words and sign-extended to the `W`-bit port.
#[derive(LogicBlock)]
pub struct ChainSelect<const W: usize> {
    pub select: Signal<In, Bit>,
    pub data: Signal<In, Signed<W>>,
    pub chain: Signal<In, Signed<W>>,
    pub result: Signal<Out, Signed<W>>,
    _bits: usize,
}

impl<const W: usize> ChainSelect<W> {
    pub fn new(bits: usize) -> Self {
        assert!(
            (1..=W).contains(&bits),
            "a {bits}-bit word does not fit the {W}-bit chain"
        );
        ChainSelect {
            select: Default::default(),
            data: Default::default(),
            chain: Default::default(),
            result: Default::default(),
            _bits: bits,
        }
    }
}

impl<const W: usize> Logic for ChainSelect<W> {
    fn update(&mut self) {
        let chosen = if self.select.val() {
            signed_value(self.data.val())
        } else {
            signed_value(self.chain.val())
        };
        self.result.next = wrap_signed(chosen, self._bits).into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let n = self._bits;
        Verilog::Custom(format!(
            "wire [{top}:0] chosen = select ? data[{top}:0] : chain[{top}:0];\n\
             always @(*) result = {result};\n{unused}",
            top = n - 1,
            result = extend("chosen", n, W - n),
            unused = unused_bits(&[("data", W, n), ("chain", W, n)]),
        ))
    }
}

/// `valid = issue && group_column + index < columns`: whether lane `index` has a column in the
/// issued group. The group's first column and the row's column count are below `2^bits`, so
/// their higher bits are ignored.
///
/// Every group but the row's last fills all lanes, because a row of `columns` columns has
/// `ceil(columns / P)` groups. With `P = 2^l` lanes, the last group fills the lanes below
/// `columns mod P`, or all of them when that is 0. So `valid` only tests `last_group` and the
/// low `l` bits of `columns`, and `group_column` is unused. For another lane count it compares
/// `group_column + index` with `columns` in `bits + 1` bits.
#[derive(LogicBlock)]
pub struct ColumnValid {
    pub issue: Signal<In, Bit>,
    /// Set when the issued group is the row's last.
    pub last_group: Signal<In, Bit>,
    pub group_column: Signal<In, Bits<16>>,
    pub columns: Signal<In, Bits<16>>,
    pub valid: Signal<Out, Bit>,
    _index: usize,
    _bits: usize,
    /// `l` for `2^l` lanes; `None` for a lane count that is not a power of two.
    _lane_bits: Option<usize>,
}

impl ColumnValid {
    pub fn new(index: usize, bits: usize, lanes: usize) -> Self {
        assert!(
            (1..=16).contains(&bits) && index < lanes && lanes < (1 << bits),
            "lane {index} of {lanes} does not fit a {bits}-bit column number"
        );
        ColumnValid {
            issue: Default::default(),
            last_group: Default::default(),
            group_column: Default::default(),
            columns: Default::default(),
            valid: Default::default(),
            _index: index,
            _bits: bits,
            _lane_bits: lanes
                .is_power_of_two()
                .then(|| lanes.trailing_zeros() as usize),
        }
    }
}

impl Logic for ColumnValid {
    fn update(&mut self) {
        let mask = (1u64 << self._bits) - 1;
        let columns = self.columns.val().to_u64() & mask;
        let inside = match self._lane_bits {
            Some(l) => {
                let filled = columns & ((1u64 << l) - 1);
                !self.last_group.val() || filled == 0 || (self._index as u64) < filled
            }
            None => {
                let first = self.group_column.val().to_u64() & mask;
                first + (self._index as u64) < columns
            }
        };
        self.valid.next = self.issue.val() && inside;
    }
    fn connect(&mut self) {
        self.valid.connect();
    }
    fn hdl(&self) -> Verilog {
        let (b, index) = (self._bits, self._index);
        match self._lane_bits {
            // Lane 0 has a column in every group, and the last lane has one in the last group
            // only when that group is full. Neither compares its index, because the comparison
            // would be constant.
            Some(_) if index == 0 => Verilog::Custom(
                "always @(*) valid = issue;\n\
                 wire unused_inputs = &{1'b0, last_group, group_column, columns};\n"
                    .to_string(),
            ),
            Some(l) => {
                let last_lane = index + 1 == 1 << l;
                let partial = if last_lane {
                    String::new()
                } else {
                    format!(" | ({l}'d{index} < filled)")
                };
                Verilog::Custom(format!(
                    "wire [{top}:0] filled = columns[{top}:0];\n\
                     always @(*) valid = issue & (!last_group | (filled == {l}'d0){partial});\n\
                     wire unused_inputs = &{{1'b0, group_column, columns[15:{l}]}};\n",
                    top = l - 1,
                ))
            }
            None => Verilog::Custom(format!(
                "wire [{b}:0] lane_column = {{1'b0, group_column[{top}:0]}} + {w}'d{index};\n\
                 always @(*) valid = issue & (lane_column < {{1'b0, columns[{top}:0]}});\n\
                 wire unused_last_group = &{{1'b0, last_group}};\n{unused}",
                top = b - 1,
                w = b + 1,
                unused = unused_bits(&[("group_column", 16, b), ("columns", 16, b)]),
            )),
        }
    }
}

/// The weight bank: `depth` weights of `weight_bits` bits with one write port and two registered
/// read ports. The port at `read_address` returns the 16-bit `slice` (`w >> (weight_bits - 16)`)
/// and the port at `low_read_address` returns `low`, the `weight_bits - 16` bits below the slice
/// (zero-extended). Each part is a memory of its own, so a lane reads `low` two clocks after the
/// slice, when its update needs them, and no register delays them. `read_data` joins the two
/// reads into the sign-extended weight, which is one word when both addresses were equal. Like
/// [`Memory::exact`], the bank stores exactly `depth` words: a read or write past the last word
/// has an undefined effect, and the contents start undefined.
///
/// A depth a little above a power of two `2^m >= 512` (at most `2^m / 8` more words) splits each
/// part into two memories, the first `2^m` words and the rest, selected by address bit `m`. yosys
/// 0.23 maps a power-of-two depth of 512 or more to iCE40 block RAMs of that depth (512 x 8,
/// 1024 x 4) without a read multiplexer. So 543 words of 32 bits take 6 SB_RAM40_4K, 3 per
/// part, with a 2-way read multiplexer in place of the 3-way one built for the whole depth.
/// On ECP5 the split memories should take no more DP16KD than one (an estimate from the block
/// sizes, not measured).
#[derive(LogicBlock)]
pub struct WeightBank {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<16>>,
    pub low_read_address: Signal<In, Bits<16>>,
    pub slice: Signal<Out, Signed<16>>,
    pub low: Signal<Out, Signed<16>>,
    pub read_data: Signal<Out, Signed<32>>,
    pub write_address: Signal<In, Bits<16>>,
    pub write_data: Signal<In, Signed<32>>,
    pub write_enable: Signal<In, Bit>,
    /// Words in the first memory of each part: a power of two, or the whole depth when there is
    /// no split.
    _first_words: usize,
    _depth: usize,
    _weight_bits: usize,
    _words: Vec<Signed<32>>,
}

impl WeightBank {
    pub fn new(depth: usize, weight_bits: usize) -> Self {
        assert!(
            (16..=32).contains(&weight_bits),
            "a {weight_bits}-bit weight has no 16-bit slice in a 32-bit word"
        );
        let depth = depth.max(2);
        assert!(
            depth <= 1 << 16,
            "a weight bank of {depth} words needs more than 16 address bits"
        );
        let power = 1usize << depth.ilog2();
        let first_words = if depth > power && power >= 512 && depth - power <= power / 8 {
            power
        } else {
            depth
        };
        WeightBank {
            clock: Default::default(),
            read_address: Default::default(),
            low_read_address: Default::default(),
            slice: Default::default(),
            low: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _first_words: first_words,
            _depth: depth,
            _weight_bits: weight_bits,
            _words: vec![Signed::default(); depth],
        }
    }

    /// Returns the low address bits that the memories of a part read.
    fn address_bits_used(&self) -> usize {
        let words = if self._first_words == self._depth {
            self._depth
        } else {
            // Bit `m` selects the memory of the rest.
            2 * self._first_words
        };
        words.max(2).next_power_of_two().trailing_zeros() as usize
    }

    /// Declares the memories of one part of the weight: `bits` bits of `write_data` from bit
    /// `from` up, read at `address`, whose registered read is the wire `{name}_word`.
    fn part_hdl(&self, name: &str, bits: usize, from: usize, address: &str) -> String {
        let address_bits =
            |words: usize| words.max(2).next_power_of_two().trailing_zeros() as usize;
        let top = bits - 1;
        let data = format!("write_data[{}:{from}]", from + bits - 1);
        if self._first_words == self._depth {
            let at = address_bits(self._depth) - 1;
            return format!(
                "(* no_rw_check *)\n\
                 reg [{top}:0] {name}_words [0:{last}];\n\
                 reg [{top}:0] {name}_read;\n\
                 always @(posedge clock) begin\n\
                 \x20  if (write_enable) {name}_words[write_address[{at}:0]] <= {data};\n\
                 \x20  {name}_read <= {name}_words[{address}[{at}:0]];\n\
                 end\n\
                 wire [{top}:0] {name}_word = {name}_read;\n",
                last = self._depth - 1,
            );
        }
        let m = address_bits(self._first_words);
        let rest = self._depth - self._first_words;
        let (m_top, r_top) = (m - 1, address_bits(rest) - 1);
        format!(
            "(* no_rw_check *)\n\
             reg [{top}:0] {name}_first [0:{first_last}];\n\
             (* no_rw_check *)\n\
             reg [{top}:0] {name}_rest [0:{rest_last}];\n\
             reg [{top}:0] {name}_first_word;\n\
             reg [{top}:0] {name}_rest_word;\n\
             reg {name}_rest_read;\n\
             always @(posedge clock) begin\n\
             \x20  if (write_enable & !write_address[{m}]) {name}_first[write_address[{m_top}:0]] <= {data};\n\
             \x20  if (write_enable & write_address[{m}]) {name}_rest[write_address[{r_top}:0]] <= {data};\n\
             \x20  {name}_first_word <= {name}_first[{address}[{m_top}:0]];\n\
             \x20  {name}_rest_word <= {name}_rest[{address}[{r_top}:0]];\n\
             \x20  {name}_rest_read <= {address}[{m}];\n\
             end\n\
             wire [{top}:0] {name}_word = {name}_rest_read ? {name}_rest_word : {name}_first_word;\n",
            first_last = self._first_words - 1,
            rest_last = rest - 1,
        )
    }
}

impl Logic for WeightBank {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let mask = (1usize << self._depth.next_power_of_two().trailing_zeros()) - 1;
            let shift = self._weight_bits - 16;
            let word = |address: Bits<16>| {
                let index = address.index() & mask;
                signed_value(self._words.get(index).copied().unwrap_or_default())
            };
            let slice = word(self.read_address.val()) >> shift;
            let low = word(self.low_read_address.val()) & ((1i64 << shift) - 1);
            self.slice.next = slice.into();
            self.low.next = low.into();
            self.read_data.next = ((slice << shift) | low).into();
            if self.write_enable.val() {
                let write_index = self.write_address.val().index() & mask;
                if let Some(word) = self._words.get_mut(write_index) {
                    *word = self.write_data.val();
                }
            }
        }
    }
    fn connect(&mut self) {
        self.slice.connect();
        self.low.connect();
        self.read_data.connect();
    }
    fn hdl(&self) -> Verilog {
        let b = self._weight_bits;
        let shift = b - 16;
        let mut text = self.part_hdl("slice", 16, shift, "read_address");
        text += "always @(*) slice = slice_word;\n";
        if shift == 0 {
            text += "always @(*) low = 16'd0;\n\
                     always @(*) read_data = {{16{slice_word[15]}}, slice_word};\n\
                     wire unused_low_address = &{1'b0, low_read_address};\n";
        } else {
            text += &self.part_hdl("low", shift, 0, "low_read_address");
            text += &unused_bits(&[("low_read_address", 16, self.address_bits_used())])
                .replace("unused_high_bits", "unused_low_address_bits");
            let low = if shift == 16 {
                "low_word".to_string()
            } else {
                format!("{{{}'d0, low_word}}", 16 - shift)
            };
            text += &format!(
                "always @(*) low = {low};\n\
                 always @(*) read_data = {{{}, low_word}};\n",
                extend("slice_word", 16, 16 - shift),
            );
        }
        Verilog::Custom(text)
    }
}

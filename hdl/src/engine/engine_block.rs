//! The engine's top level: host port, controller and datapath.

use leap_model::format::Formats;
use rust_hdl::prelude::*;

use super::slot::{product_sum_bits, LaneSlot};
use super::tags::{StreamTags, TagWidths};
use super::units::{
    AddressSplit, Counter, CounterEvents, EnableRegister, Memory, OutputError, PresetRegister,
    ReadBack, RoundHalves, SignExtend48, StoredWord, TableFields, UpdateFactor, WordView, Xorshift,
};
use super::{
    bits_for, constant, field, select, EngineParams, EngineState, MAX_LANES, MAX_RUN_STEPS,
    MIN_ROW_CLOCKS,
};
use crate::counter_bank::CounterBank;
use crate::leaf::{PotentialSplit, Register, Requantize, ResetRegister};
use crate::neuron::NeuronUnit;

// `Engine::constant_address` maps every host address of 16 or more to 15, which no constant has.
const _: () = assert!(constant::ROUNDING_STATE < 15 && constant::TOP_BASE < 15);

/// Pipeline stages of stream tags: stage 1 (lane inputs) to stage 4 (lane outputs and backward
/// accumulation).
const TAG_STAGES: usize = 4;

/// Clocks that a counter read may stop the counter bank's round. A read stops it for two: the
/// `ReadWait` clock at the counter and the `ReadWait` clock where `ready` rises; the third is
/// margin. The engine is idle then, so only the cycle counter has events.
const COUNTER_HOLD_CLOCKS: usize = 3;

/// The LE engine (see the module documentation). Host port: strobe `write`, `read` or `run`
/// for one clock while `busy` is clear, with `select`, `address`, `data` and `learn`.
#[derive(LogicBlock)]
pub struct Engine {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub write: Signal<In, Bit>,
    pub read: Signal<In, Bit>,
    pub run: Signal<In, Bit>,
    /// With `run`: nudge the output toward the targets and update the weights.
    pub learn: Signal<In, Bit>,
    pub select: Signal<In, Bits<8>>,
    pub address: Signal<In, Bits<32>>,
    pub data: Signal<In, Bits<64>>,
    /// Strobe: set the cycle, step and saturation counters to zero. Works in every state.
    pub clear_counters: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
    pub read_data: Signal<Out, Bits<64>>,
    pub read_valid: Signal<Out, Bit>,
    // Submodules, registers and local signals.
    state: ResetRegister<EngineState>,
    /// Physical bank of the double-buffered words that the current step reads.
    bank: Counter<1>,
    learning: EnableRegister<Bit>,
    /// Time steps the current run still takes, counted down at the end of each step. It keeps
    /// the bits of `MAX_RUN_STEPS`.
    steps_left: Counter<32>,
    read_select: EnableRegister<Bits<8>>,
    /// The host's read address, latched with the bits up to the weight word's top bit, and
    /// whether any higher bit is set, which `read_split.beyond` cannot tell from the latched
    /// bits.
    read_address: EnableRegister<Bits<32>>,
    read_beyond: EnableRegister<Bit>,
    /// Set in the clock after the read's wait, when the memories return the word.
    read_strobe: ResetRegister<Bit>,
    read_address_mask: Constant<Bits<32>>,
    /// The constants: host writes, or a configuration's values from reset (see
    /// [`Engine::preload`]).
    k_r_mant: PresetRegister<Signed<16>>,
    k_r_shift: PresetRegister<Bits<6>>,
    k_dt_mant: PresetRegister<Signed<16>>,
    k_dt_shift: PresetRegister<Bits<6>>,
    beta_shift: PresetRegister<Bits<6>>,
    top_base: PresetRegister<Bits<16>>,
    voltage: PresetRegister<Bit>,
    rounding: PresetRegister<Bits<32>>,
    /// The word of `errors1` that contains β's mantissa: `field::BETA_MANT` of the layer
    /// table's first entry. `eta_mant` loads it in the first clock of `Load` and the layer's
    /// η in `StreamStart2`, so it contains β in the output phase and η in the stream, and the
    /// lent multipliers' mantissa multiplexer has no β register to select.
    beta_word: Constant<Bits<16>>,
    eta_field: Constant<Bits<16>>,
    /// Set in the first clock of `Load`, when `errors1` returns β's mantissa.
    beta_load: ResetRegister<Bit>,
    /// The word of `errors1` that contains the loaded layer's η mantissa.
    eta_word: Signal<Local, Bits<16>>,
    rows: EnableRegister<Bits<16>>,
    columns: EnableRegister<Bits<16>>,
    columns_wide: EnableRegister<Bits<32>>,
    groups: EnableRegister<Bits<16>>,
    cadence_last: EnableRegister<Bits<16>>,
    state_base: EnableRegister<Bits<16>>,
    activation: EnableRegister<Bits<2>>,
    eta_mant: EnableRegister<Signed<16>>,
    eta_shift: EnableRegister<Bits<6>>,
    first_layer: EnableRegister<Bit>,
    inputs: EnableRegister<Bits<16>>,
    groups_last: EnableRegister<Bits<16>>,
    acc_row: EnableRegister<Signed<48>>,
    /// Set in the clock after the neuron unit took a row, when the potentials memory reads the
    /// row's u again, because the unit takes it again two clocks after `valid`.
    reread_valid: ResetRegister<Bit>,
    /// The state index of the last row whose last group passed stage 3.
    reread_index: EnableRegister<Bits<16>>,
    /// The state index of the row whose last group issued last. Rows are at least
    /// `MIN_ROW_CLOCKS` (3) clocks apart, so it holds the row of a last group at stages 1 to 3.
    last_row_index: EnableRegister<Bits<16>>,
    row: Counter<16>,
    state_index: Counter<16>,
    /// State index of the next word the output phase, the copy phase's errors side or the neuron
    /// unit writes.
    write_index: Counter<16>,
    /// Neurons of the layer the neuron unit has returned.
    neurons_done: Counter<16>,
    group: Counter<16>,
    weight_address: Counter<16>,
    /// The weight word that the lanes write back at stage 4: the `weight_address` that the
    /// group at stage 4 issued with, because both count the issued groups from `WEIGHT_BASE`.
    write_back_address: Counter<16>,
    /// The stream's weight address at stages 1 and 2. The lanes read the weights' low bits at
    /// stage 2, where their update needs them. `stage2_address` takes the host's word in `Idle`
    /// and keeps it in `ReadWait`, so a host read returns both parts of the word in time.
    stage1_address: Register<Bits<16>>,
    stage2_address: EnableRegister<Bits<16>>,
    /// The column group at stage 3, which addresses the lanes' backward sum reads. It counts the
    /// groups that reach stage 3 and restarts after a row's last group.
    stage3_group: Counter<16>,
    /// The first column of the group at stage 1. It loads 0 when a row's first group issues
    /// and steps by the lane count when any other group issues.
    group_column: Counter<16>,
    /// Copy phase, rates side: the column it reads next and that column's state index in the
    /// layer below (`INPUT_BASE + column`).
    column: Counter<16>,
    source_index: Counter<16>,
    /// The lane and bank word of the next rate written into the lanes' rate banks, by the copy
    /// phase or by the neuron phase.
    lane_bank: Counter<8>,
    bank_word: Counter<16>,
    /// First word of the loaded layer's region in every lane's rate bank. Regions are laid out
    /// from the top layer down: the top layer's starts at 0, and each lower layer's follows the
    /// region of the layer above it.
    rate_base: Counter<16>,
    /// Region of the layer above the loaded one, where the neuron phase writes its rates.
    above_base: EnableRegister<Bits<16>>,
    /// Set while every layer's region contains the rates the next step reads, so the copy phase
    /// can skip them. Reset and host writes of rates, the layer table or constants clear it.
    rates_current: ResetRegister<Bit>,
    /// Set while the first layer's region contains the clamped inputs. Host input writes clear it.
    inputs_current: ResetRegister<Bit>,
    /// The copy phase copies the loaded layer's rates.
    copy_rates: Signal<Local, Bit>,
    /// Word of the stream's rate bank read: the loaded layer's region plus the column group.
    rate_address: Signal<Local, Bits<16>>,
    /// Set the clock after the copy phase addressed a rate, when its word is written.
    rate_pending: ResetRegister<Bit>,
    /// With `rate_pending`: the word is the bias column's constant activity.
    rate_bias: Register<Bit>,
    /// Copy phase, errors side (layers below the top only): the lane and bank word of
    /// `acc_B[j]` in the layer above for the neuron `j` of the loaded layer whose error it
    /// reads next. `row` and `state_index` count that neuron and its state index, and
    /// `write_index` the state index written, because the output phase, which also uses them,
    /// runs only on the top layer, which has no errors side.
    error_lane: Counter<8>,
    error_word: Counter<16>,
    /// Set the clock after the copy phase addressed an error, when its product `acc_B · d`
    /// takes the neuron unit's lent multipliers. The lent rounded sum clamps it two clocks later
    /// (`error_write`), when it is written. `error_sum` is set in the clock between.
    error_pending: ResetRegister<Bit>,
    error_sum: ResetRegister<Bit>,
    error_write: ResetRegister<Bit>,
    /// With `error_pending`: the lane that drives `acc_B[j]`.
    error_lane_late: Register<Bits<8>>,
    /// Set while the loaded layer has a layer above, whose backward sums give its errors.
    below_active: EnableRegister<Bit>,
    /// The output phase forms an output error from two shared products, each summed and
    /// clamped by the neuron unit's lent rounded sum two clocks after its product (see
    /// `OutputError`). The flags follow a neuron from the clock after the phase addressed it:
    /// `output_pending` (the product for `x`), `output_sum`, `output_scale` (`x` is clamped and
    /// multiplied by β), `output_round` and `output_write` (`e` is clamped and written). The
    /// phase addresses a neuron in each clock where `output_sum` is clear, so no two products
    /// meet: two neurons in a row, then two clocks without.
    output_pending: ResetRegister<Bit>,
    output_sum: ResetRegister<Bit>,
    output_scale: ResetRegister<Bit>,
    output_round: ResetRegister<Bit>,
    output_write: ResetRegister<Bit>,
    /// The flag of the output error unit's own clamp (rate targets whose product moves left),
    /// in the clock after it.
    output_first_saturated: Register<Bit>,
    layer_base: Counter<16>,
    table_address: Counter<16>,
    /// The layer-table field that the table read of the clock before returns, in `Load`.
    table_fields: TableFields,
    /// The network-wide address of the first weight of the row whose first group reaches
    /// stage 1 next, for stochastic rounding.
    next_row: Counter<32>,
    /// The network-wide address of the first weight of the group at stage 2. It loads
    /// `next_row` when a row's first group is at stage 1 and steps by the lane count when any
    /// other group is.
    group_address: Counter<32>,
    /// The events of each clock for `counters`.
    counter_events: CounterEvents,
    /// The cycle, step and saturation counters, at their counter addresses. The host's reads of
    /// them wait for the bank.
    counters: CounterBank,
    /// The potentials `u` in the lower half and the targets in the upper half (from
    /// `upper_half` on). The stream reads `u` and the neuron unit writes it, while the targets
    /// are read only in the output phase and written only by the host.
    potentials: Memory<Signed<32>>,
    /// The first bank of the errors `e` in the lower half and the prospective potentials `ŭ`
    /// in the upper half. The errors are read only while streaming and written only in the
    /// output and copy phases, while `ŭ` is read only in the output phase and written only by
    /// the neuron unit.
    errors0: Memory<Signed<32>>,
    /// The second bank of the errors `e` in the lower half, and the layer table and usually the
    /// input activities in the upper half. The errors are accessed as in `errors0`. The layer
    /// table is read only in the load states and the inputs only in the copy phase, and only
    /// the host writes either. It stores 32 bits for the table, and `errors1_view`
    /// sign-extends the errors from the potential format.
    errors1: Memory<Signed<32>>,
    errors1_view: StoredWord,
    /// Both banks of the rates `r` and of the slopes `d`, the second bank from `bank_offset` on.
    /// One memory suffices because a step reads one bank and the neuron unit writes the other.
    rates: Memory<Signed<16>>,
    slopes: Memory<Signed<16>>,
    /// Address offset of the second bank in `rates` and `slopes`.
    bank_offset: Constant<Bits<16>>,
    /// Offset of the bank the current step reads (and the host writes) and of the bank it writes.
    read_bank_offset: Signal<Local, Bits<16>>,
    write_bank_offset: Signal<Local, Bits<16>>,
    /// The clamped input activities live in the upper half of `errors1`, in its last
    /// `input_mask + 1` words (`input_region` on), when they fit there beside the layer table.
    /// Otherwise they take a memory of their own, the one element of `input_words`.
    input_words: Vec<Memory<Signed<16>>>,
    input_region: Constant<Bits<16>>,
    input_mask: Constant<Bits<16>>,
    inputs_in_errors1: Constant<Bit>,
    /// The input activity that the host's read or the copy phase addressed in the clock before.
    input_data: Signal<Local, Signed<16>>,
    host_view: WordView,
    table_view: WordView,
    write_split: AddressSplit,
    read_split: AddressSplit,
    output_error: OutputError,
    update: UpdateFactor,
    message: Requantize<32, 16>,
    /// Stage 1 of the stream: the update factor of the issued row, loaded when the row's first
    /// group issues.
    factor_stage: Register<Signed<16>>,
    factor_saturated: Register<Bit>,
    /// The update factor of the row after the streaming one. The shared product forms it in the
    /// first clock of the row where the neuron unit's multipliers are idle, and `factor_ready`
    /// is set from then until the next row starts. A row of at least 3 clocks has such a clock
    /// because the neuron unit uses the multipliers for 2 clocks per row. When that clock is
    /// the first clock of the next row, the factor goes straight into `factor_stage`.
    factor_next: Register<Signed<16>>,
    factor_next_saturated: Register<Bit>,
    factor_ready: ResetRegister<Bit>,
    /// Stage 1 of the stream: the message of the issued row, formed from the errors read at
    /// stage -1 (see `lookahead`). It loads when a row's first group issues and keeps its value
    /// for the row, so the old bank's read port is free in every clock but the last of each row.
    message_stage: EnableRegister<Signed<16>>,
    message_saturated: EnableRegister<Bit>,
    /// Whether every clock of a row issues a group, which is so when the layer has at least
    /// `MIN_ROW_CLOCKS` groups.
    full_rows: Signal<Local, Bit>,
    /// The backward sum of the chain's end, kept in the bits that a sum of `max_rows`
    /// products needs (see `product_sum_bits`), so that synthesis narrows `below_sum`.
    below_extend: SignExtend48,
    below_sum: Requantize<48, 32>,
    /// The operand of the one wide product of the per-neuron units, which the neuron unit's
    /// lent multipliers form: `e_new · η_mant` for the update factors while streaming,
    /// `acc_B · d` for the errors of the layer below, `x · β_mant` for the output errors. The
    /// split gives the multipliers its halves.
    shared_operand: PotentialSplit,
    /// The rounding of the shared product after the neuron unit's lent shifter, for the update
    /// factors and the output errors.
    round_halves: RoundHalves,
    neuron: NeuronUnit,
    advance: Xorshift,
    readback: ReadBack,
    slots: Vec<LaneSlot>,
    tags: Vec<StreamTags>,
    error_old: Signal<Local, Signed<32>>,
    error_new: Signal<Local, Signed<32>>,
    rate_old: Signal<Local, Signed<16>>,
    slope_old: Signal<Local, Signed<16>>,
    row_base: Signal<Local, Signed<48>>,
    /// The row's forward sum so far: `row_base` plus the group's forward total, kept in the
    /// bits that a sum of `max_columns` products needs (see `product_sum_bits`).
    row_sum: SignExtend48,
    row_total: Signal<Local, Signed<48>>,
    forward_total: Signal<Local, Signed<48>>,
    weight_flags: Signal<Local, Bits<8>>,
    issue: Signal<Local, Bit>,
    /// State index of the row the stream issues in the next clock.
    lookahead: Signal<Local, Bits<16>>,
    /// State index of the row after the streaming one, whose new error the stream reads for
    /// its update factor.
    next_index: Signal<Local, Bits<16>>,
    /// The low 16 bits of the host's address and of the latched read address: the word of a
    /// memory other than the weight banks.
    host_word: Signal<Local, Bits<16>>,
    read_word: Signal<Local, Bits<16>>,
    /// The host's word and the latched read word in `potentials` and `errors0`: the state
    /// index, in the upper half for targets and prospective potentials.
    host_state_word: Signal<Local, Bits<16>>,
    read_state_word: Signal<Local, Bits<16>>,
    /// The host's word and the latched read word in `errors1`, and the word of the layer
    /// table that the load states read.
    host_error_word: Signal<Local, Bits<16>>,
    read_error_word: Signal<Local, Bits<16>>,
    table_read_address: Signal<Local, Bits<16>>,
    /// The mask of a table address in the upper half of `errors1`, and of the address of a
    /// layer's entry, which starts at a multiple of `field::STRIDE`.
    table_mask: Constant<Bits<16>>,
    entry_mask: Constant<Bits<16>>,
    /// Masks of the layer-table fields, each of the bits of the largest value that
    /// `EngineParams` allows. Masking the fields lets synthesis remove the upper bits of the
    /// registers and counters that take them.
    row_mask: Constant<Bits<16>>,
    column_mask: Constant<Bits<16>>,
    column_mask_wide: Constant<Bits<32>>,
    group_mask: Constant<Bits<16>>,
    weight_mask: Constant<Bits<16>>,
    address_mask: Constant<Bits<32>>,
    /// Words per half of `potentials` and `errors0`, and the mask of a state index in a half.
    upper_half: Constant<Bits<16>>,
    state_mask: Constant<Bits<16>>,
    rate_value: Signal<Local, Signed<16>>,
    // Constants.
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    lanes16: Constant<Bits<16>>,
    minus_stride: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    minus_one32: Constant<Bits<32>>,
    minus_one16: Constant<Signed<16>>,
    lanes32: Constant<Bits<32>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    lanes_last: Constant<Bits<8>>,
    one1: Constant<Bits<1>>,
    zero_wide: Constant<Signed<48>>,
    zero_error: Constant<Signed<32>>,
    act_one: Constant<Signed<16>>,
    /// The shift of the copy phase's product `acc_B · d` to the potential format.
    act_frac_shift: Constant<Bits<6>>,
    select_weight: Constant<Bits<8>>,
    select_potential: Constant<Bits<8>>,
    select_prospective: Constant<Bits<8>>,
    select_error: Constant<Bits<8>>,
    select_rate: Constant<Bits<8>>,
    select_slope: Constant<Bits<8>>,
    select_input: Constant<Bits<8>>,
    select_target: Constant<Bits<8>>,
    select_table: Constant<Bits<8>>,
    select_constant: Constant<Bits<8>>,
    select_counter: Constant<Bits<8>>,
    /// The latched read is of a counter in `counters` (a counter address below 7).
    counter_read: Signal<Local, Bit>,
    counter_high_mask: Constant<Bits<32>>,
    /// The host's constant address, or `constant_none` (15) when it is 16 or more. Every
    /// constant's address is below 15, so comparing it takes 4 bits, not 32.
    constant_address: Signal<Local, Bits<32>>,
    constant_low_mask: Constant<Bits<32>>,
    constant_high_mask: Constant<Bits<32>>,
    constant_none: Constant<Bits<32>>,
    constant_k_r_mant: Constant<Bits<32>>,
    constant_k_r_shift: Constant<Bits<32>>,
    constant_k_dt_mant: Constant<Bits<32>>,
    constant_k_dt_shift: Constant<Bits<32>>,
    constant_beta_mant: Constant<Bits<32>>,
    constant_beta_shift: Constant<Bits<32>>,
    constant_top_base: Constant<Bits<32>>,
    constant_voltage: Constant<Bits<32>>,
    constant_rounding: Constant<Bits<32>>,
    _lanes: usize,
    _separate_inputs: usize,
}

impl Engine {
    /// Starts the engine with a configuration in place: each `(select, address, data)` host
    /// write of the layer table or a constant becomes the table word's initial contents or the
    /// constant's reset value. β's mantissa is a table word (see `field::BETA_MANT`). Host
    /// writes still replace them.
    pub fn preload(&mut self, writes: &[(u64, u64, u64)]) {
        let upper_half = self.upper_half.val().index();
        let table_mask = self.table_mask.val().index();
        let entry_mask = self.entry_mask.val().to_u64();
        for &(select, address, data) in writes {
            let mant = data as u16 as i16 as i64;
            let (shift, unsigned16) = (data & 0x3f, data & 0xffff);
            if select == select::LAYER_TABLE {
                let index = (address as usize & table_mask) | upper_half;
                self.errors1.preload(index, data as u32 as i32 as i64);
                continue;
            }
            assert_eq!(
                select,
                select::CONSTANT,
                "select {select} is neither the layer table nor a constant"
            );
            match address {
                constant::K_R_MANT => self.k_r_mant.preset(mant.into(), unsigned16),
                constant::K_R_SHIFT => self.k_r_shift.preset(shift.to_bits(), shift),
                constant::K_DT_MANT => self.k_dt_mant.preset(mant.into(), unsigned16),
                constant::K_DT_SHIFT => self.k_dt_shift.preset(shift.to_bits(), shift),
                constant::BETA_MANT => {
                    let index = self.beta_word.val().index();
                    self.errors1.preload(index, data as u32 as i32 as i64)
                }
                constant::BETA_SHIFT => self.beta_shift.preset(shift.to_bits(), shift),
                constant::TOP_BASE => {
                    let base = unsigned16 & entry_mask;
                    self.top_base.preset(base.to_bits(), base)
                }
                constant::VOLTAGE => self.voltage.preset(data & 1 == 1, data & 1),
                constant::ROUNDING_STATE => {
                    let state = data & 0xffff_ffff;
                    self.rounding.preset(state.to_bits(), state)
                }
                _ => panic!("constant {address} is not one the engine keeps"),
            }
        }
    }

    pub fn new(formats: &Formats, params: &EngineParams) -> Self {
        let params = *params;
        assert!(
            (1..=MAX_LANES).contains(&params.lanes),
            "{} lanes: use 1 to {MAX_LANES}",
            params.lanes
        );
        assert!(
            (params.weight_words as u64) << params.bank_bits() <= 1 << 32,
            "{} weight words per lane with {} lanes need host addresses beyond 32 bits",
            params.weight_words,
            params.lanes
        );
        // Words per bank of the double-buffered rates and slopes: a power of two, so that the
        // second bank's offset is one address bit.
        let bank_words = params.state_words.max(2).next_power_of_two();
        assert!(
            bank_words <= 1 << 15,
            "{} state words: use at most 32,768 so that both banks of rates and slopes fit 16-bit addresses",
            params.state_words
        );
        let table_words = (params.max_layers * field::STRIDE as usize)
            .max(2)
            .next_power_of_two();
        assert!(
            table_words <= bank_words,
            "a layer table of {} layers does not fit the upper half of the error memory ({bank_words} words): use at least {} state words",
            params.max_layers,
            params.max_layers * field::STRIDE as usize
        );
        assert!(
            params.max_rows <= bank_words,
            "{} rows do not fit the upper half of the potential memory ({bank_words} words): use at most as many rows as state words",
            params.max_rows
        );
        let input_depth = params.max_inputs.max(2).next_power_of_two();
        let separate_inputs = table_words + input_depth > bank_words;
        // The inputs' region at the end of the upper half of the error memory. It is unused
        // when the inputs have a memory of their own, and then it is 0 where the inputs would
        // not even fit the whole memory.
        let input_region = (2 * bank_words).saturating_sub(input_depth);
        // Bits of the controller's counters and of the layer-table fields they take: enough for
        // the largest value that `params` allows, including the value one past the end where a
        // counter stops.
        let row_bits = bits_for(params.max_rows);
        let state_bits = bank_words.trailing_zeros() as usize;
        let column_bits = bits_for(params.max_columns);
        let group_bits = bits_for(
            params
                .max_columns
                .div_ceil(params.lanes)
                .max(MIN_ROW_CLOCKS),
        );
        let group_column_bits = bits_for(params.max_columns + params.lanes);
        // Weight addresses are 16 bits wide. A bank of 65,536 words uses all of them, and its
        // one-past-the-end value wraps to 0, which no stream reads.
        let weight_bits = bits_for(params.weight_words).min(16);
        let rate_bits = bits_for(params.rate_words());
        let backward_bits = bits_for(
            params
                .max_rows
                .max(params.max_columns)
                .div_ceil(params.lanes),
        );
        let lane_bits = bits_for(params.lanes - 1);
        let table_bits = table_words.trailing_zeros() as usize;
        // Network-wide weight addresses for stochastic rounding: every weight has one below
        // `weight_words * lanes`, and a row's padding columns reach at most `lanes` past it.
        let address_bits = bits_for(params.weight_words * params.lanes + params.lanes).min(32);
        // The tags that each stage passes on. Stage 1 reads the group flags, stages 2 and 3 the
        // last-group flag, and stage 4 the group flags, the group and the first-row flag.
        // Counters and registers of their own provide the rest. They keep the group's column at
        // stage 1, its weight address at stages 2 and 4 and its stochastic-rounding address at
        // stage 2. They also keep the group at stage 3 and the row's state index at stages 2 and 3.
        let tag_widths = |stage: usize| TagWidths {
            group: if stage == 3 { group_bits } else { 0 },
            first_row: true,
            group_flags: stage < 4,
        };
        Engine {
            clock: Default::default(),
            reset: Default::default(),
            write: Default::default(),
            read: Default::default(),
            run: Default::default(),
            learn: Default::default(),
            select: Default::default(),
            address: Default::default(),
            data: Default::default(),
            clear_counters: Default::default(),
            busy: Default::default(),
            read_data: Default::default(),
            read_valid: Default::default(),
            state: Default::default(),
            bank: Default::default(),
            learning: Default::default(),
            steps_left: Counter::up_to(MAX_RUN_STEPS),
            read_select: Default::default(),
            read_address: Default::default(),
            read_beyond: Default::default(),
            read_strobe: Default::default(),
            read_address_mask: Constant::new(low_mask(params.bank_bits() + 16).to_bits()),
            k_r_mant: Default::default(),
            k_r_shift: Default::default(),
            k_dt_mant: Default::default(),
            k_dt_shift: Default::default(),
            beta_shift: Default::default(),
            top_base: Default::default(),
            voltage: Default::default(),
            rounding: Default::default(),
            beta_word: Constant::new(((bank_words as u64) | field::BETA_MANT).to_bits()),
            beta_load: Default::default(),
            eta_field: Constant::new(field::ETA_MANT.to_bits()),
            eta_word: Default::default(),
            rows: Default::default(),
            columns: Default::default(),
            columns_wide: Default::default(),
            groups: Default::default(),
            cadence_last: Default::default(),
            state_base: Default::default(),
            activation: Default::default(),
            eta_mant: Default::default(),
            eta_shift: Default::default(),
            first_layer: Default::default(),
            inputs: Default::default(),
            groups_last: Default::default(),
            acc_row: Default::default(),
            reread_valid: Default::default(),
            reread_index: Default::default(),
            last_row_index: Default::default(),
            row: Counter::new(row_bits),
            state_index: Counter::new(state_bits),
            write_index: Counter::new(state_bits),
            neurons_done: Counter::new(row_bits),
            group: Counter::new(group_bits),
            weight_address: Counter::new(weight_bits),
            write_back_address: Counter::new(weight_bits),
            stage1_address: Default::default(),
            stage2_address: Default::default(),
            stage3_group: Counter::new(group_bits),
            group_column: Counter::new(group_column_bits),
            lane_bank: Counter::new(lane_bits),
            bank_word: Counter::new(rate_bits),
            column: Counter::new(column_bits),
            source_index: Counter::new(state_bits),
            rate_base: Counter::new(rate_bits),
            above_base: Default::default(),
            rates_current: Default::default(),
            inputs_current: Default::default(),
            copy_rates: Default::default(),
            rate_address: Default::default(),
            rate_pending: Default::default(),
            rate_bias: Default::default(),
            error_lane: Counter::new(lane_bits),
            error_word: Counter::new(backward_bits),
            error_pending: Default::default(),
            error_sum: Default::default(),
            error_write: Default::default(),
            error_lane_late: Default::default(),
            below_active: Default::default(),
            output_pending: Default::default(),
            output_sum: Default::default(),
            output_scale: Default::default(),
            output_round: Default::default(),
            output_write: Default::default(),
            output_first_saturated: Default::default(),
            layer_base: Counter::new(table_bits),
            table_address: Counter::new(table_bits),
            table_fields: Default::default(),
            next_row: Counter::new(address_bits),
            group_address: Counter::new(address_bits),
            counter_events: Default::default(),
            counters: CounterBank::new(&CounterEvents::counters(params.lanes), COUNTER_HOLD_CLOCKS),
            potentials: Memory::new(2 * bank_words, formats.pot_bits as usize, true),
            errors0: Memory::new(2 * bank_words, formats.pot_bits as usize, true),
            errors1: Memory::new(2 * bank_words, 32, true),
            errors1_view: StoredWord::new(formats.pot_bits),
            rates: Memory::new(2 * bank_words, 16, true),
            slopes: Memory::new(2 * bank_words, 16, true),
            bank_offset: Constant::new((bank_words as u64).to_bits()),
            read_bank_offset: Default::default(),
            write_bank_offset: Default::default(),
            input_words: (0..separate_inputs as usize)
                .map(|_| Memory::new(params.max_inputs, 16, true))
                .collect(),
            input_region: Constant::new((input_region as u64).to_bits()),
            input_mask: Constant::new(((input_depth - 1) as u64).to_bits()),
            inputs_in_errors1: Constant::new(!separate_inputs),
            input_data: Default::default(),
            host_view: Default::default(),
            table_view: Default::default(),
            write_split: AddressSplit::new(params.bank_bits()),
            read_split: AddressSplit::new(params.bank_bits()),
            output_error: OutputError::new(formats.act_frac, formats.pot_frac, formats.pot_bits),
            update: UpdateFactor::new(formats.pot_frac, formats.upd_frac),
            message: Requantize::new(formats.pot_frac, formats.msg_frac, 16),
            below_extend: SignExtend48::new(product_sum_bits(params.max_rows).min(48)),
            below_sum: Requantize::new(
                formats.weight_slice_frac() + formats.msg_frac,
                formats.pot_frac,
                formats.pot_bits,
            ),
            factor_stage: Default::default(),
            full_rows: Default::default(),
            factor_saturated: Default::default(),
            factor_next: Default::default(),
            factor_next_saturated: Default::default(),
            factor_ready: Default::default(),
            message_stage: Default::default(),
            message_saturated: Default::default(),
            shared_operand: Default::default(),
            round_halves: Default::default(),
            neuron: NeuronUnit::new(formats),
            advance: Xorshift::new(u32::MAX),
            readback: ReadBack::new(formats.pot_bits, !separate_inputs),
            slots: (0..params.lanes)
                .map(|p| LaneSlot::new(formats, &params, p))
                .collect(),
            tags: (0..TAG_STAGES)
                .map(|stage| StreamTags::new(tag_widths(stage)))
                .collect(),
            error_old: Default::default(),
            error_new: Default::default(),
            rate_old: Default::default(),
            slope_old: Default::default(),
            row_base: Default::default(),
            row_sum: SignExtend48::new(product_sum_bits(params.max_columns).min(48)),
            row_total: Default::default(),
            forward_total: Default::default(),
            weight_flags: Default::default(),
            issue: Default::default(),
            lookahead: Default::default(),
            next_index: Default::default(),
            host_word: Default::default(),
            read_word: Default::default(),
            host_state_word: Default::default(),
            read_state_word: Default::default(),
            host_error_word: Default::default(),
            read_error_word: Default::default(),
            table_read_address: Default::default(),
            table_mask: Constant::new(((table_words - 1) as u64).to_bits()),
            entry_mask: Constant::new(
                ((table_words as u64 - 1) & !(field::STRIDE - 1)).to_bits(),
            ),
            row_mask: Constant::new(low_mask(row_bits).to_bits()),
            column_mask: Constant::new(low_mask(column_bits).to_bits()),
            column_mask_wide: Constant::new(low_mask(column_bits).to_bits()),
            group_mask: Constant::new(low_mask(group_bits).to_bits()),
            weight_mask: Constant::new(low_mask(weight_bits).to_bits()),
            address_mask: Constant::new(low_mask(address_bits).to_bits()),
            upper_half: Constant::new((bank_words as u64).to_bits()),
            state_mask: Constant::new(((bank_words - 1) as u64).to_bits()),
            rate_value: Default::default(),
            zero16: Constant::new(0u64.to_bits()),
            one16: Constant::new(1u64.to_bits()),
            lanes16: Constant::new(((params.lanes) as u64).to_bits()),
            minus_stride: Constant::new((((1 << 16) - field::STRIDE as usize) as u64).to_bits()),
            zero32: Constant::new(0u64.to_bits()),
            minus_one32: Constant::new((u32::MAX as u64).to_bits()),
            minus_one16: Constant::new((-1i64).into()),
            lanes32: Constant::new(((params.lanes) as u64).to_bits()),
            zero8: Constant::new(0u64.to_bits()),
            one8: Constant::new(1u64.to_bits()),
            lanes_last: Constant::new(((params.lanes - 1) as u64).to_bits()),
            one1: Constant::new(1u64.to_bits()),
            zero_wide: Constant::new(0i64.into()),
            zero_error: Constant::new(0i64.into()),
            act_one: Constant::new((1i64 << formats.act_frac).into()),
            act_frac_shift: Constant::new((formats.act_frac as u64).into()),
            select_weight: Constant::new(((select::WEIGHT as usize) as u64).to_bits()),
            select_potential: Constant::new(((select::POTENTIAL as usize) as u64).to_bits()),
            select_prospective: Constant::new(((select::PROSPECTIVE as usize) as u64).to_bits()),
            select_error: Constant::new(((select::ERROR as usize) as u64).to_bits()),
            select_rate: Constant::new(((select::RATE as usize) as u64).to_bits()),
            select_slope: Constant::new(((select::SLOPE as usize) as u64).to_bits()),
            select_input: Constant::new(((select::INPUT as usize) as u64).to_bits()),
            select_target: Constant::new(((select::TARGET as usize) as u64).to_bits()),
            select_table: Constant::new(((select::LAYER_TABLE as usize) as u64).to_bits()),
            select_constant: Constant::new(((select::CONSTANT as usize) as u64).to_bits()),
            select_counter: Constant::new(((select::COUNTER as usize) as u64).to_bits()),
            counter_read: Default::default(),
            counter_high_mask: Constant::new((u32::MAX as u64 & !7).to_bits()),
            constant_address: Default::default(),
            constant_low_mask: Constant::new(15u64.to_bits()),
            constant_high_mask: Constant::new((u32::MAX as u64 & !15).to_bits()),
            constant_none: Constant::new(15u64.to_bits()),
            constant_k_r_mant: Constant::new(((constant::K_R_MANT as usize) as u64).to_bits()),
            constant_k_r_shift: Constant::new(((constant::K_R_SHIFT as usize) as u64).to_bits()),
            constant_k_dt_mant: Constant::new(((constant::K_DT_MANT as usize) as u64).to_bits()),
            constant_k_dt_shift: Constant::new(((constant::K_DT_SHIFT as usize) as u64).to_bits()),
            constant_beta_mant: Constant::new(((constant::BETA_MANT as usize) as u64).to_bits()),
            constant_beta_shift: Constant::new(((constant::BETA_SHIFT as usize) as u64).to_bits()),
            constant_top_base: Constant::new(((constant::TOP_BASE as usize) as u64).to_bits()),
            constant_voltage: Constant::new(((constant::VOLTAGE as usize) as u64).to_bits()),
            constant_rounding: Constant::new(
                ((constant::ROUNDING_STATE as usize) as u64).to_bits(),
            ),
            _lanes: params.lanes,
            _separate_inputs: separate_inputs as usize,
        }
    }
}

/// Returns a mask of the low `bits` bits.
fn low_mask(bits: usize) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl Logic for Engine {
    #[hdl_gen]
    fn update(&mut self) {
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.bank.clock.next = self.clock.val();
        self.bank.reset.next = self.reset.val();
        self.learning.clock.next = self.clock.val();
        self.steps_left.clock.next = self.clock.val();
        self.steps_left.reset.next = self.reset.val();
        self.read_select.clock.next = self.clock.val();
        self.read_address.clock.next = self.clock.val();
        self.read_beyond.clock.next = self.clock.val();
        self.read_strobe.clock.next = self.clock.val();
        self.read_strobe.reset.next = self.reset.val();
        self.k_r_mant.clock.next = self.clock.val();
        self.k_r_mant.reset.next = self.reset.val();
        self.k_r_shift.clock.next = self.clock.val();
        self.k_r_shift.reset.next = self.reset.val();
        self.k_dt_mant.clock.next = self.clock.val();
        self.k_dt_mant.reset.next = self.reset.val();
        self.k_dt_shift.clock.next = self.clock.val();
        self.k_dt_shift.reset.next = self.reset.val();
        self.beta_shift.clock.next = self.clock.val();
        self.beta_shift.reset.next = self.reset.val();
        self.top_base.clock.next = self.clock.val();
        self.top_base.reset.next = self.reset.val();
        self.voltage.clock.next = self.clock.val();
        self.voltage.reset.next = self.reset.val();
        self.rounding.clock.next = self.clock.val();
        self.beta_load.clock.next = self.clock.val();
        self.beta_load.reset.next = self.reset.val();
        self.beta_load.d.next = false;
        self.rounding.reset.next = self.reset.val();
        self.rows.clock.next = self.clock.val();
        self.columns.clock.next = self.clock.val();
        self.columns_wide.clock.next = self.clock.val();
        self.groups.clock.next = self.clock.val();
        self.cadence_last.clock.next = self.clock.val();
        self.state_base.clock.next = self.clock.val();
        self.activation.clock.next = self.clock.val();
        self.eta_mant.clock.next = self.clock.val();
        self.eta_shift.clock.next = self.clock.val();
        self.first_layer.clock.next = self.clock.val();
        self.inputs.clock.next = self.clock.val();
        self.groups_last.clock.next = self.clock.val();
        self.acc_row.clock.next = self.clock.val();
        self.reread_valid.clock.next = self.clock.val();
        self.reread_valid.reset.next = self.reset.val();
        self.reread_index.clock.next = self.clock.val();
        self.last_row_index.clock.next = self.clock.val();
        self.row.clock.next = self.clock.val();
        self.row.reset.next = self.reset.val();
        self.state_index.clock.next = self.clock.val();
        self.state_index.reset.next = self.reset.val();
        self.write_index.clock.next = self.clock.val();
        self.write_index.reset.next = self.reset.val();
        self.neurons_done.clock.next = self.clock.val();
        self.neurons_done.reset.next = self.reset.val();
        self.group.clock.next = self.clock.val();
        self.group.reset.next = self.reset.val();
        self.weight_address.clock.next = self.clock.val();
        self.weight_address.reset.next = self.reset.val();
        self.write_back_address.clock.next = self.clock.val();
        self.stage1_address.clock.next = self.clock.val();
        self.stage2_address.clock.next = self.clock.val();
        self.write_back_address.reset.next = self.reset.val();
        self.stage3_group.clock.next = self.clock.val();
        self.stage3_group.reset.next = self.reset.val();
        self.group_column.clock.next = self.clock.val();
        self.group_column.reset.next = self.reset.val();
        self.lane_bank.clock.next = self.clock.val();
        self.lane_bank.reset.next = self.reset.val();
        self.bank_word.clock.next = self.clock.val();
        self.bank_word.reset.next = self.reset.val();
        self.column.clock.next = self.clock.val();
        self.column.reset.next = self.reset.val();
        self.source_index.clock.next = self.clock.val();
        self.rate_base.clock.next = self.clock.val();
        self.rate_base.reset.next = self.reset.val();
        self.above_base.clock.next = self.clock.val();
        self.rates_current.clock.next = self.clock.val();
        self.rates_current.reset.next = self.reset.val();
        self.inputs_current.clock.next = self.clock.val();
        self.inputs_current.reset.next = self.reset.val();
        self.source_index.reset.next = self.reset.val();
        self.rate_pending.clock.next = self.clock.val();
        self.rate_pending.reset.next = self.reset.val();
        self.rate_bias.clock.next = self.clock.val();
        self.error_lane.clock.next = self.clock.val();
        self.error_lane.reset.next = self.reset.val();
        self.error_word.clock.next = self.clock.val();
        self.error_word.reset.next = self.reset.val();
        self.error_pending.clock.next = self.clock.val();
        self.error_pending.reset.next = self.reset.val();
        self.error_sum.clock.next = self.clock.val();
        self.error_sum.reset.next = self.reset.val();
        self.error_write.clock.next = self.clock.val();
        self.error_write.reset.next = self.reset.val();
        self.error_lane_late.clock.next = self.clock.val();
        self.below_active.clock.next = self.clock.val();
        self.output_pending.clock.next = self.clock.val();
        self.output_pending.reset.next = self.reset.val();
        self.output_sum.clock.next = self.clock.val();
        self.output_sum.reset.next = self.reset.val();
        self.output_scale.clock.next = self.clock.val();
        self.output_scale.reset.next = self.reset.val();
        self.output_round.clock.next = self.clock.val();
        self.output_round.reset.next = self.reset.val();
        self.output_write.clock.next = self.clock.val();
        self.output_write.reset.next = self.reset.val();
        self.output_first_saturated.clock.next = self.clock.val();
        self.factor_next.clock.next = self.clock.val();
        self.factor_next_saturated.clock.next = self.clock.val();
        self.factor_ready.clock.next = self.clock.val();
        self.factor_ready.reset.next = self.reset.val();
        self.factor_stage.clock.next = self.clock.val();
        self.factor_saturated.clock.next = self.clock.val();
        self.message_stage.clock.next = self.clock.val();
        self.message_saturated.clock.next = self.clock.val();
        self.layer_base.clock.next = self.clock.val();
        self.layer_base.reset.next = self.reset.val();
        self.table_address.clock.next = self.clock.val();
        self.table_address.reset.next = self.reset.val();
        self.next_row.clock.next = self.clock.val();
        self.next_row.reset.next = self.reset.val();
        self.group_address.clock.next = self.clock.val();
        self.group_address.reset.next = self.reset.val();
        self.counters.clock.next = self.clock.val();
        self.counters.reset.next = self.reset.val() | self.clear_counters.val();
        self.counters.clear.next = false;
        self.potentials.clock.next = self.clock.val();
        self.errors0.clock.next = self.clock.val();
        self.errors1.clock.next = self.clock.val();
        self.rates.clock.next = self.clock.val();
        self.slopes.clock.next = self.clock.val();
        self.neuron.clock.next = self.clock.val();
        self.neuron.reset.next = self.reset.val();

        // ---- Defaults: hold every register, idle every counter and memory. ----
        self.state.d.next = self.state.q.val();
        self.busy.next = true;
        // The read multiplexer drives `read_data` directly. It is valid in the clock after
        // `ReadWait`, while the memories return the words it addressed and the counter ring
        // still keeps the read counter at its head.
        self.read_data.next = self.readback.data.val();
        self.read_valid.next = self.read_strobe.q.val();
        self.read_strobe.d.next = false;

        self.learning.enable.next = false;
        self.learning.d.next = self.learn.val();
        self.steps_left.load.next = false;
        self.steps_left.value.next = self.host_view.unsigned32.val();
        self.steps_left.enable.next = false;
        self.steps_left.step.next = self.minus_one32.val();
        self.read_select.enable.next = false;
        self.read_select.d.next = self.select.val();
        self.read_address.enable.next = false;
        self.read_address.d.next = self.address.val() & self.read_address_mask.val();
        self.read_beyond.enable.next = false;
        self.read_beyond.d.next = self.write_split.beyond.val();

        self.k_r_mant.enable.next = false;
        self.k_r_mant.d.next = self.host_view.signed16.val();
        self.k_r_shift.enable.next = false;
        self.k_r_shift.d.next = self.host_view.unsigned6.val();
        self.k_dt_mant.enable.next = false;
        self.k_dt_mant.d.next = self.host_view.signed16.val();
        self.k_dt_shift.enable.next = false;
        self.k_dt_shift.d.next = self.host_view.unsigned6.val();
        self.beta_shift.enable.next = false;
        self.beta_shift.d.next = self.host_view.unsigned6.val();
        self.top_base.enable.next = false;
        self.top_base.d.next = self.host_view.unsigned16.val() & self.entry_mask.val();
        self.voltage.enable.next = false;
        self.voltage.d.next = self.host_view.flag.val();
        self.rounding.enable.next = false;
        self.rounding.d.next = self.advance.bits.val();
        self.advance.state.next = self.rounding.q.val();
        self.advance.address.next = self.zero32.val();

        self.rows.enable.next = false;
        self.rows.d.next = self.table_view.unsigned16.val() & self.row_mask.val();
        self.columns.enable.next = false;
        self.columns.d.next = self.table_view.unsigned16.val() & self.column_mask.val();
        self.columns_wide.enable.next = false;
        self.columns_wide.d.next = self.table_view.unsigned32.val() & self.column_mask_wide.val();
        self.groups.enable.next = false;
        self.groups.d.next = self.table_view.unsigned16.val() & self.group_mask.val();
        self.cadence_last.enable.next = false;
        self.cadence_last.d.next = self.table_view.unsigned16.val() & self.group_mask.val();
        self.state_base.enable.next = false;
        self.state_base.d.next = self.table_view.unsigned16.val() & self.state_mask.val();
        self.activation.enable.next = false;
        self.activation.d.next = self.table_view.unsigned2.val();
        self.eta_mant.enable.next = false;
        self.eta_mant.d.next = self.table_view.signed16.val();
        self.eta_shift.enable.next = false;
        self.eta_shift.d.next = self.table_view.unsigned6.val();
        self.first_layer.enable.next = false;
        self.first_layer.d.next = self.table_view.flag.val();
        self.inputs.enable.next = false;
        self.inputs.d.next = self.table_view.unsigned16.val() & self.column_mask.val();
        self.groups_last.enable.next = false;
        self.groups_last.d.next = self.table_view.unsigned16.val() & self.group_mask.val();

        self.row.load.next = false;
        self.row.value.next = self.zero16.val();
        self.row.enable.next = false;
        self.row.step.next = self.one16.val();
        self.state_index.load.next = false;
        self.state_index.value.next = self.state_base.q.val();
        self.state_index.enable.next = false;
        self.state_index.step.next = self.one16.val();
        self.write_index.load.next = false;
        self.write_index.value.next = self.state_base.q.val();
        self.write_index.enable.next = false;
        self.write_index.step.next = self.one16.val();
        self.neurons_done.load.next = false;
        self.neurons_done.value.next = self.zero16.val();
        self.neurons_done.enable.next = false;
        self.neurons_done.step.next = self.one16.val();
        self.group.load.next = false;
        self.group.value.next = self.zero16.val();
        self.group.enable.next = false;
        self.group.step.next = self.one16.val();
        self.weight_address.load.next = false;
        self.weight_address.value.next = self.table_view.unsigned16.val() & self.weight_mask.val();
        self.weight_address.enable.next = false;
        self.weight_address.step.next = self.one16.val();
        self.write_back_address.load.next = false;
        self.write_back_address.value.next =
            self.table_view.unsigned16.val() & self.weight_mask.val();
        self.write_back_address.enable.next = self.tags[3].valid_q.val();
        self.write_back_address.step.next = self.one16.val();
        self.stage1_address.d.next = self.weight_address.q.val();
        self.stage2_address.d.next = self.stage1_address.q.val();
        self.stage2_address.enable.next = true;
        self.stage3_group.load.next = self.tags[2].valid_q.val() & self.tags[2].last_group_q.val();
        self.stage3_group.value.next = self.zero16.val();
        self.stage3_group.enable.next = self.tags[2].valid_q.val();
        self.stage3_group.step.next = self.one16.val();
        self.group_column.load.next = false;
        self.group_column.value.next = self.zero16.val();
        self.group_column.enable.next = false;
        self.group_column.step.next = self.lanes16.val();
        self.lane_bank.load.next = false;
        self.lane_bank.value.next = self.zero8.val();
        self.lane_bank.enable.next = false;
        self.lane_bank.step.next = self.one8.val();
        self.bank_word.load.next = false;
        self.bank_word.value.next = self.rate_base.q.val();
        self.bank_word.enable.next = false;
        self.bank_word.step.next = self.one16.val();
        self.column.load.next = false;
        self.column.value.next = self.zero16.val();
        self.column.enable.next = false;
        self.column.step.next = self.one16.val();
        self.rate_base.load.next = false;
        self.rate_base.value.next = self.zero16.val();
        self.rate_base.enable.next = false;
        self.rate_base.step.next = self.groups.q.val();
        self.above_base.enable.next = false;
        self.above_base.d.next = self.rate_base.q.val();
        self.rates_current.d.next = self.rates_current.q.val();
        self.inputs_current.d.next = self.inputs_current.q.val();
        self.copy_rates.next =
            !self.rates_current.q.val() | (self.first_layer.q.val() & !self.inputs_current.q.val());
        self.source_index.load.next = false;
        self.source_index.value.next = self.table_view.unsigned16.val() & self.state_mask.val();
        self.source_index.enable.next = false;
        self.source_index.step.next = self.one16.val();
        self.rate_pending.d.next = false;
        self.rate_bias.d.next = self.column.q.val() == self.inputs.q.val();
        self.error_lane.load.next = false;
        self.error_lane.value.next = self.zero8.val();
        self.error_lane.enable.next = false;
        self.error_lane.step.next = self.one8.val();
        self.error_word.load.next = false;
        self.error_word.value.next = self.zero16.val();
        self.error_word.enable.next = false;
        self.error_word.step.next = self.one16.val();
        self.error_pending.d.next = false;
        self.error_sum.d.next = self.error_pending.q.val();
        self.error_write.d.next = self.error_sum.q.val();
        self.error_lane_late.d.next = self.error_lane.q.val();
        self.below_active.enable.next = false;
        self.below_active.d.next = false;
        self.output_pending.d.next = false;
        self.output_sum.d.next = self.output_pending.q.val();
        self.output_scale.d.next = self.output_sum.q.val();
        self.output_round.d.next = self.output_scale.q.val();
        self.output_write.d.next = self.output_round.q.val();
        self.output_first_saturated.d.next = self.output_error.saturated.val();
        self.layer_base.load.next = false;
        self.layer_base.value.next = self.top_base.q.val();
        self.layer_base.enable.next = false;
        self.layer_base.step.next = self.minus_stride.val();
        self.table_address.load.next = false;
        self.table_address.value.next = self.layer_base.q.val();
        self.table_address.enable.next = false;
        self.table_address.step.next = self.one16.val();
        self.table_fields.address.next = self.table_address.q.val();
        self.next_row.load.next = false;
        self.next_row.value.next = self.table_view.unsigned32.val() & self.address_mask.val();
        self.next_row.enable.next = false;
        self.next_row.step.next = self.columns_wide.q.val();
        self.group_address.load.next = false;
        self.group_address.value.next = self.next_row.q.val();
        self.group_address.enable.next = false;
        self.group_address.step.next = self.lanes32.val();
        if self.tags[0].valid_q.val() {
            self.group_address.enable.next = true;
            if self.tags[0].first_group_q.val() {
                self.group_address.load.next = true;
                self.next_row.enable.next = true;
            }
        }
        self.bank.load.next = false;
        self.bank.value.next = self.one1.val();
        self.bank.enable.next = false;
        self.bank.step.next = self.one1.val();

        self.counter_events.step.next = false;
        self.counter_events.potential0.next = false;
        self.counter_events.potential1.next = false;
        self.counter_events.potential2.next = false;
        self.counter_events.potential3.next = false;
        self.counter_events.rate.next = false;
        self.counter_events.message.next = false;
        self.counter_events.update.next = false;
        self.counter_events.weight.next = self.zero8.val();
        self.counters.reading.next = false;
        self.counters.select.next = self.read_address.q.val().get_bits::<4>(0);
        self.counters.increments.next = self.counter_events.increments.val();
        self.counter_read.next = (self.read_select.q.val() == self.select_counter.val())
            & !self.read_beyond.q.val()
            & !(self.read_address.q.val() & self.counter_high_mask.val()).any()
            & !self.read_address.q.val().get_bits::<3>(0).all();

        // Memories read the host's latched address and write the host's word unless a state
        // below overrides them.
        self.host_view.word.next = self.data.val();
        self.errors1_view.stored.next = self.errors1.read_data.val();
        self.table_view.word.next = self.errors1_view.table_word.val();
        self.host_word.next = self.address.val().get_bits::<16>(0);
        self.read_word.next = self.read_address.q.val().get_bits::<16>(0);
        self.write_split.address.next = self.address.val();
        self.read_split.address.next = self.read_address.q.val();
        self.host_state_word.next = self.host_word.val() & self.state_mask.val();
        self.constant_address.next = self.address.val() & self.constant_low_mask.val();
        if (self.address.val() & self.constant_high_mask.val()).any() {
            self.constant_address.next = self.constant_none.val();
        }
        if (self.select.val() == self.select_target.val())
            | (self.select.val() == self.select_prospective.val())
        {
            self.host_state_word.next =
                (self.host_word.val() & self.state_mask.val()) | self.upper_half.val();
        }
        self.read_state_word.next = self.read_word.val() & self.state_mask.val();
        if (self.read_select.q.val() == self.select_target.val())
            | (self.read_select.q.val() == self.select_prospective.val())
        {
            self.read_state_word.next =
                (self.read_word.val() & self.state_mask.val()) | self.upper_half.val();
        }
        self.potentials.read_address.next = self.read_state_word.val();
        self.potentials.write_address.next = self.host_state_word.val();
        self.potentials.write_data.next = self.host_view.signed32.val();
        self.potentials.write_enable.next = false;
        self.errors0.read_address.next = self.read_state_word.val();
        self.errors0.write_address.next = self.host_state_word.val();
        self.errors0.write_data.next = self.host_view.signed32.val();
        self.errors0.write_enable.next = false;
        self.host_error_word.next = self.host_word.val() & self.state_mask.val();
        if self.select.val() == self.select_table.val() {
            self.host_error_word.next =
                (self.host_word.val() & self.table_mask.val()) | self.upper_half.val();
        }
        if self.select.val() == self.select_input.val() {
            self.host_error_word.next =
                (self.host_word.val() & self.input_mask.val()) | self.input_region.val();
        }
        if self.select.val() == self.select_constant.val() {
            self.host_error_word.next = self.beta_word.val();
        }
        self.read_error_word.next = self.read_word.val() & self.state_mask.val();
        if self.read_select.q.val() == self.select_table.val() {
            self.read_error_word.next =
                (self.read_word.val() & self.table_mask.val()) | self.upper_half.val();
        }
        if self.read_select.q.val() == self.select_input.val() {
            self.read_error_word.next =
                (self.read_word.val() & self.input_mask.val()) | self.input_region.val();
        }
        self.table_read_address.next = self.table_address.q.val() | self.upper_half.val();
        self.eta_word.next = self.layer_base.q.val() | self.eta_field.val() | self.upper_half.val();
        self.errors1.read_address.next = self.read_error_word.val();
        self.errors1.write_address.next = self.host_error_word.val();
        self.errors1.write_data.next = self.host_view.signed32.val();
        self.errors1.write_enable.next = false;
        // bank = 1 selects the second bank for reading; the neuron unit writes the other one.
        self.read_bank_offset.next = self.zero16.val();
        self.write_bank_offset.next = self.bank_offset.val();
        if self.bank.q.val().any() {
            self.read_bank_offset.next = self.bank_offset.val();
            self.write_bank_offset.next = self.zero16.val();
        }
        self.rates.read_address.next = self.read_word.val() | self.read_bank_offset.val();
        self.rates.write_address.next = self.host_word.val() | self.read_bank_offset.val();
        self.rates.write_data.next = self.host_view.signed16.val();
        self.rates.write_enable.next = false;
        self.slopes.read_address.next = self.read_word.val() | self.read_bank_offset.val();
        self.slopes.write_address.next = self.host_word.val() | self.read_bank_offset.val();
        self.slopes.write_data.next = self.host_view.signed16.val();
        self.slopes.write_enable.next = false;
        self.input_data.next = self.table_view.signed16.val();
        for k in 0..self._separate_inputs {
            self.input_words[k].clock.next = self.clock.val();
            self.input_words[k].read_address.next = self.read_word.val();
            self.input_words[k].write_address.next = self.host_word.val();
            self.input_words[k].write_data.next = self.host_view.signed16.val();
            self.input_words[k].write_enable.next = false;
            self.input_data.next = self.input_words[k].read_data.val();
        }

        // The words of the bank the current step reads (bank = 1 selects the second memory).
        self.error_old.next = self.errors0.read_data.val();
        self.error_new.next = self.errors1_view.potential.val();
        self.rate_old.next = self.rates.read_data.val();
        self.slope_old.next = self.slopes.read_data.val();
        if self.bank.q.val().any() {
            self.error_old.next = self.errors1_view.potential.val();
            self.error_new.next = self.errors0.read_data.val();
        }
        // The output phase's first product takes ŭ, which only `errors0` stores.
        if self.output_pending.q.val() {
            self.error_new.next = self.errors0.read_data.val();
        }

        // Per-neuron arithmetic units.
        self.output_error.target.next = self.potentials.read_data.val();
        self.output_error.rate.next = self.rate_old.val();
        self.output_error.voltage.next = self.voltage.q.val();
        self.output_error.beta_shift.next = self.beta_shift.q.val();
        self.output_error.second.next = self.output_scale.q.val();
        self.update.eta_shift.next = self.eta_shift.q.val();
        self.message.value.next = self.error_old.val();
        self.factor_stage.d.next = self.factor_stage.q.val();
        self.factor_next.d.next = self.factor_next.q.val();
        self.factor_next_saturated.d.next = self.factor_next_saturated.q.val();
        self.factor_ready.d.next = self.factor_ready.q.val();
        self.neuron.error.next = self.errors0.read_data.val();
        self.neuron.error_load.next = false;
        self.factor_saturated.d.next = self.factor_saturated.q.val();
        self.message_stage.d.next = self.message.result.val();
        self.message_stage.enable.next = false;
        self.message_saturated.d.next = self.message.saturated.val();
        self.message_saturated.enable.next = false;
        self.neuron.valid.next = false;
        self.neuron.potential.next = self.potentials.read_data.val();
        self.neuron.k_r_mant.next = self.eta_mant.q.val();
        self.neuron.k_r_shift.next = self.eta_shift.q.val();
        self.neuron.k_dt_mant.next = self.eta_mant.q.val();
        self.neuron.k_dt_shift.next = self.eta_shift.q.val();
        self.neuron.activation.next = self.activation.q.val();

        // The word the copy phase writes into the lanes' rate banks.
        self.rate_value.next = self.rate_old.val();
        if self.first_layer.q.val() {
            self.rate_value.next = self.input_data.val();
        }
        if self.neuron.out_valid.val() {
            self.rate_value.next = self.neuron.rate.val();
        }
        if self.rate_bias.q.val() {
            self.rate_value.next = self.act_one.val();
        }

        // ---- The stream pipeline (see LaneSlot for the stage numbers). ----
        self.tags[0].valid.next = false;
        self.tags[0].group.next = self.group.q.val();
        self.tags[0].first_row.next = self.row.q.val() == self.zero16.val();
        self.tags[0].first_group.next = self.group.q.val() == self.zero16.val();
        self.tags[0].last_group.next = self.group.q.val() == self.groups_last.q.val();
        for k in 1..TAG_STAGES {
            self.tags[k].valid.next = self.tags[k - 1].valid_q.val();
            self.tags[k].group.next = self.tags[k - 1].group_q.val();
            self.tags[k].first_row.next = self.tags[k - 1].first_row_q.val();
            self.tags[k].first_group.next = self.tags[k - 1].first_group_q.val();
            self.tags[k].last_group.next = self.tags[k - 1].last_group_q.val();
        }
        self.tags[3].group.next = self.stage3_group.q.val();
        for k in 0..TAG_STAGES {
            self.tags[k].clock.next = self.clock.val();
            self.tags[k].reset.next = self.reset.val();
        }

        self.rate_address.next = self.rate_base.q.val() + self.group.q.val();
        for p in 0..self._lanes {
            self.slots[p].clock.next = self.clock.val();
            self.slots[p].reset.next = self.reset.val();
            self.slots[p].weight_read_address.next = self.read_split.word.val();
            self.slots[p].weight_low_address.next = self.stage2_address.q.val();
            self.slots[p].weight_write_address.next = self.write_back_address.q.val();
            self.slots[p].host_weight.next = self.host_view.signed32.val();
            self.slots[p].host_weight_write.next = false;
            self.slots[p].host_bank.next = self.read_split.bank.val();
            self.slots[p].rate_read_address.next = self.rate_address.val();
            self.slots[p].rate_write_address.next = self.bank_word.q.val();
            self.slots[p].rate_write_data.next = self.rate_value.val();
            self.slots[p].rate_write.next = false;
            self.slots[p].rate_bank.next = self.lane_bank.q.val();
            self.slots[p].issue_valid.next = self.tags[0].valid_q.val();
            self.slots[p].last_group.next = self.tags[0].last_group_q.val();
            self.slots[p].group_column.next = self.group_column.q.val();
            self.slots[p].columns.next = self.columns.q.val();
            self.slots[p].group_address.next = self.group_address.q.val();
            self.slots[p].message.next = self.message_stage.q.val();
            self.slots[p].update_factor.next = self.factor_stage.q.val();
            self.slots[p].rounding_state.next = self.rounding.q.val();
            self.slots[p].learn.next = self.learning.q.val();
            self.slots[p].backward_read_address.next = self.stage3_group.q.val();
            self.slots[p].backward_write_address.next = self.tags[3].group_q.val();
            self.slots[p].backward_first.next = self.tags[3].first_row_q.val();
        }
        self.slots[0].forward_in.next = self.zero_wide.val();
        self.slots[0].saturations_in.next = self.zero8.val();
        self.slots[0].weight_in.next = self.zero_error.val();
        self.slots[0].backward_in.next = self.zero_wide.val();
        for p in 1..self._lanes {
            self.slots[p].forward_in.next = self.slots[p - 1].forward_out.val();
            self.slots[p].saturations_in.next = self.slots[p - 1].saturations_out.val();
            self.slots[p].weight_in.next = self.slots[p - 1].weight_out.val();
            self.slots[p].backward_in.next = self.slots[p - 1].backward_out.val();
        }
        // The ends of the chains: the last assignment in each loop wins.
        self.forward_total.next = self.zero_wide.val();
        self.weight_flags.next = self.zero8.val();
        self.readback.weight.next = self.zero_error.val();
        self.below_extend.value.next = self.zero_wide.val();
        for p in 0..self._lanes {
            self.forward_total.next = self.slots[p].forward_out.val();
            self.weight_flags.next = self.slots[p].saturations_out.val();
            self.readback.weight.next = self.slots[p].weight_out.val();
            self.below_extend.value.next = self.slots[p].backward_out.val();
        }
        self.below_sum.value.next = self.below_extend.result.val();

        // The shared wide product and its shift on the neuron unit's idle multipliers and
        // shifter: the two products of an output error in the output phase, an error of the
        // layer below in the copy phase, else the stream's next update factor.
        // The first product of an output error is `ŭ · (−1)` for a voltage target and
        // `(t − r) · d` for a rate target. The second is `x · β_mant`, with `x` from the
        // neuron unit's lent rounded sum. An error of the layer below is
        // `sat(shift_round(acc_B · d, act_frac))`: the lent rounded sum with base 0.
        self.shared_operand.value.next = self.error_new.val();
        self.neuron.spare_mant.next = self.eta_mant.q.val();
        if self.error_pending.q.val() {
            self.shared_operand.value.next = self.below_sum.result.val();
            self.neuron.spare_mant.next = self.slope_old.val();
        }
        if self.output_pending.q.val() {
            if self.voltage.q.val() {
                self.neuron.spare_mant.next = self.minus_one16.val();
            } else {
                self.shared_operand.value.next = self.output_error.rate_difference.val();
                self.neuron.spare_mant.next = self.slope_old.val();
            }
        }
        if self.output_scale.q.val() {
            self.shared_operand.value.next = self.neuron.prospective.val();
            self.neuron.spare_mant.next = self.eta_mant.q.val();
        }
        self.neuron.spare_base.next = self.output_error.base.val();
        if self.error_pending.q.val() {
            self.neuron.spare_base.next = self.zero_error.val();
        }
        self.neuron.spare_base_load.next =
            self.output_pending.q.val() | self.output_scale.q.val() | self.error_pending.q.val();
        self.neuron.spare_high.next = self.shared_operand.high.val();
        self.neuron.spare_low.next = self.shared_operand.low.val();
        self.update.product.next = self.neuron.spare_product.val();
        self.output_error.rate_product.next = self.neuron.spare_product.val();
        self.neuron.spare_amount.next = self.update.amount.val();
        if self.output_pending.q.val() | self.output_scale.q.val() {
            self.neuron.spare_amount.next = self.output_error.amount.val();
        }
        if self.error_pending.q.val() {
            self.neuron.spare_amount.next = self.act_frac_shift.val();
        }
        self.round_halves.halves.next = self.neuron.spare_halves.val();
        self.update.rounded.next = self.round_halves.rounded.val();

        // Stage 4: the row's forward sum. With the last group of a row it is complete, and the
        // neuron unit takes the row's potential (read at stage 3), after the installed error in
        // the clock before. It takes the sum in the next clock from `acc_row`, which stores it at
        // the end of this one.
        self.row_base.next = self.acc_row.q.val();
        if self.tags[3].first_group_q.val() {
            self.row_base.next = self.zero_wide.val();
        }
        self.row_sum.value.next = self.row_base.val() + self.forward_total.val();
        self.row_total.next = self.row_sum.result.val();
        self.acc_row.d.next = self.row_total.val();
        self.acc_row.enable.next = self.tags[3].valid_q.val();
        self.neuron.valid.next = self.tags[3].valid_q.val() & self.tags[3].last_group_q.val();
        self.neuron.sum.next = self.acc_row.q.val();
        if self.tags[2].valid_q.val() {
            self.potentials.read_address.next = self.last_row_index.q.val();
        }
        // The next row's last group reaches stage 3 two clocks after this read at the earliest,
        // so the read never displaces the one that the neuron unit takes with `valid`.
        self.reread_valid.d.next = self.tags[3].valid_q.val() & self.tags[3].last_group_q.val();
        self.last_row_index.d.next = self.state_index.q.val();
        self.last_row_index.enable.next = false;
        self.reread_index.d.next = self.last_row_index.q.val();
        self.reread_index.enable.next =
            self.tags[2].valid_q.val() & self.tags[2].last_group_q.val();
        if self.reread_valid.q.val() {
            self.potentials.read_address.next = self.reread_index.q.val();
        }
        self.counter_events.weight.next = self.weight_flags.val();

        // Host reads.
        self.readback.select.next = self.read_select.q.val();
        self.readback.address.next = self.read_address.q.val();
        self.readback.beyond.next = self.read_beyond.q.val();
        self.readback.bank.next = self.bank.q.val().any();
        self.readback.potentials.next = self.potentials.read_data.val();
        self.readback.errors0.next = self.errors0.read_data.val();
        self.readback.errors1.next = self.errors1.read_data.val();
        self.readback.rate.next = self.rate_old.val();
        self.readback.slope.next = self.slope_old.val();
        self.readback.activity.next = self.input_data.val();
        self.readback.counter.next = self.counters.value.val();
        self.readback.rounding_state.next = self.rounding.q.val();

        self.issue.next = self.group.q.val() < self.groups.q.val();
        self.next_index.next = self.state_index.q.val() + self.one16.val();
        self.lookahead.next = self.state_index.q.val();
        if self.group.q.val() == self.cadence_last.q.val() {
            self.lookahead.next = self.next_index.val();
        }

        // Stage 1 of the stream: count the update-factor and message clamps once per row.
        if self.tags[0].valid_q.val() & self.tags[0].first_group_q.val() {
            self.counter_events.message.next = self.message_saturated.q.val();
            if self.learning.q.val() {
                self.counter_events.update.next = self.factor_saturated.q.val();
            }
        }

        // Second clocks of the one-word-per-clock loops: the words addressed in the previous
        // clock have arrived and are written here, whatever state the controller is in now.
        // An output error's clamps are counted where the neuron unit's lent rounded sum shows
        // them, and the error is written with its own. `output_sum` can meet `output_write`
        // of another neuron, so it counts on another field; `output_scale` never can.
        if self.learning.q.val() {
            if self.output_sum.q.val() {
                self.counter_events.potential1.next = self.output_first_saturated.q.val();
            }
            if self.output_scale.q.val() | self.output_write.q.val() {
                self.counter_events.potential0.next = self.neuron.potential_saturated.val();
            }
        }
        if self.output_write.q.val() {
            self.errors0.write_address.next = self.write_index.q.val();
            self.errors1.write_address.next = self.write_index.q.val();
            self.errors0.write_data.next = self.zero_error.val();
            self.errors1.write_data.next = self.zero_error.val();
            if self.learning.q.val() {
                self.errors0.write_data.next = self.neuron.prospective.val();
                self.errors1.write_data.next = self.neuron.prospective.val();
            }
            self.errors0.write_enable.next = self.bank.q.val().any();
            self.errors1.write_enable.next = !self.bank.q.val().any();
            self.write_index.enable.next = true;
        }
        if self.rate_pending.q.val() {
            for p in 0..self._lanes {
                self.slots[p].rate_write.next = true;
            }
            self.lane_bank.enable.next = true;
            if self.lane_bank.q.val() == self.lanes_last.val() {
                self.lane_bank.load.next = true;
                self.bank_word.enable.next = true;
            }
        }
        if self.error_pending.q.val() {
            for p in 0..self._lanes {
                self.slots[p].host_bank.next = self.error_lane_late.q.val();
            }
            self.counter_events.potential0.next = self.below_sum.saturated.val();
        }
        if self.error_write.q.val() {
            self.errors0.write_address.next = self.write_index.q.val();
            self.errors1.write_address.next = self.write_index.q.val();
            self.errors0.write_data.next = self.neuron.prospective.val();
            self.errors1.write_data.next = self.neuron.prospective.val();
            self.errors0.write_enable.next = self.bank.q.val().any();
            self.errors1.write_enable.next = !self.bank.q.val().any();
            self.counter_events.potential1.next = self.neuron.potential_saturated.val();
            self.write_index.enable.next = true;
        }
        // The neuron unit's ŭ, a clock before its other results. The neuron before it has
        // returned by then, so `write_index` already addresses this neuron. `errors1` takes the
        // same word without writing it, so that both memories share one write-data multiplexer.
        if self.neuron.prospective_valid.val() {
            self.errors0.write_address.next = self.write_index.q.val() | self.upper_half.val();
            self.errors0.write_data.next = self.neuron.prospective.val();
            self.errors1.write_data.next = self.neuron.prospective.val();
            self.errors0.write_enable.next = true;
        }
        // The neuron unit's results, NEURON_LATENCY clocks after the stream issued them.
        if self.neuron.out_valid.val() {
            self.potentials.write_address.next = self.write_index.q.val();
            self.potentials.write_data.next = self.neuron.potential_next.val();
            self.rates.write_address.next = self.write_index.q.val() | self.write_bank_offset.val();
            self.rates.write_data.next = self.neuron.rate.val();
            self.slopes.write_address.next =
                self.write_index.q.val() | self.write_bank_offset.val();
            self.slopes.write_data.next = self.neuron.slope.val();
            self.potentials.write_enable.next = true;
            self.rates.write_enable.next = true;
            self.slopes.write_enable.next = true;
            self.counter_events.potential0.next = self.neuron.current_saturated.val();
            self.counter_events.potential1.next = self.neuron.difference_saturated.val();
            self.counter_events.potential2.next = self.neuron.prospective_saturated.val();
            self.counter_events.potential3.next = self.neuron.potential_saturated.val();
            self.counter_events.rate.next = self.neuron.rate_saturated.val();
            self.write_index.enable.next = true;
            self.neurons_done.enable.next = true;
            // The rates also go to the region of the layer above, for its stream in the next step.
            if self.below_active.q.val() {
                for p in 0..self._lanes {
                    self.slots[p].rate_write.next = true;
                }
                self.lane_bank.enable.next = true;
                if self.lane_bank.q.val() == self.lanes_last.val() {
                    self.lane_bank.load.next = true;
                    self.bank_word.enable.next = true;
                }
            }
        }

        // ---- The controller. ----
        match self.state.q.val() {
            EngineState::Idle => {
                self.busy.next = false;
                self.stage2_address.d.next = self.write_split.word.val();
                if self.write.val() {
                    // A weight address beyond the banks writes nothing.
                    if (self.select.val() == self.select_weight.val())
                        & !self.write_split.beyond.val()
                    {
                        for p in 0..self._lanes {
                            self.slots[p].host_weight_write.next = true;
                            self.slots[p].host_bank.next = self.write_split.bank.val();
                            self.slots[p].weight_write_address.next = self.write_split.word.val();
                        }
                    }
                    if self.select.val() == self.select_potential.val() {
                        self.potentials.write_enable.next = true;
                    }
                    if self.select.val() == self.select_prospective.val() {
                        self.errors0.write_enable.next = true;
                    }
                    if self.select.val() == self.select_error.val() {
                        self.errors0.write_enable.next = !self.bank.q.val().any();
                        self.errors1.write_enable.next = self.bank.q.val().any();
                    }
                    if self.select.val() == self.select_rate.val() {
                        self.rates_current.d.next = false;
                        self.rates.write_enable.next = true;
                    }
                    if self.select.val() == self.select_slope.val() {
                        self.slopes.write_enable.next = true;
                    }
                    if self.select.val() == self.select_input.val() {
                        self.inputs_current.d.next = false;
                        self.errors1.write_enable.next = self.inputs_in_errors1.val();
                        for k in 0..self._separate_inputs {
                            self.input_words[k].write_enable.next = true;
                        }
                    }
                    if self.select.val() == self.select_target.val() {
                        self.potentials.write_enable.next = true;
                    }
                    if self.select.val() == self.select_table.val() {
                        self.rates_current.d.next = false;
                        self.errors1.write_enable.next = true;
                    }
                    if self.select.val() == self.select_constant.val() {
                        self.rates_current.d.next = false;
                        self.k_r_mant.enable.next =
                            self.constant_address.val() == self.constant_k_r_mant.val();
                        self.k_r_shift.enable.next =
                            self.constant_address.val() == self.constant_k_r_shift.val();
                        self.k_dt_mant.enable.next =
                            self.constant_address.val() == self.constant_k_dt_mant.val();
                        self.k_dt_shift.enable.next =
                            self.constant_address.val() == self.constant_k_dt_shift.val();
                        // β's mantissa has a word of the layer table (see `beta_word`).
                        self.errors1.write_enable.next =
                            self.constant_address.val() == self.constant_beta_mant.val();
                        self.beta_shift.enable.next =
                            self.constant_address.val() == self.constant_beta_shift.val();
                        self.top_base.enable.next =
                            self.constant_address.val() == self.constant_top_base.val();
                        self.voltage.enable.next =
                            self.constant_address.val() == self.constant_voltage.val();
                        self.rounding.enable.next =
                            self.constant_address.val() == self.constant_rounding.val();
                        self.rounding.d.next = self.host_view.unsigned32.val();
                    }
                }
                if self.read.val() {
                    self.read_select.enable.next = true;
                    self.read_address.enable.next = true;
                    self.read_beyond.enable.next = true;
                    self.state.d.next = EngineState::ReadWait;
                }
                if self.run.val() {
                    self.steps_left.load.next = true;
                    self.learning.enable.next = true;
                    self.state.d.next = EngineState::StepStart;
                }
            }
            // A read of a cycle, step or saturation counter waits until `counters` presents it.
            EngineState::ReadWait => {
                self.stage2_address.enable.next = false;
                self.counters.reading.next = self.counter_read.val();
                if !self.counter_read.val() | self.counters.ready.val() {
                    self.read_strobe.d.next = true;
                    self.state.d.next = EngineState::Idle;
                }
            }
            EngineState::StepStart => {
                self.rounding.enable.next = true;
                self.below_active.enable.next = true;
                self.rate_base.load.next = true;
                self.layer_base.load.next = true;
                self.state.d.next = EngineState::LoadStart;
            }
            EngineState::LoadStart => {
                // β's mantissa, for `eta_mant` in the first clock of `Load`.
                self.errors1.read_address.next = self.beta_word.val();
                self.beta_load.d.next = true;
                self.table_address.load.next = true;
                self.state.d.next = EngineState::Load;
            }
            // One table word per clock. The field that the read of the clock before returns
            // is in `table_fields`: the weight base, the address base and the input base only
            // start counters, so the counters load these fields straight from the table.
            EngineState::Load => {
                self.errors1.read_address.next = self.table_read_address.val();
                self.table_address.enable.next = true;
                self.rows.enable.next = self.table_fields.rows.val();
                self.columns.enable.next = self.table_fields.columns.val();
                self.columns_wide.enable.next = self.table_fields.columns.val();
                self.groups.enable.next = self.table_fields.groups.val();
                self.cadence_last.enable.next = self.table_fields.cadence_last.val();
                self.weight_address.load.next = self.table_fields.weight_base.val();
                self.write_back_address.load.next = self.table_fields.weight_base.val();
                self.next_row.load.next = self.table_fields.address_base.val();
                self.state_base.enable.next = self.table_fields.state_base.val();
                self.source_index.load.next = self.table_fields.input_base.val();
                self.activation.enable.next = self.table_fields.activation.val();
                self.eta_mant.enable.next = self.beta_load.q.val();
                self.eta_shift.enable.next = self.table_fields.eta_shift.val();
                self.first_layer.enable.next = self.table_fields.first.val();
                self.inputs.enable.next = self.table_fields.inputs.val();
                if self.table_fields.groups_last.val() {
                    self.groups_last.enable.next = true;
                    self.row.load.next = true;
                    self.state_index.load.next = true;
                    self.write_index.load.next = true;
                    self.column.load.next = true;
                    self.lane_bank.load.next = true;
                    self.bank_word.load.next = true;
                    self.error_lane.load.next = true;
                    self.error_word.load.next = true;
                    // Only the top layer has no layer above.
                    self.state.d.next = EngineState::Copy;
                    if !self.below_active.q.val() {
                        self.state.d.next = EngineState::Output;
                    }
                }
            }
            // The output errors, two neurons in four clocks (see `output_pending`). The phase
            // ends two clocks after the last second product starts, so the last error is
            // written by `StreamStart` at the latest, before `StreamStart2` reads it.
            EngineState::Output => {
                if self.row.q.val() == self.rows.q.val() {
                    if !self.output_pending.q.val() & !self.output_sum.q.val() {
                        self.state.d.next = EngineState::Copy;
                    }
                } else if !self.output_sum.q.val() {
                    self.rates.read_address.next =
                        self.state_index.q.val() | self.read_bank_offset.val();
                    self.slopes.read_address.next =
                        self.state_index.q.val() | self.read_bank_offset.val();
                    self.errors0.read_address.next =
                        self.state_index.q.val() | self.upper_half.val();
                    self.potentials.read_address.next = self.row.q.val() | self.upper_half.val();
                    self.output_pending.d.next = true;
                    self.row.enable.next = true;
                    self.state_index.enable.next = true;
                }
            }
            // Two independent loops run at one word per clock each. One writes the presynaptic
            // rates of the loaded layer into the lanes' rate banks (`rate_pending`). The other
            // turns the backward sums of the layer above into the loaded layer's errors
            // (`error_pending`). The phase ends when both are done and no error waits for its
            // product. Its last error is then written in `StreamStart`, a clock before
            // `StreamStart2` reads the first row's errors, which in a one-row layer is that error.
            EngineState::Copy => {
                if self.copy_rates.val() & (self.column.q.val() != self.columns.q.val()) {
                    self.errors1.read_address.next =
                        (self.column.q.val() & self.input_mask.val()) | self.input_region.val();
                    for k in 0..self._separate_inputs {
                        self.input_words[k].read_address.next = self.column.q.val();
                    }
                    self.rates.read_address.next =
                        self.source_index.q.val() | self.read_bank_offset.val();
                    self.rate_pending.d.next = true;
                    self.column.enable.next = true;
                    self.source_index.enable.next = true;
                }
                if self.below_active.q.val() & (self.row.q.val() != self.rows.q.val()) {
                    for p in 0..self._lanes {
                        self.slots[p].backward_read_address.next = self.error_word.q.val();
                    }
                    self.slopes.read_address.next =
                        self.state_index.q.val() | self.read_bank_offset.val();
                    self.error_pending.d.next = true;
                    self.row.enable.next = true;
                    self.state_index.enable.next = true;
                    self.error_lane.enable.next = true;
                    if self.error_lane.q.val() == self.lanes_last.val() {
                        self.error_lane.load.next = true;
                        self.error_word.enable.next = true;
                    }
                }
                if (!self.copy_rates.val() | (self.column.q.val() == self.columns.q.val()))
                    & (!self.below_active.q.val() | (self.row.q.val() == self.rows.q.val()))
                    & !self.error_pending.q.val()
                {
                    self.state.d.next = EngineState::StreamStart;
                }
            }
            EngineState::StreamStart => {
                self.row.load.next = true;
                self.state_index.load.next = true;
                self.write_index.load.next = true;
                self.neurons_done.load.next = true;
                self.lane_bank.load.next = true;
                self.bank_word.load.next = true;
                self.bank_word.value.next = self.above_base.q.val();
                self.group.load.next = true;
                self.stage3_group.load.next = true;
                self.factor_ready.d.next = false;
                // The layer's η mantissa, for `eta_mant` in the next clock (see `beta_word`).
                self.errors1.read_address.next = self.eta_word.val();
                self.state.d.next = EngineState::StreamStart2;
            }
            // Stage -1 of the first row: read its errors for the update factor and message.
            EngineState::StreamStart2 => {
                self.eta_mant.enable.next = true;
                self.errors0.read_address.next = self.state_index.q.val();
                self.errors1.read_address.next = self.state_index.q.val();
                self.state.d.next = EngineState::Stream;
            }
            EngineState::Stream => {
                if self.row.q.val() == self.rows.q.val() {
                    self.state.d.next = EngineState::Finish;
                } else {
                    for p in 0..self._lanes {
                        self.slots[p].weight_read_address.next = self.weight_address.q.val();
                    }
                    // The old bank reads the errors of the issued rows, the new bank those of
                    // the next row.
                    self.errors0.read_address.next = self.lookahead.val();
                    self.errors1.read_address.next = self.next_index.val();
                    if self.bank.q.val().any() {
                        self.errors0.read_address.next = self.next_index.val();
                        self.errors1.read_address.next = self.lookahead.val();
                    }
                    if self.group.q.val() == self.zero16.val() {
                        self.message_stage.enable.next = true;
                        self.message_saturated.enable.next = true;
                        self.factor_stage.d.next = self.update.factor.val();
                        self.factor_saturated.d.next = self.update.saturated.val();
                        if self.factor_ready.q.val() {
                            self.factor_stage.d.next = self.factor_next.q.val();
                            self.factor_saturated.d.next = self.factor_next_saturated.q.val();
                        }
                        self.factor_ready.d.next = false;
                    } else if !self.factor_ready.q.val() & !self.neuron.multipliers_busy.val() {
                        self.factor_next.d.next = self.update.factor.val();
                        self.factor_next_saturated.d.next = self.update.saturated.val();
                        self.factor_ready.d.next = true;
                    }
                    self.tags[0].valid.next = self.issue.val();
                    if self.issue.val() {
                        self.weight_address.enable.next = true;
                        self.group_column.enable.next = true;
                        if self.group.q.val() == self.zero16.val() {
                            self.group_column.load.next = true;
                        }
                        if self.group.q.val() == self.groups_last.q.val() {
                            self.last_row_index.enable.next = true;
                        }
                    }
                    self.group.enable.next = true;
                    if self.group.q.val() == self.cadence_last.q.val() {
                        self.group.load.next = true;
                        self.row.enable.next = true;
                        self.state_index.enable.next = true;
                    }
                }
            }
            // The stream has ended; the neuron unit returns the last rows' results.
            EngineState::Finish => {
                if self.neurons_done.q.val() == self.rows.q.val() {
                    self.state.d.next = EngineState::LayerNext;
                }
            }
            EngineState::LayerNext => {
                self.state.d.next = EngineState::LoadStart;
                self.layer_base.enable.next = true;
                self.below_active.enable.next = true;
                self.below_active.d.next = true;
                self.rate_base.enable.next = true;
                self.above_base.enable.next = true;
                if self.layer_base.q.val() == self.zero16.val() {
                    self.layer_base.enable.next = false;
                    self.below_active.enable.next = false;
                    self.state.d.next = EngineState::StepEnd;
                }
            }
            EngineState::StepEnd => {
                self.rates_current.d.next = true;
                self.inputs_current.d.next = true;
                self.bank.enable.next = true;
                self.counter_events.step.next = true;
                self.steps_left.enable.next = true;
                self.state.d.next = EngineState::StepCheck;
            }
            EngineState::StepCheck => {
                self.state.d.next = EngineState::StepStart;
                if self.steps_left.q.val() == self.zero32.val() {
                    self.state.d.next = EngineState::Idle;
                }
            }
            _ => {
                self.state.d.next = EngineState::Idle;
            }
        }

        // η, K_r and K_dt form a ring of registers: `eta_*` feeds the lent multipliers and
        // shifter and both of the neuron unit's coefficient ports, `k_r_*` follows it and
        // `k_dt_*` follows that. At rest the ring contains η (β's mantissa from `Load` to
        // `StreamStart2`, see `beta_word`), K_r and K_dt in that order. It advances at the end
        // of each clock of a neuron's stages 2, 3 and 4, so `eta_*` contains K_r in stage 3,
        // K_dt in stage 4 and η again from then on. The unit takes K_r only in stage 3 and K_dt
        // only in stage 4, and neurons are at least 3 clocks apart. So the ring is at rest
        // whenever the layer table or the host writes it and whenever the multipliers are
        // lent. This leaves the unit's mantissa and shift multiplexers one register where they
        // had three.
        // NOTE: a reset in stages 2 to 4 leaves K_r and K_dt out of place when no configuration
        // presets them, until the host writes them again.
        if self.neuron.coefficient_stages.val() {
            self.eta_mant.enable.next = true;
            self.eta_mant.d.next = self.k_r_mant.q.val();
            self.eta_shift.enable.next = true;
            self.eta_shift.d.next = self.k_r_shift.q.val();
            self.k_r_mant.enable.next = true;
            self.k_r_mant.d.next = self.k_dt_mant.q.val();
            self.k_r_shift.enable.next = true;
            self.k_r_shift.d.next = self.k_dt_shift.q.val();
            self.k_dt_mant.enable.next = true;
            self.k_dt_mant.d.next = self.eta_mant.q.val();
            self.k_dt_shift.enable.next = true;
            self.k_dt_shift.d.next = self.eta_shift.q.val();
        }

        // The installed error `e` of a row, which the neuron unit stores and reads at stage 4 of
        // the row's last group, with the row's potential. The old bank reads `e` of the streaming
        // row in every clock of the row but its last. So when a row has bubbles, the unit stores
        // it at stage 1 of the row's last group. Otherwise (`full_rows`), the old bank reads it
        // again at stage 1 of that group, which is the first clock of the next row, and the unit
        // stores it at stage 2. The read overrides the controller's, which the old bank needs
        // only in the last clock of a row. The unit's word equals `error_old` in the clocks where
        // it loads. Its mux selects the second bank only in those clocks, so synthesis does not
        // share `error_old`'s mux and forms the complement in the LUT of the unit's register.
        self.full_rows.next = self.groups_last.q.val() == self.cadence_last.q.val();
        if self.full_rows.val() {
            if self.tags[0].valid_q.val() & self.tags[0].last_group_q.val() {
                if self.bank.q.val().any() {
                    self.errors1.read_address.next = self.last_row_index.q.val();
                } else {
                    self.errors0.read_address.next = self.last_row_index.q.val();
                }
            }
            self.neuron.error_load.next =
                self.tags[1].valid_q.val() & self.tags[1].last_group_q.val();
            if self.bank.q.val().any()
                & self.tags[1].valid_q.val()
                & self.tags[1].last_group_q.val()
            {
                self.neuron.error.next = self.errors1_view.potential.val();
            }
        } else {
            self.neuron.error_load.next =
                self.tags[0].valid_q.val() & self.tags[0].last_group_q.val();
            if self.bank.q.val().any()
                & self.tags[0].valid_q.val()
                & self.tags[0].last_group_q.val()
            {
                self.neuron.error.next = self.errors1_view.potential.val();
            }
        }
    }
}

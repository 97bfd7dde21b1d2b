//! The command executor: replies to the link protocol's requests with the engine.

use leap_model::config::{Activation, Config, ErrorSource, TargetKind};
use leap_model::fixed::Constants;
use leap_model::format::MAX_COEFFICIENT_SHIFT;
use leap_model::protocol::{Identity, MAX_WORDS_PER_FRAME};
use rust_hdl::prelude::*;

use super::cache::ReplyCache;
use super::units::{
    coefficient_kind, detail_source, request_length, span_bits, Above, ByteGather, ByteSerializer,
    CoefficientCheck, CounterSelect, ErrorDetail, MemoryRange, MemorySelect, MemorySizes,
    PayloadLengths, ReplyWords, Rom, SignExtend, WordFit, ZeroExtend,
};
use super::walker::{LayerWeights, WeightWalker};
use crate::engine::units::{Counter, EnableRegister, PresetRegister};
use crate::engine::{constant, field, select, EngineParams, MIN_ROW_CLOCKS};
use crate::leaf::{activation, ResetRegister};

/// Field numbers of set parameters that an invalid-parameter error names.
mod parameter_field {
    pub const STEPS: u64 = 3;
    pub const SETTLE: u64 = 4;
    pub const TARGET: u64 = 5;
    pub const LEARNING: u64 = 6;
    pub const ETA: u64 = 8;
}

/// Everything the executor fixes at generation time: the network, its engine and the link.
#[derive(Clone, Debug)]
pub struct BoardConfig {
    pub config: Config,
    pub engine: EngineParams,
    /// Largest request payload the frame decoder takes, advertised in the identity reply.
    pub max_payload: usize,
}

impl BoardConfig {
    /// Checks that the network fits the engine and returns the weight placement of each layer.
    pub fn layers(&self) -> Result<Vec<LayerWeights>, String> {
        let c = &self.config;
        let p = &self.engine;
        if c.neuron.error_source != ErrorSource::TauM {
            return Err(
                "neuron.error_source = tau_r is not supported: the engine implements tau_m only"
                    .into(),
            );
        }
        for (l, &a) in c.network.activations.iter().enumerate() {
            if activation_code(a).is_none() {
                return Err(format!(
                    "network.activations[{l}] = {} is not supported: the engine has hard_sigmoid, relu and linear",
                    a.name()
                ));
            }
        }
        let sizes = &c.network.layers;
        if sizes.len() - 1 > p.max_layers {
            return Err(format!(
                "{} layers exceed the engine's {}",
                sizes.len() - 1,
                p.max_layers
            ));
        }
        if sizes[0] > p.max_inputs {
            return Err(format!(
                "{} inputs exceed the engine's {}",
                sizes[0], p.max_inputs
            ));
        }
        if !(1..=4096).contains(&self.max_payload) {
            return Err(format!(
                "a maximum payload of {} bytes is invalid: use 1 to 4096",
                self.max_payload
            ));
        }
        let mut layers = Vec::new();
        let (mut words, mut neurons) = (0, 0);
        for l in 0..sizes.len() - 1 {
            let (rows, columns) = (sizes[l + 1], sizes[l] + 1);
            if rows > p.max_rows || columns > p.max_columns {
                return Err(format!(
                    "layer {l} has {rows} neurons of {columns} columns; the engine fits {} of {}",
                    p.max_rows, p.max_columns
                ));
            }
            let groups = columns.div_ceil(p.lanes);
            layers.push(LayerWeights {
                rows,
                columns,
                groups,
            });
            words += rows * groups;
            neurons += rows;
        }
        if words > p.weight_words {
            return Err(format!(
                "{words} weight words per lane exceed the engine's {}",
                p.weight_words
            ));
        }
        if neurons > p.state_words {
            return Err(format!(
                "{neurons} neurons exceed the engine's {}",
                p.state_words
            ));
        }
        if p.weight_words >= 1 << 16 {
            return Err(format!(
                "{} weight words per lane are too many: use at most 65,535, because the engine's \
                 bank addresses and the weight walker's counters are 16 bits wide",
                p.weight_words
            ));
        }
        Ok(layers)
    }

    /// Returns the identity reply the board sends.
    pub fn identity(&self) -> Identity {
        let mut identity = Identity::for_config(&self.config, self.engine.lanes as u16);
        identity.max_payload = self.max_payload as u16;
        identity
    }

    /// Returns the largest reply payload the reply cache keeps: a sample result of as many
    /// samples as fit the maximum payload, or a memory-written header.
    pub fn max_cached_reply(&self) -> usize {
        let outputs = self.config.n_outputs();
        let samples = self.max_payload.saturating_sub(8) / (2 * outputs).max(1);
        (8 + 2 * outputs * samples.max(1)).clamp(8, self.max_payload.max(8))
    }
}

/// Returns the engine's code of `a`, or `None` when the engine has no fixed-point form of it.
fn activation_code(a: Activation) -> Option<u64> {
    match a {
        Activation::HardSigmoid => Some(activation::HARD_SIGMOID),
        Activation::Relu => Some(activation::RELU),
        Activation::Linear => Some(activation::LINEAR),
        _ => None,
    }
}

/// Returns the engine writes `(select, address, data)` that load the layer table and the
/// constants of `board`, in the order the co-simulation driver uses. The board's engine starts
/// with them in place (see [`crate::engine::Engine::preload`]).
pub fn power_on_writes(board: &BoardConfig) -> Vec<(u64, u64, u64)> {
    let layers = board.layers().unwrap_or_else(|e| panic!("{e}"));
    let config = &board.config;
    let constants = Constants::from_config(config, 1.0)
        .unwrap_or_else(|e| panic!("the configuration's constants are invalid: {e}"));
    let mut commands = Vec::new();
    let mut push = |select: u64, address: u64, data: u64| {
        commands.push((select, address, data));
    };
    let top_base = (layers.len() as u64 - 1) * field::STRIDE;
    for (address, value) in [
        (constant::K_R_MANT, constants.k_r.mant as u16 as u64),
        (constant::K_R_SHIFT, constants.k_r.shift as u64),
        (constant::K_DT_MANT, constants.k_dt.mant as u16 as u64),
        (constant::K_DT_SHIFT, constants.k_dt.shift as u64),
        (constant::BETA_MANT, constants.beta.mant as u16 as u64),
        (constant::BETA_SHIFT, constants.beta.shift as u64),
        (constant::TOP_BASE, top_base),
        (
            constant::VOLTAGE,
            (config.learning.target == TargetKind::Voltage) as u64,
        ),
    ] {
        push(select::CONSTANT, address, value);
    }
    let (mut weight_base, mut state_base, mut address_base) = (0u64, 0u64, 0u64);
    let mut below_base = 0;
    for (l, layer) in layers.iter().enumerate() {
        let eta = constants.eta[l];
        let activation =
            activation_code(config.network.activations[l]).expect("checked by layers()");
        let entry = [
            (field::ROWS, layer.rows as u64),
            (field::COLUMNS, layer.columns as u64),
            (field::GROUPS, layer.groups as u64),
            (
                field::CADENCE_LAST,
                layer.groups.max(MIN_ROW_CLOCKS) as u64 - 1,
            ),
            (field::WEIGHT_BASE, weight_base),
            (field::ADDRESS_BASE, address_base & 0xffff_ffff),
            (field::STATE_BASE, state_base),
            (field::INPUT_BASE, below_base),
            (field::ACTIVATION, activation),
            (field::ETA_MANT, eta.mant as u16 as u64),
            (field::ETA_SHIFT, eta.shift as u64),
            (field::FIRST, (l == 0) as u64),
            (field::INPUTS, layer.columns as u64 - 1),
            (field::GROUPS_LAST, layer.groups as u64 - 1),
        ];
        for (index, value) in entry {
            push(select::LAYER_TABLE, l as u64 * field::STRIDE + index, value);
        }
        below_base = state_base;
        weight_base += (layer.rows * layer.groups) as u64;
        state_base += layer.rows as u64;
        address_base += (layer.rows * layer.columns) as u64;
    }
    let rounding = leap_model::fixed::FixedModel::new(config)
        .map(|m| m.rounding_state())
        .unwrap_or(1);
    push(select::CONSTANT, constant::ROUNDING_STATE, rounding as u64);
    commands
}

/// States of the command executor, binary-encoded in declaration order.
///
/// NOTE: with 64 states or fewer the encoding narrows to 6 bits, and in two measured cases the
/// iCEBreaker core then packed into 114 and 134 more logic cells than with 65 states (yosys 0.23,
/// nextpnr-ice40 `--pack-only`). The cause inside yosys is not known, so measure the packed core
/// before going below 65 states.
#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum ExecState {
    /// Waiting for a frame and an idle encoder.
    Idle,
    /// The reply cache looks up the held frame's key.
    Lookup,
    /// Choosing the flow of the held frame's opcode and checking its length.
    Dispatch,
    /// Subroutine: the payload RAM reads `ptr`.
    GatherAddress,
    /// Subroutine: take the byte at `ptr` into the gather register.
    GatherByte,
    /// Subroutine: write the serializer's next byte to the reply.
    PutByte,
    /// Subroutine: strobe an engine write.
    EngineWrite,
    /// Subroutine: strobe an engine read.
    EngineRead,
    /// Subroutine: wait for the engine's read data.
    EngineReadWait,
    /// Subroutine: strobe an engine run.
    EngineRun,
    /// Subroutine: wait until the engine is idle after a run.
    EngineRunWait,
    /// Write the error reply's code, opcode and two zero bytes.
    ErrorReply,
    /// Start the error reply's detail: a queue frame's length is summed again.
    ErrorDetail,
    /// Write the error reply's detail, the serializer's next 4 bytes.
    ErrorTail,
    /// The reply payload is complete: take its length.
    Finish,
    /// For a state-changing request, file the reply in the cache, else strobe the encoder's send.
    Send,
    /// The reply cache writes the reply's key record. Then send.
    Filing,
    /// Release the held frame.
    Release,
    /// One clock for the decoder to drop the released frame.
    Settle,
    ReplayNext,
    ReplayByte,
    IdentityNext,
    IdentityByte,
    CounterNext,
    CounterPut,
    /// Read and write memory: check the gathered header and load the first neuron's index.
    MemoryCheck,
    ReadNext,
    ReadPut,
    WriteCheckNext,
    WriteCheckWord,
    WriteNext,
    WriteWord,
    /// Write memory: reply with the header, whose offset is gathered again.
    WriteHeader,
    ParameterFlags,
    /// Set parameters: check the next coefficient's shift, or in the second pass its value.
    CoefficientNext,
    CoefficientCheck,
    StepsCheck,
    ApplyNext,
    ApplyMantissa,
    ApplyShift,
    ApplyRounding,
    ApplyVoltage,
    /// Run and queue samples: take the sample count and start the checks.
    SampleHeader,
    SampleShape,
    /// Queue sample: add the sample count to the serializer once per record byte, then
    /// return.
    QueueSum,
    /// Queue sample: the serializer contains the frame's length, `6 + samples · record`.
    QueueCheck,
    TargetSkip,
    TargetNext,
    TargetCheck,
    Execute,
    SampleNext,
    InputNext,
    InputWrite,
    TargetWriteNext,
    TargetWrite,
    RunStart,
    RunLearn,
    OutputNext,
    OutputPut,
    SaturationNext,
    SaturationPut,
    ResetCheck,
    ResetWrite,
    ResetAdvance,
    ResetCounters,
}

/// The command executor between the frame decoder, the frame encoder and the engine's host port.
///
/// The engine it drives starts with the layer table and constants of the generation-time
/// configuration (see [`power_on_writes`]), and reset sets the executor's parameters to the
/// configuration's. It replies to each intact frame the decoder presents with exactly one reply, as
/// `leap_model::protocol::SoftwareDevice` does: the same checks in the same order, the same
/// error codes and details, the same reply cache and stream order. Payload bytes are read
/// through the decoder's RAM port two clocks per byte; replies are written byte by byte into
/// the encoder's buffer (and, for a state-changing request, into its reply-cache slot), then sent.
/// The executor waits for the encoder to finish the previous reply before it starts a frame.
#[derive(LogicBlock)]
pub struct CommandExecutor {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    // Frame decoder.
    pub frame_valid: Signal<In, Bit>,
    pub frame_opcode: Signal<In, Bits<8>>,
    pub frame_seq: Signal<In, Bits<16>>,
    pub frame_length: Signal<In, Bits<16>>,
    pub payload_address: Signal<Out, Bits<16>>,
    pub payload_byte: Signal<In, Bits<8>>,
    pub frame_release: Signal<Out, Bit>,
    pub clear_counters: Signal<Out, Bit>,
    /// The frame decoder's counter read port (see [`crate::link::FrameDecoder`]): its four
    /// link error counters, then the unknown-opcode and replay counters.
    pub error_select: Signal<Out, Bits<4>>,
    pub error_reading: Signal<Out, Bit>,
    pub error_count: Signal<In, Bits<32>>,
    pub error_ready: Signal<In, Bit>,
    /// Strobes of a request with an unknown opcode and of a replayed reply, which the frame
    /// decoder counts.
    pub unknown_opcode: Signal<Out, Bit>,
    pub replay: Signal<Out, Bit>,
    // Frame encoder.
    pub reply_write: Signal<Out, Bit>,
    pub reply_address: Signal<Out, Bits<16>>,
    pub reply_byte: Signal<Out, Bits<8>>,
    pub reply_send: Signal<Out, Bit>,
    pub reply_opcode: Signal<Out, Bits<8>>,
    pub reply_seq: Signal<Out, Bits<16>>,
    pub reply_length: Signal<Out, Bits<16>>,
    pub reply_busy: Signal<In, Bit>,
    // Engine host port.
    pub engine_write: Signal<Out, Bit>,
    pub engine_read: Signal<Out, Bit>,
    pub engine_run: Signal<Out, Bit>,
    pub engine_learn: Signal<Out, Bit>,
    pub engine_select: Signal<Out, Bits<8>>,
    pub engine_address: Signal<Out, Bits<32>>,
    pub engine_data: Signal<Out, Bits<64>>,
    pub engine_clear_counters: Signal<Out, Bit>,
    pub engine_busy: Signal<In, Bit>,
    pub engine_read_data: Signal<In, Bits<64>>,
    pub engine_read_valid: Signal<In, Bit>,
    /// High while the executor waits for a frame, with no request in progress.
    pub idle: Signal<Out, Bit>,
    // Control.
    state: ResetRegister<ExecState>,
    /// State a subroutine returns to.
    ret: EnableRegister<ExecState>,
    /// Payload byte the decoder's RAM reads. It never passes the frame's length, because
    /// every flow checks the length before it reads a byte.
    ptr: Counter<16>,
    /// Bytes the gather subroutine still takes.
    gather_left: Counter<4>,
    /// Bytes the put subroutine still writes.
    put_left: Counter<4>,
    /// Next byte of the reply payload in the encoder's buffer. Its offset in the cache slot
    /// at the head is the same, because every cached reply starts caching at byte 0.
    out_address: Counter<16>,
    /// Replies are also written into the cache slot at the head: a state-changing request
    /// passed its checks. Cleared for each frame.
    caching: ResetRegister<Bit>,
    /// The reply is an error reply. Cleared for each frame.
    error_reply: EnableRegister<Bit>,
    length_out: EnableRegister<Bits<16>>,
    /// Source of the error a state finds (a `detail_source` code for `error_detail`, which
    /// gives the error code and the detail), and whether it finds one.
    detail_source: Signal<Local, Bits<6>>,
    error_now: Signal<Local, Bit>,
    /// The error's source, kept for ErrorReply.
    stored_source: EnableRegister<Bits<6>>,
    /// The frame decoder's counter at this counter-loop index: `error_index`, the index
    /// minus 8.
    error_index: Signal<Local, Bits<4>>,
    // Request fields. The memory id, the word or input count and the flags stay in the low
    // half of the gather, because gathers of 4 bytes or fewer leave it unchanged. A memory
    // request's offset stays in the high half until the first word is gathered.
    /// Samples of a run or queue frame. It keeps the bits of the samples whose reply fits, the
    /// most a frame passes its checks with.
    samples: Counter<16>,
    /// Loop index: word, counter, coefficient, input, target, output or reply byte.
    index: Counter<16>,
    /// Neuron state index, or for an error detail a target's word index in its frame or a run
    /// frame's length of whole target words. It stays below the neuron count or the maximum
    /// payload once the request passed its range checks.
    address: Counter<16>,
    /// Sample of a run or queue frame, at most the samples whose reply fits.
    sample: Counter<16>,
    select_code: Counter<8>,
    /// Set parameters: the coefficient loop checks values, after a first pass over shifts.
    checking_values: EnableRegister<Bit>,
    new_target: EnableRegister<Bit>,
    new_learning: EnableRegister<Bit>,
    // Parameters (reset to the configuration's). The step counts are 20 bits wide because valid
    // counts are at most 1,000,000.
    /// Steps per sample after the settle steps: at least 1, because settle steps are fewer
    /// than steps per sample. A sample runs the settle steps, then these.
    learn_steps: PresetRegister<Bits<20>>,
    settle_steps: PresetRegister<Bits<20>>,
    learning: PresetRegister<Bit>,
    voltage: PresetRegister<Bit>,
    // Stream.
    stream_open: ResetRegister<Bit>,
    stream_next: EnableRegister<Bits<16>>,
    // Engine commands.
    command_select: EnableRegister<Bits<8>>,
    /// Engine address of the next command, as wide as the engine's host address port: a
    /// weight's address `(bank word << bank_bits) | lane` passes 16 bits on large engines.
    command_address: EnableRegister<Bits<32>>,
    /// Data of the next command, sign-extended to the engine's 64-bit data port. Every
    /// command writes a 16- or 32-bit word, sign- or zero-extended, so 33 bits hold it.
    command_data: EnableRegister<Bits<33>>,
    command_learn: EnableRegister<Bit>,
    // Units.
    gather: ByteGather,
    serializer: ByteSerializer,
    identity: Rom<8>,
    range: MemoryRange,
    memory_select: MemorySelect,
    fit: WordFit,
    coefficient: CoefficientCheck,
    lengths: PayloadLengths,
    walker: WeightWalker,
    cache: ReplyCache,
    words: ReplyWords,
    error_detail: ErrorDetail,
    counter_select: CounterSelect,
    wide_index: ZeroExtend<16, 32>,
    wide_address: ZeroExtend<16, 32>,
    wide_steps: ZeroExtend<20, 33>,
    wide_data: SignExtend<33, 64>,
    wide_samples: ZeroExtend<16, 64>,
    wide_count: ZeroExtend<32, 64>,
    /// Set parameters: steps per sample (`w0`) above the protocol's 1,000,000.
    steps_above: Above<32>,
    /// High while the gather has more than 4 bytes left: the next byte goes into the low half.
    gather_into_low: Above<4>,
    /// Set parameters: steps per sample minus settle steps, bit 20 set when it is negative.
    /// Valid only once steps per sample passed their check, so they are below 2^20.
    steps_difference: Signal<Local, Bits<21>>,
    emit: Signal<Local, Bit>,
    emit_byte: Signal<Local, Bits<8>>,
    // Constants.
    opcode_identify: Constant<Bits<8>>,
    opcode_read_memory: Constant<Bits<8>>,
    opcode_write_memory: Constant<Bits<8>>,
    opcode_set_parameters: Constant<Bits<8>>,
    opcode_run_sample: Constant<Bits<8>>,
    opcode_queue_sample: Constant<Bits<8>>,
    opcode_read_counters: Constant<Bits<8>>,
    opcode_reset: Constant<Bits<8>>,
    opcode_error: Constant<Bits<8>>,
    reply_bit: Constant<Bits<8>>,
    one4: Constant<Bits<4>>,
    two4: Constant<Bits<4>>,
    four4: Constant<Bits<4>>,
    eight4: Constant<Bits<4>>,
    minus_one4: Constant<Bits<4>>,
    one8: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    two16: Constant<Bits<16>>,
    four16: Constant<Bits<16>>,
    six16: Constant<Bits<16>>,
    eight16: Constant<Bits<16>>,
    twelve16: Constant<Bits<16>>,
    twenty16: Constant<Bits<16>>,
    twenty_four16: Constant<Bits<16>>,
    twenty_eight16: Constant<Bits<16>>,
    counters16: Constant<Bits<16>>,
    zero32: Constant<Bits<32>>,
    zero33: Constant<Bits<33>>,
    zero20: Constant<Bits<20>>,
    one20: Constant<Bits<20>>,
    zero12: Constant<Bits<12>>,
    zero7: Constant<Bits<7>>,
    detail_zero: Constant<Bits<6>>,
    detail_length_memory: Constant<Bits<6>>,
    detail_length_parameters_fixed: Constant<Bits<6>>,
    detail_length_run: Constant<Bits<6>>,
    detail_length_queue: Constant<Bits<6>>,
    detail_length_reset: Constant<Bits<6>>,
    detail_field_steps: Constant<Bits<6>>,
    detail_field_settle: Constant<Bits<6>>,
    detail_field_target: Constant<Bits<6>>,
    detail_field_learning: Constant<Bits<6>>,
    detail_unknown_opcode: Constant<Bits<6>>,
    detail_memory: Constant<Bits<6>>,
    detail_length_parameters: Constant<Bits<6>>,
    detail_no_stream: Constant<Bits<6>>,
    detail_inputs: Constant<Bits<6>>,
    detail_outputs: Constant<Bits<6>>,
    detail_byte: Constant<Bits<6>>,
    detail_write_length: Constant<Bits<6>>,
    detail_memory_size: Constant<Bits<6>>,
    detail_index: Constant<Bits<6>>,
    detail_address: Constant<Bits<6>>,
    detail_stream_next: Constant<Bits<6>>,
    detail_field: Constant<Bits<6>>,
    detail_whole_rates: Constant<Bits<6>>,
    detail_inputs_end: Constant<Bits<6>>,
    detail_whole_targets: Constant<Bits<6>>,
    detail_one_sample_length: Constant<Bits<6>>,
    detail_queue_length: Constant<Bits<6>>,
    detail_limit_length: Constant<Bits<6>>,
    detail_sample_flags: Constant<Bits<6>>,
    kind_step: Constant<Bits<2>>,
    kind_ratio: Constant<Bits<2>>,
    kind_nudging: Constant<Bits<2>>,
    kind_rate: Constant<Bits<2>>,
    memory_potential: Constant<Bits<8>>,
    select_input: Constant<Bits<8>>,
    select_target: Constant<Bits<8>>,
    select_rate: Constant<Bits<8>>,
    select_counter: Constant<Bits<8>>,
    select_constant: Constant<Bits<8>>,
    select_first_state: Constant<Bits<8>>,
    select_last_state: Constant<Bits<8>>,
    walker_address_mask: Constant<Bits<32>>,
    /// The bits of a byte's offset in a reply-cache slot. Slots are aligned to their
    /// power-of-two size, and a cached reply fits its slot, so a slot's base ORed with the
    /// offset is the byte's address.
    slot_offset_mask: Constant<Bits<16>>,
    constant_voltage: Constant<Bits<32>>,
    constant_rounding: Constant<Bits<32>>,
    counter_first_saturation: Constant<Bits<16>>,
    saturation_end: Constant<Bits<16>>,
    identity_bytes: Constant<Bits<16>>,
    n_inputs: Constant<Bits<16>>,
    n_outputs: Constant<Bits<16>>,
    input_bytes: Constant<Bits<16>>,
    output_base: Constant<Bits<16>>,
    neurons_last: Constant<Bits<16>>,
    coefficients: Constant<Bits<16>>,
    reset_neurons: Constant<Bits<8>>,
    reset_counters: Constant<Bits<8>>,
    reset_both: Constant<Bits<8>>,
    apply_select: Vec<Constant<Bits<8>>>,
    apply_address: Vec<Constant<Bits<32>>>,
    apply_shift_address: Vec<Constant<Bits<32>>>,
    coefficient_index: Vec<Constant<Bits<16>>>,
    _coefficients: usize,
}

impl CommandExecutor {
    /// Builds the executor for `board`. Panics when the network does not fit the engine: check
    /// with [`BoardConfig::layers`] first.
    pub fn new(board: &BoardConfig) -> Self {
        let layers = board.layers().unwrap_or_else(|e| panic!("{e}"));
        let config = &board.config;
        let depth = layers.len();
        let lanes = board.engine.lanes;
        let n_inputs = config.n_inputs();
        let n_outputs = config.n_outputs();
        let neurons: usize = layers.iter().map(|l| l.rows).sum();
        let identity_bytes = leap_model::protocol::Reply::Identity(board.identity())
            .to_frame(0)
            .payload;
        // The parameters reset to the configuration's, with learning on.
        let parameters = leap_model::protocol::EngineParameters::from_config(config, 1.0)
            .unwrap_or_else(|e| panic!("the configuration's parameters are invalid: {e}"));
        assert!(
            parameters.steps_per_sample <= 1_000_000,
            "{} steps per sample exceed the protocol's 1,000,000",
            parameters.steps_per_sample
        );
        assert!(
            parameters.settle_steps < parameters.steps_per_sample,
            "{} settle steps are not fewer than {} steps per sample",
            parameters.settle_steps,
            parameters.steps_per_sample
        );
        let learn_steps = (parameters.steps_per_sample - parameters.settle_steps) as u64;
        let settle_steps = parameters.settle_steps as u64;
        let voltage = parameters.target == TargetKind::Voltage;
        fn preset<T: Synth>(value: T, bits: u64) -> PresetRegister<T> {
            let mut register = PresetRegister::default();
            register.preset(value, bits);
            register
        }
        let sizes = MemorySizes {
            weights: config.synapses() as u32,
            neurons: neurons as u32,
        };
        let c8 = |v: u64| Constant::<Bits<8>>::new(v.to_bits());
        let c16 = |v: u64| Constant::<Bits<16>>::new(v.to_bits());
        let c32 = |v: u64| Constant::<Bits<32>>::new(v.to_bits());
        let c2 = |v: u64| Constant::<Bits<2>>::new(v.to_bits());
        let c4 = |v: u64| Constant::<Bits<4>>::new(v.to_bits());
        let c6 = |v: u64| Constant::<Bits<6>>::new(v.to_bits());

        // Engine destinations of the coefficients in payload order: dt/τ_m, τ_r/τ_m, β, then
        // η of each layer into the layer table.
        let mut apply = vec![
            (select::CONSTANT, constant::K_DT_MANT, constant::K_DT_SHIFT),
            (select::CONSTANT, constant::K_R_MANT, constant::K_R_SHIFT),
            (select::CONSTANT, constant::BETA_MANT, constant::BETA_SHIFT),
        ];
        for l in 0..depth as u64 {
            let base = l * field::STRIDE;
            apply.push((
                select::LAYER_TABLE,
                base + field::ETA_MANT,
                base + field::ETA_SHIFT,
            ));
        }

        // The loops count words of a memory transfer, identity bytes, cached reply bytes,
        // coefficients, inputs, outputs, counters, saturation counters and the record bytes of a
        // queue frame, one addition each.
        // A cached reply's slot-masked length is below twice the slot.
        let cached_reply_slot = board.max_cached_reply().max(8).next_power_of_two();
        let index_max = [
            MAX_WORDS_PER_FRAME,
            identity_bytes.len(),
            2 * cached_reply_slot,
            apply.len(),
            n_inputs,
            n_outputs,
            14,
            2 * n_inputs + 4 * n_outputs,
        ]
        .into_iter()
        .max()
        .unwrap_or(0) as u64;
        let max_samples = board.max_payload.saturating_sub(8) / (2 * n_outputs).max(1);
        // Reply payloads: identity, 14 counters, a memory read's header and words, or a
        // cached reply.
        let max_reply = [
            identity_bytes.len(),
            14 * 8,
            8 + 4 * MAX_WORDS_PER_FRAME,
            board.max_cached_reply(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        // The walker's addresses have `16 + bank_bits` bits. The mask lets yosys drop the
        // address register's top bits, which the walker, a unit of its own, cannot show zero.
        let walker_address_bits = 16 + board.engine.bank_bits();

        CommandExecutor {
            clock: Default::default(),
            reset: Default::default(),
            frame_valid: Default::default(),
            frame_opcode: Default::default(),
            frame_seq: Default::default(),
            frame_length: Default::default(),
            payload_address: Default::default(),
            payload_byte: Default::default(),
            frame_release: Default::default(),
            clear_counters: Default::default(),
            error_select: Default::default(),
            error_reading: Default::default(),
            error_count: Default::default(),
            error_ready: Default::default(),
            unknown_opcode: Default::default(),
            replay: Default::default(),
            reply_write: Default::default(),
            reply_address: Default::default(),
            reply_byte: Default::default(),
            reply_send: Default::default(),
            reply_opcode: Default::default(),
            reply_seq: Default::default(),
            reply_length: Default::default(),
            reply_busy: Default::default(),
            engine_write: Default::default(),
            engine_read: Default::default(),
            engine_run: Default::default(),
            engine_learn: Default::default(),
            engine_select: Default::default(),
            engine_address: Default::default(),
            engine_data: Default::default(),
            engine_clear_counters: Default::default(),
            engine_busy: Default::default(),
            engine_read_data: Default::default(),
            engine_read_valid: Default::default(),
            idle: Default::default(),
            state: Default::default(),
            ret: Default::default(),
            ptr: Counter::up_to(board.max_payload as u64),
            gather_left: Default::default(),
            put_left: Default::default(),
            out_address: Counter::up_to(max_reply as u64),
            caching: Default::default(),
            error_reply: Default::default(),
            length_out: Default::default(),
            detail_source: Default::default(),
            error_index: Default::default(),
            error_now: Default::default(),
            stored_source: Default::default(),
            samples: Counter::up_to(max_samples.max(1) as u64),
            index: Counter::up_to(index_max),
            address: Counter::up_to(neurons.max(board.max_payload) as u64),
            sample: Counter::up_to(max_samples.max(1) as u64),
            select_code: Counter::up_to(select::SLOPE),
            checking_values: Default::default(),
            new_target: Default::default(),
            new_learning: Default::default(),
            learn_steps: preset(learn_steps.to_bits(), learn_steps),
            settle_steps: preset(settle_steps.to_bits(), settle_steps),
            learning: preset(true, 1),
            voltage: preset(voltage, voltage as u64),
            stream_open: Default::default(),
            stream_next: Default::default(),
            command_select: Default::default(),
            command_address: Default::default(),
            command_data: Default::default(),
            command_learn: Default::default(),
            gather: Default::default(),
            serializer: Default::default(),
            identity: Rom::new(&identity_bytes.iter().map(|&b| b as u64).collect::<Vec<_>>()),
            range: MemoryRange::new(sizes, MAX_WORDS_PER_FRAME as u32),
            memory_select: Default::default(),
            fit: WordFit::new(config.fixed.weight_bits, config.fixed.pot_bits),
            coefficient: CoefficientCheck::new(MAX_COEFFICIENT_SHIFT),
            lengths: PayloadLengths::new(
                n_inputs,
                n_outputs,
                board.max_payload,
                28 + 4 * depth as u64,
            ),
            walker: WeightWalker::new(&layers, lanes, board.engine.bank_bits()),
            cache: ReplyCache::new(board.max_cached_reply()),
            words: ReplyWords::new(span_bits(sizes, MAX_WORDS_PER_FRAME as u32)),
            error_detail: ErrorDetail::new(
                28 + 4 * depth as u64,
                n_inputs as u64,
                n_outputs as u64,
                apply.len() as u64,
                parameter_field::ETA,
            ),
            counter_select: Default::default(),
            wide_index: Default::default(),
            wide_address: Default::default(),
            wide_steps: Default::default(),
            wide_data: Default::default(),
            wide_samples: Default::default(),
            wide_count: Default::default(),
            steps_above: Above::new(1_000_000),
            gather_into_low: Above::new(4),
            steps_difference: Default::default(),
            emit: Default::default(),
            emit_byte: Default::default(),
            opcode_identify: c8(0x01),
            opcode_read_memory: c8(0x02),
            opcode_write_memory: c8(0x03),
            opcode_set_parameters: c8(0x04),
            opcode_run_sample: c8(0x05),
            opcode_queue_sample: c8(0x06),
            opcode_read_counters: c8(0x07),
            opcode_reset: c8(0x08),
            opcode_error: c8(0xFF),
            reply_bit: c8(0x80),
            one4: c4(1),
            two4: c4(2),
            four4: c4(4),
            eight4: c4(8),
            minus_one4: c4(15),
            one8: c8(1),
            zero16: c16(0),
            one16: c16(1),
            two16: c16(2),
            four16: c16(4),
            six16: c16(6),
            eight16: c16(8),
            twelve16: c16(12),
            twenty16: c16(20),
            twenty_four16: c16(24),
            twenty_eight16: c16(28),
            counters16: c16(14),
            zero32: c32(0),
            zero33: Constant::new(0u64.to_bits()),
            zero20: Constant::new(0u64.to_bits()),
            one20: Constant::new(1u64.to_bits()),
            zero12: Constant::new(0u64.to_bits()),
            zero7: Constant::new(0u64.to_bits()),
            detail_zero: c6(0),
            detail_length_memory: c6(request_length::MEMORY),
            detail_length_parameters_fixed: c6(request_length::PARAMETERS_FIXED),
            detail_length_run: c6(request_length::RUN),
            detail_length_queue: c6(request_length::QUEUE),
            detail_length_reset: c6(request_length::RESET),
            detail_field_steps: c6(detail_source::PARAMETER + parameter_field::STEPS),
            detail_field_settle: c6(detail_source::PARAMETER + parameter_field::SETTLE),
            detail_field_target: c6(detail_source::PARAMETER + parameter_field::TARGET),
            detail_field_learning: c6(detail_source::PARAMETER + parameter_field::LEARNING),
            detail_unknown_opcode: c6(detail_source::UNKNOWN_OPCODE),
            detail_memory: c6(detail_source::MEMORY),
            detail_length_parameters: c6(detail_source::LENGTH_PARAMETERS),
            detail_no_stream: c6(detail_source::NO_STREAM),
            detail_inputs: c6(detail_source::INPUTS),
            detail_outputs: c6(detail_source::OUTPUTS),
            detail_byte: c6(detail_source::BYTE),
            detail_write_length: c6(detail_source::WRITE_LENGTH),
            detail_memory_size: c6(detail_source::MEMORY_SIZE),
            detail_index: c6(detail_source::INDEX),
            detail_address: c6(detail_source::ADDRESS),
            detail_stream_next: c6(detail_source::STREAM_NEXT),
            detail_field: c6(detail_source::FIELD),
            detail_whole_rates: c6(detail_source::WHOLE_RATES),
            detail_inputs_end: c6(detail_source::INPUTS_END),
            detail_whole_targets: c6(detail_source::WHOLE_TARGETS),
            detail_one_sample_length: c6(detail_source::ONE_SAMPLE_LENGTH),
            detail_queue_length: c6(detail_source::QUEUE_LENGTH),
            detail_limit_length: c6(detail_source::LIMIT_LENGTH),
            detail_sample_flags: c6(detail_source::SAMPLE_FLAGS),
            kind_step: c2(coefficient_kind::STEP),
            kind_ratio: c2(coefficient_kind::RATIO),
            kind_nudging: c2(coefficient_kind::NUDGING),
            kind_rate: c2(coefficient_kind::RATE),
            memory_potential: c8(2),
            select_input: c8(select::INPUT),
            select_target: c8(select::TARGET),
            select_rate: c8(select::RATE),
            select_counter: c8(select::COUNTER),
            select_constant: c8(select::CONSTANT),
            select_first_state: c8(select::POTENTIAL),
            select_last_state: c8(select::SLOPE),
            walker_address_mask: c32((1u64 << walker_address_bits.min(32)) - 1),
            slot_offset_mask: c16(cached_reply_slot as u64 - 1),
            constant_voltage: c32(constant::VOLTAGE),
            constant_rounding: c32(constant::ROUNDING_STATE),
            counter_first_saturation: c16(crate::engine::counter::POTENTIAL),
            saturation_end: c16(crate::engine::counter::POTENTIAL + 5),
            identity_bytes: c16(identity_bytes.len() as u64),
            n_inputs: c16(n_inputs as u64),
            n_outputs: c16(n_outputs as u64),
            input_bytes: c16(2 * n_inputs as u64),
            output_base: c16((neurons - n_outputs) as u64),
            neurons_last: c16(neurons as u64 - 1),
            coefficients: c16(apply.len() as u64),
            reset_neurons: c8(1),
            reset_counters: c8(2),
            reset_both: c8(3),
            apply_select: apply.iter().map(|a| c8(a.0)).collect(),
            apply_address: apply.iter().map(|a| c32(a.1)).collect(),
            apply_shift_address: apply.iter().map(|a| c32(a.2)).collect(),
            coefficient_index: (0..apply.len()).map(|i| c16(i as u64)).collect(),
            _coefficients: apply.len(),
        }
    }
}

mod update;

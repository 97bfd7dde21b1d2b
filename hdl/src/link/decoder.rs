//! The frame decoder: finds frames in the received byte stream and presents each intact one.

use leap_model::protocol::{CRC_LEN, HEADER_LEN, SYNC};
use rust_hdl::prelude::*;

use super::compare::AboveConstant;
use super::crc::{check_mixes, Crc32};
use super::{low_mask, LinkParams};
use crate::counter_bank::{CounterBank, CounterSpec};
use crate::engine::units::Memory;
use crate::leaf::{Register, ResetRegister};

/// Inter-byte gaps the decoder can hold before its scanner reaches them.
pub const GAP_DEPTH: usize = 4;

/// The byte the scanner examines, and the 16-bit header fields with it as their low or high byte.
///
/// `byte` is `newest` (the byte input of the previous clock) when the scanner is at the newest
/// byte (`behind` low), else the ring's read data. `seq_low_set` and `length_low_set` put `byte`
/// in the low byte of the stored field, `seq_word` and `length_word` join it as the high byte to
/// the stored low byte. Every input is a register or memory output, so no combinational path
/// leads back into the decoder's logic.
#[derive(LogicBlock, Default)]
pub struct ScanSource {
    pub behind: Signal<In, Bit>,
    pub newest: Signal<In, Bits<8>>,
    pub ring_data: Signal<In, Bits<8>>,
    pub seq: Signal<In, Bits<16>>,
    pub length: Signal<In, Bits<16>>,
    pub from_newest: Signal<Out, Bit>,
    pub byte: Signal<Out, Bits<8>>,
    pub seq_low_set: Signal<Out, Bits<16>>,
    pub seq_word: Signal<Out, Bits<16>>,
    pub length_low_set: Signal<Out, Bits<16>>,
    pub length_word: Signal<Out, Bits<16>>,
}

impl Logic for ScanSource {
    fn update(&mut self) {
        let from_newest = !self.behind.val();
        let byte = if from_newest {
            self.newest.val()
        } else {
            self.ring_data.val()
        };
        let low = byte.to_u64();
        let high = low << 8;
        let seq = self.seq.val().to_u64();
        let length = self.length.val().to_u64();
        self.from_newest.next = from_newest;
        self.byte.next = byte;
        self.seq_low_set.next = (seq & 0xFF00 | low).to_bits();
        self.seq_word.next = (high | seq & 0xFF).to_bits();
        self.length_low_set.next = (length & 0xFF00 | low).to_bits();
        self.length_word.next = (high | length & 0xFF).to_bits();
    }
    fn connect(&mut self) {
        self.from_newest.connect();
        self.byte.connect();
        self.seq_low_set.connect();
        self.seq_word.connect();
        self.length_low_set.connect();
        self.length_word.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) from_newest = ~behind;\n\
             always @(*) byte = from_newest ? newest : ring_data;\n\
             always @(*) seq_low_set = {seq[15:8], byte};\n\
             always @(*) seq_word = {byte, seq[7:0]};\n\
             always @(*) length_low_set = {length[15:8], byte};\n\
             always @(*) length_word = {byte, length[7:0]};\n"
                .into(),
        )
    }
}

/// Clocks that a read stops the error counters' round: the first clock at the counter, and the
/// one where `error_ready` rises.
const ERROR_HOLD_CLOCKS: usize = 2;

/// Clocks a read of an error counter waits at most: a round of the counter bank's six counters,
/// the counter's two words and the two clocks at the counter.
pub const ERROR_READ_CLOCKS: usize = 2 * 2 * 6 + 4 + 2;

/// The decoder's error events and the executor's unknown-opcode and replay strobes of one clock
/// as the `increments` of its [`CounterBank`], and the low 32 bits of the bank's `value` as
/// `count`. A framing error counts a skipped run and a dropped run, so it can count 2 in one
/// clock.
#[derive(LogicBlock, Default)]
pub struct ErrorEvents {
    pub crc: Signal<In, Bit>,
    pub skipped_run: Signal<In, Bit>,
    pub dropped_run: Signal<In, Bit>,
    pub length: Signal<In, Bit>,
    pub timeout: Signal<In, Bit>,
    pub unknown_opcode: Signal<In, Bit>,
    pub replay: Signal<In, Bit>,
    pub increments: Signal<Out, Bits<64>>,
    pub value: Signal<In, Bits<48>>,
    pub count: Signal<Out, Bits<32>>,
}

impl ErrorEvents {
    /// Returns the CRC, framing, length and timeout error counters, then the unknown-opcode and
    /// replay counters.
    ///
    /// The scanner's events are spaced, which narrows their pending counts. A candidate takes a
    /// clock for its sync byte after the previous rejection and five for its header, so length
    /// errors are 6 clocks apart or more, and CRC errors, which also take the 4 CRC bytes, 10
    /// clocks. A timeout needs a candidate opened after the previous rejection, so timeouts are
    /// 2 clocks apart. A skipped run needs a sync byte examined since the previous one, and a
    /// dropped run a byte written since the previous one, so each is 2 clocks apart.
    pub fn counters() -> Vec<CounterSpec> {
        vec![
            CounterSpec::new(32, 1, 1).spaced(10),
            CounterSpec::new(32, 2, 2).spaced(2),
            CounterSpec::new(32, 1, 1).spaced(6),
            CounterSpec::new(32, 1, 1).spaced(2),
            CounterSpec::new(32, 1, 1),
            CounterSpec::new(32, 1, 1),
        ]
    }
}

impl Logic for ErrorEvents {
    fn update(&mut self) {
        let framing = self.skipped_run.val() as u64 + self.dropped_run.val() as u64;
        let word = self.crc.val() as u64
            | framing << 1
            | (self.length.val() as u64) << 3
            | (self.timeout.val() as u64) << 4
            | (self.unknown_opcode.val() as u64) << 5
            | (self.replay.val() as u64) << 6;
        self.increments.next = word.to_bits();
        self.count.next = (self.value.val().to_u64() & 0xffff_ffff).to_bits();
    }
    fn connect(&mut self) {
        self.increments.connect();
        self.count.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "wire [1:0] framing = {1'b0, skipped_run} + {1'b0, dropped_run};\n\
             always @(*) increments = {57'h0, replay, unknown_opcode, timeout, length, framing, crc};\n\
             always @(*) count = value[31:0];\n\
             wire unused_value = &{1'b0, value[47:32]};\n"
                .into(),
        )
    }
}

/// The frame decoder, with the acceptance rules of `leap_model::protocol::Decoder` (requests)
/// except the opcode check: every intact frame is presented.
///
/// Every received byte is written to a ring in block RAM of [`LinkParams::ring_bytes`] bytes.
/// Byte input never stalls. A scanner examines the ring one byte per clock with the software
/// decoder's rules. It searches for the sync byte and reads the header. It rejects a length field
/// above `max_payload` as soon as the header is complete, and it checks the CRC at the end of the frame.
/// After a rejected candidate it moves back to the byte after that candidate's sync byte. So the
/// ring replays those bytes, and a rescanned byte does not start another framing error.
///
/// Timing: a received byte is examined on the next clock when the scanner has caught up, and
/// `frame_valid` rises on the clock after the last CRC byte was examined. After a rejection the
/// scanner is behind the input, and it reads the ring through the block RAM's read port. The
/// port is addressed before the byte compares finish, so the scanner spends one clock after each
/// rejection addressing the position it moved back to. That port serves `payload_address` while a frame is held, so a scanner that is behind
/// waits until the held frame is released. A scanner that has caught up keeps examining while a
/// frame is held, so the next frame is received meanwhile and waits in a second slot. While that
/// slot is full the scanner stops.
///
/// Inter-byte timeout: when more than `timeout_clocks` clocks pass after a received byte, the
/// position of the next byte is queued as a gap (if the scanner has bytes left or a candidate
/// open). When the scanner reaches a gap with a candidate open, it rejects the candidate as timed
/// out and rescans its bytes. The gap stays until the scanner reaches it with no candidate open.
/// This is the software decoder's rule that a frame never spans a gap.
///
/// Overflow: the ring keeps the held frames' payloads and every byte from the open candidate's
/// sync byte (or the scanner) onward. A byte that arrives while the ring is full is dropped, and
/// each run of dropped bytes counts one framing error. The ring always has room for two frames of
/// `max_payload`, which is what a host with at most two frames in flight sends.
///
/// The error counters wrap at 2^32 and count an event one clock after the scanner finds it.
/// `clear_counters` sets each to the count of its events still in flight, so no event is lost.
/// They live in a [`CounterBank`] (an SB_SPRAM256KA on iCE40), which also counts the command
/// executor's `unknown_opcode` and `replay` strobes. A read raises `error_reading` with the
/// counter in `error_select` (0 CRC, 1 framing, 2 length, 3 timeout errors, 4 unknown opcodes,
/// 5 replays) and keeps
/// both until `error_ready`, which rises within [`ERROR_READ_CLOCKS`] clocks with the
/// counter in `error_count`. `error_reading` must fall in the clock after `error_ready` rises
/// and stay low for a clock between two reads.
///
/// NOTE: the scanner still examines a byte, judges it and moves in one clock, and the ring-full
/// check reaches the write position in the same clock. nextpnr-ice40 0.4 places the 256-byte
/// variant (inputs fed from a shift register) on an iCE40UP5K at 32.9 to 34.3 MHz over three
/// seeds (`sim/cosim/tests/link_timing.rs`), little above the iCEBreaker's 30 MHz engine clock
/// (`constraints/boards.toml`).
#[derive(LogicBlock)]
pub struct FrameDecoder {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub byte: Signal<In, Bits<8>>,
    pub byte_valid: Signal<In, Bit>,
    pub clear_counters: Signal<In, Bit>,
    pub frame_valid: Signal<Out, Bit>,
    pub frame_opcode: Signal<Out, Bits<8>>,
    pub frame_seq: Signal<Out, Bits<16>>,
    pub frame_length: Signal<Out, Bits<16>>,
    pub payload_address: Signal<In, Bits<16>>,
    pub payload_byte: Signal<Out, Bits<8>>,
    pub frame_release: Signal<In, Bit>,
    pub error_select: Signal<In, Bits<4>>,
    pub error_reading: Signal<In, Bit>,
    pub error_count: Signal<Out, Bits<32>>,
    pub error_ready: Signal<Out, Bit>,
    /// The command executor's strobes of an unknown opcode and of a replayed reply, counted
    /// like the errors.
    pub unknown_opcode: Signal<In, Bit>,
    pub replay: Signal<In, Bit>,

    // The ring. Positions count modulo twice the ring's size in 16-bit registers, and the
    // memory uses their low bits.
    ring: Memory<Bits<8>>,
    /// Position of the next received byte (reset 0).
    write_position: ResetRegister<Bits<16>>,
    /// The scanner is not at the byte written in the previous clock, so it reads the ring
    /// (reset 0, because `scan` and the previous write position both reset to 0).
    scan_behind: ResetRegister<Bit>,
    /// A byte was written in the previous clock (reset 0).
    byte_written: ResetRegister<Bit>,
    /// The byte input of the previous clock: the scanner takes the newest byte from here,
    /// because the block RAM returns a word written in the same clock only one clock later.
    newest_byte: Register<Bits<8>>,
    /// Whether the source keeps `byte` for at least the clock after `byte_valid`. If so, the
    /// scanner takes the newest byte from the input and yosys removes `newest_byte`.
    byte_held: Constant<Bit>,
    /// Whether the read port served the scanner in the previous clock (reset 0).
    port_scanned: ResetRegister<Bit>,
    /// Whether the previous received byte was dropped because the ring was full (reset 0).
    dropping: ResetRegister<Bit>,

    // Inter-byte timeout.
    /// A byte arrived and no gap has followed it yet (reset 0).
    armed: ResetRegister<Bit>,
    /// `quiet_start` plus the clocks since the last received byte minus one, counted while
    /// armed. Its bit `quiet_top` first rises after `timeout_clocks` counts, and the gap test
    /// reads only that bit. No reset, because `armed` resets to 0.
    quiet: Register<Bits<33>>,
    /// Queued gap positions, oldest first. Bit `k` of `gap_valid` marks entry `k` valid, and
    /// the valid entries are the first ones (reset 0).
    gaps: Vec<Register<Bits<16>>>,
    gap_valid: ResetRegister<Bits<GAP_DEPTH>>,

    // The scanner.
    /// Position of the next byte to examine (reset 0).
    scan: ResetRegister<Bits<16>>,
    /// One past the furthest position examined so far: bytes below it are rescans (reset 0).
    high_water: ResetRegister<Bits<16>>,
    /// The last byte examined outside a candidate was skipped (reset 0).
    skipping: ResetRegister<Bit>,
    /// A candidate frame is open (reset 0).
    candidate: ResetRegister<Bit>,
    /// Position after the candidate's sync byte, where the scanner resumes after rejecting it.
    start: Register<Bits<16>>,
    /// Header bytes of the candidate so far, the sync byte included: the index of the next
    /// header byte (1 to 5), and 6 once the header is complete.
    count: Register<Bits<16>>,
    /// The candidate's header fields. `seq` and `length` take their low byte first.
    opcode: Register<Bits<8>>,
    seq: Register<Bits<16>>,
    length: Register<Bits<16>>,
    /// The low byte of `length` is above the low byte of `max_payload`.
    length_low_over: Register<Bit>,
    /// Comparisons of the length bytes with those of `max_payload`.
    low_byte_check: AboveConstant<8>,
    high_byte_check: AboveConstant<8>,
    /// The candidate's header is complete and payload bytes follow.
    in_payload: Register<Bit>,
    /// Payload bytes still to examine, and whether that is exactly one.
    payload_left: Register<Bits<16>>,
    payload_last: Register<Bit>,
    /// The candidate's CRC field follows, and the index of its next byte (0 to 3). The CRC
    /// unit absorbs the field too. A field byte is correct when its mix with the CRC register's
    /// low byte equals the constant of [`check_mixes`] for its index.
    in_check: Register<Bit>,
    check_offset: Register<Bits<2>>,
    /// The CRC bytes received so far match the computed CRC.
    crc_match: Register<Bit>,
    crc_byte_match: Signal<Local, Bit>,
    expected_mix: Signal<Local, Bits<8>>,
    crc: Crc32,
    source: ScanSource,

    // Intact frames: the held one, and the next one in the scanner's registers.
    held_valid: ResetRegister<Bit>,
    held_opcode: Register<Bits<8>>,
    held_seq: Register<Bits<16>>,
    held_length: Register<Bits<16>>,
    /// Ring position of the held frame's first payload byte.
    held_start: Register<Bits<16>>,
    /// A complete frame waits for the held one to be released. Its header and position stay in
    /// `opcode`, `seq`, `length` and `start`, because the scanner stops meanwhile (reset 0).
    next_valid: ResetRegister<Bit>,

    // Error counters (reset 0). The events of one clock are registered and counted on the
    // next, which keeps the scanner's logic out of the counters' carry chains.
    crc_event_q: ResetRegister<Bit>,
    length_event_q: ResetRegister<Bit>,
    timeout_event_q: ResetRegister<Bit>,
    skipped_run_q: ResetRegister<Bit>,
    dropped_run_q: ResetRegister<Bit>,
    error_events: ErrorEvents,
    errors: CounterBank,

    // Combinational signals of one clock.
    full_from_scan: Signal<Local, Bit>,
    full_from_start: Signal<Local, Bit>,
    full_from_held: Signal<Local, Bit>,
    full: Signal<Local, Bit>,
    accepted: Signal<Local, Bit>,
    dropped_run: Signal<Local, Bit>,
    gap: Signal<Local, Bit>,
    gap_hit: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    push: Signal<Local, Bit>,
    /// `gap_valid` after the pop of this clock, and the one-hot first free entry in it.
    kept_gaps: Signal<Local, Bits<GAP_DEPTH>>,
    free_gap: Signal<Local, Bits<GAP_DEPTH>>,
    unexamined: Signal<Local, Bit>,
    examine: Signal<Local, Bit>,
    rescanned: Signal<Local, Bit>,
    scan_next: Signal<Local, Bits<16>>,
    /// The positions after `scan` and after `write_position`.
    scan_step: Signal<Local, Bits<16>>,
    write_step: Signal<Local, Bits<16>>,
    scan_fetch: Signal<Local, Bits<16>>,
    next_is_newest: Signal<Local, Bit>,
    restart_is_newest: Signal<Local, Bit>,
    newest_next: Signal<Local, Bit>,
    length_over: Signal<Local, Bit>,
    reject: Signal<Local, Bit>,
    complete: Signal<Local, Bit>,
    releasing: Signal<Local, Bit>,
    /// The held slot takes the frame in the scanner's registers.
    hold_scanned: Signal<Local, Bit>,
    skipped_run: Signal<Local, Bit>,
    crc_event: Signal<Local, Bit>,
    length_event: Signal<Local, Bit>,
    timeout_event: Signal<Local, Bit>,

    ring_bytes: Constant<Bits<16>>,
    /// Masks that keep each counter to the bits its values need, so that yosys removes the
    /// rest. Positions count modulo twice the ring, `quiet` up to `quiet_top`, `count` up
    /// to 6, and `length` and `payload_left` up to `max_payload`. A longer length field is
    /// rejected in the clock it is stored, so its cut value is never used.
    position_mask: Constant<Bits<16>>,
    quiet_mask: Constant<Bits<33>>,
    count_mask: Constant<Bits<16>>,
    payload_mask: Constant<Bits<16>>,
    max_payload_high: Constant<Bits<8>>,
    /// `quiet` after a received byte, `2^w - timeout_clocks` for the width `w` of
    /// `timeout_clocks`, and the bit `2^w` that `quiet` reaches after `timeout_clocks` counts.
    quiet_start: Constant<Bits<33>>,
    quiet_top: Constant<Bits<33>>,
    sync: Constant<Bits<8>>,
    one_gap: Constant<Bits<GAP_DEPTH>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    two16: Constant<Bits<16>>,
    three16: Constant<Bits<16>>,
    four16: Constant<Bits<16>>,
    five16: Constant<Bits<16>>,
    /// Distance from `start` to the first payload byte.
    payload_offset16: Constant<Bits<16>>,
    offset2: Vec<Constant<Bits<2>>>,
    check_mix: Vec<Constant<Bits<8>>>,
    one33: Constant<Bits<33>>,
}

impl FrameDecoder {
    /// Creates a decoder for `params`. Panics when `params` is invalid: call
    /// [`LinkParams::validate`] first.
    pub fn new(params: &LinkParams) -> Self {
        if let Err(e) = params.validate() {
            panic!("cannot build a frame decoder: {e}");
        }
        let ring_bytes = params.ring_bytes();
        assert!(
            ring_bytes <= 1 << 15,
            "a ring of {ring_bytes} bytes needs positions wider than 16 bits"
        );
        let constant16 = |value: usize| Constant::new((value as u64).to_bits());
        // `validate` keeps `timeout_clocks` below 2^32, so `quiet_top` is at most bit 32.
        let quiet_top = low_mask(params.timeout_clocks) + 1;
        FrameDecoder {
            clock: Default::default(),
            reset: Default::default(),
            byte: Default::default(),
            byte_valid: Default::default(),
            clear_counters: Default::default(),
            frame_valid: Default::default(),
            frame_opcode: Default::default(),
            frame_seq: Default::default(),
            frame_length: Default::default(),
            payload_address: Default::default(),
            payload_byte: Default::default(),
            frame_release: Default::default(),
            error_select: Default::default(),
            error_reading: Default::default(),
            error_count: Default::default(),
            error_ready: Default::default(),
            unknown_opcode: Default::default(),
            replay: Default::default(),
            ring: Memory::new(ring_bytes, 8, false),
            write_position: Default::default(),
            scan_behind: Default::default(),
            byte_written: Default::default(),
            newest_byte: Default::default(),
            byte_held: Constant::new(false),
            port_scanned: Default::default(),
            dropping: Default::default(),
            armed: Default::default(),
            quiet: Default::default(),
            gaps: (0..GAP_DEPTH).map(|_| Register::default()).collect(),
            gap_valid: Default::default(),
            scan: Default::default(),
            high_water: Default::default(),
            skipping: Default::default(),
            candidate: Default::default(),
            start: Default::default(),
            count: Default::default(),
            opcode: Default::default(),
            seq: Default::default(),
            length: Default::default(),
            length_low_over: Default::default(),
            low_byte_check: AboveConstant::new((params.max_payload & 0xFF) as u64),
            high_byte_check: AboveConstant::new((params.max_payload >> 8) as u64),
            in_payload: Default::default(),
            payload_left: Default::default(),
            payload_last: Default::default(),
            in_check: Default::default(),
            check_offset: Default::default(),
            crc_match: Default::default(),
            crc_byte_match: Default::default(),
            expected_mix: Default::default(),
            crc: Default::default(),
            source: Default::default(),
            held_valid: Default::default(),
            held_opcode: Default::default(),
            held_seq: Default::default(),
            held_length: Default::default(),
            held_start: Default::default(),
            next_valid: Default::default(),
            crc_event_q: Default::default(),
            length_event_q: Default::default(),
            timeout_event_q: Default::default(),
            skipped_run_q: Default::default(),
            dropped_run_q: Default::default(),
            error_events: Default::default(),
            errors: CounterBank::new(&ErrorEvents::counters(), ERROR_HOLD_CLOCKS),
            full_from_scan: Default::default(),
            full_from_start: Default::default(),
            full_from_held: Default::default(),
            full: Default::default(),
            accepted: Default::default(),
            dropped_run: Default::default(),
            gap: Default::default(),
            gap_hit: Default::default(),
            pop: Default::default(),
            push: Default::default(),
            kept_gaps: Default::default(),
            free_gap: Default::default(),
            unexamined: Default::default(),
            examine: Default::default(),
            rescanned: Default::default(),
            scan_next: Default::default(),
            scan_step: Default::default(),
            write_step: Default::default(),
            scan_fetch: Default::default(),
            next_is_newest: Default::default(),
            restart_is_newest: Default::default(),
            newest_next: Default::default(),
            length_over: Default::default(),
            reject: Default::default(),
            complete: Default::default(),
            releasing: Default::default(),
            hold_scanned: Default::default(),
            skipped_run: Default::default(),
            crc_event: Default::default(),
            length_event: Default::default(),
            timeout_event: Default::default(),
            ring_bytes: constant16(ring_bytes),
            position_mask: constant16(2 * ring_bytes - 1),
            quiet_mask: Constant::new((2 * quiet_top - 1).to_bits()),
            count_mask: constant16(low_mask(HEADER_LEN as u64) as usize),
            payload_mask: constant16(low_mask(params.max_payload as u64) as usize),
            max_payload_high: Constant::new(((params.max_payload >> 8) as u64).to_bits()),
            quiet_start: Constant::new((quiet_top - params.timeout_clocks).to_bits()),
            quiet_top: Constant::new(quiet_top.to_bits()),
            sync: Constant::new((SYNC as u64).to_bits()),
            one_gap: Constant::new(1u64.to_bits()),
            zero16: constant16(0),
            one16: constant16(1),
            two16: constant16(2),
            three16: constant16(3),
            four16: constant16(4),
            five16: constant16(5),
            payload_offset16: constant16(HEADER_LEN - 1),
            offset2: (0..4u64).map(|k| Constant::new(k.to_bits())).collect(),
            check_mix: check_mixes()
                .iter()
                .map(|&mix| Constant::new((mix as u64).to_bits()))
                .collect(),
            one33: Constant::new(1u64.to_bits()),
        }
    }
}

impl FrameDecoder {
    /// Creates a decoder for `params` whose byte source keeps `byte` at its value for at least
    /// the clock after each `byte_valid` strobe, as [`super::UartRx`] does. It behaves as one from
    /// [`FrameDecoder::new`] but keeps no copy of the newest byte. Panics when `params` is invalid.
    pub fn with_held_byte(params: &LinkParams) -> Self {
        let mut decoder = FrameDecoder::new(params);
        decoder.byte_held = Constant::new(true);
        decoder
    }
}

const _: () = assert!(
    HEADER_LEN == 6 && CRC_LEN == 4,
    "the decoder indexes a 6-byte header"
);

impl Logic for FrameDecoder {
    #[hdl_gen]
    fn update(&mut self) {
        self.ring.clock.next = self.clock.val();
        self.write_position.clock.next = self.clock.val();
        self.write_position.reset.next = self.reset.val();
        self.scan_behind.clock.next = self.clock.val();
        self.scan_behind.reset.next = self.reset.val();
        self.byte_written.clock.next = self.clock.val();
        self.byte_written.reset.next = self.reset.val();
        self.newest_byte.clock.next = self.clock.val();
        self.port_scanned.clock.next = self.clock.val();
        self.port_scanned.reset.next = self.reset.val();
        self.dropping.clock.next = self.clock.val();
        self.dropping.reset.next = self.reset.val();
        self.armed.clock.next = self.clock.val();
        self.armed.reset.next = self.reset.val();
        self.quiet.clock.next = self.clock.val();
        for k in 0..GAP_DEPTH {
            self.gaps[k].clock.next = self.clock.val();
        }
        self.gap_valid.clock.next = self.clock.val();
        self.gap_valid.reset.next = self.reset.val();
        self.scan.clock.next = self.clock.val();
        self.scan.reset.next = self.reset.val();
        self.high_water.clock.next = self.clock.val();
        self.high_water.reset.next = self.reset.val();
        self.skipping.clock.next = self.clock.val();
        self.skipping.reset.next = self.reset.val();
        self.candidate.clock.next = self.clock.val();
        self.candidate.reset.next = self.reset.val();
        self.start.clock.next = self.clock.val();
        self.count.clock.next = self.clock.val();
        self.opcode.clock.next = self.clock.val();
        self.seq.clock.next = self.clock.val();
        self.length_low_over.clock.next = self.clock.val();
        self.length.clock.next = self.clock.val();
        self.in_payload.clock.next = self.clock.val();
        self.payload_left.clock.next = self.clock.val();
        self.payload_last.clock.next = self.clock.val();
        self.in_check.clock.next = self.clock.val();
        self.check_offset.clock.next = self.clock.val();
        self.crc_match.clock.next = self.clock.val();
        self.crc.clock.next = self.clock.val();
        self.held_valid.clock.next = self.clock.val();
        self.held_valid.reset.next = self.reset.val();
        self.held_opcode.clock.next = self.clock.val();
        self.held_seq.clock.next = self.clock.val();
        self.held_length.clock.next = self.clock.val();
        self.held_start.clock.next = self.clock.val();
        self.next_valid.clock.next = self.clock.val();
        self.next_valid.reset.next = self.reset.val();
        self.crc_event_q.clock.next = self.clock.val();
        self.crc_event_q.reset.next = self.reset.val();
        self.length_event_q.clock.next = self.clock.val();
        self.length_event_q.reset.next = self.reset.val();
        self.timeout_event_q.clock.next = self.clock.val();
        self.timeout_event_q.reset.next = self.reset.val();
        self.skipped_run_q.clock.next = self.clock.val();
        self.skipped_run_q.reset.next = self.reset.val();
        self.dropped_run_q.clock.next = self.clock.val();
        self.dropped_run_q.reset.next = self.reset.val();
        self.errors.clock.next = self.clock.val();
        self.errors.reset.next = self.reset.val();

        // ---- Ring input: write every byte unless the ring is full. ----
        // The oldest byte still needed (the tail) is the held frame's payload, else the
        // candidate's sync byte, else the next byte to examine. The tail never moves back and
        // no byte is written while the ring is full, so the ring contains at most `ring_bytes` (a
        // power of two) bytes. Positions count modulo `2 * ring_bytes`, so the ring is full
        // exactly when `write_position` and the tail differ in the `ring_bytes` bit and agree in
        // every bit below it, an equality test with no carry chain. The held slot's payload
        // comes before the candidate's sync byte, and that before the scanner, so each test is
        // exact whenever its tail is the one selected.
        self.full_from_scan.next =
            (self.write_position.q.val() ^ self.scan.q.val()) == self.ring_bytes.val();
        // The candidate's sync byte is at `start - 1`, so its test compares `write_position + 1`.
        self.write_step.next =
            (self.write_position.q.val() + self.one16.val()) & self.position_mask.val();
        self.full_from_start.next =
            (self.write_step.val() ^ self.start.q.val()) == self.ring_bytes.val();
        self.full_from_held.next =
            (self.write_position.q.val() ^ self.held_start.q.val()) == self.ring_bytes.val();
        self.full.next = self.full_from_scan.val();
        if self.candidate.q.val() {
            self.full.next = self.full_from_start.val();
        }
        if self.held_valid.q.val() {
            self.full.next = self.full_from_held.val();
        }
        self.accepted.next = self.byte_valid.val() & !self.full.val();
        self.dropped_run.next = self.byte_valid.val() & self.full.val() & !self.dropping.q.val();
        self.dropping.d.next = self.dropping.q.val();
        if self.byte_valid.val() {
            self.dropping.d.next = self.full.val();
        }
        self.ring.write_address.next = self.write_position.q.val();
        self.ring.write_data.next = self.byte.val();
        self.ring.write_enable.next = self.accepted.val();
        self.write_position.d.next = self.write_position.q.val();
        if self.accepted.val() {
            self.write_position.d.next = self.write_step.val();
        }
        self.newest_byte.d.next = self.byte.val();
        self.byte_written.d.next = self.accepted.val();

        // ---- Inter-byte timeout: queue the position after a gap. ----
        // The scanner is never past the position of the previous clock's write, so it has
        // bytes left exactly when it is behind that position or a byte was written there.
        self.unexamined.next = self.scan_behind.q.val() | self.byte_written.q.val();
        self.gap.next = self.armed.q.val() & (self.quiet.q.val() & self.quiet_top.val()).any();
        self.armed.d.next = self.armed.q.val() & !self.gap.val();
        self.quiet.d.next = self.quiet.q.val();
        if self.armed.q.val() {
            self.quiet.d.next = (self.quiet.q.val() + self.one33.val()) & self.quiet_mask.val();
        }
        if self.byte_valid.val() {
            self.armed.d.next = true;
            self.quiet.d.next = self.quiet_start.val();
        }

        // ---- The scanner's byte: the newest byte, or the ring's read port. ----
        self.source.behind.next = self.scan_behind.q.val();
        self.source.newest.next = self.newest_byte.q.val();
        if self.byte_held.val() {
            self.source.newest.next = self.byte.val();
        }
        self.source.ring_data.next = self.ring.read_data.val();
        self.source.seq.next = self.seq.q.val();
        self.source.length.next = self.length.q.val();
        self.rescanned.next = self.scan.q.val() != self.high_water.q.val();
        self.gap_hit.next = self.gap_valid.q.val().get_bit(0)
            & (self.gaps[0].q.val() == self.scan.q.val());

        // ---- The scanner: one step per clock unless the next-frame slot is full. ----
        self.scan_step.next = (self.scan.q.val() + self.one16.val()) & self.position_mask.val();
        self.scan_next.next = self.scan.q.val();
        self.high_water.d.next = self.high_water.q.val();
        self.skipping.d.next = self.skipping.q.val();
        self.candidate.d.next = self.candidate.q.val();
        self.start.d.next = self.start.q.val();
        self.count.d.next = self.count.q.val();
        self.opcode.d.next = self.opcode.q.val();
        self.seq.d.next = self.seq.q.val();
        self.length_low_over.d.next = self.length_low_over.q.val();
        self.length.d.next = self.length.q.val();
        self.in_payload.d.next = self.in_payload.q.val();
        self.payload_left.d.next = self.payload_left.q.val();
        self.payload_last.d.next = self.payload_last.q.val();
        self.in_check.d.next = self.in_check.q.val();
        self.check_offset.d.next = self.check_offset.q.val();
        self.crc_match.d.next = self.crc_match.q.val();
        self.crc.start.next = false;
        self.crc.enable.next = false;
        self.crc.shift.next = false;
        self.crc_byte_match.next = false;
        self.expected_mix.next = self.check_mix[0].val();
        self.crc.byte.next = self.source.byte.val();
        // `length_word > max_payload`, from the high byte and the registered low-byte compare.
        self.low_byte_check.value.next = self.source.byte.val();
        self.high_byte_check.value.next = self.source.byte.val();
        self.length_over.next = self.high_byte_check.above.val()
            | ((self.source.byte.val() == self.max_payload_high.val())
                & self.length_low_over.q.val());
        self.examine.next = false;
        self.pop.next = false;
        self.reject.next = false;
        self.complete.next = false;
        self.skipped_run.next = false;
        self.crc_event.next = false;
        self.length_event.next = false;
        self.timeout_event.next = false;

        if !self.next_valid.q.val() {
            if self.gap_hit.val() & self.candidate.q.val() {
                // The candidate spans a gap: it timed out.
                self.reject.next = true;
                self.timeout_event.next = true;
            } else {
                self.pop.next = self.gap_hit.val();
                self.examine.next = self.unexamined.val()
                    & (self.source.from_newest.val() | self.port_scanned.q.val());
            }
        }

        if self.examine.val() {
            self.scan_next.next = self.scan_step.val();
            if !self.rescanned.val() {
                self.high_water.d.next = self.scan_step.val();
            }
            if !self.candidate.q.val() {
                if self.source.byte.val() == self.sync.val() {
                    self.candidate.d.next = true;
                    self.start.d.next = self.scan_step.val();
                    self.count.d.next = self.one16.val();
                    self.in_payload.d.next = false;
                    self.in_check.d.next = false;
                    self.skipping.d.next = false;
                    self.crc.start.next = true;
                } else if !self.skipping.q.val() {
                    self.skipping.d.next = true;
                    self.skipped_run.next = !self.rescanned.val();
                }
            } else if self.in_payload.q.val() {
                self.crc.enable.next = true;
                self.payload_left.d.next =
                    (self.payload_left.q.val() - self.one16.val()) & self.payload_mask.val();
                self.payload_last.d.next = self.payload_left.q.val() == self.two16.val();
                if self.payload_last.q.val() {
                    self.in_payload.d.next = false;
                    self.in_check.d.next = true;
                    self.check_offset.d.next = self.offset2[0].val();
                }
            } else if self.in_check.q.val() {
                // CRC field, least significant byte first.
                self.crc.enable.next = true;
                self.expected_mix.next = self.check_mix[0].val();
                if self.check_offset.q.val() == self.offset2[1].val() {
                    self.expected_mix.next = self.check_mix[1].val();
                }
                if self.check_offset.q.val() == self.offset2[2].val() {
                    self.expected_mix.next = self.check_mix[2].val();
                }
                if self.check_offset.q.val() == self.offset2[3].val() {
                    self.expected_mix.next = self.check_mix[3].val();
                }
                self.crc_byte_match.next = (self.crc.register_low.val() ^ self.source.byte.val())
                    == self.expected_mix.val();
                self.check_offset.d.next = self.check_offset.q.val() + self.offset2[1].val();
                self.crc_match.d.next = self.crc_match.q.val() & self.crc_byte_match.val();
                if self.check_offset.q.val() == self.offset2[0].val() {
                    self.crc_match.d.next = self.crc_byte_match.val();
                }
                if self.check_offset.q.val() == self.offset2[3].val() {
                    if self.crc_match.q.val() & self.crc_byte_match.val() {
                        self.complete.next = true;
                        self.candidate.d.next = false;
                    } else {
                        self.reject.next = true;
                        self.crc_event.next = true;
                    }
                }
            } else {
                // Header.
                self.count.d.next = (self.count.q.val() + self.one16.val()) & self.count_mask.val();
                self.crc.enable.next = true;
                if self.count.q.val() == self.one16.val() {
                    self.opcode.d.next = self.source.byte.val();
                }
                if self.count.q.val() == self.two16.val() {
                    self.seq.d.next = self.source.seq_low_set.val();
                }
                if self.count.q.val() == self.three16.val() {
                    self.seq.d.next = self.source.seq_word.val();
                }
                if self.count.q.val() == self.four16.val() {
                    self.length.d.next = self.source.length_low_set.val() & self.payload_mask.val();
                    self.length_low_over.d.next = self.low_byte_check.above.val();
                }
                if self.count.q.val() == self.five16.val() {
                    // The header is complete: bound the length at once.
                    self.length.d.next = self.source.length_word.val() & self.payload_mask.val();
                    self.payload_left.d.next =
                        self.source.length_word.val() & self.payload_mask.val();
                    self.payload_last.d.next = self.source.length_word.val() == self.one16.val();
                    self.check_offset.d.next = self.offset2[0].val();
                    if self.source.length_word.val() == self.zero16.val() {
                        self.in_check.d.next = true;
                    } else {
                        self.in_payload.d.next = true;
                    }
                    if self.length_over.val() {
                        self.reject.next = true;
                        self.length_event.next = true;
                    }
                }
            }
        }

        if self.reject.val() {
            // Search again from the byte after the candidate's sync byte.
            self.candidate.d.next = false;
            self.scan_next.next = self.start.q.val();
        }
        self.scan.d.next = self.scan_next.val();

        // Whether the scanner's next position is the byte written in this clock, from registers
        // for each way the position can change. A rejected candidate restarts at the scanner's
        // own position only when no byte after its sync byte was examined (`count` is 1), and
        // otherwise at a position behind the scanner.
        self.next_is_newest.next = self.scan_step.val() == self.write_position.q.val();
        self.restart_is_newest.next =
            (self.count.q.val() == self.one16.val()) & !self.unexamined.val();
        self.newest_next.next = !self.unexamined.val();
        if self.examine.val() {
            self.newest_next.next = self.next_is_newest.val();
        }
        if self.reject.val() {
            self.newest_next.next = self.restart_is_newest.val();
        }
        self.scan_behind.d.next = !self.newest_next.val();

        // ---- Gap queue: pop the reached gap, push a new one. ----
        self.kept_gaps.next = self.gap_valid.q.val();
        if self.pop.val() {
            self.kept_gaps.next = self.gap_valid.q.val() >> 1;
        }
        self.free_gap.next = ((self.kept_gaps.val() << 1) | self.one_gap.val()) & !self.kept_gaps.val();
        // NOTE: a gap that arrives while GAP_DEPTH gaps wait for the scanner is not recorded, so a
        // candidate may then span it. The scanner falls that far behind when the consumer keeps
        // frames through several inter-byte timeouts while bytes arrive, or when rescans take
        // longer than several timeouts.
        self.push.next = self.gap.val()
            & (self.candidate.q.val() | self.unexamined.val())
            & !self.kept_gaps.val().all();
        for k in 0..GAP_DEPTH {
            self.gaps[k].d.next = self.gaps[k].q.val();
        }
        if self.pop.val() {
            for k in 1..GAP_DEPTH {
                self.gaps[k - 1].d.next = self.gaps[k].q.val();
            }
        }
        for k in 0..GAP_DEPTH {
            if self.push.val() & self.free_gap.val().get_bit(k) {
                self.gaps[k].d.next = self.write_position.q.val();
            }
        }
        self.gap_valid.d.next = self.kept_gaps.val();
        if self.push.val() {
            self.gap_valid.d.next = self.kept_gaps.val() | self.free_gap.val();
        }

        // ---- Frame slots: release the held frame, store a completed one. ----
        // A frame completes only while the next slot is empty. It goes to the held slot when
        // that is free or released in this clock, and otherwise stays in the scanner's
        // registers as the next frame until the release.
        self.releasing.next = self.frame_release.val() & self.held_valid.q.val();
        self.hold_scanned.next = (self.releasing.val() & self.next_valid.q.val())
            | (self.complete.val() & (!self.held_valid.q.val() | self.releasing.val()));
        self.held_valid.d.next = self.held_valid.q.val();
        self.held_opcode.d.next = self.held_opcode.q.val();
        self.held_seq.d.next = self.held_seq.q.val();
        self.held_length.d.next = self.held_length.q.val();
        self.held_start.d.next = self.held_start.q.val();
        self.next_valid.d.next = self.next_valid.q.val();
        if self.releasing.val() {
            self.held_valid.d.next = false;
            self.next_valid.d.next = false;
        }
        if self.complete.val() & self.held_valid.q.val() & !self.releasing.val() {
            self.next_valid.d.next = true;
        }
        if self.hold_scanned.val() {
            self.held_valid.d.next = true;
            self.held_opcode.d.next = self.opcode.q.val();
            self.held_seq.d.next = self.seq.q.val();
            self.held_length.d.next = self.length.q.val();
            self.held_start.d.next =
                (self.start.q.val() + self.payload_offset16.val()) & self.position_mask.val();
        }

        // ---- Read port: the consumer's payload while a frame is held, else the scanner. ----
        // The scanner's address ignores rejections, which keeps the byte compares out of the
        // block RAM's address path. After a rejection the port holds the wrong byte for one
        // clock, and the scanner reads the position it moved back to on the next clock.
        self.scan_fetch.next = self.scan.q.val();
        if self.examine.val() {
            self.scan_fetch.next = self.scan.q.val() + self.one16.val();
        }
        self.ring.read_address.next = self.scan_fetch.val();
        if self.held_valid.q.val() {
            self.ring.read_address.next = self.held_start.q.val() + self.payload_address.val();
        }
        self.port_scanned.d.next = !self.held_valid.q.val() & !self.reject.val();

        // ---- Error counters: count the previous clock's events. ----
        self.crc_event_q.d.next = self.crc_event.val();
        self.length_event_q.d.next = self.length_event.val();
        self.timeout_event_q.d.next = self.timeout_event.val();
        self.skipped_run_q.d.next = self.skipped_run.val();
        self.dropped_run_q.d.next = self.dropped_run.val();
        self.error_events.crc.next = self.crc_event_q.q.val();
        self.error_events.skipped_run.next = self.skipped_run_q.q.val();
        self.error_events.dropped_run.next = self.dropped_run_q.q.val();
        self.error_events.length.next = self.length_event_q.q.val();
        self.error_events.timeout.next = self.timeout_event_q.q.val();
        self.error_events.unknown_opcode.next = self.unknown_opcode.val();
        self.error_events.replay.next = self.replay.val();
        self.errors.clear.next = self.clear_counters.val();
        self.errors.increments.next = self.error_events.increments.val();
        self.errors.reading.next = self.error_reading.val();
        self.errors.select.next = self.error_select.val();

        // ---- Outputs. ----
        self.frame_valid.next = self.held_valid.q.val();
        self.frame_opcode.next = self.held_opcode.q.val();
        self.frame_seq.next = self.held_seq.q.val();
        self.frame_length.next = self.held_length.q.val();
        self.payload_byte.next = self.ring.read_data.val();
        self.error_count.next = self.error_events.count.val();
        self.error_events.value.next = self.errors.value.val();
        self.error_ready.next = self.errors.ready.val();
    }
}

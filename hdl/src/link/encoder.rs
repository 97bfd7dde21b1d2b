//! The frame encoder: sends a reply frame from a payload buffer, computing the CRC on the fly.

use leap_model::protocol::SYNC;
use rust_hdl::prelude::*;

use super::compare::AboveConstant;
use super::crc::Crc32;
use super::single_port::SinglePortMemory;
use super::{low_mask, LinkParams};
use crate::leaf::{Register, ResetRegister};

/// The header shift register's byte to stage (`first`, the low byte of `word`) and its two next
/// values: opcode and seq in wire order from the low byte up (`loaded`), and `word` moved down
/// one byte (`shifted`).
#[derive(LogicBlock, Default)]
pub struct HeaderBytes {
    pub opcode: Signal<In, Bits<8>>,
    pub seq: Signal<In, Bits<16>>,
    pub word: Signal<In, Bits<24>>,
    pub first: Signal<Out, Bits<8>>,
    pub loaded: Signal<Out, Bits<24>>,
    pub shifted: Signal<Out, Bits<24>>,
}

impl Logic for HeaderBytes {
    fn update(&mut self) {
        let loaded = self.opcode.val().to_u64() | self.seq.val().to_u64() << 8;
        self.first.next = (self.word.val().to_u64() & 0xFF).to_bits();
        self.loaded.next = loaded.to_bits();
        self.shifted.next = (self.word.val().to_u64() >> 8).to_bits();
    }
    fn connect(&mut self) {
        self.first.connect();
        self.loaded.connect();
        self.shifted.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) first = word[7:0];\n\
             always @(*) loaded = {seq, opcode};\n\
             always @(*) shifted = {8'h00, word[23:8]};\n"
                .into(),
        )
    }
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum EncoderState {
    Idle,
    /// The five header bytes after the sync byte go to the staging register.
    Header,
    /// The payload bytes go to the staging register.
    Payload,
    /// The four CRC bytes, least significant first, go to the output register.
    Check,
    /// The last CRC byte waits to be accepted.
    Drain,
}

/// The frame encoder.
///
/// While `busy` is low, `write` stores `write_byte` at `write_address` of a payload buffer of
/// `max_payload` bytes (rounded up to a power of two) in a single-port memory (an SB_SPRAM256KA
/// on iCE40): the buffer is written only while idle and read only while sending. A `send` strobe while idle
/// latches `opcode`, `seq` and `length` and sends the sync byte, the header, the first `length`
/// buffer bytes and the CRC over everything after the sync byte. `busy` is high from the clock
/// after `send` until the clock after the last CRC byte moved.
///
/// A `length` above `max_payload` is clamped to `max_payload`: the frame then carries the whole
/// buffer and its length field is `max_payload`, so the receiver still gets an intact frame.
///
/// The outgoing byte is in an output register. A byte moves on a clock where `byte_valid` and
/// `byte_ready` are both high, and the next byte is loaded in that same clock. So a sink that
/// keeps `byte_ready` high receives one byte per clock. The first byte is valid two clocks after
/// `send`.
///
/// Pipeline: header and payload bytes pass through a staging register on their way to the
/// output register, and the CRC absorbs each byte from the staging register one clock after it
/// was staged. So every CRC step starts at a register, and the CRC includes the last payload
/// byte by the time that byte has moved on and the first CRC byte is loaded. The CRC unit then
/// shifts its register down one byte per CRC byte sent, so the output register always takes the
/// complement of the register's low byte.
///
/// NOTE: the handshake from `byte_ready` to the staging and counter enables still takes several
/// logic levels. nextpnr-ice40 0.4 places the 256-byte variant on an iCE40UP5K at 44.5 MHz on
/// each of three seeds (`sim/cosim/tests/link_timing.rs`), above the iCEBreaker's 30 MHz engine
/// clock (`constraints/boards.toml`).
#[derive(LogicBlock)]
pub struct FrameEncoder {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub write: Signal<In, Bit>,
    pub write_address: Signal<In, Bits<16>>,
    pub write_byte: Signal<In, Bits<8>>,
    pub send: Signal<In, Bit>,
    pub opcode: Signal<In, Bits<8>>,
    pub seq: Signal<In, Bits<16>>,
    pub length: Signal<In, Bits<16>>,
    pub busy: Signal<Out, Bit>,
    pub byte: Signal<Out, Bits<8>>,
    pub byte_valid: Signal<Out, Bit>,
    pub byte_ready: Signal<In, Bit>,

    buffer: SinglePortMemory<Bits<8>>,
    state: ResetRegister<EncoderState>,
    /// `state` is `Header` or `Payload`, so bytes go to the staging register (reset 0).
    filling: ResetRegister<Bit>,
    /// Opcode and seq bytes still to stage, the next one in the low byte.
    header: Register<Bits<24>>,
    /// Header bytes staged so far in `Header` (0 to 4), CRC bytes loaded so far in `Check`
    /// (0 to 3) (reset 0).
    step: ResetRegister<Bits<3>>,
    /// The frame's payload length: `length` at `send` clamped to `max_payload`, in the bits of
    /// `payload_mask`. `length_check` compares `length` with `max_payload`.
    frame_length: Register<Bits<16>>,
    length_check: AboveConstant<16>,
    /// Buffer address whose byte the read port returns in this clock, at most `max_payload`.
    /// The payload ends when the address after it equals `frame_length`.
    fetch: Register<Bits<16>>,
    /// The staging register, its valid flag (reset 0) and whether its byte was staged in the
    /// previous clock, so the CRC absorbs it now (reset 0).
    staged: Register<Bits<8>>,
    staged_valid: ResetRegister<Bit>,
    staged_fresh: ResetRegister<Bit>,
    /// The output register and its valid flag (reset 0).
    out_byte: Register<Bits<8>>,
    out_valid: ResetRegister<Bit>,
    crc: Crc32,
    header_bytes: HeaderBytes,

    out_free: Signal<Local, Bit>,
    staged_move: Signal<Local, Bit>,
    fill: Signal<Local, Bit>,
    fill_byte: Signal<Local, Bits<8>>,
    fetch_next: Signal<Local, Bits<16>>,
    fetch_step: Signal<Local, Bits<16>>,
    sending_check: Signal<Local, Bit>,
    sync: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero3: Constant<Bits<3>>,
    one3: Constant<Bits<3>>,
    three3: Constant<Bits<3>>,
    four3: Constant<Bits<3>>,
    max_payload: Constant<Bits<16>>,
    payload_mask: Constant<Bits<16>>,
}

impl FrameEncoder {
    /// Creates an encoder for `params`. Panics when `params` is invalid: call
    /// [`LinkParams::validate`] first.
    pub fn new(params: &LinkParams) -> Self {
        if let Err(e) = params.validate() {
            panic!("cannot build a frame encoder: {e}");
        }
        let constant16 = |value: u64| Constant::new(value.to_bits());
        let constant3 = |value: u64| Constant::new(value.to_bits());
        FrameEncoder {
            clock: Default::default(),
            reset: Default::default(),
            write: Default::default(),
            write_address: Default::default(),
            write_byte: Default::default(),
            send: Default::default(),
            opcode: Default::default(),
            seq: Default::default(),
            length: Default::default(),
            busy: Default::default(),
            byte: Default::default(),
            byte_valid: Default::default(),
            byte_ready: Default::default(),
            buffer: SinglePortMemory::new(params.max_payload),
            state: Default::default(),
            filling: Default::default(),
            header: Default::default(),
            step: Default::default(),
            frame_length: Default::default(),
            length_check: AboveConstant::new(params.max_payload as u64),
            fetch: Default::default(),
            staged: Default::default(),
            staged_valid: Default::default(),
            staged_fresh: Default::default(),
            out_byte: Default::default(),
            out_valid: Default::default(),
            crc: Default::default(),
            header_bytes: Default::default(),
            out_free: Default::default(),
            staged_move: Default::default(),
            fill: Default::default(),
            fill_byte: Default::default(),
            fetch_next: Default::default(),
            fetch_step: Default::default(),
            sending_check: Default::default(),
            sync: Constant::new((SYNC as u64).to_bits()),
            zero16: constant16(0),
            one16: constant16(1),
            zero3: constant3(0),
            one3: constant3(1),
            three3: constant3(3),
            four3: constant3(4),
            max_payload: constant16(params.max_payload as u64),
            payload_mask: constant16(low_mask(params.max_payload as u64)),
        }
    }
}

impl Logic for FrameEncoder {
    #[hdl_gen]
    fn update(&mut self) {
        self.buffer.clock.next = self.clock.val();
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.filling.clock.next = self.clock.val();
        self.filling.reset.next = self.reset.val();
        self.header.clock.next = self.clock.val();
        self.step.clock.next = self.clock.val();
        self.step.reset.next = self.reset.val();
        self.frame_length.clock.next = self.clock.val();
        self.fetch.clock.next = self.clock.val();
        self.staged.clock.next = self.clock.val();
        self.staged_valid.clock.next = self.clock.val();
        self.staged_valid.reset.next = self.reset.val();
        self.staged_fresh.clock.next = self.clock.val();
        self.staged_fresh.reset.next = self.reset.val();
        self.out_byte.clock.next = self.clock.val();
        self.out_valid.clock.next = self.clock.val();
        self.out_valid.reset.next = self.reset.val();
        self.crc.clock.next = self.clock.val();

        // Payload buffer: written only while idle. A write takes the port from the read of
        // `fetch_next`, which only matters while sending: `Header` reads address 0 again on
        // each of its clocks, before the first payload byte is staged.
        self.buffer.write_data.next = self.write_byte.val();
        self.buffer.write_enable.next =
            self.write.val() & (self.state.q.val() == EncoderState::Idle);

        // Defaults: hold.
        self.state.d.next = self.state.q.val();
        self.header.d.next = self.header.q.val();
        self.step.d.next = self.step.q.val();
        self.frame_length.d.next = self.frame_length.q.val();
        self.staged.d.next = self.staged.q.val();
        self.staged_valid.d.next = self.staged_valid.q.val();
        self.out_byte.d.next = self.out_byte.q.val();
        self.out_valid.d.next = self.out_valid.q.val();
        self.fetch_next.next = self.fetch.q.val();
        self.fetch_step.next = (self.fetch.q.val() + self.one16.val()) & self.payload_mask.val();
        self.crc.start.next = false;
        self.crc.shift.next = false;

        // Handshakes: the output register takes a byte when it is empty or its byte moves now,
        // and the staging register takes one when it is empty or its byte moves now.
        self.out_free.next = !self.out_valid.q.val() | self.byte_ready.val();
        self.staged_move.next = self.staged_valid.q.val() & self.out_free.val();
        self.fill.next =
            (!self.staged_valid.q.val() | self.staged_move.val()) & self.filling.q.val();
        self.fill_byte.next = self.buffer.read_data.val();
        if self.state.q.val() == EncoderState::Header {
            self.fill_byte.next = self.header_bytes.first.val();
            if self.step.q.val() == self.three3.val() {
                self.fill_byte.next = self.frame_length.q.val().get_bits::<8>(0);
            }
            if self.step.q.val() == self.four3.val() {
                self.fill_byte.next = self.frame_length.q.val().get_bits::<8>(8);
            }
        }

        // ---- Staging side: the sync byte at `send`, then the header and the payload. ----
        self.header_bytes.opcode.next = self.opcode.val();
        self.header_bytes.seq.next = self.seq.val();
        self.header_bytes.word.next = self.header.q.val();
        self.length_check.value.next = self.length.val();
        match self.state.q.val() {
            EncoderState::Idle => {
                if self.send.val() {
                    self.frame_length.d.next = self.length.val() & self.payload_mask.val();
                    if self.length_check.above.val() {
                        self.frame_length.d.next = self.max_payload.val();
                    }
                    self.header.d.next = self.header_bytes.loaded.val();
                    self.staged.d.next = self.sync.val();
                    self.staged_valid.d.next = true;
                    self.step.d.next = self.zero3.val();
                    self.fetch_next.next = self.zero16.val();
                    self.crc.start.next = true;
                    self.state.d.next = EncoderState::Header;
                }
            }
            EncoderState::Header => {
                if self.fill.val() {
                    self.header.d.next = self.header_bytes.shifted.val();
                    self.step.d.next = self.step.q.val() + self.one3.val();
                    if self.step.q.val() == self.four3.val() {
                        self.step.d.next = self.zero3.val();
                        if self.frame_length.q.val() == self.zero16.val() {
                            self.state.d.next = EncoderState::Check;
                        } else {
                            self.state.d.next = EncoderState::Payload;
                        }
                    }
                }
            }
            EncoderState::Payload => {
                if self.fill.val() {
                    // The read port returns the byte at `fetch`; address the next one.
                    self.fetch_next.next = self.fetch_step.val();
                    if self.fetch_step.val() == self.frame_length.q.val() {
                        self.state.d.next = EncoderState::Check;
                    }
                }
            }
            EncoderState::Check => {}
            EncoderState::Drain => {}
        }
        if self.staged_move.val() {
            self.staged_valid.d.next = false;
        }
        if self.fill.val() {
            self.staged.d.next = self.fill_byte.val();
            self.staged_valid.d.next = true;
        }
        // Every staged byte after the sync byte is covered by the CRC.
        self.staged_fresh.d.next = self.fill.val();
        self.crc.byte.next = self.staged.q.val();
        self.crc.enable.next = self.staged_fresh.q.val();

        // ---- Output side: staged bytes, then the CRC bytes once the staging register is empty. ----
        // CRC bytes go out only while the staging register is empty, and the CRC absorbs a byte
        // only in the clock after it was staged, so it never absorbs and shifts in one clock.
        self.sending_check.next = (self.state.q.val() == EncoderState::Check)
            & !self.staged_valid.q.val()
            & self.out_free.val();
        if self.out_free.val() {
            self.out_valid.d.next = false;
        }
        if self.staged_move.val() {
            self.out_byte.d.next = self.staged.q.val();
            self.out_valid.d.next = true;
        }
        if self.sending_check.val() {
            self.out_byte.d.next = !self.crc.register_low.val();
            self.out_valid.d.next = true;
            self.crc.shift.next = true;
            self.step.d.next = self.step.q.val() + self.one3.val();
            if self.step.q.val() == self.three3.val() {
                self.state.d.next = EncoderState::Drain;
            }
        }
        if (self.state.q.val() == EncoderState::Drain) & self.out_free.val() {
            self.state.d.next = EncoderState::Idle;
        }

        self.filling.d.next = (self.state.d.val() == EncoderState::Header)
            | (self.state.d.val() == EncoderState::Payload);
        self.fetch.d.next = self.fetch_next.val();
        self.buffer.address.next = self.fetch_next.val();
        if self.buffer.write_enable.val() {
            self.buffer.address.next = self.write_address.val();
        }

        self.busy.next = self.state.q.val() != EncoderState::Idle;
        self.byte.next = self.out_byte.q.val();
        self.byte_valid.next = self.out_valid.q.val();
    }
}

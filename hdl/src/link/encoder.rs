//! The frame encoder: sends a reply frame from a payload buffer, computing the CRC on the fly.

use leap_model::protocol::SYNC;
use rust_hdl::prelude::*;

use super::crc::Crc32;
use super::LinkParams;
use crate::engine::units::Memory;
use crate::leaf::{Register, ResetRegister};

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum EncoderState {
    Idle,
    /// Sync byte and the five header bytes.
    Header,
    Payload,
    /// The four CRC bytes, least significant first.
    Check,
    /// The last CRC byte waits to be accepted.
    Drain,
}

/// The frame encoder.
///
/// While `busy` is low, `write` stores `write_byte` at `write_address` of a payload buffer of
/// `max_payload` bytes (rounded up to a power of two) in block RAM. A `send` strobe while idle
/// latches `opcode`, `seq` and `length` and sends the sync byte, the header, the first `length`
/// buffer bytes and the CRC over everything after the sync byte. `busy` is high from the clock
/// after `send` until the clock after the last CRC byte moved.
///
/// The outgoing byte is in an output register. A byte moves on a clock where `byte_valid` and
/// `byte_ready` are both high, and the next byte is loaded in that same clock. So a sink that
/// keeps `byte_ready` high receives one byte per clock. The first byte is valid two clocks after
/// `send`.
///
/// NOTE: a `length` above the buffer size reads the buffer modulo its size; the encoder does not
/// bound it.
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

    buffer: Memory<Bits<8>>,
    state: ResetRegister<EncoderState>,
    /// Byte index within the current phase (reset 0).
    index: ResetRegister<Bits<16>>,
    /// Buffer address whose byte the read port returns in this clock.
    fetch: Register<Bits<16>>,
    frame_opcode: Register<Bits<8>>,
    frame_seq: Register<Bits<16>>,
    frame_length: Register<Bits<16>>,
    /// The output register and its valid flag (reset 0).
    out_byte: Register<Bits<8>>,
    out_valid: ResetRegister<Bit>,
    crc: Crc32,

    free: Signal<Local, Bit>,
    load: Signal<Local, Bit>,
    load_byte: Signal<Local, Bits<8>>,
    fetch_next: Signal<Local, Bits<16>>,
    sync: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    two16: Constant<Bits<16>>,
    three16: Constant<Bits<16>>,
    four16: Constant<Bits<16>>,
    five16: Constant<Bits<16>>,
}

impl FrameEncoder {
    /// Creates an encoder for `params`. Panics when `params` is invalid: call
    /// [`LinkParams::validate`] first.
    pub fn new(params: &LinkParams) -> Self {
        if let Err(e) = params.validate() {
            panic!("cannot build a frame encoder: {e}");
        }
        let constant16 = |value: u64| Constant::new(value.to_bits());
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
            buffer: Memory::new(params.max_payload, 8, false),
            state: Default::default(),
            index: Default::default(),
            fetch: Default::default(),
            frame_opcode: Default::default(),
            frame_seq: Default::default(),
            frame_length: Default::default(),
            out_byte: Default::default(),
            out_valid: Default::default(),
            crc: Default::default(),
            free: Default::default(),
            load: Default::default(),
            load_byte: Default::default(),
            fetch_next: Default::default(),
            sync: Constant::new((SYNC as u64).to_bits()),
            zero16: constant16(0),
            one16: constant16(1),
            two16: constant16(2),
            three16: constant16(3),
            four16: constant16(4),
            five16: constant16(5),
        }
    }
}

impl Logic for FrameEncoder {
    #[hdl_gen]
    fn update(&mut self) {
        self.buffer.clock.next = self.clock.val();
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.index.clock.next = self.clock.val();
        self.index.reset.next = self.reset.val();
        self.fetch.clock.next = self.clock.val();
        self.frame_opcode.clock.next = self.clock.val();
        self.frame_seq.clock.next = self.clock.val();
        self.frame_length.clock.next = self.clock.val();
        self.out_byte.clock.next = self.clock.val();
        self.out_valid.clock.next = self.clock.val();
        self.out_valid.reset.next = self.reset.val();
        self.crc.clock.next = self.clock.val();

        // Payload buffer: written only while idle.
        self.buffer.write_address.next = self.write_address.val();
        self.buffer.write_data.next = self.write_byte.val();
        self.buffer.write_enable.next =
            self.write.val() & (self.state.q.val() == EncoderState::Idle);

        // Defaults: hold.
        self.state.d.next = self.state.q.val();
        self.index.d.next = self.index.q.val();
        self.frame_opcode.d.next = self.frame_opcode.q.val();
        self.frame_seq.d.next = self.frame_seq.q.val();
        self.frame_length.d.next = self.frame_length.q.val();
        self.out_byte.d.next = self.out_byte.q.val();
        self.out_valid.d.next = self.out_valid.q.val();
        self.fetch_next.next = self.fetch.q.val();
        self.crc.start.next = false;

        // The output register takes a new byte when it is empty or its byte moves now.
        self.free.next = !self.out_valid.q.val() | self.byte_ready.val();
        self.load.next = false;
        self.load_byte.next = self.buffer.read_data.val();

        match self.state.q.val() {
            EncoderState::Idle => {
                if self.free.val() {
                    self.out_valid.d.next = false;
                }
                if self.send.val() {
                    self.frame_opcode.d.next = self.opcode.val();
                    self.frame_seq.d.next = self.seq.val();
                    self.frame_length.d.next = self.length.val();
                    self.index.d.next = self.zero16.val();
                    self.fetch_next.next = self.zero16.val();
                    self.crc.start.next = true;
                    self.state.d.next = EncoderState::Header;
                }
            }
            EncoderState::Header => {
                if self.free.val() {
                    self.load.next = true;
                    self.index.d.next = self.index.q.val() + self.one16.val();
                    if self.index.q.val() == self.zero16.val() {
                        self.load_byte.next = self.sync.val();
                    }
                    if self.index.q.val() == self.one16.val() {
                        self.load_byte.next = self.frame_opcode.q.val();
                    }
                    if self.index.q.val() == self.two16.val() {
                        self.load_byte.next = self.frame_seq.q.val().get_bits::<8>(0);
                    }
                    if self.index.q.val() == self.three16.val() {
                        self.load_byte.next = self.frame_seq.q.val().get_bits::<8>(8);
                    }
                    if self.index.q.val() == self.four16.val() {
                        self.load_byte.next = self.frame_length.q.val().get_bits::<8>(0);
                    }
                    if self.index.q.val() == self.five16.val() {
                        self.load_byte.next = self.frame_length.q.val().get_bits::<8>(8);
                        self.index.d.next = self.zero16.val();
                        if self.frame_length.q.val() == self.zero16.val() {
                            self.state.d.next = EncoderState::Check;
                        } else {
                            self.state.d.next = EncoderState::Payload;
                        }
                    }
                }
            }
            EncoderState::Payload => {
                if self.free.val() {
                    // The read port returns the byte at `fetch` == `index`; address the next one.
                    self.load.next = true;
                    self.index.d.next = self.index.q.val() + self.one16.val();
                    self.fetch_next.next = self.fetch.q.val() + self.one16.val();
                    if self.index.q.val() + self.one16.val() == self.frame_length.q.val() {
                        self.index.d.next = self.zero16.val();
                        self.state.d.next = EncoderState::Check;
                    }
                }
            }
            EncoderState::Check => {
                if self.free.val() {
                    self.load.next = true;
                    self.index.d.next = self.index.q.val() + self.one16.val();
                    self.load_byte.next = self.crc.value.val().get_bits::<8>(0);
                    if self.index.q.val() == self.one16.val() {
                        self.load_byte.next = self.crc.value.val().get_bits::<8>(8);
                    }
                    if self.index.q.val() == self.two16.val() {
                        self.load_byte.next = self.crc.value.val().get_bits::<8>(16);
                    }
                    if self.index.q.val() == self.three16.val() {
                        self.load_byte.next = self.crc.value.val().get_bits::<8>(24);
                        self.state.d.next = EncoderState::Drain;
                    }
                }
            }
            EncoderState::Drain => {
                if self.free.val() {
                    self.out_valid.d.next = false;
                    self.state.d.next = EncoderState::Idle;
                }
            }
        }

        if self.load.val() {
            self.out_byte.d.next = self.load_byte.val();
            self.out_valid.d.next = true;
        }
        // The CRC covers every header and payload byte after the sync byte; the CRC bytes
        // themselves are loaded only after the last of those.
        self.crc.byte.next = self.load_byte.val();
        self.crc.enable.next = self.load.val()
            & (self.state.q.val() != EncoderState::Check)
            & !((self.state.q.val() == EncoderState::Header)
                & (self.index.q.val() == self.zero16.val()));

        self.fetch.d.next = self.fetch_next.val();
        self.buffer.read_address.next = self.fetch_next.val();

        self.busy.next = self.state.q.val() != EncoderState::Idle;
        self.byte.next = self.out_byte.q.val();
        self.byte_valid.next = self.out_valid.q.val();
    }
}

//! Drivers for the Verilated board designs: the command executor with the engine, driven at
//! frame level in place of the link front end.

use leap_model::protocol::crc32;
use leap_verilator_sys::{Model, PortId};

/// Sync byte that starts every frame.
const SYNC: u8 = 0xA5;

/// A frame as raw fields, so tests can send opcodes that `leap_model::protocol::Opcode` does
/// not name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub opcode: u8,
    pub seq: u16,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// Encodes the frame as it travels on the link: sync, header, payload, CRC.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = vec![SYNC, self.opcode];
        bytes.extend_from_slice(&self.seq.to_le_bytes());
        bytes.extend_from_slice(&(self.payload.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&self.payload);
        let crc = crc32(&bytes[1..]);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }
}

/// Link error counts the driver returns on the executor's decoder-counter read port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkErrorInputs {
    pub crc: u32,
    pub framing: u32,
    pub length: u32,
    pub timeout: u32,
}

struct HarnessPorts {
    frame_valid: PortId,
    frame_opcode: PortId,
    frame_seq: PortId,
    frame_length: PortId,
    payload_address: PortId,
    payload_byte: PortId,
    frame_release: PortId,
    clear_counters: PortId,
    error_select: PortId,
    error_reading: PortId,
    error_count: PortId,
    error_ready: PortId,
    unknown_opcode: PortId,
    replay: PortId,
    reply_write: PortId,
    reply_address: PortId,
    reply_byte: PortId,
    reply_send: PortId,
    reply_opcode: PortId,
    reply_seq: PortId,
    reply_length: PortId,
    reply_busy: PortId,
}

/// The Verilated `executor` design (command executor and engine). The driver plays the frame
/// decoder (it holds one frame and returns payload bytes one clock after their address, like block RAM) and
/// the frame encoder (it collects the reply buffer and takes the reply at `reply_send`). As the
/// decoder's counter read port, it counts the executor's `unknown_opcode` and `replay` strobes
/// and raises `error_ready` in the second clock of a read.
pub struct ExecutorDriver {
    model: Model,
    ports: HarnessPorts,
    reply_buffer: Vec<u8>,
    /// Link error counts of the decoder-counter read port; zeroed when the executor strobes
    /// `clear_counters`, as the decoder does.
    pub link_errors: LinkErrorInputs,
    /// The executor's unknown-opcode and replay strobes, counted as the decoder counts them
    /// (wrapping at 2^32, zeroed at `clear_counters`).
    unknown_opcodes: u32,
    replays: u32,
    /// Clocks that `error_reading` has been high before this one.
    error_read_clocks: u32,
    /// Clock cycles of the last request, from presenting the frame to the reply.
    pub last_request_cycles: u64,
}

impl ExecutorDriver {
    /// Creates the model `name`, resets it and clocks it until the executor has loaded the
    /// engine's layer table and constants.
    pub fn new(name: &str, seed: u32) -> ExecutorDriver {
        let mut model = Model::new(name, seed);
        let ports = HarnessPorts {
            frame_valid: model.port("frame_valid"),
            frame_opcode: model.port("frame_opcode"),
            frame_seq: model.port("frame_seq"),
            frame_length: model.port("frame_length"),
            payload_address: model.port("payload_address"),
            payload_byte: model.port("payload_byte"),
            frame_release: model.port("frame_release"),
            clear_counters: model.port("clear_counters"),
            error_select: model.port("error_select"),
            error_reading: model.port("error_reading"),
            error_count: model.port("error_count"),
            error_ready: model.port("error_ready"),
            unknown_opcode: model.port("unknown_opcode"),
            replay: model.port("replay"),
            reply_write: model.port("reply_write"),
            reply_address: model.port("reply_address"),
            reply_byte: model.port("reply_byte"),
            reply_send: model.port("reply_send"),
            reply_opcode: model.port("reply_opcode"),
            reply_seq: model.port("reply_seq"),
            reply_length: model.port("reply_length"),
            reply_busy: model.port("reply_busy"),
        };
        for port in [
            ports.frame_valid,
            ports.reply_busy,
            ports.error_count,
            ports.error_ready,
        ] {
            model.set(port, 0);
        }
        model.reset(4);
        let mut driver = ExecutorDriver {
            model,
            ports,
            reply_buffer: vec![0; 1 << 16],
            link_errors: LinkErrorInputs::default(),
            unknown_opcodes: 0,
            replays: 0,
            error_read_clocks: 0,
            last_request_cycles: 0,
        };
        // Reset sets the executor's parameters, and the engine starts with the layer table and
        // constants in place, so these idle clocks are a margin.
        driver.clock_idle(4096);
        driver
    }

    fn clock_idle(&mut self, cycles: u64) {
        for _ in 0..cycles {
            self.model.clock();
        }
    }

    /// Presents `frame` as the decoder does and returns the executor's reply. Panics when no
    /// reply comes within `max_cycles` clocks.
    pub fn request(&mut self, frame: &RawFrame, max_cycles: u64) -> RawFrame {
        let p = &self.ports;
        self.model.set(p.frame_opcode, frame.opcode as i64);
        self.model.set(p.frame_seq, frame.seq as i64);
        self.model.set(p.frame_length, frame.payload.len() as i64);
        self.model.set(p.frame_valid, 1);
        self.model.eval();
        self.answer_error_read();

        let start = self.model.cycles();
        let mut reply = None;
        let mut released = false;
        while !(released && reply.is_some()) {
            assert!(
                self.model.cycles() - start < max_cycles,
                "no reply to opcode {:#04x} seq {} within {max_cycles} clocks",
                frame.opcode,
                frame.seq
            );
            // Outputs before the edge are what the decoder and encoder sample at it.
            let p = &self.ports;
            let address = self.model.get(p.payload_address) as usize;
            let release = self.model.get(p.frame_release) == 1;
            let clear = self.model.get(p.clear_counters) == 1;
            let reading = self.model.get(p.error_reading) == 1;
            let unknown_opcode = self.model.get(p.unknown_opcode) == 1;
            let replay = self.model.get(p.replay) == 1;
            if self.model.get(p.reply_write) == 1 {
                let at = self.model.get(p.reply_address) as usize;
                self.reply_buffer[at] = self.model.get(p.reply_byte) as u8;
            }
            if self.model.get(p.reply_send) == 1 {
                assert!(reply.is_none(), "a second reply to one frame");
                let length = self.model.get(p.reply_length) as usize;
                reply = Some(RawFrame {
                    opcode: self.model.get(p.reply_opcode) as u8,
                    seq: self.model.get(p.reply_seq) as u16,
                    payload: self.reply_buffer[..length].to_vec(),
                });
            }
            self.model.clock();

            let p = &self.ports;
            let byte = frame.payload.get(address).copied().unwrap_or(0);
            self.model.set(p.payload_byte, byte as i64);
            if clear {
                self.link_errors = LinkErrorInputs::default();
                self.unknown_opcodes = 0;
                self.replays = 0;
            }
            self.unknown_opcodes = self.unknown_opcodes.wrapping_add(unknown_opcode as u32);
            self.replays = self.replays.wrapping_add(replay as u32);
            self.error_read_clocks = if reading {
                self.error_read_clocks + 1
            } else {
                0
            };
            if release {
                assert!(reply.is_some(), "the frame was released before its reply");
                self.model.set(p.frame_valid, 0);
                released = true;
            }
            self.model.eval();
            self.answer_error_read();
        }
        // The executor's settle clock after the release.
        self.model.clock();
        self.last_request_cycles = self.model.cycles() - start;
        reply.expect("the loop ends with a reply")
    }

    /// Clock cycles run since the model was created.
    pub fn cycles(&self) -> u64 {
        self.model.cycles()
    }

    /// Presents the selected link error count, and `error_ready` once `error_reading` has
    /// been high for a clock, which makes the executor wait as it does for the decoder.
    fn answer_error_read(&mut self) {
        let p = &self.ports;
        let l = self.link_errors;
        let count = match self.model.get(p.error_select) {
            0 => l.crc,
            1 => l.framing,
            2 => l.length,
            3 => l.timeout,
            4 => self.unknown_opcodes,
            5 => self.replays,
            _ => 0,
        };
        let reading = self.model.get(p.error_reading) == 1;
        self.model.set(p.error_count, count as i64);
        self.model
            .set(p.error_ready, (reading && self.error_read_clocks >= 1) as i64);
        self.model.eval();
    }
}

//! Frames, opcodes and the streaming frame decoder.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::crc::crc32;
use super::{CRC_LEN, HEADER_LEN, MAX_FRAME_LEN, MAX_PAYLOAD, SYNC};

/// The operation of a frame. Requests have the top bit clear; a request's success reply has the
/// same code with the top bit set; `Error` replies to any request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    Identify = 0x01,
    ReadMemory = 0x02,
    WriteMemory = 0x03,
    SetParameters = 0x04,
    RunSample = 0x05,
    QueueSamples = 0x06,
    ReadCounters = 0x07,
    Reset = 0x08,
    Identity = 0x81,
    MemoryData = 0x82,
    MemoryWritten = 0x83,
    ParametersSet = 0x84,
    SampleOutput = 0x85,
    SampleResults = 0x86,
    Counters = 0x87,
    ResetDone = 0x88,
    Error = 0xFF,
}

impl Opcode {
    /// Every opcode, requests first.
    pub const ALL: [Opcode; 17] = [
        Opcode::Identify,
        Opcode::ReadMemory,
        Opcode::WriteMemory,
        Opcode::SetParameters,
        Opcode::RunSample,
        Opcode::QueueSamples,
        Opcode::ReadCounters,
        Opcode::Reset,
        Opcode::Identity,
        Opcode::MemoryData,
        Opcode::MemoryWritten,
        Opcode::ParametersSet,
        Opcode::SampleOutput,
        Opcode::SampleResults,
        Opcode::Counters,
        Opcode::ResetDone,
        Opcode::Error,
    ];

    /// Looks up the opcode of a frame's opcode byte.
    pub fn from_u8(byte: u8) -> Option<Opcode> {
        Opcode::ALL.into_iter().find(|op| *op as u8 == byte)
    }

    pub fn is_request(self) -> bool {
        (self as u8) & 0x80 == 0
    }

    /// Returns the opcode of a successful reply to this request, or `None` for a reply opcode.
    pub fn reply(self) -> Option<Opcode> {
        if self.is_request() {
            Opcode::from_u8(self as u8 | 0x80)
        } else {
            None
        }
    }

    /// Returns whether the request changes device state. The device runs such a request at most
    /// once per sequence number (among its last `REPLAY_DEPTH` ones) and resends the stored reply
    /// to a retry. Requests that only read run again.
    pub fn changes_state(self) -> bool {
        matches!(
            self,
            Opcode::WriteMemory
                | Opcode::SetParameters
                | Opcode::RunSample
                | Opcode::QueueSamples
                | Opcode::Reset
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Opcode::Identify => "identify",
            Opcode::ReadMemory => "read memory",
            Opcode::WriteMemory => "write memory",
            Opcode::SetParameters => "set parameters",
            Opcode::RunSample => "run sample",
            Opcode::QueueSamples => "queue samples",
            Opcode::ReadCounters => "read counters",
            Opcode::Reset => "reset",
            Opcode::Identity => "identity",
            Opcode::MemoryData => "memory data",
            Opcode::MemoryWritten => "memory written",
            Opcode::ParametersSet => "parameters set",
            Opcode::SampleOutput => "sample output",
            Opcode::SampleResults => "sample results",
            Opcode::Counters => "counters",
            Opcode::ResetDone => "reset done",
            Opcode::Error => "error",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), *self as u8)
    }
}

/// One frame: opcode, sequence number and payload. On the wire it is
/// `SYNC, opcode, seq (u16 LE), length (u16 LE), payload, CRC-32 (u32 LE)`, where the CRC covers
/// every byte after the sync byte up to the end of the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub opcode: Opcode,
    /// Chosen by the host for each request and copied into the reply, so a retried request is
    /// recognised and a late reply is matched to its request.
    pub seq: u16,
    pub payload: Vec<u8>,
}

impl Frame {
    /// Builds a frame.
    ///
    /// # Panics
    /// Panics if the payload is longer than [`MAX_PAYLOAD`]; the message encoders never build one.
    pub fn new(opcode: Opcode, seq: u16, payload: Vec<u8>) -> Frame {
        assert!(
            payload.len() <= MAX_PAYLOAD,
            "payload of {} bytes exceeds MAX_PAYLOAD ({MAX_PAYLOAD})",
            payload.len()
        );
        Frame {
            opcode,
            seq,
            payload,
        }
    }

    /// Bytes this frame takes on the wire.
    pub fn wire_len(&self) -> usize {
        HEADER_LEN + self.payload.len() + CRC_LEN
    }

    /// Appends the frame's wire bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(SYNC);
        out.push(self.opcode as u8);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&(self.payload.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.payload);
        let crc = crc32(&out[start + 1..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Returns the frame's wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.wire_len());
        self.encode_into(&mut out);
        out
    }
}

/// A candidate frame that the decoder rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The CRC field does not match the received bytes.
    #[error("CRC mismatch in a frame with opcode byte 0x{opcode:02X}, sequence number {seq} and {length} payload bytes: computed 0x{computed:08X}, received 0x{received:08X}")]
    Crc {
        opcode: u8,
        seq: u16,
        length: u16,
        computed: u32,
        received: u32,
    },
    /// The length field exceeds the receiver's maximum payload (at most [`MAX_PAYLOAD`]);
    /// rejected as soon as the header is complete.
    #[error("frame length field {length} exceeds the maximum payload of {max} bytes")]
    Length { length: u16, max: u16 },
    /// More than the inter-byte timeout passed between two bytes of one frame.
    #[error("frame cut off after {received} bytes{}: no further byte within the inter-byte timeout", .expected.map(|n| format!(" of {n}")).unwrap_or_default())]
    Timeout {
        received: usize,
        expected: Option<usize>,
    },
    /// The frame is intact but its opcode is not one the receiver accepts.
    #[error("unknown opcode 0x{opcode:02X} in frame with sequence number {seq}")]
    UnknownOpcode { opcode: u8, seq: u16 },
}

/// Rejected input, counted by kind since the decoder was created or its counters were reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCounters {
    /// Frames whose CRC did not match.
    pub crc: u64,
    /// Runs of bytes skipped while searching for a sync byte. Bytes of a candidate that was
    /// already counted under another kind are not counted again when they are searched.
    pub framing: u64,
    /// Frames whose length field exceeded the maximum payload.
    pub length: u64,
    /// Frames cut off by the inter-byte timeout.
    pub timeout: u64,
    /// Intact frames with an opcode the receiver does not accept.
    pub unknown_opcode: u64,
}

impl LinkCounters {
    pub fn total(&self) -> u64 {
        self.crc + self.framing + self.length + self.timeout + self.unknown_opcode
    }
}

/// Opcodes a decoder accepts: requests on a device, replies on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    Requests,
    Replies,
}

/// A streaming frame decoder that finds frames in a byte stream.
///
/// It searches for the sync byte, reads the header, rejects a length field above
/// [`MAX_PAYLOAD`] at once, and checks the CRC when the frame is complete. After any rejected
/// candidate it searches again from the byte after that candidate's sync byte, so a false sync
/// byte in garbage never hides a real frame that follows it. A candidate is cut off when more
/// than the inter-byte timeout passes between two of its bytes, measured on the caller's clock:
/// the time passed to [`Decoder::push`] and [`Decoder::poll`]. So a lost byte costs only the
/// frame it belonged to. The decoder buffers at most two frames' worth of bytes.
#[derive(Clone, Debug)]
pub struct Decoder {
    accept: Accept,
    inter_byte_timeout: Duration,
    /// Largest length field accepted, at most [`MAX_PAYLOAD`].
    max_payload: usize,
    /// Bytes of the frame being received, starting with its sync byte.
    candidate: Vec<u8>,
    /// Bytes still to be examined: those of rejected candidates first, then the newest byte.
    pending: VecDeque<u8>,
    /// How many bytes at the front of `pending` belong to a rejected candidate.
    rescanned: usize,
    last_byte_at: Option<Instant>,
    /// Whether the previous byte examined was skipped outside any frame.
    skipping: bool,
    events: VecDeque<Result<Frame, FrameError>>,
    counters: LinkCounters,
}

impl Decoder {
    pub fn new(accept: Accept, inter_byte_timeout: Duration) -> Decoder {
        Decoder {
            accept,
            inter_byte_timeout,
            max_payload: MAX_PAYLOAD,
            candidate: Vec::with_capacity(MAX_FRAME_LEN),
            pending: VecDeque::new(),
            rescanned: 0,
            last_byte_at: None,
            skipping: false,
            events: VecDeque::new(),
            counters: LinkCounters::default(),
        }
    }

    pub fn counters(&self) -> LinkCounters {
        self.counters
    }

    pub fn set_inter_byte_timeout(&mut self, timeout: Duration) {
        self.inter_byte_timeout = timeout;
    }

    /// Lowers the largest accepted length field from [`MAX_PAYLOAD`] to `max`, as a device with
    /// a smaller receive buffer does. Values above [`MAX_PAYLOAD`] are clamped to it.
    pub fn set_max_payload(&mut self, max: usize) {
        self.max_payload = max.min(MAX_PAYLOAD);
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    pub fn reset_counters(&mut self) {
        self.counters = LinkCounters::default();
    }

    /// Returns whether a frame is partly received.
    pub fn in_frame(&self) -> bool {
        !self.candidate.is_empty()
    }

    /// Feeds one byte received at `now` and returns the oldest decoded frame or rejection.
    ///
    /// One byte can complete more than one event, for example a rejected candidate and a frame
    /// found in that candidate's bytes, so call [`Decoder::poll`] until it returns `None`.
    pub fn push(&mut self, byte: u8, now: Instant) -> Option<Result<Frame, FrameError>> {
        self.expire(now);
        self.pending.push_back(byte);
        self.last_byte_at = Some(now);
        self.examine_pending();
        self.events.pop_front()
    }

    /// Cuts off a stalled frame if the inter-byte timeout has passed at `now`, and returns the
    /// oldest event not yet returned.
    pub fn poll(&mut self, now: Instant) -> Option<Result<Frame, FrameError>> {
        self.expire(now);
        self.events.pop_front()
    }

    /// Rejects the partial frame when its last byte is older than the inter-byte timeout. Its
    /// bytes are searched again, and a partial frame found among them is just as old, so it is
    /// rejected too until no partial frame is left.
    fn expire(&mut self, now: Instant) {
        let Some(last) = self.last_byte_at else {
            return;
        };
        if now.saturating_duration_since(last) <= self.inter_byte_timeout {
            return;
        }
        while !self.candidate.is_empty() {
            let expected = self.expected_len();
            self.reject(FrameError::Timeout {
                received: self.candidate.len(),
                expected,
            });
            self.examine_pending();
        }
    }

    /// Total length of the candidate frame once its header is complete.
    fn expected_len(&self) -> Option<usize> {
        (self.candidate.len() >= HEADER_LEN)
            .then(|| HEADER_LEN + self.length_field() as usize + CRC_LEN)
    }

    fn length_field(&self) -> u16 {
        u16::from_le_bytes([self.candidate[4], self.candidate[5]])
    }

    fn examine_pending(&mut self) {
        while let Some(byte) = self.pending.pop_front() {
            let rescanned = self.rescanned > 0;
            self.rescanned = self.rescanned.saturating_sub(1);
            self.examine(byte, rescanned);
        }
    }

    fn examine(&mut self, byte: u8, rescanned: bool) {
        if self.candidate.is_empty() {
            if byte == SYNC {
                self.candidate.push(byte);
                self.skipping = false;
            } else if !self.skipping {
                self.skipping = true;
                if !rescanned {
                    self.counters.framing += 1;
                }
            }
            return;
        }

        self.candidate.push(byte);
        let received = self.candidate.len();
        if received == HEADER_LEN {
            let length = self.length_field();
            if length as usize > self.max_payload {
                self.reject(FrameError::Length {
                    length,
                    max: self.max_payload as u16,
                });
            }
        } else if received > HEADER_LEN && Some(received) == self.expected_len() {
            self.complete();
        }
    }

    /// Checks a complete candidate and emits it as a frame or a rejection.
    fn complete(&mut self) {
        let body_end = self.candidate.len() - CRC_LEN;
        let computed = crc32(&self.candidate[1..body_end]);
        let tail = &self.candidate[body_end..];
        let received = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let opcode_byte = self.candidate[1];
        let seq = u16::from_le_bytes([self.candidate[2], self.candidate[3]]);
        if computed != received {
            let length = self.length_field();
            self.reject(FrameError::Crc {
                opcode: opcode_byte,
                seq,
                length,
                computed,
                received,
            });
            return;
        }

        let accepted = Opcode::from_u8(opcode_byte).filter(|op| match self.accept {
            Accept::Requests => op.is_request(),
            Accept::Replies => !op.is_request(),
        });
        let event = match accepted {
            Some(opcode) => Ok(Frame {
                opcode,
                seq,
                payload: self.candidate[HEADER_LEN..body_end].to_vec(),
            }),
            None => {
                self.counters.unknown_opcode += 1;
                Err(FrameError::UnknownOpcode {
                    opcode: opcode_byte,
                    seq,
                })
            }
        };
        self.events.push_back(event);
        self.candidate.clear();
    }

    /// Counts and emits a rejection, then queues the candidate's bytes after its sync byte to be
    /// searched again.
    fn reject(&mut self, error: FrameError) {
        match error {
            FrameError::Crc { .. } => self.counters.crc += 1,
            FrameError::Length { .. } => self.counters.length += 1,
            FrameError::Timeout { .. } => self.counters.timeout += 1,
            FrameError::UnknownOpcode { .. } => self.counters.unknown_opcode += 1,
        }
        self.events.push_back(Err(error));
        for &byte in self.candidate[1..].iter().rev() {
            self.pending.push_front(byte);
        }
        self.rescanned += self.candidate.len() - 1;
        self.candidate.clear();
    }
}

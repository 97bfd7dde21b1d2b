//! Typed requests and replies, and their payload layouts. All integers are little-endian.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::frame::{Frame, Opcode};
use super::identity::Identity;
use super::parameters::{Counters, EngineParameters};
use super::sample::{Sample, SampleBatch, SampleOutput};
use super::MAX_WORDS_PER_FRAME;

/// The code of an error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErrorCode(pub u8);

impl ErrorCode {
    /// The request's opcode is not a request this device implements. Detail: 0.
    pub const UNKNOWN_OPCODE: ErrorCode = ErrorCode(0x01);
    /// The payload length does not fit the request. Detail: the expected length in bytes.
    pub const PAYLOAD_LENGTH: ErrorCode = ErrorCode(0x02);
    /// The memory id is unknown. Detail: the memory id.
    pub const UNKNOWN_MEMORY: ErrorCode = ErrorCode(0x03);
    /// The words lie outside the memory, or more than fit one frame were requested.
    /// Detail: the memory's size in words.
    pub const ADDRESS_RANGE: ErrorCode = ErrorCode(0x04);
    /// A word lies outside its number format. Detail: the word's index in the payload.
    pub const WORD_RANGE: ErrorCode = ErrorCode(0x05);
    /// An engine parameter is out of range. Detail: the field number (see [`EngineParameters`]).
    pub const INVALID_PARAMETER: ErrorCode = ErrorCode(0x06);
    /// A sample has the wrong number of input or target words, or the wrong target word width.
    /// Detail: the expected number of input words, or of target words.
    pub const SAMPLE_SHAPE: ErrorCode = ErrorCode(0x07);
    /// A queue-samples frame is not the next one of its stream, so none of its samples ran.
    /// Detail: the sequence number expected next, or 0xFFFF_FFFF when no stream is open.
    pub const OUT_OF_ORDER: ErrorCode = ErrorCode(0x08);
    /// Both input buffers are full, so the queue-samples frame was dropped. Detail: 0. Only a
    /// device that computes while it receives can send this; the software device never does.
    pub const QUEUE_FULL: ErrorCode = ErrorCode(0x09);
    /// Undefined flag bits are set. Detail: the flags byte.
    pub const INVALID_FLAGS: ErrorCode = ErrorCode(0x0A);

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::UNKNOWN_OPCODE => "unknown opcode",
            ErrorCode::PAYLOAD_LENGTH => "invalid payload length",
            ErrorCode::UNKNOWN_MEMORY => "unknown memory",
            ErrorCode::ADDRESS_RANGE => "address out of range",
            ErrorCode::WORD_RANGE => "word outside its format",
            ErrorCode::INVALID_PARAMETER => "invalid parameter",
            ErrorCode::SAMPLE_SHAPE => "invalid sample shape",
            ErrorCode::OUT_OF_ORDER => "sample out of order",
            ErrorCode::QUEUE_FULL => "input queue full",
            ErrorCode::INVALID_FLAGS => "invalid flags",
            _ => "unknown error code",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.name(), self.0)
    }
}

/// A request payload that the device cannot execute: the code and detail of its error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}, detail {detail}")]
pub struct MessageError {
    pub code: ErrorCode,
    pub detail: u32,
}

impl MessageError {
    pub fn new(code: ErrorCode, detail: u32) -> MessageError {
        MessageError { code, detail }
    }

    pub(super) fn length(expected: usize) -> MessageError {
        MessageError::new(ErrorCode::PAYLOAD_LENGTH, expected as u32)
    }
}

/// A memory of the engine, addressed network-wide.
///
/// A weight's address is its address in the stochastic-rounding numbering: layer by layer from
/// the first non-input layer, row by row, each row the neuron's weights and then its bias. A
/// neuron's address counts the non-input neurons layer by layer. Each word travels as a 32-bit
/// two's-complement integer, whatever its format's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Memory {
    /// Weights and biases, weight format.
    Weights = 0x01,
    /// Membrane potentials `u`, potential format.
    Potential = 0x02,
    /// Installed errors `e`, potential format.
    Error = 0x03,
    /// Prospective potentials `ŭ` of the last step, potential format.
    Prospective = 0x04,
    /// Rates `r` of the last step, activity format.
    Rate = 0x05,
    /// Slopes `d` of the last step, activity format.
    Slope = 0x06,
    /// The stochastic-rounding generator state: one nonzero 32-bit word.
    Rounding = 0x07,
}

impl Memory {
    pub const ALL: [Memory; 7] = [
        Memory::Weights,
        Memory::Potential,
        Memory::Error,
        Memory::Prospective,
        Memory::Rate,
        Memory::Slope,
        Memory::Rounding,
    ];

    pub fn from_u8(byte: u8) -> Option<Memory> {
        Memory::ALL.into_iter().find(|m| *m as u8 == byte)
    }

    pub fn name(self) -> &'static str {
        match self {
            Memory::Weights => "weights",
            Memory::Potential => "potential",
            Memory::Error => "error",
            Memory::Prospective => "prospective potential",
            Memory::Rate => "rate",
            Memory::Slope => "slope",
            Memory::Rounding => "rounding state",
        }
    }
}

/// Flags of a reset request.
pub mod reset_flags {
    /// Set `u`, `e`, `ŭ`, `r` and `d` of every neuron to zero. Weights and parameters stay.
    pub const NEURON_STATE: u8 = 0x01;
    /// Set every counter to zero: cycles, time steps, saturations and link errors.
    pub const COUNTERS: u8 = 0x02;
    pub const ALL: u8 = NEURON_STATE | COUNTERS;
}

pub(super) fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

pub(super) fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// A request from the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Identify,
    ReadMemory {
        memory: Memory,
        offset: u32,
        count: u16,
    },
    WriteMemory {
        memory: Memory,
        offset: u32,
        words: Vec<i32>,
    },
    SetParameters(EngineParameters),
    /// Runs one sample and replies with its output once it is done.
    RunSample(Sample),
    /// Queues one frame of k samples of a stream; their outputs come back in one sample-results
    /// reply.
    QueueSamples(SampleBatch),
    ReadCounters,
    /// Flags from [`reset_flags`].
    Reset {
        flags: u8,
    },
}

impl Request {
    pub fn opcode(&self) -> Opcode {
        match self {
            Request::Identify => Opcode::Identify,
            Request::ReadMemory { .. } => Opcode::ReadMemory,
            Request::WriteMemory { .. } => Opcode::WriteMemory,
            Request::SetParameters(_) => Opcode::SetParameters,
            Request::RunSample(_) => Opcode::RunSample,
            Request::QueueSamples(_) => Opcode::QueueSamples,
            Request::ReadCounters => Opcode::ReadCounters,
            Request::Reset { .. } => Opcode::Reset,
        }
    }

    /// Encodes the request as a frame with sequence number `seq`.
    ///
    /// # Panics
    /// Panics if the payload exceeds [`MAX_PAYLOAD`](super::MAX_PAYLOAD): a write of more than
    /// [`MAX_WORDS_PER_FRAME`] words, or a sample or parameter set too large for one frame.
    pub fn to_frame(&self, seq: u16) -> Frame {
        let mut payload = Vec::new();
        match self {
            Request::Identify | Request::ReadCounters => {}
            Request::ReadMemory {
                memory,
                offset,
                count,
            } => encode_memory_header(*memory, *offset, *count, &mut payload),
            Request::WriteMemory {
                memory,
                offset,
                words,
            } => {
                assert!(
                    words.len() <= MAX_WORDS_PER_FRAME,
                    "{} words exceed MAX_WORDS_PER_FRAME",
                    words.len()
                );
                encode_memory_header(*memory, *offset, words.len() as u16, &mut payload);
                words
                    .iter()
                    .for_each(|w| payload.extend_from_slice(&w.to_le_bytes()));
            }
            Request::SetParameters(parameters) => parameters.encode(&mut payload),
            Request::RunSample(sample) => sample.encode(&mut payload),
            Request::QueueSamples(batch) => batch.encode(&mut payload),
            Request::Reset { flags } => payload.push(*flags),
        }
        Frame::new(self.opcode(), seq, payload)
    }

    /// Decodes a request frame; the error is the reply the device sends.
    pub fn from_frame(frame: &Frame) -> Result<Request, MessageError> {
        let payload = &frame.payload[..];
        let empty = |request: Request| {
            if payload.is_empty() {
                Ok(request)
            } else {
                Err(MessageError::length(0))
            }
        };
        match frame.opcode {
            Opcode::Identify => empty(Request::Identify),
            Opcode::ReadCounters => empty(Request::ReadCounters),
            Opcode::ReadMemory => {
                if payload.len() != 8 {
                    return Err(MessageError::length(8));
                }
                let (memory, offset, count) = decode_memory_header(payload)?;
                Ok(Request::ReadMemory {
                    memory,
                    offset,
                    count,
                })
            }
            Opcode::WriteMemory => {
                if payload.len() < 8 {
                    return Err(MessageError::length(8));
                }
                let (memory, offset, count) = decode_memory_header(payload)?;
                let expected = 8 + 4 * count as usize;
                if payload.len() != expected {
                    return Err(MessageError::length(expected));
                }
                let words = payload[8..]
                    .chunks_exact(4)
                    .map(|c| read_u32(c, 0) as i32)
                    .collect();
                Ok(Request::WriteMemory {
                    memory,
                    offset,
                    words,
                })
            }
            Opcode::SetParameters => Ok(Request::SetParameters(EngineParameters::decode(payload)?)),
            Opcode::RunSample => Ok(Request::RunSample(Sample::decode(payload)?)),
            Opcode::QueueSamples => Ok(Request::QueueSamples(SampleBatch::decode(payload)?)),
            Opcode::Reset => {
                if payload.len() != 1 {
                    return Err(MessageError::length(1));
                }
                if payload[0] & !reset_flags::ALL != 0 {
                    return Err(MessageError::new(
                        ErrorCode::INVALID_FLAGS,
                        payload[0] as u32,
                    ));
                }
                Ok(Request::Reset { flags: payload[0] })
            }
            _ => Err(MessageError::new(ErrorCode::UNKNOWN_OPCODE, 0)),
        }
    }
}

fn encode_memory_header(memory: Memory, offset: u32, count: u16, out: &mut Vec<u8>) {
    out.push(memory as u8);
    out.push(0);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
}

fn decode_memory_header(payload: &[u8]) -> Result<(Memory, u32, u16), MessageError> {
    let memory = Memory::from_u8(payload[0]).ok_or(MessageError::new(
        ErrorCode::UNKNOWN_MEMORY,
        payload[0] as u32,
    ))?;
    Ok((
        memory,
        read_u32(payload, 4),
        u16::from_le_bytes([payload[2], payload[3]]),
    ))
}

/// The payload of an error reply; the frame's sequence number is that of the failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    /// Opcode byte of the failed request.
    pub opcode: u8,
    pub detail: u32,
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request = Opcode::from_u8(self.opcode)
            .map(|op| op.to_string())
            .unwrap_or_else(|| format!("opcode 0x{:02X}", self.opcode));
        write!(
            f,
            "{} for request {request}, detail {}",
            self.code, self.detail
        )
    }
}

/// A reply from the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Identity(Identity),
    MemoryData {
        memory: Memory,
        offset: u32,
        words: Vec<i32>,
    },
    MemoryWritten {
        memory: Memory,
        offset: u32,
        count: u16,
    },
    ParametersSet,
    /// Reply to run sample.
    SampleOutput(SampleOutput),
    /// Reply to queue samples: the rates of every sample of the frame, sample by sample.
    SampleResults(SampleOutput),
    Counters(Counters),
    ResetDone,
    Error(ErrorReply),
}

impl Reply {
    pub fn opcode(&self) -> Opcode {
        match self {
            Reply::Identity(_) => Opcode::Identity,
            Reply::MemoryData { .. } => Opcode::MemoryData,
            Reply::MemoryWritten { .. } => Opcode::MemoryWritten,
            Reply::ParametersSet => Opcode::ParametersSet,
            Reply::SampleOutput(_) => Opcode::SampleOutput,
            Reply::SampleResults(_) => Opcode::SampleResults,
            Reply::Counters(_) => Opcode::Counters,
            Reply::ResetDone => Opcode::ResetDone,
            Reply::Error(_) => Opcode::Error,
        }
    }

    /// Encodes the reply as a frame with the request's sequence number.
    ///
    /// # Panics
    /// Panics if the payload exceeds [`MAX_PAYLOAD`](super::MAX_PAYLOAD).
    pub fn to_frame(&self, seq: u16) -> Frame {
        let mut payload = Vec::new();
        match self {
            Reply::Identity(identity) => identity.encode(&mut payload),
            Reply::MemoryData {
                memory,
                offset,
                words,
            } => {
                encode_memory_header(*memory, *offset, words.len() as u16, &mut payload);
                words
                    .iter()
                    .for_each(|w| payload.extend_from_slice(&w.to_le_bytes()));
            }
            Reply::MemoryWritten {
                memory,
                offset,
                count,
            } => encode_memory_header(*memory, *offset, *count, &mut payload),
            Reply::ParametersSet | Reply::ResetDone => {}
            Reply::SampleOutput(output) | Reply::SampleResults(output) => {
                output.encode(&mut payload)
            }
            Reply::Counters(counters) => counters
                .words()
                .iter()
                .for_each(|w| payload.extend_from_slice(&w.to_le_bytes())),
            Reply::Error(error) => {
                payload.push(error.code.0);
                payload.push(error.opcode);
                payload.extend_from_slice(&[0, 0]);
                payload.extend_from_slice(&error.detail.to_le_bytes());
            }
        }
        Frame::new(self.opcode(), seq, payload)
    }

    /// Decodes a reply frame. A request frame is rejected with an unknown-opcode error.
    pub fn from_frame(frame: &Frame) -> Result<Reply, MessageError> {
        let payload = &frame.payload[..];
        let empty = |reply: Reply| {
            if payload.is_empty() {
                Ok(reply)
            } else {
                Err(MessageError::length(0))
            }
        };
        match frame.opcode {
            Opcode::Identity => Ok(Reply::Identity(Identity::decode(payload)?)),
            Opcode::MemoryData => {
                if payload.len() < 8 {
                    return Err(MessageError::length(8));
                }
                let (memory, offset, count) = decode_memory_header(payload)?;
                let expected = 8 + 4 * count as usize;
                if payload.len() != expected {
                    return Err(MessageError::length(expected));
                }
                let words = payload[8..]
                    .chunks_exact(4)
                    .map(|c| read_u32(c, 0) as i32)
                    .collect();
                Ok(Reply::MemoryData {
                    memory,
                    offset,
                    words,
                })
            }
            Opcode::MemoryWritten => {
                if payload.len() != 8 {
                    return Err(MessageError::length(8));
                }
                let (memory, offset, count) = decode_memory_header(payload)?;
                Ok(Reply::MemoryWritten {
                    memory,
                    offset,
                    count,
                })
            }
            Opcode::ParametersSet => empty(Reply::ParametersSet),
            Opcode::ResetDone => empty(Reply::ResetDone),
            Opcode::SampleOutput => Ok(Reply::SampleOutput(SampleOutput::decode(payload)?)),
            Opcode::SampleResults => Ok(Reply::SampleResults(SampleOutput::decode(payload)?)),
            Opcode::Counters => Ok(Reply::Counters(Counters::decode(payload)?)),
            Opcode::Error => {
                if payload.len() != 8 {
                    return Err(MessageError::length(8));
                }
                Ok(Reply::Error(ErrorReply {
                    code: ErrorCode(payload[0]),
                    opcode: payload[1],
                    detail: read_u32(payload, 4),
                }))
            }
            _ => Err(MessageError::new(ErrorCode::UNKNOWN_OPCODE, 0)),
        }
    }
}

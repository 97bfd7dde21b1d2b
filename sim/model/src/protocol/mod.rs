//! The link protocol between the host and a LEAP device, the same over UART, PCIe streams, TCP
//! and the simulated board.
//!
//! A frame is `SYNC, opcode, seq (u16), length (u16), payload, CRC-32 (u32)`, integers
//! little-endian; the CRC (CRC-32/ISO-HDLC, see [`crc32`]) covers every byte after the sync byte
//! up to the end of the payload. The host sends requests, and the device replies to each intact
//! request with exactly one frame carrying the request's sequence number. That frame is a success
//! reply (the request's opcode with the top bit set) or an error reply ([`Opcode::Error`] with an
//! [`ErrorCode`]). Queue-samples frames carry k samples each, and their sample-results replies
//! carry the k outputs. A host keeps up to two such frames outstanding, so the link carries the
//! next frame while the device computes the current one. The repository's docs/protocol.md gives
//! the byte layout of every payload.
//!
//! Retries are safe because requests that change state are executed at most once per sequence
//! number. The device keeps the replies of the last [`REPLAY_DEPTH`] of them and resends the
//! stored reply when a request repeats its opcode and sequence number. Identify starts a session
//! and clears those stored replies.

mod crc;
mod frame;
mod identity;
mod message;
mod parameters;
mod sample;
mod software;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use crc::{crc32, Crc32, CRC_CHECK, CRC_INIT, CRC_POLYNOMIAL, CRC_REFLECTED, CRC_XOR_OUT};
pub use frame::{Accept, Decoder, Frame, FrameError, LinkCounters, Opcode};
pub use identity::{generator_hash, Identity};
pub use message::{reset_flags, ErrorCode, ErrorReply, Memory, MessageError, Reply, Request};
pub use parameters::{Counters, EngineParameters};
pub use sample::{record_len, sample_flags, Sample, SampleBatch, SampleOutput, TargetWords};
pub use software::{SoftwareDevice, MAX_DEPTH, MIN_MAX_PAYLOAD, SOFTWARE_LANES};

/// Version a device reports in its identity; a host refuses a device with another version.
/// Version 2 carries k samples per queue-samples frame; version 1 carried one.
pub const PROTOCOL_VERSION: u16 = 2;

/// First byte of every frame. Its alternating bit pattern (1010_0101) is unlike an idle line
/// (all ones) or a break (all zeros).
pub const SYNC: u8 = 0xA5;

/// Bytes before the payload: sync, opcode, sequence number (2) and length (2).
pub const HEADER_LEN: usize = 6;

/// Bytes of the CRC after the payload.
pub const CRC_LEN: usize = 4;

/// Bytes a frame adds to its payload.
pub const FRAME_OVERHEAD: usize = HEADER_LEN + CRC_LEN;

/// Largest payload, in bytes. A receiver rejects a larger length field as soon as the header is
/// complete, without waiting for the payload, so its buffer never needs more than one maximum
/// frame. A device may advertise a smaller maximum in its identity, and hosts honour it.
pub const MAX_PAYLOAD: usize = 4096;

/// Largest frame on the wire, in bytes.
pub const MAX_FRAME_LEN: usize = MAX_PAYLOAD + FRAME_OVERHEAD;

/// Memory words that one read or write frame carries at most: the payload minus its 8-byte
/// memory header, 4 bytes per word. Larger transfers are split by offset.
pub const MAX_WORDS_PER_FRAME: usize = words_per_frame(MAX_PAYLOAD);

/// Returns the memory words that fit a read or write payload of at most `max_payload` bytes.
pub const fn words_per_frame(max_payload: usize) -> usize {
    max_payload.saturating_sub(8) / 4
}

/// Maximum gap between two bytes of one frame before the receiver drops the partial frame and
/// searches its bytes again for a sync byte. At 9600 baud a byte takes about 1 ms, and FTDI USB
/// serial bridges hold received bytes for up to 16 ms (their default latency timer), so 50 ms
/// leaves a margin over both.
pub const INTER_BYTE_TIMEOUT: Duration = Duration::from_millis(50);

/// Time a host waits for the first reply byte beyond the time the request and the reply take on
/// the wire, before it sends the request again.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Times a host sends a request again after a timeout or a damaged reply before it gives up.
pub const MAX_RETRIES: u32 = 3;

/// Input buffers of the engine: queue-samples frames a host may send before the first reply
/// returns. With two, the next frame is received while the current one computes.
pub const QUEUE_DEPTH: u8 = 2;

/// Replies to state-changing requests that a device keeps for retries. It exceeds
/// [`QUEUE_DEPTH`], so every frame of a stream window that a host may resend is still stored.
pub const REPLAY_DEPTH: usize = 8;

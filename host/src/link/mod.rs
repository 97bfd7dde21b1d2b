//! The host side of the link.
//!
//! - Transports carry protocol frames to a device: serial, TCP, PCIe (XDMA) and in-process.
//! - [`Link`] numbers requests, waits for replies, retries and streams samples.
//! - [`LinkDevice`] is the training loop's device over any transport.
//! - [`serve`] serves the software device on a byte stream; [`PtyServer`] and [`TcpServer`]
//!   serve it on a pseudo-terminal and on a TCP listener, as `leap serve` does.
//!
//! The frames, opcodes and payloads are defined in `leap_model::protocol`.

pub mod bench;
mod device;
mod in_process;
mod pacing;
mod pcie;
mod pty_server;
mod serial;
mod serve;
mod session;
mod spec;
mod stream;
mod tcp;
mod tcp_server;

#[cfg(test)]
mod tests;

use std::io;
use std::time::{Duration, Instant};

use leap_model::protocol::{ErrorReply, Frame, FrameError, Opcode};

pub use device::{check_device_fits, LinkDevice};
pub use in_process::InProcessTransport;
pub use pcie::{PcieTransport, DEFAULT_C2H, DEFAULT_H2C};
pub use pty_server::PtyServer;
pub use serial::{pty_pair, PacedWriter, SerialTransport};
pub use serve::{serve, serve_shared, ByteDevice};
pub use session::{Link, LinkOptions, LinkStats};
pub use spec::{LinkSpec, DEFAULT_BAUD};
pub use tcp::TcpTransport;
pub use tcp_server::TcpServer;

/// A channel that carries frames to a device and its replies back.
pub trait Transport: Send {
    /// Names the link in messages: "serial port /dev/ttyUSB1", "TCP 127.0.0.1:7000".
    fn endpoint(&self) -> &str;

    /// Sends frames in as few writes as the transport allows, so a USB serial bridge forwards
    /// them in one burst.
    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError>;

    /// Returns the next frame received by `deadline`, or the next rejected one.
    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError>;

    /// Sets how long a later [`Transport::send`] may wait for the device to take its bytes,
    /// beyond their wire time, before it fails. A device that computes reads nothing meanwhile,
    /// so [`Link`] sets it before each send from the reply timeout and the work outstanding.
    /// The in-process transport, whose writes cannot block, ignores it.
    fn set_write_timeout(&mut self, timeout: Duration) {
        let _ = timeout;
    }

    /// Returns the time `bytes` take on the wire, zero where the link has no byte rate to speak
    /// of. Reply deadlines add it to the reply timeout.
    fn wire_time(&self, bytes: usize) -> Duration {
        let _ = bytes;
        Duration::ZERO
    }

    /// Discards bytes received but not yet decoded, such as replies meant for an earlier session.
    fn discard_input(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn endpoint(&self) -> &str {
        (**self).endpoint()
    }
    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        (**self).send(frames)
    }
    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        (**self).receive(deadline)
    }
    fn set_write_timeout(&mut self, timeout: Duration) {
        (**self).set_write_timeout(timeout)
    }
    fn wire_time(&self, bytes: usize) -> Duration {
        (**self).wire_time(bytes)
    }
    fn discard_input(&mut self) -> Result<(), TransportError> {
        (**self).discard_input()
    }
}

/// A failure to move frames over a transport.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing arrived by the deadline.
    #[error("no frame from {endpoint} before the deadline")]
    TimedOut { endpoint: String },
    /// The other end went away: the device was unplugged, or the other end of a
    /// pseudo-terminal, socket or FIFO was closed.
    #[error("{endpoint} disconnected ({reason}). Check that the device is connected and its server is running, then start again.")]
    Disconnected { endpoint: String, reason: String },
    /// The transport could not be opened or used.
    #[error("{action} {endpoint} failed: {source}")]
    Io {
        endpoint: String,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// A frame arrived damaged, or with an opcode that is not a reply.
    #[error("{endpoint} sent a damaged frame: {error}")]
    Damaged { endpoint: String, error: FrameError },
}

/// A request that failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Every attempt timed out or brought back a damaged reply.
    #[error("no valid reply from {endpoint} to {opcode} (sequence number {seq}) after {attempts} attempts. The last attempt waited {:.2} s, with the result: {last}. Check that the device is running and connected to this link, or raise the reply timeout with --reply-timeout.", .timeout.as_secs_f64())]
    NoReply {
        endpoint: String,
        opcode: Opcode,
        seq: u16,
        attempts: u32,
        /// The wait of the last attempt.
        timeout: Duration,
        last: String,
    },
    /// The caller's samples cannot form a request, such as samples of different shapes in one
    /// stream.
    #[error("invalid request to {endpoint}: {reason}")]
    InvalidRequest { endpoint: String, reason: String },
    /// The device sent an error reply.
    #[error("{endpoint} rejected {opcode} (sequence number {seq}): {error}")]
    Rejected {
        endpoint: String,
        opcode: Opcode,
        seq: u16,
        error: ErrorReply,
    },
    /// The reply is intact but does not fit the request.
    #[error("{endpoint} sent an invalid reply to {opcode}: {reason}")]
    InvalidReply {
        endpoint: String,
        opcode: Opcode,
        reason: String,
    },
    /// The device was generated for another network or speaks another protocol version.
    #[error("the device at {endpoint} cannot run this configuration: {reason}")]
    Incompatible { endpoint: String, reason: String },
}

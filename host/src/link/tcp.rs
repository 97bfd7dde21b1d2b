//! TCP sockets, for simulated boards and device servers on this machine.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use leap_model::protocol::Frame;

use super::stream::{classify, write_stalled, ByteStream, FramedStream, StreamFailure};
use super::{Transport, TransportError};

struct TcpByteStream {
    socket: TcpStream,
}

impl ByteStream for TcpByteStream {
    fn read_by(
        &mut self,
        buffer: &mut [u8],
        deadline: Instant,
    ) -> Result<Option<usize>, StreamFailure> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        // A zero read timeout means "wait forever" to the socket, so wait at least 1 ms.
        self.socket
            .set_read_timeout(Some(remaining.max(Duration::from_millis(1))))
            .map_err(StreamFailure::Io)?;
        match self.socket.read(buffer) {
            Ok(0) => Err(StreamFailure::Closed(
                "the peer closed the connection".into(),
            )),
            Ok(count) => Ok(Some(count)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Writes `bytes` by a deadline `timeout` from now. The socket's write timeout bounds each
    /// write call, so a peer that stops reading fills the socket buffers and ends the write
    /// with an error instead of blocking the host.
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), StreamFailure> {
        let deadline = Instant::now() + timeout;
        let mut rest = bytes;
        while !rest.is_empty() {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(write_stalled(bytes.len(), timeout));
            }
            // A zero write timeout means "wait forever" to the socket, so wait at least 1 ms.
            self.socket
                .set_write_timeout(Some(remaining.max(Duration::from_millis(1))))
                .map_err(StreamFailure::Io)?;
            match self.socket.write(rest) {
                Ok(0) => {
                    return Err(StreamFailure::Closed(
                        "the connection took no more bytes".into(),
                    ))
                }
                Ok(count) => rest = &rest[count..],
                // Linux reports an expired socket timeout as WouldBlock.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    return Err(write_stalled(bytes.len(), timeout))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(classify(e)),
            }
        }
        Ok(())
    }

    fn discard_input(&mut self) -> Result<(), StreamFailure> {
        self.socket
            .set_nonblocking(true)
            .map_err(StreamFailure::Io)?;
        let mut buffer = [0u8; 4096];
        let result = loop {
            match self.socket.read(&mut buffer) {
                Ok(0) => {
                    break Err(StreamFailure::Closed(
                        "the peer closed the connection".into(),
                    ))
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(classify(e)),
            }
        };
        self.socket
            .set_nonblocking(false)
            .map_err(StreamFailure::Io)?;
        result
    }
}

/// Frames over a TCP connection.
pub struct TcpTransport {
    framed: FramedStream<TcpByteStream>,
}

impl TcpTransport {
    /// Connects to `address` ("127.0.0.1:7000"), waiting up to `timeout`.
    pub fn connect(address: &str, timeout: Duration) -> Result<TcpTransport, TransportError> {
        let endpoint = format!("TCP {address}");
        let io_error = |source: io::Error| TransportError::Io {
            endpoint: endpoint.clone(),
            action: "connecting to",
            source,
        };
        let target = address
            .to_socket_addrs()
            .map_err(io_error)?
            .next()
            .ok_or_else(|| {
                io_error(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the address resolves to nothing",
                ))
            })?;
        let socket = TcpStream::connect_timeout(&target, timeout).map_err(io_error)?;
        // Frames are written whole; waiting to merge them with later bytes only adds latency.
        socket.set_nodelay(true).map_err(io_error)?;
        Ok(TcpTransport {
            framed: FramedStream::new(TcpByteStream { socket }, endpoint),
        })
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        // Tell the server at once, even if a clone of the socket lives on elsewhere.
        let _ = self.framed.stream.socket.shutdown(Shutdown::Both);
    }
}

impl Transport for TcpTransport {
    fn endpoint(&self) -> &str {
        self.framed.endpoint()
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        self.framed.send(frames)
    }

    fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        self.framed.receive(deadline)
    }

    fn set_write_timeout(&mut self, timeout: Duration) {
        self.framed.set_write_timeout(timeout);
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        self.framed.discard_input()
    }
}

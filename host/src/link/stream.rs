//! Frames over a byte stream: the part that serial ports, TCP sockets and PCIe character
//! devices share.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use leap_model::protocol::{Accept, Decoder, Frame, FrameError, INTER_BYTE_TIMEOUT, MAX_FRAME_LEN};

use super::TransportError;

/// The reason a byte stream stopped working.
pub(crate) enum StreamFailure {
    /// The other end went away; the text describes how that showed.
    Closed(String),
    Io(io::Error),
}

/// A byte stream whose reads wait no longer than a deadline.
pub(crate) trait ByteStream: Send {
    /// Reads available bytes, waiting until `deadline` at most. Returns `Ok(None)` when the
    /// deadline passed without data; never returns `Ok(Some(0))`.
    fn read_by(
        &mut self,
        buffer: &mut [u8],
        deadline: Instant,
    ) -> Result<Option<usize>, StreamFailure>;

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), StreamFailure>;

    /// Discards bytes received but not yet read.
    fn discard_input(&mut self) -> Result<(), StreamFailure>;
}

/// Classifies an I/O error of a socket, pipe or terminal: the kinds that mean the other end is
/// gone become [`StreamFailure::Closed`].
pub(crate) fn classify(error: io::Error) -> StreamFailure {
    match error.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::NotConnected
        | io::ErrorKind::UnexpectedEof => StreamFailure::Closed(error.to_string()),
        _ => StreamFailure::Io(error),
    }
}

/// Frames over a [`ByteStream`], decoded with a [`Decoder`] that accepts replies.
pub(crate) struct FramedStream<S> {
    pub(crate) stream: S,
    endpoint: String,
    decoder: Decoder,
    ready: VecDeque<Result<Frame, FrameError>>,
    buffer: Vec<u8>,
}

impl<S: ByteStream> FramedStream<S> {
    pub(crate) fn new(stream: S, endpoint: String) -> FramedStream<S> {
        FramedStream {
            stream,
            endpoint,
            decoder: Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT),
            ready: VecDeque::new(),
            buffer: vec![0; MAX_FRAME_LEN],
        }
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn failure(&self, failure: StreamFailure, action: &'static str) -> TransportError {
        match failure {
            StreamFailure::Closed(reason) => TransportError::Disconnected {
                endpoint: self.endpoint.clone(),
                reason,
            },
            StreamFailure::Io(source) => TransportError::Io {
                endpoint: self.endpoint.clone(),
                action,
                source,
            },
        }
    }

    pub(crate) fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        let mut bytes = Vec::with_capacity(frames.iter().map(Frame::wire_len).sum());
        for frame in frames {
            frame.encode_into(&mut bytes);
        }
        self.stream
            .write_bytes(&bytes)
            .map_err(|failure| self.failure(failure, "writing to"))
    }

    pub(crate) fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        loop {
            let now = Instant::now();
            if let Some(event) = self.ready.pop_front().or_else(|| self.decoder.poll(now)) {
                return event.map_err(|error| TransportError::Damaged {
                    endpoint: self.endpoint.clone(),
                    error,
                });
            }
            if now >= deadline {
                return Err(TransportError::TimedOut {
                    endpoint: self.endpoint.clone(),
                });
            }
            match self.stream.read_by(&mut self.buffer, deadline) {
                Ok(Some(count)) => {
                    let received_at = Instant::now();
                    for &byte in &self.buffer[..count] {
                        self.ready.extend(self.decoder.push(byte, received_at));
                        while let Some(event) = self.decoder.poll(received_at) {
                            self.ready.push_back(event);
                        }
                    }
                }
                Ok(None) => {}
                Err(failure) => return Err(self.failure(failure, "reading from")),
            }
        }
    }

    pub(crate) fn discard_input(&mut self) -> Result<(), TransportError> {
        self.ready.clear();
        self.decoder = Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT);
        self.stream
            .discard_input()
            .map_err(|failure| self.failure(failure, "clearing the input of"))
    }
}

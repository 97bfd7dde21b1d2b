//! Frames over a byte stream: the part that serial ports, TCP sockets and PCIe character
//! devices share.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use leap_model::protocol::{
    Accept, Decoder, Frame, FrameError, INTER_BYTE_TIMEOUT, MAX_FRAME_LEN, REPLY_TIMEOUT,
};

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

    /// Writes all of `bytes`, or fails with [`write_stalled`] if the other end has not taken
    /// them within `timeout` plus their wire time where the stream has one.
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), StreamFailure>;

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

/// Returns the error of a write of `bytes` bytes that was not done within `allowance`.
pub(crate) fn write_stalled(bytes: usize, allowance: Duration) -> StreamFailure {
    StreamFailure::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the device did not take {bytes} bytes within {:.2} s, so it has stopped reading. Check that the device or its server is running; a device that needs longer per sample needs a longer --reply-timeout",
            allowance.as_secs_f64()
        ),
    ))
}

/// Frames over a [`ByteStream`], decoded with a [`Decoder`] that accepts replies.
pub(crate) struct FramedStream<S> {
    pub(crate) stream: S,
    endpoint: String,
    decoder: Decoder,
    ready: VecDeque<Result<Frame, FrameError>>,
    buffer: Vec<u8>,
    /// The decoder's clock: it runs only while `receive` is called.
    clock: ListeningClock,
    /// Time a write may wait for the other end to take its bytes, beyond their wire time.
    write_timeout: Duration,
}

/// A clock for the inter-byte timeout that stops while its owner is not reading, such as while
/// it sends a long paced frame or computes.
///
/// Bytes that arrive meanwhile wait in the operating system's buffer and are read later in one
/// burst. The wall clock would put a gap as long as the pause between two bytes of one frame and
/// cut it off, although the sender never stalled. This clock measures only the time spent
/// waiting for bytes, so a gap counts only if the sender left the line idle while the owner was
/// reading.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListeningClock {
    /// Time spent not reading so far.
    paused: Duration,
    /// When the owner stopped reading, or `None` while it reads.
    paused_at: Option<Instant>,
}

impl ListeningClock {
    pub(crate) fn new() -> ListeningClock {
        ListeningClock {
            paused: Duration::ZERO,
            paused_at: None,
        }
    }

    /// Starts counting again: the owner reads from now on.
    pub(crate) fn resume(&mut self) {
        if let Some(paused_at) = self.paused_at.take() {
            self.paused += paused_at.elapsed();
        }
    }

    /// Stops counting: the owner does other work until the next [`ListeningClock::resume`].
    pub(crate) fn pause(&mut self) {
        self.paused_at.get_or_insert_with(Instant::now);
    }

    /// Returns the wall-clock time minus the time spent not reading.
    pub(crate) fn now(&self) -> Instant {
        let now = Instant::now();
        let paused = self.paused + self.paused_at.map_or(Duration::ZERO, |at| now - at);
        now.checked_sub(paused).unwrap_or(now)
    }
}

impl<S: ByteStream> FramedStream<S> {
    pub(crate) fn new(stream: S, endpoint: String) -> FramedStream<S> {
        FramedStream {
            stream,
            endpoint,
            decoder: Decoder::new(Accept::Replies, INTER_BYTE_TIMEOUT),
            ready: VecDeque::new(),
            buffer: vec![0; MAX_FRAME_LEN],
            clock: ListeningClock::new(),
            write_timeout: REPLY_TIMEOUT,
        }
    }

    pub(crate) fn set_write_timeout(&mut self, timeout: Duration) {
        self.write_timeout = timeout;
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
            .write_bytes(&bytes, self.write_timeout)
            .map_err(|failure| self.failure(failure, "writing to"))
    }

    pub(crate) fn receive(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        self.clock.resume();
        let result = self.receive_listening(deadline);
        self.clock.pause();
        result
    }

    fn receive_listening(&mut self, deadline: Instant) -> Result<Frame, TransportError> {
        loop {
            let now = Instant::now();
            let listened = self.clock.now();
            if let Some(event) = self
                .ready
                .pop_front()
                .or_else(|| self.decoder.poll(listened))
            {
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
                    let received_at = self.clock.now();
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

//! PCIe boards through the Xilinx XDMA driver's character devices: frames go to the card on a
//! host-to-card (h2c) stream and come back on a card-to-host (c2h) stream.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use leap_model::protocol::Frame;

use super::stream::{classify, write_stalled, ByteStream, FramedStream, StreamFailure};
use super::{Transport, TransportError};

/// The XDMA driver's first host-to-card stream.
pub const DEFAULT_H2C: &str = "/dev/xdma0_h2c_0";
/// The XDMA driver's first card-to-host stream.
pub const DEFAULT_C2H: &str = "/dev/xdma0_c2h_0";

/// Bytes per read of the card-to-host stream. The XDMA driver returns a streaming read when
/// the card ends a packet, so the card's stream shell should end each reply frame with TLAST.
const READ_CHUNK: usize = 64 * 1024;

/// A message from the reader thread: bytes, or the reason the stream ended.
type Chunk = Result<Vec<u8>, String>;

struct PcieStream {
    /// Byte buffers for the writer thread, which writes each to the host-to-card stream. A
    /// blocking writer thread gives those writes a deadline, as the reader thread does for reads.
    writes: mpsc::Sender<Vec<u8>>,
    /// The writer thread's result of each buffer, in order.
    written: Receiver<io::Result<()>>,
    /// Buffers handed to the writer thread whose result has not been received yet.
    pending_writes: usize,
    c2h_path: PathBuf,
    /// Bytes from the reader thread. A blocking reader thread gives the card-to-host stream a
    /// deadline on files that cannot be polled, such as the XDMA character devices.
    chunks: Receiver<Chunk>,
    /// Bytes of the last chunk that did not fit the caller's buffer.
    leftover: Vec<u8>,
}

impl PcieStream {
    fn take(&mut self, chunk: Vec<u8>, buffer: &mut [u8]) -> usize {
        self.leftover = chunk;
        let count = self.leftover.len().min(buffer.len());
        buffer[..count].copy_from_slice(&self.leftover[..count]);
        self.leftover.drain(..count);
        count
    }
}

impl ByteStream for PcieStream {
    fn read_by(
        &mut self,
        buffer: &mut [u8],
        deadline: Instant,
    ) -> Result<Option<usize>, StreamFailure> {
        if !self.leftover.is_empty() {
            let leftover = std::mem::take(&mut self.leftover);
            return Ok(Some(self.take(leftover, buffer)));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        match self.chunks.recv_timeout(remaining) {
            Ok(Ok(chunk)) => Ok(Some(self.take(chunk, buffer))),
            Ok(Err(reason)) => Err(StreamFailure::Closed(reason)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(StreamFailure::Closed(format!(
                "the reader of {} stopped",
                self.c2h_path.display()
            ))),
        }
    }

    /// Hands `bytes` to the writer thread and waits up to `timeout` for it to write them and
    /// every buffer before them.
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), StreamFailure> {
        let deadline = Instant::now() + timeout;
        if self.writes.send(bytes.to_vec()).is_err() {
            return Err(StreamFailure::Closed("the writer thread stopped".into()));
        }
        self.pending_writes += 1;
        while self.pending_writes > 0 {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.written.recv_timeout(remaining) {
                Ok(result) => {
                    self.pending_writes -= 1;
                    result.map_err(classify)?;
                }
                // NOTE: the writer thread stays blocked in its write until the card or the
                // FIFO's reader takes the bytes. A later write waits for it first.
                Err(RecvTimeoutError::Timeout) => return Err(write_stalled(bytes.len(), timeout)),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(StreamFailure::Closed("the writer thread stopped".into()))
                }
            }
        }
        Ok(())
    }

    fn discard_input(&mut self) -> Result<(), StreamFailure> {
        self.leftover.clear();
        loop {
            match self.chunks.try_recv() {
                Ok(Ok(_)) => continue,
                Ok(Err(reason)) => return Err(StreamFailure::Closed(reason)),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    return Err(StreamFailure::Closed(format!(
                        "the reader of {} stopped",
                        self.c2h_path.display()
                    )))
                }
            }
        }
    }
}

/// Writes each buffer from `writes` to the host-to-card stream in one write call, so the driver
/// moves a batch of frames in one DMA transfer, and reports each result until either channel
/// closes.
fn write_h2c(mut h2c: File, writes: Receiver<Vec<u8>>, written: mpsc::Sender<io::Result<()>>) {
    for bytes in writes {
        if written.send(h2c.write_all(&bytes)).is_err() {
            return;
        }
    }
}

/// Reads the card-to-host stream until it ends, passing chunks on until the receiver is gone.
fn read_c2h(mut c2h: File, path: PathBuf, chunks: mpsc::Sender<Chunk>) {
    let mut buffer = vec![0u8; READ_CHUNK];
    loop {
        let message = match c2h.read(&mut buffer) {
            Ok(0) => Err(format!("end of file on {}", path.display())),
            Ok(count) => Ok(buffer[..count].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(format!("reading {} failed: {e}", path.display())),
        };
        let ended = message.is_err();
        if chunks.send(message).is_err() || ended {
            return;
        }
    }
}

/// Opens `path` in a helper thread and waits up to `timeout`, because opening one end of a FIFO
/// blocks until the other end is opened.
fn open_with_timeout(
    path: &Path,
    write: bool,
    timeout: Duration,
    endpoint: &str,
) -> Result<File, TransportError> {
    let (sender, receiver) = mpsc::channel();
    let owned = path.to_path_buf();
    thread::spawn(move || {
        let _ = sender.send(OpenOptions::new().read(!write).write(write).open(owned));
    });
    let io_error = |source: io::Error| TransportError::Io {
        endpoint: endpoint.to_string(),
        action: "opening",
        source,
    };
    match receiver.recv_timeout(timeout) {
        Ok(Ok(file)) => Ok(file),
        Ok(Err(source)) => {
            Err(io_error(io::Error::new(source.kind(), format!("cannot open {}: {source}", path.display()))))
        }
        // NOTE: the helper thread stays blocked in open until something opens the other end.
        Err(_) => Err(io_error(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("opening {} did not finish within {timeout:?}; if it is a FIFO, start the process that opens its other end", path.display()),
        ))),
    }
}

/// Frames over the XDMA driver's streaming character devices.
pub struct PcieTransport {
    framed: FramedStream<PcieStream>,
}

impl PcieTransport {
    /// Opens the host-to-card stream `h2c` for writing, then the card-to-host stream `c2h` for
    /// reading, each within `open_timeout`. A peer that serves a pair of FIFOs must open them in
    /// the same order.
    pub fn open(
        h2c: &Path,
        c2h: &Path,
        open_timeout: Duration,
    ) -> Result<PcieTransport, TransportError> {
        let endpoint = format!(
            "PCIe streams {} (to the card) and {} (from the card)",
            h2c.display(),
            c2h.display()
        );
        let h2c_file = open_with_timeout(h2c, true, open_timeout, &endpoint)?;
        let c2h_file = open_with_timeout(c2h, false, open_timeout, &endpoint)?;

        let (writes, buffers) = mpsc::channel();
        let (results, written) = mpsc::channel();
        thread::Builder::new()
            .name("leap-pcie-h2c".into())
            .spawn(move || write_h2c(h2c_file, buffers, results))
            .map_err(|source| TransportError::Io {
                endpoint: endpoint.clone(),
                action: "starting the writer thread of",
                source,
            })?;

        let (sender, chunks) = mpsc::channel();
        let path = c2h.to_path_buf();
        thread::Builder::new()
            .name("leap-pcie-c2h".into())
            .spawn(move || read_c2h(c2h_file, path, sender))
            .map_err(|source| TransportError::Io {
                endpoint: endpoint.clone(),
                action: "starting the reader thread of",
                source,
            })?;

        let stream = PcieStream {
            writes,
            written,
            pending_writes: 0,
            c2h_path: c2h.to_path_buf(),
            chunks,
            leftover: Vec::new(),
        };
        Ok(PcieTransport {
            framed: FramedStream::new(stream, endpoint),
        })
    }
}

impl Transport for PcieTransport {
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

//! Serial ports: UART bridges to boards, and pseudo-terminals for simulated boards and tests.

use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use leap_model::protocol::Frame;
use serialport::{ClearBuffer, SerialPort, TTYPort};

use super::stream::{write_stalled, ByteStream, FramedStream, StreamFailure};
use super::{Transport, TransportError};

/// Bits a UART sends per byte with 8 data bits, no parity and 1 stop bit: start, 8 data, stop.
pub const BITS_PER_BYTE: u32 = 10;

/// Bytes the emulated UART buffers for transmission. NOTE: 256 is a modelling choice, an
/// estimate of a USB serial bridge's transmit buffer rather than a measured device.
const TX_BUFFER_BYTES: usize = 256;

/// Serialises [`TTYPort::pair`], which is not thread-safe.
static PTY_PAIR_LOCK: Mutex<()> = Mutex::new(());

/// Creates a connected pseudo-terminal pair `(master, slave)`; the slave's
/// [`SerialPort::name`] is a path that [`SerialTransport::open`] accepts. Calls are serialised
/// because `TTYPort::pair` is not thread-safe.
pub fn pty_pair() -> serialport::Result<(TTYPort, TTYPort)> {
    let _guard = PTY_PAIR_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    TTYPort::pair()
}

/// Returns the time `bytes` take on a UART at `baud`.
pub fn uart_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_secs_f64(bytes as f64 * BITS_PER_BYTE as f64 / baud.max(1) as f64)
}

/// Limits writes to the byte rate of a UART, for links such as pseudo-terminals that have none.
#[derive(Clone, Debug)]
struct Pacer {
    baud: u32,
    /// When the emulated line has sent every byte written so far.
    line_free_at: Instant,
}

impl Pacer {
    fn new(baud: u32) -> Pacer {
        Pacer {
            baud,
            line_free_at: Instant::now(),
        }
    }

    /// Bytes per write: about one millisecond on the line, so waits stay short.
    fn chunk_len(&self) -> usize {
        (self.baud / BITS_PER_BYTE / 1000).max(1) as usize
    }

    /// Waits until the emulated line has sent `bytes` more bytes.
    ///
    /// A writer that wakes up late by less than the time [`TX_BUFFER_BYTES`] take on the line
    /// (at least two chunks) keeps the line busy, as a UART's transmit buffer does. After a
    /// longer pause the line has been idle and starts again now. Without that slack every late
    /// wake-up of the sleeping thread would stretch the line time, and a busy machine would
    /// measure a slower line than the baud rate gives.
    fn wait_for(&mut self, bytes: usize) {
        let now = Instant::now();
        let slack = uart_time(TX_BUFFER_BYTES.max(2 * self.chunk_len()), self.baud);
        let start = if now.saturating_duration_since(self.line_free_at) <= slack {
            self.line_free_at
        } else {
            now
        };
        self.line_free_at = start + uart_time(bytes, self.baud);
        std::thread::sleep(self.line_free_at.saturating_duration_since(now));
    }
}

/// A writer that passes bytes on no faster than a UART at a given baud rate would send them.
pub struct PacedWriter<W> {
    inner: W,
    pacer: Pacer,
}

impl<W: Write> PacedWriter<W> {
    pub fn new(inner: W, baud: u32) -> PacedWriter<W> {
        PacedWriter {
            inner,
            pacer: Pacer::new(baud),
        }
    }
}

impl<W: Write> Write for PacedWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let chunk = &bytes[..bytes.len().min(self.pacer.chunk_len())];
        let written = self.inner.write(chunk)?;
        self.pacer.wait_for(written);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct SerialStream {
    port: TTYPort,
    baud: u32,
    pacer: Option<Pacer>,
}

impl ByteStream for SerialStream {
    fn read_by(
        &mut self,
        buffer: &mut [u8],
        deadline: Instant,
    ) -> Result<Option<usize>, StreamFailure> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(None);
        }
        // The port's timeout applies to each read call, so it is set from the deadline each time.
        self.port
            .set_timeout(remaining)
            .map_err(|e| StreamFailure::Io(e.into()))?;
        match self.port.read(buffer) {
            // After the other end of a pseudo-terminal closes, reads can return 0 bytes forever.
            Ok(0) => Err(StreamFailure::Closed("a read returned end of file".into())),
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
            // On a serial port every other read error (a hang-up, EIO after unplugging) means
            // the device is gone.
            Err(e) => Err(StreamFailure::Closed(format!("read failed: {e}"))),
        }
    }

    /// Writes `bytes` by a deadline of their wire time plus `timeout`.
    ///
    /// The descriptor is non-blocking, so each write takes only what fits the driver's buffer.
    /// A device that stops reading, such as a stopped `leap serve`, therefore makes the write
    /// time out instead of blocking the host until the device reads again.
    fn write_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), StreamFailure> {
        let allowance = uart_time(bytes.len(), self.baud) + timeout;
        let deadline = Instant::now() + allowance;
        let chunk_len = self
            .pacer
            .as_ref()
            .map_or(bytes.len().max(1), Pacer::chunk_len);
        for chunk in bytes.chunks(chunk_len) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Err(write_stalled(bytes.len(), allowance));
                }
                // The port's timeout bounds its wait for room in the driver's buffer.
                self.port
                    .set_timeout(remaining)
                    .map_err(|e| StreamFailure::Io(e.into()))?;
                match self.port.write(rest) {
                    Ok(0) => return Err(StreamFailure::Closed("a write took no bytes".into())),
                    Ok(count) => rest = &rest[count..],
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        return Err(write_stalled(bytes.len(), allowance))
                    }
                    // The buffer filled between the wait for room and the write.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(StreamFailure::Closed(format!("write failed: {e}"))),
                }
            }
            if let Some(pacer) = &mut self.pacer {
                pacer.wait_for(chunk.len());
            }
        }
        Ok(())
    }

    fn discard_input(&mut self) -> Result<(), StreamFailure> {
        self.port
            .clear(ClearBuffer::Input)
            .map_err(|e| StreamFailure::Io(e.into()))
    }
}

/// Adds the likely cause and what to do to two open errors that do not explain themselves.
///
/// A port that another process holds fails with EBUSY, because serialport opens ports with
/// TIOCEXCL, or as root with a failed exclusive flock. A path that is not a terminal fails with
/// ENOTTY ("Not a typewriter").
fn explain_open_error(error: io::Error) -> io::Error {
    let text = error.to_string();
    let hint = if error.raw_os_error() == Some(libc::EBUSY)
        || text.contains("exclusive lock")
        || text.contains("resource busy")
    {
        "Another program, such as a running leap, has the port open: wait for it to exit or stop it, then try again"
    } else if error.raw_os_error() == Some(libc::ENOTTY) || text.contains("Not a typewriter") {
        "The path is not a serial port or pseudo-terminal: give the device's port, such as /dev/ttyUSB1 or the path that leap serve prints"
    } else {
        return error;
    };
    io::Error::new(error.kind(), format!("{error}. {hint}"))
}

/// Sets O_NONBLOCK on the port's descriptor. Reads and writes still wait up to the port's
/// timeout for data or room first, so only a write larger than the free buffer changes. It
/// returns a partial count instead of blocking.
fn set_nonblocking(port: &TTYPort) -> io::Result<()> {
    use std::os::fd::AsRawFd;

    let fd = port.as_raw_fd();
    // SAFETY: `port` keeps `fd` open during both calls, and F_GETFL and F_SETFL only read and
    // set the descriptor's status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Frames over a serial port at a fixed baud rate, 8 data bits, no parity, 1 stop bit and no
/// flow control.
pub struct SerialTransport {
    framed: FramedStream<SerialStream>,
}

impl SerialTransport {
    /// Opens the serial port at `path` (such as /dev/ttyUSB1) at `baud`.
    pub fn open(path: &str, baud: u32) -> Result<SerialTransport, TransportError> {
        let endpoint = format!("serial port {path}");
        let opening = |source: io::Error| TransportError::Io {
            endpoint: endpoint.clone(),
            action: "opening",
            source,
        };
        let port = serialport::new(path, baud)
            .timeout(Duration::from_millis(100))
            .open_native()
            .map_err(|e| opening(explain_open_error(e.into())))?;
        SerialTransport::from_port(port, baud).map_err(opening)
    }

    /// Wraps a port that is already open, such as one end of [`pty_pair`], and makes its
    /// descriptor non-blocking (see `SerialStream::write_bytes`).
    pub fn from_port(port: TTYPort, baud: u32) -> io::Result<SerialTransport> {
        set_nonblocking(&port)?;
        let endpoint = match port.name() {
            Some(name) => format!("serial port {name}"),
            None => "serial port (unnamed pseudo-terminal)".to_string(),
        };
        Ok(SerialTransport {
            framed: FramedStream::new(
                SerialStream {
                    port,
                    baud,
                    pacer: None,
                },
                endpoint,
            ),
        })
    }

    /// Limits writes to the baud rate's byte rate. Pseudo-terminals carry bytes as fast as the
    /// processes move them, so this emulates a UART for benchmarks.
    pub fn emulate_baud(mut self, on: bool) -> SerialTransport {
        let baud = self.framed.stream.baud;
        self.framed.stream.pacer = on.then(|| Pacer::new(baud));
        self
    }

    pub fn baud(&self) -> u32 {
        self.framed.stream.baud
    }
}

impl Transport for SerialTransport {
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

    fn wire_time(&self, bytes: usize) -> Duration {
        uart_time(bytes, self.baud())
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        self.framed.discard_input()
    }
}

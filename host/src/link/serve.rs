//! The device side of a byte stream: a device replying to requests.

use std::io::{self, Read, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use leap_model::protocol::{SoftwareDevice, MAX_FRAME_LEN};

use super::stream::ListeningClock;

/// A device that replies to requests on a byte stream: the software device, or the simulated
/// board (`leap serve --device verilator`).
pub trait ByteDevice: Send {
    /// Takes `bytes` received at `now` and returns the encoded replies that are complete.
    fn receive(&mut self, bytes: &[u8], now: Instant) -> Vec<u8>;

    /// Lets the device cut off a partly received frame once its inter-byte timeout has passed
    /// at `now`, and returns any replies that follow.
    fn poll(&mut self, now: Instant) -> Vec<u8>;
}

impl<D: ByteDevice + ?Sized> ByteDevice for Box<D> {
    fn receive(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        (**self).receive(bytes, now)
    }

    fn poll(&mut self, now: Instant) -> Vec<u8> {
        (**self).poll(now)
    }
}

impl ByteDevice for SoftwareDevice {
    fn receive(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        SoftwareDevice::receive(self, bytes, now)
    }

    fn poll(&mut self, now: Instant) -> Vec<u8> {
        SoftwareDevice::poll(self, now)
    }
}

/// Serves `device` on a byte stream: decodes requests from `input` and writes the replies to `output`,
/// until `input` ends or the other end goes away. Returns `Ok` then, and an error for any
/// other I/O failure.
///
/// A read that times out, as on a serial port with a read timeout, lets the device cut off a
/// frame whose sender stopped. On a blocking stream the device does that when the next byte
/// arrives.
pub fn serve<D: ByteDevice + ?Sized, R: Read, W: Write>(
    device: &mut D,
    input: R,
    output: W,
) -> io::Result<()> {
    let mut respond = |bytes: Option<&[u8]>, now: Instant| match bytes {
        Some(bytes) => device.receive(bytes, now),
        None => device.poll(now),
    };
    serve_with(&mut respond, input, output)
}

/// Serves a device that several streams share, as [`serve`] does, but holds the lock only while
/// the device handles one chunk of received bytes.
///
/// The device has one frame decoder, so frames that two streams send at the same time can
/// damage each other, as they would on a shared wire. A write that times out ends the loop with
/// an error of kind `TimedOut` or `WouldBlock` (sockets report the latter): the other end stopped
/// reading.
pub fn serve_shared<D: ByteDevice + ?Sized, R: Read, W: Write>(
    device: &Mutex<D>,
    input: R,
    output: W,
) -> io::Result<()> {
    let mut respond = |bytes: Option<&[u8]>, now: Instant| {
        let mut device = device.lock().unwrap_or_else(PoisonError::into_inner);
        match bytes {
            Some(bytes) => device.receive(bytes, now),
            None => device.poll(now),
        }
    };
    serve_with(&mut respond, input, output)
}

/// Runs the loop of [`serve`]. `respond(Some(bytes), now)` handles received bytes and
/// `respond(None, now)` a read that timed out, and both return the encoded replies.
///
/// The device's clock runs only while the loop waits in a read. So the time the device spends
/// computing or writing a long reply never counts as a gap between two bytes of a request.
fn serve_with<F, R, W>(respond: &mut F, mut input: R, mut output: W) -> io::Result<()>
where
    F: FnMut(Option<&[u8]>, Instant) -> Vec<u8>,
    R: Read,
    W: Write,
{
    let mut buffer = vec![0u8; MAX_FRAME_LEN];
    let mut clock = ListeningClock::new();
    loop {
        clock.resume();
        let read = input.read(&mut buffer);
        clock.pause();
        let replies = match read {
            Ok(0) => return Ok(()),
            Ok(count) => respond(Some(&buffer[..count]), clock.now()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                respond(None, clock.now())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if peer_gone(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if replies.is_empty() {
            continue;
        }
        match output.write_all(&replies).and_then(|()| output.flush()) {
            Ok(()) => {}
            Err(e) if peer_gone(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

fn peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

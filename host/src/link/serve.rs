//! The device side of a byte stream: the software device replying to requests.

use std::io::{self, Read, Write};
use std::time::Instant;

use leap_model::protocol::{SoftwareDevice, MAX_FRAME_LEN};

/// Serves `device` on a byte stream: decodes requests from `input` and writes the replies to `output`,
/// until `input` ends or the other end goes away. Returns `Ok` then, and an error for any
/// other I/O failure.
///
/// A read that times out, as on a serial port with a read timeout, lets the device cut off a
/// frame whose sender stopped. On a blocking stream the device does that when the next byte
/// arrives.
pub fn serve<R: Read, W: Write>(
    device: &mut SoftwareDevice,
    mut input: R,
    mut output: W,
) -> io::Result<()> {
    let mut buffer = vec![0u8; MAX_FRAME_LEN];
    loop {
        let replies = match input.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(count) => device.receive(&buffer[..count], Instant::now()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                device.poll(Instant::now())
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

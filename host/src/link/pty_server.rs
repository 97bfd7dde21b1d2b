//! The software device on a pseudo-terminal, for hosts that open it as a serial port.

use std::io;
use std::sync::Mutex;

use serialport::{ClearBuffer, SerialPort, TTYPort};
use tracing::warn;

use super::{pty_pair, serve_shared, ByteDevice};

/// A pseudo-terminal whose slave path clients open as a serial port, as
/// `leap train --port PATH` does.
pub struct PtyServer {
    master: TTYPort,
    /// The server's own descriptor of the slave side. Holding it keeps the master readable while
    /// no client has the port open: without it, reads on the master fail from the moment the last
    /// client closes the slave.
    slave: TTYPort,
    path: String,
    /// Opens and closes of the slave path, watched from before the path is known to clients.
    #[cfg(target_os = "linux")]
    clients: Option<client_watch::OpenWatch>,
}

impl PtyServer {
    /// Creates a new pseudo-terminal pair. On Linux, it also starts watching for clients, so
    /// that none is missed once the path is published.
    pub fn open() -> io::Result<PtyServer> {
        let (master, slave) = pty_pair().map_err(io::Error::from)?;
        let path = slave
            .name()
            .ok_or_else(|| io::Error::other("the new pseudo-terminal has no path"))?;
        #[cfg(target_os = "linux")]
        let clients = match client_watch::OpenWatch::new(&path) {
            Ok(watch) => Some(watch),
            Err(error) => {
                warn!(port = %path, "clients of the port are not logged, and a client that dies may leave it locked: {error}");
                None
            }
        };
        Ok(PtyServer {
            master,
            slave,
            path,
            #[cfg(target_os = "linux")]
            clients,
        })
    }

    /// Returns the path that clients open, such as /dev/pts/5.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Serves `device` until an I/O error stops it, and returns that error.
    ///
    /// Replies that no client reads, because the client died with requests outstanding, are
    /// discarded. On Linux, a thread logs clients that open or close the port and releases the
    /// port after each close (see [`release_port`]).
    pub fn run(self, device: &Mutex<dyn ByteDevice>) -> io::Error {
        #[cfg(target_os = "linux")]
        if let Some(clients) = self.clients {
            let started = self
                .slave
                .try_clone_native()
                .map_err(io::Error::from)
                .and_then(|slave| clients.start(&self.path, slave));
            if let Err(error) = started {
                warn!(port = %self.path, "clients of the port are not logged, and a client that dies may leave it locked: {error}");
            }
        }

        let mut reader = match self.master.try_clone_native() {
            Ok(reader) => reader,
            Err(error) => return error.into(),
        };
        let mut writer = self.master;
        loop {
            match serve_shared(device, &mut reader, &mut writer) {
                // The server keeps the slave open, so the master never reaches end of file.
                Ok(()) => {
                    return io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("pseudo-terminal {} closed", self.path),
                    )
                }
                Err(error) if error.kind() == io::ErrorKind::TimedOut => {
                    warn!(port = %self.path, "discarding replies that no client reads: {error}");
                    if let Err(error) = self.slave.clear(ClearBuffer::Input) {
                        warn!(port = %self.path, "failed to discard unread replies: {error}");
                    }
                }
                Err(error) => return error,
            }
        }
    }
}

/// Prepares the port for the next client after a client closed it: discards replies that no
/// client read, and clears the exclusive-use flag (TIOCEXCL) that serial-port clients set.
///
/// A client clears that flag when it closes the port normally. A client that is killed leaves it
/// set, and then Linux rejects every later open of the port by a user without CAP_SYS_ADMIN with
/// EBUSY.
#[cfg(target_os = "linux")]
fn release_port(path: &str, slave: &TTYPort) {
    use std::os::fd::AsRawFd;

    // SAFETY: TIOCNXCL takes no argument, and `slave` keeps the descriptor open during the call.
    let result = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCNXCL) };
    if result != 0 {
        warn!(port = %path, "failed to clear the exclusive-use flag: {}", io::Error::last_os_error());
    }
    if let Err(error) = slave.clear(ClearBuffer::Input) {
        warn!(port = %path, "failed to discard unread replies: {error}");
    }
}

/// Logs clients that open and close a pseudo-terminal's slave, through inotify.
#[cfg(target_os = "linux")]
mod client_watch {
    use std::ffi::CString;
    use std::fs::File;
    use std::io::{self, Read};
    use std::os::fd::FromRawFd;
    use std::thread;

    use serialport::TTYPort;
    use tracing::{info, warn};

    use super::release_port;

    /// Bytes of `struct inotify_event` before its name.
    const EVENT_HEADER_LEN: usize = 16;

    /// An inotify descriptor that reports opens and closes of one path. Opens through
    /// descriptors that existed before it, such as the server's own slave descriptor, are not
    /// reported.
    pub(super) struct OpenWatch {
        events: File,
    }

    impl OpenWatch {
        pub(super) fn new(path: &str) -> io::Result<OpenWatch> {
            let c_path = CString::new(path).map_err(io::Error::other)?;
            // SAFETY: inotify_init1 takes only flags and returns a new descriptor or -1.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` is a new descriptor that nothing else owns; the File closes it.
            let events = unsafe { File::from_raw_fd(fd) };
            // SAFETY: `c_path` is a NUL-terminated string that lives until the call returns.
            let watch = unsafe {
                libc::inotify_add_watch(fd, c_path.as_ptr(), libc::IN_OPEN | libc::IN_CLOSE)
            };
            if watch < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(OpenWatch { events })
        }

        /// Starts a thread that logs each open and close of `path` and calls [`release_port`]
        /// with `slave` after a client closed it.
        pub(super) fn start(self, path: &str, slave: TTYPort) -> io::Result<()> {
            let path = path.to_string();
            thread::Builder::new()
                .name("leap-pty-clients".into())
                .spawn(move || self.log_clients(&path, &slave))?;
            Ok(())
        }

        /// Logs opens and closes until reading events fails or the path is removed.
        ///
        /// Inotify merges identical events that arrive before the previous one was read, so two
        /// clients that open (or close) the port at nearly the same time give one log line. The
        /// port is therefore released after every close rather than when a count of clients
        /// reaches zero. Serial-port clients open the port in exclusive mode, so a second client
        /// of a user without CAP_SYS_ADMIN cannot overlap the first.
        fn log_clients(mut self, path: &str, slave: &TTYPort) {
            loop {
                let masks = match self.read_masks() {
                    Ok(masks) => masks,
                    Err(error) => {
                        warn!(port = %path, "stopped logging clients: {error}");
                        return;
                    }
                };
                let mut events = Vec::new();
                let mut removed = false;
                for mask in masks {
                    if mask & libc::IN_OPEN != 0 {
                        events.push("client connected");
                    }
                    if mask & libc::IN_CLOSE != 0 {
                        events.push("client disconnected");
                    }
                    if mask & libc::IN_Q_OVERFLOW != 0 {
                        warn!(port = %path, "missed some opens and closes of the port");
                    }
                    removed |= mask & libc::IN_IGNORED != 0;
                }
                // A client that opened after the last close in this batch keeps its replies.
                // The port is released before the batch is logged, so a reader of "client
                // disconnected" in the log finds the port ready for the next client.
                if events.last() == Some(&"client disconnected") {
                    release_port(path, slave);
                }
                for event in events {
                    info!(port = %path, "{event}");
                }
                if removed {
                    warn!(port = %path, "stopped logging clients: the port was removed");
                    return;
                }
            }
        }

        /// Waits for events and returns their masks.
        fn read_masks(&mut self) -> io::Result<Vec<u32>> {
            // Room for many events: a watch on a file reports no names.
            let mut buffer = [0u8; 4096];
            let count = loop {
                match self.events.read(&mut buffer) {
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            let field = |offset: usize| {
                u32::from_ne_bytes(buffer[offset..offset + 4].try_into().expect("4 bytes"))
            };
            let mut masks = Vec::new();
            let mut offset = 0;
            while offset + EVENT_HEADER_LEN <= count {
                masks.push(field(offset + 4));
                offset += EVENT_HEADER_LEN + field(offset + 12) as usize;
            }
            Ok(masks)
        }
    }
}

//! The software device on a TCP listener, serving one client after another.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use leap_model::protocol::INTER_BYTE_TIMEOUT;
use tracing::{debug, info, warn};

use super::{serve_shared, ByteDevice};

/// Maximum time a client may leave replies unread before the server drops it, so that a stopped
/// client does not hold up the clients waiting after it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP listener on a loopback address that serves the software device.
pub struct TcpServer {
    listener: TcpListener,
    address: SocketAddr,
}

impl TcpServer {
    /// Listens on `address`; port 0 picks a free port. The address must be a loopback address,
    /// because the protocol has no authentication: any process that reaches the port controls the device.
    pub fn bind(address: SocketAddr) -> io::Result<TcpServer> {
        if !address.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{address} is not a loopback address. The link protocol has no authentication, \
                     so the server listens only on this machine: use 127.0.0.1:PORT or [::1]:PORT."
                ),
            ));
        }
        let listener = TcpListener::bind(address)?;
        let address = listener.local_addr()?;
        Ok(TcpServer { listener, address })
    }

    /// Returns the bound address, with the port that port 0 picked.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Accepts clients one after another and serves `device` to each until it disconnects.
    /// Returns only the error that stops accepting.
    pub fn run(self, device: &Mutex<dyn ByteDevice>) -> io::Error {
        loop {
            let (socket, peer) = match self.listener.accept() {
                Ok(client) => client,
                // A client that gave up before its connection was accepted.
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    debug!(address = %self.address, "accept failed, accepting again: {error}");
                    continue;
                }
                Err(error) => return error,
            };
            info!(%peer, address = %self.address, "client connected");
            match serve_client(socket, device) {
                Ok(()) => info!(%peer, "client disconnected"),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    warn!(%peer, "dropped the client: it left replies unread for {} s", WRITE_TIMEOUT.as_secs());
                }
                Err(error) => warn!(%peer, "dropped the client after an I/O error: {error}"),
            }
        }
    }
}

fn serve_client(socket: TcpStream, device: &Mutex<dyn ByteDevice>) -> io::Result<()> {
    socket.set_nodelay(true)?;
    // Reads wake up at least this often, so the device cuts off a frame whose sender stopped.
    socket.set_read_timeout(Some(INTER_BYTE_TIMEOUT))?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let reader = socket.try_clone()?;
    serve_shared(device, reader, &socket)
}

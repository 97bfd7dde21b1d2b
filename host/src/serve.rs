//! `leap serve`: the software device on a pseudo-terminal or a TCP port.

use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use anyhow::{anyhow, Context};
use leap_model::protocol::SoftwareDevice;
use leap_model::Config;
use tracing::{info, warn};

use crate::cli::ServeArgs;
use crate::link::{PtyServer, TcpServer};
use crate::train::load_config;

/// Runs `leap serve`: prints each place it serves on to stdout, then serves until killed.
/// Returns only the error that stops one of the servers.
///
/// With both --pty and --tcp, both reach the same device, so its state carries over from a
/// client on one to a client on the other.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let (config, source) = match &args.config {
        Some(path) => (
            load_config(path)?,
            format!("configuration file {}", path.display()),
        ),
        None => (Config::default(), "the default configuration".to_string()),
    };
    let mut device = SoftwareDevice::new(&config)
        .with_context(|| format!("{source} cannot run on the software device"))?;
    if let Some(max_payload) = args.max_payload {
        device
            .set_max_payload(max_payload)
            .map_err(|reason| {
                anyhow!("--max-payload {max_payload} is invalid: {reason}. Use a larger --max-payload or a network with fewer inputs, outputs or layers.")
            })?;
    }
    let identity = device.identity();
    let activations: Vec<&str> = identity.activations.iter().map(|a| a.name()).collect();
    info!(
        "software device for network {:?} ({}) from {source}, generator hash 0x{:016X}",
        identity.layers,
        activations.join(", "),
        identity.generator_hash
    );
    let device = Arc::new(Mutex::new(device));

    // Both servers are set up before either is announced, so a failure leaves nothing served.
    let pty = if args.pty || args.tcp.is_none() {
        Some(PtyServer::open().context("failed to create a pseudo-terminal")?)
    } else {
        None
    };
    let tcp = match args.tcp {
        Some(address) => Some(
            TcpServer::bind(address)
                .with_context(|| format!("failed to listen on TCP {address}"))?,
        ),
        None => None,
    };

    // Each server thread sends the error that stopped it, and the first one ends the command.
    let (stopped, first_stop) = mpsc::channel::<anyhow::Error>();
    if let Some(server) = pty {
        let path = server.path().to_string();
        announce(&format!(
            "serving software device on {path} (connect with --port {path})"
        ));
        let (device, stopped) = (Arc::clone(&device), stopped.clone());
        thread::Builder::new()
            .name("leap-serve-pty".into())
            .spawn(move || {
                let error = server.run(&device);
                let _ = stopped.send(anyhow!(error).context(format!("serving on {path} failed")));
            })
            .context("failed to start the pseudo-terminal server thread")?;
    }
    if let Some(server) = tcp {
        let bound = server.local_addr();
        announce(&format!(
            "serving software device on tcp:{bound} (connect with --link tcp:{bound})"
        ));
        let (device, stopped) = (Arc::clone(&device), stopped.clone());
        thread::Builder::new()
            .name("leap-serve-tcp".into())
            .spawn(move || {
                let error = server.run(&device);
                let _ =
                    stopped.send(anyhow!(error).context(format!("serving on TCP {bound} failed")));
            })
            .context("failed to start the TCP server thread")?;
    }
    drop(stopped);

    match first_stop.recv() {
        Ok(error) => Err(error),
        Err(_) => Err(anyhow!(
            "a server thread stopped without reporting an error"
        )),
    }
}

/// Prints where the device is served. A closed stdout, as after `leap serve | head -1`, does not
/// stop the server. The failed write is logged with the line, and the server keeps serving.
fn announce(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        warn!("failed to print to stdout ({error}), but the server keeps running: {line}");
    }
}

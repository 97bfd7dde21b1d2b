//! `leap serve`: the software device or the simulated board on a pseudo-terminal or a TCP port.

use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use anyhow::{anyhow, Context};
use leap_model::Config;
use tracing::{info, warn};

use crate::cli::ServeArgs;
use crate::link::{ByteDevice, PtyServer, TcpServer};
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
    let kind = args.device;
    let device = kind
        .build(&config, args.max_payload)
        .with_context(|| format!("{source} cannot run on the {}", kind.name()))?;
    let activations: Vec<&str> = config
        .network
        .activations
        .iter()
        .map(|a| a.name())
        .collect();
    info!(
        "{} for network {:?} ({}) from {source}",
        kind.name(),
        config.network.layers,
        activations.join(", "),
    );
    let device: Arc<Mutex<dyn ByteDevice>> = Arc::new(Mutex::new(device));

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
            "serving {} on {path} (connect with --port {path})",
            kind.name()
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
            "serving {} on tcp:{bound} (connect with --link tcp:{bound})",
            kind.name()
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

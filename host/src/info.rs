//! `leap info`: the identity and counters of a device behind a link.

use anyhow::{bail, Context};
use leap_model::config::ErrorSource;
use leap_model::protocol::{Counters, Identity, Reply, Request};

use crate::cli::InfoArgs;
use crate::devices::CONNECT_TIMEOUT;
use crate::link::{check_device_fits, Link};
use crate::train::load_config;

/// Runs `leap info`: connects, sends identify and read counters, and prints both replies.
pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let Some(spec) = args.link.link_spec() else {
        bail!("leap info needs the device: give --port PATH or --link SPEC");
    };
    let config = match &args.config {
        Some(path) => Some(load_config(path)?),
        None => None,
    };

    let transport = spec
        .open(CONNECT_TIMEOUT)
        .with_context(|| format!("failed to connect to the device at {spec}"))?;
    let mut link = Link::new(transport, args.link.options());
    link.discard_input()?;
    let identity = match link.request(&Request::Identify)? {
        Reply::Identity(identity) => identity,
        other => bail!(
            "{} sent an unexpected reply to identify: {other:?}",
            link.endpoint()
        ),
    };
    let counters = match link.request(&Request::ReadCounters)? {
        Reply::Counters(counters) => counters,
        other => bail!(
            "{} sent an unexpected reply to read counters: {other:?}",
            link.endpoint()
        ),
    };

    println!("device at {} ({spec})", link.endpoint());
    print_identity(&identity);
    print_counters(&counters);

    if let (Some(config), Some(path)) = (config, &args.config) {
        match check_device_fits(&identity, &config) {
            Ok(()) => println!(
                "configuration {}: the device runs its network",
                path.display()
            ),
            Err(reason) => bail!(
                "the device cannot run configuration file {}: {reason}",
                path.display()
            ),
        }
    }
    Ok(())
}

fn print_identity(identity: &Identity) {
    let layers: Vec<String> = identity.layers.iter().map(u32::to_string).collect();
    let activations: Vec<&str> = identity.activations.iter().map(|a| a.name()).collect();
    let f = &identity.formats;
    let error_source = match identity.error_source {
        ErrorSource::TauM => "tau_m",
        ErrorSource::TauR => "tau_r",
    };
    println!("protocol version:  {}", identity.protocol_version);
    println!(
        "network:           {} with activations {}",
        layers.join("-"),
        activations.join(", ")
    );
    println!(
        "formats:           act_frac {}, weight_bits {}, weight_frac {}, pot_bits {}, pot_frac {}, msg_frac {}, upd_frac {}",
        f.act_frac, f.weight_bits, f.weight_frac, f.pot_bits, f.pot_frac, f.msg_frac, f.upd_frac
    );
    println!("error source:      {error_source}");
    println!("lanes:             {} (synapses per clock)", identity.lanes);
    println!(
        "queue depth:       {} (queue-samples frames held at most)",
        identity.queue_depth
    );
    println!("maximum payload:   {} bytes", identity.max_payload);
    println!(
        "memories:          {} weight words, {} words per neuron-state memory, {} input-buffer words",
        identity.weight_words, identity.neuron_words, identity.input_words
    );
    println!("generator hash:    0x{:016X}", identity.generator_hash);
}

fn print_counters(counters: &Counters) {
    let s = &counters.saturations;
    let l = &counters.link;
    println!("counters:");
    println!("  clock cycles:    {}", counters.cycles);
    println!("  time steps:      {}", counters.steps);
    println!(
        "  saturations:     input {}, potential {}, rate {}, message {}, update {}, weight {}",
        s.input, s.potential, s.rate, s.message, s.update, s.weight
    );
    println!(
        "  link errors:     crc {}, framing {}, length {}, timeout {}, unknown opcode {}",
        l.crc, l.framing, l.length, l.timeout, l.unknown_opcode
    );
    println!("  replayed replies: {}", counters.replays);
}

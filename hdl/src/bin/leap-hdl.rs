//! Emits the Verilog of LEAP blocks and boards: `leap-hdl --out DIR [--design NAME]...
//! [--config FILE] [--lanes P] [--clock-hz F --baud B --max-payload N]`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use leap_hdl::board::BoardConfig;
use leap_hdl::engine::EngineParams;
use leap_hdl::link::LinkParams;
use leap_hdl::{emit, emit_board, emit_engine, emit_executor, emit_link, Design};
use leap_model::Config;

/// Emit the Verilog of LEAP blocks, one file per design (`DIR/NAME.v`, top module `top`).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Directory to write the Verilog files to; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Design to emit: lane, neuron, engine, decoder, encoder, uart, or a board design for the
    /// network of --config: executor (the command executor with the engine), board_bytes (the
    /// board with byte ports) or board (the board with UART pins); repeat for several.
    /// Default: lane, neuron, engine, decoder, encoder and uart.
    #[arg(long = "design")]
    designs: Vec<String>,
    /// Configuration file (TOML) whose `[fixed]` formats set the widths and whose network the
    /// board designs run. Default: the default configuration.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Synapse lanes of the engine (weights per clock), 1 to 16.
    #[arg(long, default_value_t = EngineParams::default().lanes)]
    lanes: usize,
    /// Board clock of the link designs in Hz.
    #[arg(long, default_value_t = 12_000_000)]
    clock_hz: u64,
    /// UART baud rate of the link designs.
    #[arg(long, default_value_t = 115_200)]
    baud: u64,
    /// Largest frame payload in bytes that the link designs accept, 1 to 4096.
    #[arg(long, default_value_t = leap_model::protocol::MAX_PAYLOAD)]
    max_payload: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let formats = config.fixed;
    if !(1..=16).contains(&args.lanes) {
        bail!("--lanes {} is invalid: use 1 to 16", args.lanes);
    }
    let link = LinkParams::new(args.clock_hz, args.baud, args.max_payload).with_context(|| {
        format!(
            "invalid --clock-hz {}, --baud {} or --max-payload {}",
            args.clock_hz, args.baud, args.max_payload
        )
    })?;
    let mut board_designs = Vec::new();
    let designs = if args.designs.is_empty() {
        Design::ALL.into_iter().chain(Design::LINK).collect()
    } else {
        let mut designs = Vec::new();
        for name in &args.designs {
            match Design::from_name(name) {
                Some(d) => designs.push(d),
                None if BOARD_DESIGNS.contains(&name.as_str()) => board_designs.push(name.clone()),
                None => {
                    let known: Vec<_> = Design::ALL
                        .iter()
                        .chain(&Design::LINK)
                        .map(|d| d.name())
                        .chain(BOARD_DESIGNS)
                        .collect();
                    bail!("unknown design `{name}`: use one of {}", known.join(", "));
                }
            }
        }
        designs
    };
    let board = BoardConfig {
        config,
        engine: EngineParams {
            lanes: args.lanes,
            ..EngineParams::default()
        },
        max_payload: args.max_payload,
    };
    if !board_designs.is_empty() {
        if let Err(e) = board.layers() {
            let source = match &args.config {
                Some(path) => path.display().to_string(),
                None => "the default configuration".into(),
            };
            bail!("the network of {source} does not fit the engine: {e}");
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for design in designs {
        let path = args.out.join(format!("{}.v", design.name()));
        let emitted = match design {
            Design::Engine => emit_engine(
                &formats,
                &EngineParams {
                    lanes: args.lanes,
                    ..EngineParams::default()
                },
            ),
            Design::Decoder | Design::Encoder | Design::Uart => emit_link(design, &link),
            _ => emit(design, &formats),
        };
        std::fs::write(&path, emitted.verilog)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    for name in board_designs {
        let path = args.out.join(format!("{name}.v"));
        let emitted = match name.as_str() {
            "executor" => emit_executor(&board),
            "board" => emit_board(&board, &link, true),
            _ => emit_board(&board, &link, false),
        };
        std::fs::write(&path, emitted.verilog)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// Designs that need a network: the command executor and the board top levels.
const BOARD_DESIGNS: [&str; 3] = ["executor", "board_bytes", "board"];

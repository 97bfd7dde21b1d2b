//! Emits the Verilog of LEAP blocks: `leap-hdl --out DIR [--design NAME]... [--config FILE] [--lanes P]`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use leap_hdl::board::BoardConfig;
use leap_hdl::engine::EngineParams;
use leap_hdl::{emit, emit_engine, emit_executor, Design};
use leap_model::Config;

/// Emit the Verilog of LEAP blocks, one file per design (`DIR/NAME.v`, top module `top`).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Directory to write the Verilog files to; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Design to emit: lane, neuron, engine, or executor (the command executor with the engine,
    /// for the network of --config); repeat for several. Default: lane, neuron and engine.
    #[arg(long = "design")]
    designs: Vec<String>,
    /// Configuration file (TOML) whose `[fixed]` formats set the widths. Default: the default formats.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Synapse lanes of the engine (weights per clock), 1 to 16.
    #[arg(long, default_value_t = EngineParams::default().lanes)]
    lanes: usize,
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
    let engine = EngineParams {
        lanes: args.lanes,
        ..EngineParams::default()
    };
    let mut board_designs = Vec::new();
    let designs = if args.designs.is_empty() {
        Design::ALL.to_vec()
    } else {
        let mut designs = Vec::new();
        for name in &args.designs {
            match Design::from_name(name) {
                Some(d) => designs.push(d),
                None if name == "executor" => board_designs.push(name.clone()),
                None => {
                    let mut known: Vec<_> = Design::ALL.iter().map(|d| d.name()).collect();
                    known.push("executor");
                    bail!("unknown design `{name}`: use one of {}", known.join(", "));
                }
            }
        }
        designs
    };
    let board = BoardConfig {
        config,
        engine,
        max_payload: leap_model::protocol::MAX_PAYLOAD,
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
            _ => emit(design, &formats),
        };
        std::fs::write(&path, emitted.verilog)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    for name in board_designs {
        let path = args.out.join(format!("{name}.v"));
        let emitted = emit_executor(&board);
        std::fs::write(&path, emitted.verilog)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

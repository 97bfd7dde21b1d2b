//! Emits the Verilog of LEAP blocks and boards: `leap-hdl --out DIR [--design NAME]...
//! [--config FILE] [--lanes P] [--clock-hz F --baud B --max-payload N]`, or the top level of a
//! board of the board table: `leap-hdl --out DIR --board NAME [--design core|loopback]
//! [--boards FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use leap_hdl::board::BoardConfig;
use leap_hdl::boards::{self, BoardDesign, BoardTable};
use leap_hdl::engine::{EngineParams, MAX_LANES};
use leap_hdl::link::LinkParams;
use leap_hdl::{emit, emit_board, emit_board_axis, emit_engine, emit_executor, emit_link, Design};
use leap_model::protocol::{MAX_PAYLOAD, MIN_MAX_PAYLOAD};
use leap_model::Config;

/// Emit the Verilog of LEAP blocks, one file per design (`DIR/NAME.v`, top module `top`).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Directory to write the Verilog files to; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Design to emit, repeated for several: lane, neuron, engine, decoder, encoder or uart.
    /// The board designs run the network of --config: executor (the command executor with the
    /// engine), board_bytes (byte ports), board (UART pins) and board_axis (64-bit AXI-Stream
    /// ports for the XDMA IP). Default: lane, neuron, engine, decoder, encoder and uart.
    /// With --board: core (the LEAP board core, the default) or loopback (the UART loopback
    /// bring-up design, which tests the pins, PLL and reset before the core).
    #[arg(long = "design")]
    designs: Vec<String>,
    /// Configuration file (TOML) whose `[fixed]` formats set the widths and whose network the
    /// board designs run. Default: the default configuration.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Synapse lanes of the engine (weights per clock), 1 to 128.
    #[arg(long, default_value_t = EngineParams::default().lanes)]
    lanes: usize,
    /// Board clock of the link designs in Hz.
    #[arg(long, default_value_t = 12_000_000)]
    clock_hz: u64,
    /// UART baud rate of the link designs.
    #[arg(long, default_value_t = 115_200)]
    baud: u64,
    /// Largest frame payload in bytes that the link designs accept, 128 to 4096.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = MAX_PAYLOAD,
        value_parser = parse_max_payload
    )]
    max_payload: usize,
    /// Emit the top level of this board of the board table (`DIR/board_<family>.v`) with the
    /// board core, or the --design given, behind its UART pins.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["config", "lanes"])]
    board: Option<String>,
    /// Board table to read --board from. Default: constraints/boards.toml of the LEAP sources.
    #[arg(long, value_name = "FILE", requires = "board")]
    boards: Option<PathBuf>,
}

/// Writes the top level of board `name` and prints its path and derived clocking.
fn emit_board_top(args: &Args, name: &str) -> Result<()> {
    let table_path = args.boards.clone().unwrap_or_else(BoardTable::default_path);
    let table = BoardTable::load(&table_path)?;
    let design = match args.designs.as_slice() {
        [] => BoardDesign::Core,
        [design] => BoardDesign::from_name(design)?,
        designs => bail!(
            "--board takes one --design (core or loopback), but {} were given: {}",
            designs.len(),
            designs.join(", ")
        ),
    };
    let plan = table.board(name)?.plan()?;
    let emitted = boards::emit_board(&plan, design)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let path = args.out.join(format!("{}.v", boards::top_name(&plan)));
    std::fs::write(&path, emitted.verilog)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    eprintln!(
        "{name}: {}; engine clock {:.4} MHz ({:?}), {} clocks per UART bit ({:.0} baud), reset held {} clocks after lock",
        design.description(), plan.engine_mhz, plan.pll, plan.clocks_per_bit, plan.actual_baud, plan.reset_hold_clocks
    );
    Ok(())
}

/// Parses `--max-payload`, a number of bytes in the range that the board table documents and
/// the link protocol allows.
fn parse_max_payload(text: &str) -> Result<usize, String> {
    let range = MIN_MAX_PAYLOAD..=MAX_PAYLOAD;
    match text.parse::<usize>() {
        Ok(bytes) if range.contains(&bytes) => Ok(bytes),
        _ => Err(format!(
            "\"{text}\" is not a valid maximum payload: use a number of bytes from \
             {MIN_MAX_PAYLOAD} to {MAX_PAYLOAD}"
        )),
    }
}

/// Emits the designs, and on failure prints the error with its causes and exits with 1. A
/// failure here is a user error, so it prints no backtrace, whatever RUST_BACKTRACE is set to.
fn main() -> ExitCode {
    // Usage errors and --help exit here, with clap's message and exit code 2 (0 for --help).
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if let Some(name) = &args.board {
        return emit_board_top(args, name);
    }
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let formats = config.fixed;
    if !(1..=MAX_LANES).contains(&args.lanes) {
        bail!("--lanes {} is invalid: use 1 to {MAX_LANES}", args.lanes);
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
            "board_axis" => emit_board_axis(&board, &link),
            _ => emit_board(&board, &link, false),
        };
        std::fs::write(&path, emitted.verilog)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// Designs that need a network: the command executor and the board top levels.
const BOARD_DESIGNS: [&str; 4] = ["executor", "board_bytes", "board", "board_axis"];

//! `leap flash`: loads a bitstream into a board's FPGA with openFPGALoader or iceprog.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use leap_hdl::boards::{BoardTable, Family};
use tracing::{info, warn};

use crate::build::tools::{find_tool, Step};

/// The program that talks to the board's USB bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Programmer {
    /// openFPGALoader with the board table's `flash.openfpgaloader_board`.
    Openfpgaloader,
    /// icestorm's iceprog (iCE40 boards with an FTDI bridge only).
    Iceprog,
}

/// Options of `leap flash`: the board, the bitstream and the programmer.
#[derive(Clone, Debug)]
pub struct FlashOptions {
    pub board: String,
    pub table: PathBuf,
    /// Bitstream; default: the one `leap build` writes to `build/<board>/`.
    pub bitstream: Option<PathBuf>,
    pub programmer: Programmer,
    /// Write to the configuration flash instead of the FPGA's SRAM.
    pub to_flash: bool,
    /// Time after which the programmer is stopped, above zero.
    pub timeout: Duration,
}

/// Returns the bitstream `leap build --board NAME` writes with its default output directory.
pub fn default_bitstream(board: &str, family: Family) -> PathBuf {
    let file = match family {
        Family::Ice40 => "board.bin",
        Family::Ecp5 | Family::Xilinx7 => "board.bit",
    };
    Path::new("build").join(board).join(file)
}

/// Loads the bitstream. Fails with the programmer's own message and a hint when no board is found.
pub fn flash(options: &FlashOptions) -> Result<()> {
    if options.timeout.is_zero() {
        bail!("invalid flash timeout 0 s: the programmer would be stopped at once, so use a timeout above 0 s");
    }
    let table = BoardTable::load(&options.table)?;
    let board = table.board(&options.board)?;
    let bitstream = options
        .bitstream
        .clone()
        .unwrap_or_else(|| default_bitstream(&board.name, board.family));
    if !bitstream.is_file() {
        bail!(
            "bitstream {} not found; build it with `leap build --board {}` or pass --bitstream FILE",
            bitstream.display(),
            board.name
        );
    }

    let (tool, args) = match options.programmer {
        Programmer::Openfpgaloader => {
            let Some(flash) = &board.flash else {
                bail!(
                    "board {} has no flash.openfpgaloader_board in {}; add the name that \
                     `openFPGALoader --list-boards` lists",
                    board.name,
                    options.table.display()
                );
            };
            let mut args = vec!["-b".to_string(), flash.openfpgaloader_board.clone()];
            if options.to_flash {
                args.push("-f".into());
            }
            args.push(bitstream.display().to_string());
            ("openFPGALoader", args)
        }
        Programmer::Iceprog => {
            if board.family != Family::Ice40 {
                bail!("iceprog programs iCE40 boards only, and {} is {}; use --programmer openfpgaloader", board.name, board.family.name());
            }
            let mut args = Vec::new();
            if !options.to_flash {
                args.push("-S".to_string());
            }
            args.push(bitstream.display().to_string());
            ("iceprog", args)
        }
    };

    let program = find_tool(tool)?;
    info!("flashing {} with {} {}", board.name, tool, args.join(" "));
    let step = Step::start(&format!(
        "loading {} into {}",
        bitstream.display(),
        board.name
    ));
    let output = run_with_timeout(&program, &args, options.timeout)?;
    drop(step);
    match output {
        Outcome::Finished {
            success: true,
            text,
        } => {
            info!(
                "{tool} finished: {}",
                text.lines().last().unwrap_or("").trim()
            );
            Ok(())
        }
        Outcome::Finished {
            success: false,
            text,
        } => {
            warn!("{tool} failed on board {}", board.name);
            bail!(
                "{tool} failed:\n{}\nhint: check that the {} is plugged in over USB, that no other \
                 program holds its serial port, and that this user may open the USB device \
                 (udev rules, or run as root)",
                text.trim_end(),
                board.description
            )
        }
        Outcome::TimedOut { text } => bail!(
            "{tool} gave no result within {} s and was stopped. Its output:\n{}\nhint: unplug and \
             replug the board, then retry",
            options.timeout.as_secs_f64(),
            text.trim_end()
        ),
    }
}

enum Outcome {
    Finished { success: bool, text: String },
    TimedOut { text: String },
}

/// Runs `program` with no standard input and stops it after `timeout`.
fn run_with_timeout(program: &Path, args: &[String], timeout: Duration) -> Result<Outcome> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for the programmer")? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = out_reader.join().unwrap_or_default() + &err_reader.join().unwrap_or_default();
    Ok(match status {
        Some(status) => Outcome::Finished {
            success: status.success(),
            text,
        },
        None => Outcome::TimedOut { text },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_timeout_is_rejected() {
        let options = FlashOptions {
            board: "icebreaker".into(),
            table: BoardTable::default_path(),
            bitstream: None,
            programmer: Programmer::Openfpgaloader,
            to_flash: false,
            timeout: Duration::ZERO,
        };

        let message = flash(&options).unwrap_err().to_string();

        assert!(message.contains("invalid flash timeout 0 s"), "{message}");
        assert!(message.contains("above 0 s"), "{message}");
    }
}

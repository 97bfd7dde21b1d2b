//! Boards: the board table, PLLs, the power-on reset and the board top levels.
//!
//! A board top level (`board_<family>`, top module `top`) has the ports [`CLOCK_PORT`],
//! [`RX_PORT`] and [`TX_PORT`], which the constraint files in `constraints/` place on pins. Inside,
//! the family's PLL makes the engine clock from the oscillator, [`reset::PowerOnReset`] holds the
//! core in reset until the PLL has locked, and the core talks to the host over the UART pins. The
//! core is a [`BoardDesign`]: the LEAP board core, or a UART loopback for link bring-up.

pub mod constraints;
pub mod pll;
pub mod reset;
pub mod table;
pub mod top;

use std::fmt;

use leap_model::fixed::Constants;
use leap_model::protocol::EngineParameters;
use rust_hdl::prelude::*;

pub use table::{Board, BoardError, BoardPlan, BoardTable, Family, PllPlan};

use crate::{board, emit_block, Emitted};
use pll::{Ecp5Pll, Ice40Pll};
use top::{BoardTop, ClockSource, DirectClock, Loopback, UartCore};

/// Top-level port of the oscillator.
pub const CLOCK_PORT: &str = "clock_in";
/// Top-level port the FPGA receives UART data on.
pub const RX_PORT: &str = "rx";
/// Top-level port the FPGA sends UART data on.
pub const TX_PORT: &str = "tx";

/// The design behind a board's UART pins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BoardDesign {
    /// The LEAP board core: UART, frame decoder, command executor, engine and frame encoder,
    /// generated for the board table's network, formats, engine and maximum payload.
    #[default]
    Core,
    /// The link bring-up bitstream: a UART loopback that repeats `rx` on `tx`, which shows that
    /// the pins, the PLL lock and the reset release work before the core is loaded.
    Loopback,
}

impl BoardDesign {
    /// Every design, in the order help texts list them.
    pub const ALL: [BoardDesign; 2] = [BoardDesign::Core, BoardDesign::Loopback];

    /// Returns the name that `--design` takes.
    pub fn name(self) -> &'static str {
        match self {
            BoardDesign::Core => "core",
            BoardDesign::Loopback => "loopback",
        }
    }

    /// Looks up a design by its `--design` name.
    pub fn from_name(name: &str) -> Result<BoardDesign, BoardError> {
        BoardDesign::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .ok_or_else(|| {
                BoardError::new(format!(
                    "unknown board design `{name}`: use core (the LEAP board core) or loopback \
                     (the UART loopback for link bring-up)"
                ))
            })
    }

    /// Returns a one-line description for build summaries.
    pub fn description(self) -> &'static str {
        match self {
            BoardDesign::Core => {
                "LEAP board core (UART, frame decoder, command executor, engine, frame encoder)"
            }
            BoardDesign::Loopback => {
                "UART loopback (link bring-up, without the engine)"
            }
        }
    }
}

impl fmt::Display for BoardDesign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Returns the file stem of a board's top level: `board_<family>`.
pub fn top_name(plan: &BoardPlan) -> String {
    format!("board_{}", plan.board.family.name())
}

/// Checks that the board core can be generated for a planned board, beyond what the table's
/// validation checks: the command executor's address widths and the fixed-point constants.
pub fn check_core(plan: &BoardPlan) -> Result<(), BoardError> {
    let name = &plan.board.name;
    let fail = |reason: String| {
        BoardError::new(format!(
            "the board core cannot be generated for board {name}: {reason}. Change the engine \
             or network of boards.{name} in the board table, or build --design loopback"
        ))
    };
    let board = plan.board_config();
    board.layers().map_err(fail)?;
    Constants::from_config(&board.config, 1.0).map_err(|e| fail(e.to_string()))?;
    EngineParameters::from_config(&board.config, 1.0).map_err(|e| fail(e.to_string()))?;
    plan.link_params()
        .validate()
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

fn emit_top<P: ClockSource>(pll: P, plan: &BoardPlan, design: BoardDesign) -> Emitted {
    match design {
        BoardDesign::Core => {
            let core = board::Board::new(&plan.board_config(), &plan.link_params());
            emit_wrapped(pll, plan, core)
        }
        BoardDesign::Loopback => emit_wrapped(pll, plan, Loopback::default()),
    }
}

fn emit_wrapped<P: ClockSource, C: UartCore>(pll: P, plan: &BoardPlan, core: C) -> Emitted {
    emit_block(BoardTop::new(pll, plan.reset_hold_clocks, core), |b| {
        b.clock_in.connect();
        b.rx.connect();
    })
}

/// Emits the Verilog of a board's top level: its PLL, the power-on reset and `design`.
///
/// Fails when the board core cannot be generated for the board (see [`check_core`]).
pub fn emit_board(plan: &BoardPlan, design: BoardDesign) -> Result<Emitted, BoardError> {
    if design == BoardDesign::Core {
        check_core(plan)?;
    }
    Ok(match plan.pll {
        PllPlan::Ice40(settings) => emit_top(Ice40Pll::new(settings), plan, design),
        PllPlan::Ecp5(settings) => emit_top(Ecp5Pll::new(settings), plan, design),
        PllPlan::Direct => emit_top(DirectClock::default(), plan, design),
    })
}

/// Emits a board's top level for simulation: as [`emit_board`], but with [`DirectClock`] in place
/// of the vendor PLL, whose primitive has no simulation model here. The oscillator pin then
/// clocks the design at the planned engine clock's rate, and the PLL counts as locked from the
/// start, so the power-on reset still holds the core for the planned clocks.
pub fn emit_board_simulation(plan: &BoardPlan, design: BoardDesign) -> Result<Emitted, BoardError> {
    if design == BoardDesign::Core {
        check_core(plan)?;
    }
    Ok(emit_top(DirectClock::default(), plan, design))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str) -> BoardPlan {
        let table = BoardTable::load(&BoardTable::default_path()).unwrap();
        table.board(name).unwrap().plan().unwrap()
    }

    #[test]
    fn design_names_round_trip() {
        for design in BoardDesign::ALL {
            assert_eq!(BoardDesign::from_name(design.name()), Ok(design));
        }
        let error = BoardDesign::from_name("engine").unwrap_err().message;
        assert!(error.contains("unknown board design `engine`"), "{error}");
        assert!(error.contains("loopback"), "{error}");
    }

    #[test]
    fn core_top_contains_board_core() {
        let emitted = emit_board(&plan("ulx3s-12f"), BoardDesign::Core).unwrap();
        assert!(emitted.verilog.contains("EHXPLLL #("), "the vendor PLL");
        assert!(
            emitted.verilog.contains("core$idle"),
            "the board core's ports"
        );
        let loopback = emit_board(&plan("ulx3s-12f"), BoardDesign::Loopback).unwrap();
        assert!(
            !loopback.verilog.contains("core$idle"),
            "the loopback has no idle port"
        );
        assert!(emitted.verilog.len() > 10 * loopback.verilog.len());
    }

    #[test]
    fn simulation_top_has_no_vendor_pll() {
        let emitted = emit_board_simulation(&plan("ulx3s-12f"), BoardDesign::Loopback).unwrap();
        assert!(
            !emitted.verilog.contains("EHXPLLL"),
            "a vendor PLL in simulation"
        );
        let names: Vec<_> = emitted.ports.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [CLOCK_PORT, RX_PORT, TX_PORT]);
    }

    /// The 85F's 40 lanes take 64 weight banks, so its 2030 weight words per lane reach host
    /// addresses above 65,535.
    #[test]
    fn ulx3s_85f_core_generates() {
        let plan = plan("ulx3s-85f");
        let engine = plan.board_config().engine;
        assert!(engine.weight_words << engine.bank_bits() > 1 << 16);
        assert_eq!(check_core(&plan), Ok(()));
        let emitted = emit_board(&plan, BoardDesign::Core).unwrap();
        assert!(
            emitted.verilog.contains("core$idle"),
            "the board core's ports"
        );
    }

    #[test]
    fn core_rejects_banks_beyond_16_bit_words() {
        let mut plan = plan("ulx3s-85f");
        plan.board.engine.weight_words = 70_000;
        let error = check_core(&plan).unwrap_err().message;
        assert!(error.contains("board ulx3s-85f"), "{error}");
        assert!(error.contains("70000 weight words per lane"), "{error}");
        assert!(error.contains("use at most 65,535"), "{error}");
    }
}

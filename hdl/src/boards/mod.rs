//! Boards: the board table, PLLs, the power-on reset and the board top levels.
//!
//! A board top level (`board_<family>`, top module `top`) has the ports [`CLOCK_PORT`],
//! [`RX_PORT`] and [`TX_PORT`], which the constraint files in `constraints/` place on pins. Inside,
//! the family's PLL makes the engine clock from the oscillator, [`reset::PowerOnReset`] holds the
//! core in reset until the PLL has locked, and the core talks to the host over the UART pins.

pub mod constraints;
pub mod pll;
pub mod reset;
pub mod table;
pub mod top;

use rust_hdl::prelude::*;

pub use table::{Board, BoardError, BoardPlan, BoardTable, Family, PllPlan};

use crate::{emit_block, Emitted};
use pll::{Ecp5Pll, Ice40Pll};
use top::{BoardTop, ClockSource, DirectClock, Loopback, UartCore};

/// Top-level port of the oscillator.
pub const CLOCK_PORT: &str = "clock_in";
/// Top-level port the FPGA receives UART data on.
pub const RX_PORT: &str = "rx";
/// Top-level port the FPGA sends UART data on.
pub const TX_PORT: &str = "tx";

/// Description of the board top level's core, for build summaries.
pub const CORE_DESCRIPTION: &str =
    "UART loopback (board bring-up; the engine is not in this build)";

/// Returns the file stem of a board's top level: `board_<family>`.
pub fn top_name(plan: &BoardPlan) -> String {
    format!("board_{}", plan.board.family.name())
}

fn emit_top<P: ClockSource, C: UartCore>(pll: P, plan: &BoardPlan, core: C) -> Emitted {
    emit_block(BoardTop::new(pll, plan.reset_hold_clocks, core), |b| {
        b.clock_in.connect();
        b.rx.connect();
    })
}

/// Emits the Verilog of a board's top level: its PLL, the power-on reset and the UART core.
///
/// TODO: the core is the UART [`Loopback`] until the link's `board` core (UART, frame decoder,
/// command executor, engine and frame encoder) is available. That core takes
/// `plan.engine_params()`, `plan.clocks_per_bit` and `plan.timeout_clocks`.
pub fn emit_board(plan: &BoardPlan) -> Emitted {
    let core = Loopback::default();
    match plan.pll {
        PllPlan::Ice40(settings) => emit_top(Ice40Pll::new(settings), plan, core),
        PllPlan::Ecp5(settings) => emit_top(Ecp5Pll::new(settings), plan, core),
        PllPlan::Direct => emit_top(DirectClock::default(), plan, core),
    }
}

//! The board top level: a clock source (PLL), the power-on reset and a UART core.

use rust_hdl::prelude::*;

use super::pll::{Ecp5Pll, Ice40Pll};
use super::reset::PowerOnReset;
use crate::board::Board;

/// A block that makes the design clock from the board's oscillator.
///
/// Its ports must be named `reference` (in), `clock` and `locked` (out), because the board top
/// level's Verilog connects them by name.
pub trait ClockSource: Block {
    fn reference(&mut self) -> &mut Signal<In, Clock>;
    fn clock(&self) -> &Signal<Out, Clock>;
    fn locked(&self) -> &Signal<Out, Bit>;
}

/// The design behind the board's UART pins, clocked by the engine clock.
///
/// Its ports must be named `clock`, `reset`, `rx` (in) and `tx` (out), because the board top
/// level's Verilog connects them by name.
pub trait UartCore: Block {
    fn clock(&mut self) -> &mut Signal<In, Clock>;
    fn reset(&mut self) -> &mut Signal<In, Bit>;
    fn rx(&mut self) -> &mut Signal<In, Bit>;
    fn tx(&self) -> &Signal<Out, Bit>;
}

impl ClockSource for Ice40Pll {
    fn reference(&mut self) -> &mut Signal<In, Clock> {
        &mut self.reference
    }
    fn clock(&self) -> &Signal<Out, Clock> {
        &self.clock
    }
    fn locked(&self) -> &Signal<Out, Bit> {
        &self.locked
    }
}

impl ClockSource for Ecp5Pll {
    fn reference(&mut self) -> &mut Signal<In, Clock> {
        &mut self.reference
    }
    fn clock(&self) -> &Signal<Out, Clock> {
        &self.clock
    }
    fn locked(&self) -> &Signal<Out, Bit> {
        &self.locked
    }
}

/// The oscillator as the design clock, for boards built without a PLL; always locked.
#[derive(LogicBlock, Default)]
pub struct DirectClock {
    pub reference: Signal<In, Clock>,
    pub clock: Signal<Out, Clock>,
    pub locked: Signal<Out, Bit>,
}

impl Logic for DirectClock {
    #[hdl_gen]
    fn update(&mut self) {
        self.clock.next = self.reference.val();
        self.locked.next = true;
    }
}

impl ClockSource for DirectClock {
    fn reference(&mut self) -> &mut Signal<In, Clock> {
        &mut self.reference
    }
    fn clock(&self) -> &Signal<Out, Clock> {
        &self.clock
    }
    fn locked(&self) -> &Signal<Out, Bit> {
        &self.locked
    }
}

/// A UART loopback for board bring-up: `tx` repeats `rx` two clocks later, at any baud, and idles
/// high while in reset. A host that reads back what it sends has shown that the pins, the PLL lock
/// and the reset release work.
#[derive(LogicBlock, Default)]
pub struct Loopback {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rx: Signal<In, Bit>,
    pub tx: Signal<Out, Bit>,
    /// First synchroniser stage of `rx`; reset to 1 (line idle).
    rx_meta: DFF<Bit>,
    /// Second synchroniser stage of `rx`, driving `tx`; reset to 1 (line idle).
    rx_sync: DFF<Bit>,
}

impl Logic for Loopback {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, rx_meta, rx_sync);

        self.rx_meta.d.next = self.rx.val();
        self.rx_sync.d.next = self.rx_meta.q.val();
        if self.reset.val() {
            self.rx_meta.d.next = true;
            self.rx_sync.d.next = true;
        }

        self.tx.next = self.rx_sync.q.val();
    }
}

impl UartCore for Loopback {
    fn clock(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clock
    }
    fn reset(&mut self) -> &mut Signal<In, Bit> {
        &mut self.reset
    }
    fn rx(&mut self) -> &mut Signal<In, Bit> {
        &mut self.rx
    }
    fn tx(&self) -> &Signal<Out, Bit> {
        &self.tx
    }
}

/// The LEAP board core behind the UART pins. Its `idle` output stays inside the top level.
impl UartCore for Board {
    fn clock(&mut self) -> &mut Signal<In, Clock> {
        &mut self.clock
    }
    fn reset(&mut self) -> &mut Signal<In, Bit> {
        &mut self.reset
    }
    fn rx(&mut self) -> &mut Signal<In, Bit> {
        &mut self.rx
    }
    fn tx(&self) -> &Signal<Out, Bit> {
        &self.tx
    }
}

/// A board's top level: the oscillator pin feeds `pll`, whose output clocks `reset_gen` and
/// `core`; `core` stays in reset until `reset_gen` releases it. The ports are the board's pins.
#[derive(LogicBlock)]
pub struct BoardTop<P: ClockSource, C: UartCore> {
    /// The oscillator pin.
    pub clock_in: Signal<In, Clock>,
    /// UART receive pin (idle high).
    pub rx: Signal<In, Bit>,
    /// UART transmit pin (idle high).
    pub tx: Signal<Out, Bit>,
    pub pll: P,
    pub reset_gen: PowerOnReset,
    pub core: C,
}

impl<P: ClockSource, C: UartCore> BoardTop<P, C> {
    pub fn new(pll: P, reset_hold_clocks: u64, core: C) -> BoardTop<P, C> {
        BoardTop {
            clock_in: Default::default(),
            rx: Default::default(),
            tx: Default::default(),
            pll,
            reset_gen: PowerOnReset::new(reset_hold_clocks),
            core,
        }
    }
}

impl<P: ClockSource, C: UartCore> Logic for BoardTop<P, C> {
    fn update(&mut self) {
        self.pll.reference().next = self.clock_in.val();
        self.reset_gen.clock.next = self.pll.clock().val();
        self.reset_gen.locked.next = self.pll.locked().val();
        self.core.clock().next = self.pll.clock().val();
        self.core.reset().next = self.reset_gen.reset.val();
        self.core.rx().next = self.rx.val();
        self.tx.next = self.core.tx().val();
    }

    fn connect(&mut self) {
        self.pll.reference().connect();
        self.reset_gen.clock.connect();
        self.reset_gen.locked.connect();
        self.core.clock().connect();
        self.core.reset().connect();
        self.core.rx().connect();
        self.tx.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) begin\n\
             \x20   pll$reference = clock_in;\n\
             \x20   reset_gen$clock = pll$clock;\n\
             \x20   reset_gen$locked = pll$locked;\n\
             \x20   core$clock = pll$clock;\n\
             \x20   core$reset = reset_gen$reset;\n\
             \x20   core$rx = rx;\n\
             \x20   tx = core$tx;\n\
             end\n"
                .into(),
        )
    }
}

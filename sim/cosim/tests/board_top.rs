//! The Arty's board top level under Verilator: the power-on reset holds the core for the planned
//! number of clocks after lock, then the UART loopback repeats `rx` on `tx` two clocks later.
//! The Arty clocks the design from its oscillator without a PLL primitive, so the whole top level
//! simulates. The iCE40 and ECP5 tops differ only in the PLL block.

use leap_hdl::boards::BoardTable;
use leap_verilator_sys::{Model, PortId};

struct Board {
    model: Model,
    clock_in: PortId,
    rx: PortId,
    tx: PortId,
}

impl Board {
    fn new() -> Board {
        let model = Model::new("board_arty", 7);
        let clock_in = model.port("clock_in");
        let rx = model.port("rx");
        let tx = model.port("tx");
        Board {
            model,
            clock_in,
            rx,
            tx,
        }
    }

    /// Drives one rising and one falling edge of `clock_in`.
    fn clock(&mut self) {
        self.model.set(self.clock_in, 1);
        self.model.eval();
        self.model.set(self.clock_in, 0);
        self.model.eval();
    }

    fn tx(&self) -> u64 {
        self.model.get(self.tx)
    }
}

#[test]
fn reset_holds_then_loopback_follows_rx() {
    let plan = BoardTable::load(&BoardTable::default_path())
        .unwrap()
        .board("arty-a7-35t")
        .unwrap()
        .plan()
        .unwrap();
    let hold = plan.reset_hold_clocks;
    assert_eq!(hold, 1000, "10 µs at 100 MHz");

    let mut board = Board::new();
    board.model.set(board.clock_in, 0);
    board.model.set(board.rx, 0);
    board.model.eval();

    // The core idles its line high while in reset, whatever rx does. The reset falls hold + 3
    // clocks after lock (here locked from the start), and the low rx reaches tx two clocks later.
    let mut first_low = None;
    for clock in 1..=hold + 20 {
        board.clock();
        if board.tx() == 0 && first_low.is_none() {
            first_low = Some(clock);
        }
    }
    assert_eq!(
        first_low,
        Some(hold + 3 + 2),
        "clock on which tx first follows rx"
    );

    // After reset, the rx value sampled on one rising edge reaches tx on the next: two
    // flip-flops between the pins.
    let pattern = [1u64, 0, 0, 1, 0, 1, 1, 1, 0, 1];
    let mut seen = Vec::new();
    for (k, &bit) in pattern.iter().chain([1].iter()).enumerate() {
        board.model.set(board.rx, bit as i64);
        board.clock();
        if k >= 1 {
            seen.push(board.tx());
        }
    }
    assert_eq!(seen, pattern, "tx one edge after the edge that sampled rx");
}

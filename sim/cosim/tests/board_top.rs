//! Board top levels under Verilator. The Arty's with the UART loopback: the power-on reset holds
//! the core for the planned number of clocks after lock, then the loopback repeats `rx` on `tx`
//! two clocks later. The ULX3S-12F's with its board core: an identify request sent over the UART
//! pins at the planned bit timing gets the board's identity. The simulation top levels put the
//! oscillator in place of the PLL, so `clock_in` is clocked at the engine clock's rate.

use leap_cosim::board::RawFrame;
use leap_hdl::boards::{BoardPlan, BoardTable};
use leap_model::format::Formats;
use leap_model::protocol::{crc32, Frame, Identity, Opcode, Reply, PROTOCOL_VERSION, SYNC};
use leap_verilator_sys::{Model, PortId};

struct Board {
    model: Model,
    clock_in: PortId,
    rx: PortId,
    tx: PortId,
}

impl Board {
    fn new(variant: &str) -> Board {
        let model = Model::new(variant, 7);
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

    let mut board = Board::new("board_arty");
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

fn plan_of(name: &str) -> BoardPlan {
    BoardTable::load(&BoardTable::default_path())
        .unwrap()
        .board(name)
        .unwrap()
        .plan()
        .unwrap()
}

/// A host UART on the board's pins: sends and receives 8N1 at `clocks_per_bit` clocks per bit,
/// sampling `tx` in the middle of each bit.
struct Host {
    board: Board,
    clocks_per_bit: u64,
    /// Clocks into the byte being received, or `None` while `tx` idles.
    receiving: Option<u64>,
    shift: u8,
    received: Vec<u8>,
}

impl Host {
    /// Drives `rx` to `level` for one clock and samples `tx`.
    fn clock(&mut self, level: bool) {
        self.board.model.set(self.board.rx, level as i64);
        self.board.clock();
        let tx = self.board.tx() == 1;
        let n = self.clocks_per_bit;
        let Some(t) = self.receiving else {
            if !tx {
                self.receiving = Some(1);
            }
            return;
        };
        let t = t + 1;
        self.receiving = Some(t);
        if t % n != n / 2 {
            return;
        }
        match t / n {
            0 => assert!(!tx, "a glitch in the start bit"),
            bit @ 1..=8 => self.shift |= (tx as u8) << (bit - 1),
            _ => {
                assert!(tx, "the board's stop bit is low");
                self.received.push(self.shift);
                self.shift = 0;
                self.receiving = None;
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let bits = std::iter::once(false)
                .chain((0..8).map(|i| byte >> i & 1 == 1))
                .chain(std::iter::once(true));
            for level in bits {
                for _ in 0..self.clocks_per_bit {
                    self.clock(level);
                }
            }
        }
    }

    /// Clocks with `rx` idle until a whole frame has arrived or `max_clocks` have passed, and
    /// returns the bytes received.
    fn receive_frame(&mut self, max_clocks: u64) -> Vec<u8> {
        for _ in 0..max_clocks {
            self.clock(true);
            if self.received.len() >= 6 {
                let length = u16::from_le_bytes([self.received[4], self.received[5]]) as usize;
                if self.received.len() == 10 + length && self.receiving.is_none() {
                    break;
                }
            }
        }
        std::mem::take(&mut self.received)
    }
}

/// Checks the sync byte and CRC of one reply frame and returns it.
fn parse_frame(bytes: &[u8]) -> Frame {
    assert!(
        bytes.len() >= 10,
        "a reply of {} bytes: {bytes:?}",
        bytes.len()
    );
    assert_eq!(bytes[0], SYNC, "sync byte");
    let length = u16::from_le_bytes([bytes[4], bytes[5]]) as usize;
    assert_eq!(bytes.len(), 10 + length, "frame length");
    let crc = u32::from_le_bytes(bytes[6 + length..].try_into().unwrap());
    assert_eq!(crc, crc32(&bytes[1..6 + length]), "reply CRC");
    Frame {
        opcode: Opcode::from_u8(bytes[1]).expect("a known reply opcode"),
        seq: u16::from_le_bytes([bytes[2], bytes[3]]),
        payload: bytes[6..6 + length].to_vec(),
    }
}

#[test]
fn ulx3s_core_identifies_over_uart() {
    let plan = plan_of("ulx3s-12f");
    assert_eq!(plan.clocks_per_bit, 5, "15 MHz / 3 MBd");
    let mut host = Host {
        board: Board::new("board_ulx3s_12f"),
        clocks_per_bit: plan.clocks_per_bit,
        receiving: None,
        shift: 0,
        received: Vec::new(),
    };
    host.board.model.set(host.board.clock_in, 0);
    host.board.model.set(host.board.rx, 1);
    host.board.model.eval();

    // The core's line idles high through the power-on reset and after it.
    for _ in 0..plan.reset_hold_clocks + 200 {
        host.clock(true);
        assert!(host.receiving.is_none(), "tx left idle");
        assert!(host.received.is_empty(), "bytes before any request");
    }

    let identify = RawFrame {
        opcode: 0x01,
        seq: 0x1234,
        payload: Vec::new(),
    };
    host.send(&identify.encode());
    // A 100-byte reply takes 1,000 bits; the executor replies within a few hundred clocks.
    let reply = host.receive_frame(1_000 * plan.clocks_per_bit + 10_000);
    let frame = parse_frame(&reply);
    assert_eq!(frame.opcode, Opcode::Identity, "reply opcode");
    assert_eq!(frame.seq, 0x1234, "reply sequence number");

    let Reply::Identity(identity) = Reply::from_frame(&frame).unwrap() else {
        panic!("not an identity reply: {frame:?}")
    };
    assert_eq!(identity.protocol_version, PROTOCOL_VERSION);
    assert_eq!(identity.lanes, 4, "the 12F's lanes");
    assert_eq!(identity.formats, Formats::default(), "the table's formats");
    assert_eq!(identity.max_payload, 1024, "the table's maximum payload");
    assert_eq!(identity.layers, [4, 120, 3]);
    let expected: Identity = plan.board_config().identity();
    assert_eq!(identity, expected, "the identity the board table describes");
}

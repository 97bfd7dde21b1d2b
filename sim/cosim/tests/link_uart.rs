//! The Verilated UartTx and UartRx at full bit timing: the transmitter's line against a
//! bit-level model of 8N1, the loop from transmitter to receiver, a stop-bit error and clock
//! rates 2 % off.

use leap_verilator_sys::{variant_specs, Model, PortId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const VARIANTS: [&str; 2] = ["uart", "uart_fast"];

struct Uart {
    model: Model,
    tx_byte: PortId,
    tx_valid: PortId,
    tx_ready: PortId,
    tx: PortId,
    rx: PortId,
    rx_byte: PortId,
    rx_valid: PortId,
    clocks_per_bit: usize,
}

impl Uart {
    fn new(variant: &str, seed: u32) -> Uart {
        let clocks_per_bit = variant_specs()
            .into_iter()
            .find(|spec| spec.name == variant)
            .and_then(|spec| spec.link)
            .unwrap_or_else(|| panic!("no link variant named {variant}"))
            .clocks_per_bit;
        let model = Model::new(variant, seed);
        let port = |name| model.port(name);
        let mut uart = Uart {
            tx_byte: port("tx_byte"),
            tx_valid: port("tx_valid"),
            tx_ready: port("tx_ready"),
            tx: port("tx"),
            rx: port("rx"),
            rx_byte: port("rx_byte"),
            rx_valid: port("rx_valid"),
            clocks_per_bit,
            model,
        };
        uart.model.set(uart.tx_byte, 0);
        uart.model.set(uart.tx_valid, 0);
        uart.model.set(uart.rx, 1);
        uart.model.reset(2);
        uart
    }

    /// Runs one clock with `rx` driven to `line`; returns the byte the receiver strobed, if any.
    fn clock_rx(&mut self, line: bool) -> Option<u8> {
        self.model.set(self.rx, line as i64);
        self.model.clock();
        (self.model.get(self.rx_valid) == 1).then(|| self.model.get(self.rx_byte) as u8)
    }
}

/// Returns the 8N1 line levels of `byte`: start bit, data bits least significant first, stop bit.
fn bits_of(byte: u8, stop: bool) -> Vec<bool> {
    let mut bits = vec![false];
    bits.extend((0..8).map(|i| byte >> i & 1 == 1));
    bits.push(stop);
    bits
}

/// Line level at each clock for `bits` sent with a bit time of `bit_clocks` (fractional), after
/// `idle` clocks of idle line.
fn waveform(bits: &[bool], bit_clocks: f64, idle: usize) -> Vec<bool> {
    let total = idle + (bits.len() as f64 * bit_clocks).ceil() as usize + 1;
    (0..total)
        .map(|clock| {
            if clock < idle {
                return true;
            }
            let bit = ((clock - idle) as f64 / bit_clocks) as usize;
            bits.get(bit).copied().unwrap_or(true)
        })
        .collect()
}

#[test]
fn uart_tx_line_matches_bit_model() {
    for variant in VARIANTS {
        let mut uart = Uart::new(variant, 21);
        let mut rng = ChaCha8Rng::seed_from_u64(0x1ea9_0004);
        let bytes: Vec<u8> = (0..200).map(|_| rng.gen()).collect();
        let mut line = Vec::new();
        let mut received = Vec::new();
        let mut next = 0;
        let mut rx_line = true;
        let bound = (bytes.len() + 2) * 10 * uart.clocks_per_bit + 100;
        while received.len() < bytes.len() {
            assert!(line.len() < bound, "{variant}: the loop hung");
            // Offer the bytes back to back; a byte moves on a clock where tx_ready is high.
            if next < bytes.len() {
                uart.model.set(uart.tx_byte, bytes[next] as i64);
                uart.model.set(uart.tx_valid, 1);
                uart.model.eval();
                if uart.model.get(uart.tx_ready) == 1 {
                    next += 1;
                }
            } else {
                uart.model.set(uart.tx_valid, 0);
            }
            // Close the loop: the receiver gets the line level the transmitter drove last clock.
            if let Some(byte) = uart.clock_rx(rx_line) {
                received.push(byte);
            }
            rx_line = uart.model.get(uart.tx) == 1;
            line.push(rx_line);
        }
        assert_eq!(
            received, bytes,
            "{variant}: bytes through UartTx and UartRx"
        );

        // The line: idle until the first start bit, then the bytes with no idle time between.
        let first = line.iter().position(|level| !level).expect("a start bit");
        let expected: Vec<bool> = bytes
            .iter()
            .flat_map(|&b| bits_of(b, true))
            .flat_map(|bit| std::iter::repeat_n(bit, uart.clocks_per_bit))
            .collect();
        assert!(
            line.len() >= first + expected.len() - uart.clocks_per_bit,
            "{variant}: line too short"
        );
        let compared = (line.len() - first).min(expected.len());
        assert_eq!(
            &line[first..first + compared],
            &expected[..compared],
            "{variant}: transmitter line from the first start bit"
        );
        assert_eq!(
            first, 0,
            "{variant}: the start bit follows the clock edge that moved the first byte"
        );
    }
}

#[test]
fn uart_rx_tolerates_two_percent_and_stop_errors() {
    for variant in VARIANTS {
        for skew in [-0.02, 0.0, 0.02] {
            let mut uart = Uart::new(variant, 23);
            let mut rng = ChaCha8Rng::seed_from_u64(0x1ea9_0005);
            let bit_clocks = uart.clocks_per_bit as f64 * (1.0 + skew);
            let bytes: Vec<u8> = (0..120).map(|_| rng.gen()).collect();
            let bad = 60;
            // Bytes back to back, except that byte `bad` has a low stop bit and is followed by
            // one bit time of idle line.
            let mut bits = Vec::new();
            for (index, &byte) in bytes.iter().enumerate() {
                bits.extend(bits_of(byte, index != bad));
                if index == bad {
                    bits.push(true);
                }
            }
            let line = waveform(&bits, bit_clocks, 7);
            let mut received = Vec::new();
            for &level in &line {
                received.extend(uart.clock_rx(level));
            }
            for _ in 0..4 * uart.clocks_per_bit {
                received.extend(uart.clock_rx(true));
            }
            let expected: Vec<u8> = bytes
                .iter()
                .enumerate()
                .filter(|&(index, _)| index != bad)
                .map(|(_, &b)| b)
                .collect();
            assert_eq!(
                received, expected,
                "{variant}: bit time {bit_clocks} clocks ({skew:+} of nominal)"
            );
        }
    }
}

#[test]
fn uart_rx_ignores_start_glitch() {
    for variant in VARIANTS {
        let mut uart = Uart::new(variant, 29);
        let mut received = Vec::new();
        // A low pulse shorter than half a bit is no start bit.
        let glitch = uart.clocks_per_bit / 2 - 1;
        for clock in 0..4 * uart.clocks_per_bit {
            received.extend(uart.clock_rx(!(3..3 + glitch).contains(&clock)));
        }
        let line = waveform(&bits_of(0x3C, true), uart.clocks_per_bit as f64, 0);
        for &level in &line {
            received.extend(uart.clock_rx(level));
        }
        for _ in 0..2 * uart.clocks_per_bit {
            received.extend(uart.clock_rx(true));
        }
        assert_eq!(
            received,
            vec![0x3C],
            "{variant}: only the real byte is received"
        );
    }
}

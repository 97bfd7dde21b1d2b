//! A word plus or minus one in plain logic.

use rust_hdl::prelude::*;

/// `result = value + 1` (or `value - 1` when built with [`StepByOne::down`]), wrapping at
/// 2^N, written as one XOR per bit with an AND (or NOR) of the bits below it.
///
/// yosys 0.23 maps `+ 1` on a word to a carry chain whose carry-in is the word's bit 0, and
/// nextpnr-ice40 0.4 spends a logic cell on feeding that signal into the chain. For a counter of
/// a few bits, the chain and its feed cell cost more than the plain gates. With this block the
/// UART receiver and transmitter of the iCEBreaker core (10 clocks per bit) pack into 3 and 5
/// fewer logic cells. Wider counters are better served by the carry chain.
#[derive(LogicBlock)]
pub struct StepByOne<const N: usize> {
    pub value: Signal<In, Bits<N>>,
    pub result: Signal<Out, Bits<N>>,
    _down: bool,
}

impl<const N: usize> StepByOne<N> {
    /// Creates the step `value + 1`.
    pub fn up() -> Self {
        assert!((1..=64).contains(&N), "StepByOne takes 1 to 64 bits");
        StepByOne {
            value: Default::default(),
            result: Default::default(),
            _down: false,
        }
    }

    /// Creates the step `value - 1`.
    pub fn down() -> Self {
        StepByOne {
            _down: true,
            ..StepByOne::up()
        }
    }
}

impl<const N: usize> Logic for StepByOne<N> {
    fn update(&mut self) {
        let mask = u64::MAX >> (64 - N);
        let value = self.value.val().to_u64();
        let result = if self._down {
            value.wrapping_sub(1)
        } else {
            value.wrapping_add(1)
        };
        self.result.next = (result & mask).to_bits();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        // Bit i flips when every bit below it is 1 (up) or 0 (down).
        let bits: Vec<String> = (0..N)
            .rev()
            .map(|bit| match (bit, self._down) {
                (0, _) => "~value[0]".to_string(),
                (_, false) => format!("value[{bit}] ^ (&value[{}:0])", bit - 1),
                (_, true) => format!("value[{bit}] ^ ~(|value[{}:0])", bit - 1),
            })
            .collect();
        Verilog::Custom(format!("always @(*) result = {{{}}};\n", bits.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates the emitted bit expressions on `value` the way Verilog does.
    fn emitted_value(value: u64, bits: usize, down: bool) -> u64 {
        let mut result = 0;
        for bit in 0..bits {
            let below = value & ((1u64 << bit) - 1);
            let flips = if down {
                below == 0
            } else {
                below == (1u64 << bit) - 1
            };
            let set = (value >> bit & 1 == 1) ^ flips;
            result |= (set as u64) << bit;
        }
        result
    }

    #[test]
    fn step_logic_equals_wrapping_add_and_sub() {
        for value in 0..16u64 {
            assert_eq!(
                emitted_value(value, 4, false),
                (value + 1) % 16,
                "{value} + 1"
            );
            assert_eq!(
                emitted_value(value, 4, true),
                (value + 15) % 16,
                "{value} - 1"
            );
        }
    }

    #[test]
    fn emitted_step_names_every_bit() {
        let Verilog::Custom(up) = StepByOne::<3>::up().hdl() else {
            panic!("StepByOne emits custom Verilog");
        };
        assert_eq!(
            up,
            "always @(*) result = {value[2] ^ (&value[1:0]), value[1] ^ (&value[0:0]), ~value[0]};\n"
        );
        let Verilog::Custom(down) = StepByOne::<2>::down().hdl() else {
            panic!("StepByOne emits custom Verilog");
        };
        assert_eq!(
            down,
            "always @(*) result = {value[1] ^ ~(|value[0:0]), ~value[0]};\n"
        );
    }
}

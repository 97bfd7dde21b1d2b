//! Comparison of a word with a constant in plain logic.

use rust_hdl::prelude::*;

/// `above = value > limit` for a constant `limit`, written as a chain of AND and OR terms over
/// the bits of `value`.
///
/// yosys maps a `>` on words to an adder with an SB_CARRY per bit. With one operand constant,
/// the chain needs no carry cells: from bit 0 up, `above_i = value[i] & above_(i-1)` where
/// `limit` has a one and `value[i] | above_(i-1)` where it has a zero, with `above_(-1) = 0`.
#[derive(LogicBlock)]
pub struct AboveConstant<const N: usize> {
    pub value: Signal<In, Bits<N>>,
    pub above: Signal<Out, Bit>,
    _limit: u64,
}

impl<const N: usize> AboveConstant<N> {
    pub fn new(limit: u64) -> Self {
        assert!(N <= 64, "AboveConstant compares at most 64 bits");
        AboveConstant {
            value: Default::default(),
            above: Default::default(),
            _limit: limit,
        }
    }
}

impl<const N: usize> Logic for AboveConstant<N> {
    fn update(&mut self) {
        self.above.next = self.value.val().to_u64() > self._limit;
    }
    fn connect(&mut self) {
        self.above.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut chain = String::from("1'b0");
        if N < 64 && self._limit >> N != 0 {
            // No N-bit value exceeds the limit.
        } else {
            for bit in 0..N {
                chain = if self._limit >> bit & 1 == 1 {
                    format!("(value[{bit}] & {chain})")
                } else {
                    format!("(value[{bit}] | {chain})")
                };
            }
        }
        Verilog::Custom(format!("always @(*) above = {chain};\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates the emitted chain on `value` the way Verilog does.
    fn chain_value(limit: u64, value: u64, bits: usize) -> bool {
        let mut above = false;
        if bits < 64 && limit >> bits != 0 {
            return false;
        }
        for bit in 0..bits {
            let set = value >> bit & 1 == 1;
            above = if limit >> bit & 1 == 1 {
                set && above
            } else {
                set || above
            };
        }
        above
    }

    #[test]
    fn chain_equals_greater_than() {
        for limit in [0u64, 1, 5, 255, 256, 1000, 4096, 65535] {
            for value in (0..=u16::MAX as u64).step_by(7).chain([limit, limit + 1]) {
                assert_eq!(
                    chain_value(limit, value & 0xFFFF, 16),
                    (value & 0xFFFF) > limit,
                    "limit {limit}, value {value}"
                );
            }
        }
        assert!(!chain_value(1 << 16, 0xFFFF, 16), "limit above every 16-bit value");
    }

    #[test]
    fn emitted_chain_names_every_bit() {
        let block = AboveConstant::<4>::new(5);
        let Verilog::Custom(text) = block.hdl() else {
            panic!("AboveConstant emits custom Verilog");
        };
        assert_eq!(
            text,
            "always @(*) above = (value[3] | (value[2] & (value[1] | (value[0] & 1'b0))));\n"
        );
    }
}

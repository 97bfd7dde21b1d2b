//! A memory with one port that reads or writes in each clock, for buffers whose reads and
//! writes never coincide.

use rust_hdl::prelude::*;

/// Verilog attribute on the memory of every [`SinglePortMemory`]. The iCE40 build selects the
/// memories that carry it and sets `ram_style = "huge"` on them, so yosys maps them to the
/// iCE40UP5K's single-port SB_SPRAM256KA (16K x 16) and leaves its block RAMs to the engine.
/// Other families ignore it and map the memory to block RAM.
pub const SINGLE_PORT_ATTRIBUTE: &str = "leap_single_port";

/// A memory of `depth` words (rounded up to a power of two) with one address port.
///
/// On a clock with `write_enable` high, `write_data` is stored at `address` and `read_data`
/// keeps its value. On any other clock `read_data` takes the word at `address`, so reads have
/// a latency of one clock. This is the behaviour of the SB_SPRAM256KA, whose data output keeps
/// its value while it writes.
#[derive(LogicBlock)]
pub struct SinglePortMemory<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub address: Signal<In, Bits<16>>,
    pub write_enable: Signal<In, Bit>,
    pub write_data: Signal<In, T>,
    pub read_data: Signal<Out, T>,
    _address_bits: usize,
    _words: Vec<T>,
}

impl<T: Synth> SinglePortMemory<T> {
    pub fn new(depth: usize) -> Self {
        let depth = depth.max(2).next_power_of_two();
        let address_bits = depth.trailing_zeros() as usize;
        assert!(
            address_bits <= 16,
            "a memory of {depth} words needs more than 16 address bits"
        );
        SinglePortMemory {
            clock: Default::default(),
            address: Default::default(),
            write_enable: Default::default(),
            write_data: Default::default(),
            read_data: Default::default(),
            _address_bits: address_bits,
            _words: vec![T::default(); depth],
        }
    }
}

impl<T: Synth> Logic for SinglePortMemory<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let index = self.address.val().index() & ((1usize << self._address_bits) - 1);
            if self.write_enable.val() {
                self._words[index] = self.write_data.val();
            } else {
                self.read_data.next = self._words[index];
            }
        }
    }
    fn connect(&mut self) {
        self.read_data.connect();
    }
    fn hdl(&self) -> Verilog {
        let unused_address = if self._address_bits < 16 {
            format!(
                "wire unused_address = &{{1'b0, address[15:{}]}};\n",
                self._address_bits
            )
        } else {
            String::new()
        };
        Verilog::Custom(format!(
            "(* no_rw_check, {SINGLE_PORT_ATTRIBUTE} *)\n\
             reg [{top}:0] words [0:{last}];\n\
             reg [{top}:0] read_word;\n\
             always @(posedge clock) begin\n\
             \x20  if (write_enable) words[address[{at}:0]] <= write_data;\n\
             \x20  else read_word <= words[address[{at}:0]];\n\
             end\n\
             always @(*) read_data = read_word;\n\
             {unused_address}",
            top = T::BITS - 1,
            last = self._words.len() - 1,
            at = self._address_bits - 1,
        ))
    }
}

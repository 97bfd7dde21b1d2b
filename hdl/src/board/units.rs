//! Leaf blocks of the command executor: byte assembly and serialisation, ROMs, and the
//! combinational checks of request fields. Each `update` is a Rust model for rust-hdl's
//! simulator; the Verilated board is checked against the software device.

use rust_hdl::prelude::*;

/// Assembles little-endian payload bytes in a 64-bit register of two 32-bit halves. Each `shift`
/// strobe moves `data` into the top of the low half when `into_low` is set, else into the top of
/// the high half, and moves the older bytes of that half down by 8 bits. The executor sets
/// `into_low` for the first four bytes of an 8-byte gather, so after 8 bytes the register contains
/// them in order. After `n` <= 4 bytes they fill the top `8 n` bits, and the low half is
/// unchanged. `clear` (strobe) zeroes the register. The outputs are views of the register.
///
/// `operand` is the engine data word made from the high half, extended to 33 bits: bytes 4 to 7
/// by default, or the 16-bit value in bits 48 to 63 (`operand_short` and `operand_top`) or `h2`
/// (`operand_short` alone). `operand_signed` sign-extends it, else it is zero-extended. One
/// view with three selects costs fewer LUTs than one 33-bit view per field shape.
#[derive(LogicBlock, Default)]
pub struct ByteGather {
    pub clock: Signal<In, Clock>,
    pub clear: Signal<In, Bit>,
    pub shift: Signal<In, Bit>,
    pub into_low: Signal<In, Bit>,
    pub data: Signal<In, Bits<8>>,
    /// The operand is a 16-bit value, not bytes 4 to 7.
    pub operand_short: Signal<In, Bit>,
    /// With `operand_short`: the 16-bit value is bits 48 to 63, else `h2`. Bits 48 to 63 are
    /// the 16-bit word after 2 bytes, and bytes 2 and 3 (a coefficient's shift) after 4 bytes.
    pub operand_top: Signal<In, Bit>,
    /// The operand is sign-extended, else zero-extended.
    pub operand_signed: Signal<In, Bit>,
    /// After 8 bytes: byte 0.
    pub b0: Signal<Out, Bits<8>>,
    /// After 8 bytes: byte 1.
    pub b1: Signal<Out, Bits<8>>,
    /// After 8 bytes: bytes 2 and 3.
    pub h1: Signal<Out, Bits<16>>,
    /// After 8 bytes: bytes 0 to 3.
    pub w0: Signal<Out, Bits<32>>,
    /// After 8 bytes: bytes 4 and 5; after 4 bytes: bytes 0 and 1 (a coefficient's mantissa).
    pub h2: Signal<Out, Bits<16>>,
    /// After 4 bytes: the 32-bit word; after 8 bytes: bytes 4 to 7.
    pub w1: Signal<Out, Bits<32>>,
    /// The selected view of the high half, extended to 33 bits.
    pub operand: Signal<Out, Bits<33>>,
    _word: u64,
}

impl Logic for ByteGather {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if self.clear.val() {
                self._word = 0;
            } else if self.shift.val() {
                let data = self.data.val().to_u64();
                let (high, low) = (self._word >> 32, self._word & 0xffff_ffff);
                self._word = if self.into_low.val() {
                    (high << 32) | (low >> 8) | (data << 24)
                } else {
                    (((high >> 8) | (data << 24)) << 32) | low
                };
            }
        }
        let w = self._word;
        self.b0.next = (w & 0xff).to_bits();
        self.b1.next = ((w >> 8) & 0xff).to_bits();
        self.h1.next = ((w >> 16) & 0xffff).to_bits();
        self.w0.next = (w & 0xffff_ffff).to_bits();
        self.h2.next = ((w >> 32) & 0xffff).to_bits();
        self.w1.next = (w >> 32).to_bits();
        let mask33 = (1u64 << 33) - 1;
        let operand = if !self.operand_short.val() {
            let value = w >> 32;
            if self.operand_signed.val() {
                (value as u32 as i32 as i64) as u64
            } else {
                value
            }
        } else {
            let value = if self.operand_top.val() {
                w >> 48
            } else {
                (w >> 32) & 0xffff
            };
            if self.operand_signed.val() {
                (value as u16 as i16 as i64) as u64
            } else {
                value
            }
        };
        self.operand.next = (operand & mask33).to_bits();
    }
    fn connect(&mut self) {
        self.b0.connect();
        self.b1.connect();
        self.h1.connect();
        self.w0.connect();
        self.h2.connect();
        self.w1.connect();
        self.operand.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "reg [63:0] word;\n\
             always @(posedge clock) begin\n\
             \x20  if (clear) word <= 64'h0;\n\
             \x20  else if (shift & into_low) word[31:0] <= {data, word[31:8]};\n\
             \x20  else if (shift) word[63:32] <= {data, word[63:40]};\n\
             end\n\
             wire [15:0] operand_low = (operand_short & operand_top) ? word[63:48] : word[47:32];\n\
             wire operand_fill = operand_signed & ((operand_short & ~operand_top) ? word[47] : word[63]);\n\
             always @(*) begin\n\
             \x20  b0 = word[7:0];\n\
             \x20  b1 = word[15:8];\n\
             \x20  h1 = word[31:16];\n\
             \x20  w0 = word[31:0];\n\
             \x20  h2 = word[47:32];\n\
             \x20  w1 = word[63:32];\n\
             \x20  operand = {operand_fill, operand_short ? {16{operand_fill}} : word[63:48], operand_low};\n\
             end\n"
                .into(),
        )
    }
}

/// Sends a 64-bit value as little-endian bytes: `load` takes `value`, `clear` zeroes the register
/// (ahead of the other strobes), `preset` sets it to 6 (the constant part of a queue frame's
/// length, ahead of `load`), and each presents byte 0 at `data`. Each `shift` strobe presents
/// the next byte, selected by a 3-bit byte index, so the register itself never shifts.
/// `accumulate` adds the low 32 bits of `value` to the low 35 bits of the register and clears
/// the rest: the sum of the engine's five saturation counters, or a queue frame's length, which
/// the executor sums there one record at a time. `fits` is high when the low 35 bits equal
/// `length`.
///
/// NOTE: the engine's saturation counters (in its `CounterBank`) are 32 bits wide, so five of them
/// sum to less than 2^35. Wider counters need a wider sum here.
#[derive(LogicBlock, Default)]
pub struct ByteSerializer {
    pub clock: Signal<In, Clock>,
    pub clear: Signal<In, Bit>,
    pub preset: Signal<In, Bit>,
    pub load: Signal<In, Bit>,
    pub value: Signal<In, Bits<64>>,
    pub shift: Signal<In, Bit>,
    pub accumulate: Signal<In, Bit>,
    pub length: Signal<In, Bits<16>>,
    pub data: Signal<Out, Bits<8>>,
    pub fits: Signal<Out, Bit>,
    _word: u64,
    _byte: u64,
}

impl Logic for ByteSerializer {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            if self.clear.val() {
                self._word = 0;
                self._byte = 0;
            } else if self.preset.val() {
                self._word = 6;
                self._byte = 0;
            } else if self.load.val() {
                self._word = self.value.val().to_u64();
                self._byte = 0;
            } else if self.accumulate.val() {
                let sum =
                    (self._word & ((1 << 35) - 1)) + (self.value.val().to_u64() & 0xffff_ffff);
                self._word = sum & ((1 << 35) - 1);
            } else if self.shift.val() {
                self._byte = (self._byte + 1) & 7;
            }
        }
        self.data.next = ((self._word >> (8 * self._byte)) & 0xff).to_bits();
        self.fits.next = self._word & ((1 << 35) - 1) == self.length.val().to_u64();
    }
    fn connect(&mut self) {
        self.data.connect();
        self.fits.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "reg [63:0] word;\n\
             reg [2:0] byte_index;\n\
             always @(posedge clock) begin\n\
             \x20  if (clear | preset) word <= {61'h0, ~clear, ~clear, 1'b0};\n\
             \x20  else if (load) word <= value;\n\
             \x20  else if (accumulate) word <= {29'h0, word[34:0] + {3'h0, value[31:0]}};\n\
             \x20  if (clear | preset | load) byte_index <= 3'h0;\n\
             \x20  else if (shift & ~accumulate) byte_index <= byte_index + 3'h1;\n\
             end\n\
             always @(*) begin\n\
             \x20  data = word[8 * byte_index +: 8];\n\
             \x20  fits = word[34:0] == {19'h0, length};\n\
             end\n"
                .into(),
        )
    }
}

/// A read-only memory with a registered read port (latency 1), filled at generation time.
/// Addresses past the contents read 0.
#[derive(LogicBlock)]
pub struct Rom<const W: usize> {
    pub clock: Signal<In, Clock>,
    pub address: Signal<In, Bits<16>>,
    pub data: Signal<Out, Bits<W>>,
    _words: Vec<u64>,
    _address_bits: usize,
}

impl<const W: usize> Rom<W> {
    pub fn new(words: &[u64]) -> Self {
        let address_bits = words.len().max(2).next_power_of_two().trailing_zeros() as usize;
        assert!(
            address_bits <= 16,
            "a ROM of {} words needs more than 16 address bits",
            words.len()
        );
        let mut padded = words.to_vec();
        padded.resize(1 << address_bits, 0);
        for &w in words {
            assert!(
                W == 64 || w >> W == 0,
                "ROM word {w:#x} does not fit {W} bits"
            );
        }
        Rom {
            clock: Default::default(),
            address: Default::default(),
            data: Default::default(),
            _words: padded,
            _address_bits: address_bits,
        }
    }
}

impl<const W: usize> Logic for Rom<W> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let index = self.address.val().index();
            let word = if index < self._words.len() {
                self._words[index]
            } else {
                0
            };
            self.data.next = word.to_bits();
        }
    }
    fn connect(&mut self) {
        self.data.connect();
    }
    fn hdl(&self) -> Verilog {
        let a = self._address_bits;
        let mut contents = String::new();
        for (i, w) in self._words.iter().enumerate() {
            contents.push_str(&format!("   words[{i}] = {W}'h{w:x};\n"));
        }
        let inside = if a == 16 {
            "1'b1".to_string()
        } else {
            format!("(address[15:{a}] == {}'h0)", 16 - a)
        };
        Verilog::Custom(format!(
            "reg [{top}:0] words [0:{last}];\n\
             initial begin\n{contents}end\n\
             always @(posedge clock) data <= {inside} ? words[address[{at}:0]] : {W}'h0;\n",
            top = W - 1,
            last = (1usize << a) - 1,
            at = a - 1,
        ))
    }
}

/// Sizes of the memories the link protocol addresses, in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemorySizes {
    /// Weights and biases of the whole network.
    pub weights: u32,
    /// Non-input neurons (each neuron-state memory).
    pub neurons: u32,
}

/// Returns the bits that every memory size and every word count up to `max_words` fit in. The
/// offset and the count of a header that passes [`MemoryRange`] fit them too.
pub fn span_bits(sizes: MemorySizes, max_words: u32) -> usize {
    let largest = (sizes.weights.max(sizes.neurons).max(1) as u64).max(max_words as u64);
    (64 - largest.leading_zeros()) as usize
}

/// Checks a read or write memory header. `known` is high when `memory` names a memory (1 to 7),
/// and `in_range` when `count` is at most 1022 and `offset + count` does not pass the memory's
/// end. `size` is the memory's size in words, the error detail.
#[derive(LogicBlock)]
pub struct MemoryRange {
    pub memory: Signal<In, Bits<8>>,
    pub offset: Signal<In, Bits<32>>,
    pub count: Signal<In, Bits<16>>,
    pub known: Signal<Out, Bit>,
    pub in_range: Signal<Out, Bit>,
    pub size: Signal<Out, Bits<32>>,
    _sizes: MemorySizes,
    _max_words: u32,
}

impl MemoryRange {
    pub fn new(sizes: MemorySizes, max_words: u32) -> Self {
        MemoryRange {
            memory: Default::default(),
            offset: Default::default(),
            count: Default::default(),
            known: Default::default(),
            in_range: Default::default(),
            size: Default::default(),
            _sizes: sizes,
            _max_words: max_words,
        }
    }
}

impl Logic for MemoryRange {
    fn update(&mut self) {
        let memory = self.memory.val().to_u64();
        let size = match memory {
            1 => self._sizes.weights as u64,
            7 => 1,
            _ => self._sizes.neurons as u64,
        };
        let count = self.count.val().to_u64();
        let end = self.offset.val().to_u64() + count;
        self.known.next = (1..=7).contains(&memory);
        self.in_range.next = count <= self._max_words as u64 && end <= size;
        self.size.next = size.to_bits();
    }
    fn connect(&mut self) {
        self.known.connect();
        self.in_range.connect();
        self.size.connect();
    }
    fn hdl(&self) -> Verilog {
        // Every memory size and every `count` up to the word limit fit in `bits` bits. An
        // offset with a set bit above them is out of range, and the sum needs `bits + 1` bits.
        let bits = span_bits(self._sizes, self._max_words);
        let high_clear = if bits >= 32 {
            "1'b1".to_string()
        } else {
            format!("(offset[31:{bits}] == {}'h0)", 32 - bits)
        };
        let (low_offset, low_count) = if bits >= 32 {
            ("{1'b0, offset}".to_string(), "{17'h0, count}".to_string())
        } else {
            (
                format!("{{1'b0, offset[{}:0]}}", bits - 1),
                if bits >= 16 {
                    format!("{{{}'h0, count}}", bits + 1 - 16)
                } else {
                    format!("{{1'b0, count[{}:0]}}", bits - 1)
                },
            )
        };
        let width = bits.min(32) + 1;
        let end_wide = if width == 33 {
            "end_word".to_string()
        } else {
            format!("{{{}'h0, end_word}}", 33 - width)
        };
        Verilog::Custom(format!(
            "wire [{top}:0] end_word = {low_offset} + {low_count};\n\
             always @(*) begin\n\
             \x20  case (memory)\n\
             \x20    8'd1: size = 32'd{weights};\n\
             \x20    8'd7: size = 32'd1;\n\
             \x20    default: size = 32'd{neurons};\n\
             \x20  endcase\n\
             \x20  known = (memory[7:3] == 5'h0) && (memory[2:0] != 3'h0);\n\
             \x20  in_range = !{count_above} && {high_clear}\n\
             \x20    && ({end_wide} <= {{1'b0, size}});\n\
             end\n",
            top = width - 1,
            weights = self._sizes.weights,
            neurons = self._sizes.neurons,
            count_above = above_verilog("count", 16, self._max_words as u64),
        ))
    }
}

/// Checks a word written to `memory` against the memory's format: weights against the weight
/// width, potentials, errors and prospective potentials against the potential width, rates and
/// slopes against 16 bits, and the stochastic-rounding state against zero (xorshift32 never
/// leaves it).
#[derive(LogicBlock)]
pub struct WordFit {
    pub memory: Signal<In, Bits<8>>,
    pub word: Signal<In, Bits<32>>,
    pub fits: Signal<Out, Bit>,
    _weight_bits: u32,
    _pot_bits: u32,
}

impl WordFit {
    pub fn new(weight_bits: u32, pot_bits: u32) -> Self {
        WordFit {
            memory: Default::default(),
            word: Default::default(),
            fits: Default::default(),
            _weight_bits: weight_bits,
            _pot_bits: pot_bits,
        }
    }
}

/// Returns whether `word` is a two's-complement number of `bits` bits.
fn fits_bits(word: i32, bits: u32) -> bool {
    bits >= 32 || (-(1i64 << (bits - 1))..(1i64 << (bits - 1))).contains(&(word as i64))
}

/// Verilog for "the `bits`-bit unsigned `name` is above `limit`", as a chain of AND and OR
/// gates from bit 0 up. yosys maps a comparison operator to a carry chain of one logic cell per
/// bit, where these gates pack several bits into each LUT.
pub(crate) fn above_verilog(name: &str, bits: usize, limit: u64) -> String {
    if bits < 64 && limit >> bits != 0 {
        return "1'b0".into();
    }
    let mut above = "1'b0".to_string();
    for i in 0..bits {
        let bit = format!("{name}[{i}]");
        above = match (limit >> i & 1 == 1, above == "1'b0") {
            (true, true) => "1'b0".into(),
            (true, false) => format!("({bit} & {above})"),
            (false, true) => bit,
            (false, false) => format!("({bit} | {above})"),
        };
    }
    above
}

/// Compares an `N`-bit unsigned `value` with a generation-time `limit`: `above` is high when
/// `value > limit`. Built from gates rather than a carry chain (see [`above_verilog`]).
#[derive(LogicBlock)]
pub struct Above<const N: usize> {
    pub value: Signal<In, Bits<N>>,
    pub above: Signal<Out, Bit>,
    _limit: u64,
}

impl<const N: usize> Above<N> {
    pub fn new(limit: u64) -> Self {
        Above {
            value: Default::default(),
            above: Default::default(),
            _limit: limit,
        }
    }
}

impl<const N: usize> Logic for Above<N> {
    fn update(&mut self) {
        self.above.next = self.value.val().to_u64() > self._limit;
    }
    fn connect(&mut self) {
        self.above.connect();
    }
    fn hdl(&self) -> Verilog {
        // The gates skip the low bits that a limit ending in ones makes irrelevant.
        Verilog::Custom(format!(
            "always @(*) above = {};\n\
             wire unused_value = &{{1'b0, value}};\n",
            above_verilog("value", N, self._limit)
        ))
    }
}

/// Verilog for "the 32-bit `word` is a `bits`-bit two's-complement number": its top `33 - bits`
/// bits are all equal.
fn fits_verilog(bits: u32) -> String {
    if bits >= 32 {
        "1'b1".into()
    } else {
        format!(
            "((word[31:{b}] == {{{n}{{1'b0}}}}) || (word[31:{b}] == {{{n}{{1'b1}}}}))",
            b = bits - 1,
            n = 33 - bits
        )
    }
}

impl Logic for WordFit {
    fn update(&mut self) {
        let word = self.word.val().to_u64() as u32 as i32;
        self.fits.next = match self.memory.val().to_u64() {
            1 => fits_bits(word, self._weight_bits),
            2..=4 => fits_bits(word, self._pot_bits),
            7 => word != 0,
            _ => fits_bits(word, 16),
        };
    }
    fn connect(&mut self) {
        self.fits.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(*) begin\n\
             \x20  case (memory)\n\
             \x20    8'd1: fits = {weight};\n\
             \x20    8'd2, 8'd3, 8'd4: fits = {pot};\n\
             \x20    8'd7: fits = (word != 32'h0);\n\
             \x20    default: fits = {act};\n\
             \x20  endcase\n\
             end\n",
            weight = fits_verilog(self._weight_bits),
            pot = fits_verilog(self._pot_bits),
            act = fits_verilog(16),
        ))
    }
}

/// Limits of a coefficient field of set parameters (`kind`).
pub mod coefficient_kind {
    /// `dt / τ_m`: in (0, 1].
    pub const STEP: u64 = 0;
    /// `τ_r / τ_m`: in [0, 4].
    pub const RATIO: u64 = 1;
    /// Nudging strength β: in [0, 16].
    pub const NUDGING: u64 = 2;
    /// Learning rate η: in [0, 1].
    pub const RATE: u64 = 3;
}

/// Checks a coefficient word (i16 mantissa in bits 15:0, u16 shift in bits 31:16):
/// `shift_ok` when the shift is at most `max_shift`, `value_ok` when `mant · 2^-shift` is in the
/// range of `kind` (see [`coefficient_kind`]). The bound `2^e` compares as `mant ≤ 2^(shift + e)`,
/// which holds for every non-negative 16-bit mantissa once `shift + e ≥ 15`.
#[derive(LogicBlock)]
pub struct CoefficientCheck {
    pub word: Signal<In, Bits<32>>,
    pub kind: Signal<In, Bits<2>>,
    pub shift_ok: Signal<Out, Bit>,
    pub value_ok: Signal<Out, Bit>,
    _max_shift: u32,
}

impl CoefficientCheck {
    pub fn new(max_shift: u32) -> Self {
        CoefficientCheck {
            word: Default::default(),
            kind: Default::default(),
            shift_ok: Default::default(),
            value_ok: Default::default(),
            _max_shift: max_shift,
        }
    }
}

impl Logic for CoefficientCheck {
    fn update(&mut self) {
        let word = self.word.val().to_u64();
        let mant = word as u16 as i16 as i64;
        let shift = (word >> 16) & 0xffff;
        let kind = self.kind.val().to_u64();
        let exponent = shift
            + match kind {
                coefficient_kind::RATIO => 2,
                coefficient_kind::NUDGING => 4,
                _ => 0,
            };
        let below_bound = exponent >= 15 || mant <= 1i64 << exponent;
        let sign_ok = if kind == coefficient_kind::STEP {
            mant > 0
        } else {
            mant >= 0
        };
        self.shift_ok.next = shift <= self._max_shift as u64;
        self.value_ok.next = sign_ok && below_bound;
    }
    fn connect(&mut self) {
        self.shift_ok.connect();
        self.value_ok.connect();
    }
    fn hdl(&self) -> Verilog {
        // With the exponent e = shift + 0, 2 or 4 below 15, a non-negative mantissa satisfies
        // `mant ≤ 2^e` when it is 0 or when `mant - 1` has no set bit at position e or above.
        // So no shifter is needed, and `below_e` has the bits under position e set.
        Verilog::Custom(format!(
            "wire [15:0] mant = word[15:0];\n\
             wire [15:0] shift = word[31:16];\n\
             wire [14:0] mant_minus_one = mant[14:0] - 15'd1;\n\
             reg exponent_high;\n\
             reg [3:0] exponent;\n\
             always @(*) begin\n\
             \x20  case (kind)\n\
             \x20    2'd1: begin exponent_high = {from13}; exponent = shift[3:0] + 4'd2; end\n\
             \x20    2'd2: begin exponent_high = {from11}; exponent = shift[3:0] + 4'd4; end\n\
             \x20    default: begin exponent_high = {from15}; exponent = shift[3:0]; end\n\
             \x20  endcase\n\
             end\n\
             wire [14:0] below_e = ~(15'h7fff << exponent);\n\
             always @(*) begin\n\
             \x20  shift_ok = !{shift_above};\n\
             \x20  value_ok = !mant[15] && ((kind != 2'd0) || (mant != 16'h0))\n\
             \x20    && (exponent_high || (mant == 16'h0) || ((mant_minus_one & ~below_e) == 15'h0));\n\
             end\n",
            from13 = above_verilog("shift", 16, 12),
            from11 = above_verilog("shift", 16, 10),
            from15 = above_verilog("shift", 16, 14),
            shift_above = above_verilog("shift", 16, self._max_shift as u64),
        ))
    }
}

/// Fixed payload lengths of the link protocol's requests, in bytes.
pub mod request_length {
    /// Identify and read counters: no payload.
    pub const EMPTY: u64 = 0;
    /// Reset: the flags byte.
    pub const RESET: u64 = 1;
    /// Run sample: the smallest, a header of flags, a reserved byte and the input count.
    pub const RUN: u64 = 4;
    /// Queue sample: the smallest, the run header and the sample count.
    pub const QUEUE: u64 = 6;
    /// Read memory, and the smallest write memory: the memory header.
    pub const MEMORY: u64 = 8;
    /// Set parameters: the smallest, the fields ahead of the learning rates.
    pub const PARAMETERS_FIXED: u64 = 28;
}

/// Payload lengths that requests must have, computed from their header fields, and the
/// executor's checks of the frame's payload length `length` against them. The other inputs are
/// header fields, valid once gathered. The checks compare 16-bit `length` at the width of each
/// length, and those against constants below 32 take no carry chain.
///
/// The queue-sample outputs and `sample_length` hold only once `count` equals the network's
/// input count, which the executor checks before it reads them. With that count a record is one
/// of three generation-time constants (no targets, activity targets, potential targets). The
/// executor sums a queue frame's length `6 + samples · record` in its [`ByteSerializer`].
#[derive(LogicBlock)]
pub struct PayloadLengths {
    pub length: Signal<In, Bits<16>>,
    pub flags: Signal<In, Bits<8>>,
    /// Words of a memory transfer, or input words of a sample.
    pub count: Signal<In, Bits<16>>,
    /// Samples in a queue frame.
    pub samples: Signal<In, Bits<16>>,
    /// The flags have no unknown bit and set the potential-target bit only with the learn bit.
    pub flags_ok: Signal<Out, Bit>,
    /// Write memory: `8 + 4 count`.
    pub write_length: Signal<Out, Bits<32>>,
    /// Run sample: `4 + 2 count`, where the targets start.
    pub inputs_end: Signal<Out, Bits<32>>,
    /// Run sample: minus the bytes after the inputs that do not fill a whole target word,
    /// modulo 2^16. Added to `length`, it gives the length of the whole target words.
    pub whole_targets_step: Signal<Out, Bits<16>>,
    /// Run sample: the bytes after the inputs fill whole target words, so
    /// `whole_targets_step` is 0.
    pub whole_targets_ok: Signal<Out, Bit>,
    /// Queue sample: the bytes of one record.
    pub record: Signal<Out, Bits<16>>,
    /// Set parameters: the length without the bytes that do not fill a whole learning rate.
    pub whole_rates: Signal<Out, Bits<32>>,
    /// `length` is 0.
    pub empty: Signal<Out, Bit>,
    /// `length` is a reset's.
    pub reset_length_ok: Signal<Out, Bit>,
    /// `length` is a read memory's.
    pub memory_length_ok: Signal<Out, Bit>,
    /// `length` is a set parameters' with one learning rate per layer.
    pub parameters_length_ok: Signal<Out, Bit>,
    /// `length` is below a memory header, the set-parameters fields ahead of the learning
    /// rates, a run header or a queue header.
    pub below_memory: Signal<Out, Bit>,
    pub below_parameters: Signal<Out, Bit>,
    pub below_run: Signal<Out, Bit>,
    pub below_queue: Signal<Out, Bit>,
    /// Write memory: `length` equals `write_length`.
    pub write_length_ok: Signal<Out, Bit>,
    /// Run sample: `length` is below `inputs_end`, or equals it.
    pub below_inputs_end: Signal<Out, Bit>,
    pub at_inputs_end: Signal<Out, Bit>,
    /// Run sample: `length` has one target word per output.
    pub sample_length_ok: Signal<Out, Bit>,
    /// Set parameters: `length` equals `whole_rates`.
    pub whole_rates_ok: Signal<Out, Bit>,
    /// Flag bit 0: learn.
    pub learn: Signal<Out, Bit>,
    /// Flag bit 1: start of stream.
    pub start: Signal<Out, Bit>,
    /// Flag bit 2: the targets are potential words.
    pub potential: Signal<Out, Bit>,
    /// The flags without the start-of-stream bit, zero-extended: the flags of each sample of
    /// a queue frame.
    pub sample_flags: Signal<Out, Bits<32>>,
    /// Queue sample: `6 + record`, the length of a one-sample frame.
    pub one_sample_length: Signal<Out, Bits<32>>,
    /// Queue sample: more samples than one reply can carry.
    pub too_many: Signal<Out, Bit>,
    /// Queue sample: `6 + max_samples · record`, the longest frame whose reply fits.
    pub limit_length: Signal<Out, Bits<32>>,
    _inputs: u32,
    _outputs: u32,
    _max_samples: u32,
    _parameters_length: u64,
}

impl PayloadLengths {
    /// Lengths for a network of `inputs` inputs and `outputs` outputs whose replies carry at
    /// most `max_payload` bytes, and whose set-parameters payload has `parameters_length` bytes.
    pub fn new(inputs: usize, outputs: usize, max_payload: usize, parameters_length: u64) -> Self {
        let max_samples =
            (max_payload.saturating_sub(8) / (2 * outputs).max(1)).min(u16::MAX as usize);
        assert!(
            2 * inputs + 4 * outputs < 1 << 16,
            "a sample record of {inputs} inputs and {outputs} potential targets exceeds 65,535 bytes"
        );
        PayloadLengths {
            length: Default::default(),
            flags: Default::default(),
            count: Default::default(),
            samples: Default::default(),
            flags_ok: Default::default(),
            write_length: Default::default(),
            inputs_end: Default::default(),
            whole_targets_step: Default::default(),
            whole_targets_ok: Default::default(),
            record: Default::default(),
            whole_rates: Default::default(),
            empty: Default::default(),
            reset_length_ok: Default::default(),
            memory_length_ok: Default::default(),
            parameters_length_ok: Default::default(),
            below_memory: Default::default(),
            below_parameters: Default::default(),
            below_run: Default::default(),
            below_queue: Default::default(),
            write_length_ok: Default::default(),
            below_inputs_end: Default::default(),
            at_inputs_end: Default::default(),
            sample_length_ok: Default::default(),
            whole_rates_ok: Default::default(),
            learn: Default::default(),
            start: Default::default(),
            potential: Default::default(),
            sample_flags: Default::default(),
            one_sample_length: Default::default(),
            too_many: Default::default(),
            limit_length: Default::default(),
            _inputs: inputs as u32,
            _outputs: outputs as u32,
            _max_samples: max_samples as u32,
            _parameters_length: parameters_length,
        }
    }

    /// Returns the record bytes for the flags: the input words, then with the learn flag one
    /// target word of 2 or 4 bytes per output.
    fn record(&self, learn: bool, potential: bool) -> u64 {
        let target_bytes = match (learn, potential) {
            (false, _) => 0,
            (true, false) => 2,
            (true, true) => 4,
        };
        2 * self._inputs as u64 + target_bytes * self._outputs as u64
    }
}

impl Logic for PayloadLengths {
    fn update(&mut self) {
        let length = self.length.val().to_u64();
        let flags = self.flags.val().to_u64();
        let count = self.count.val().to_u64();
        let samples = self.samples.val().to_u64();
        let learn = flags & 1 != 0;
        let potential = flags & 4 != 0;
        let target_bytes = if potential { 4 } else { 2 };
        let inputs_end = 4 + 2 * count;
        let rest = length.wrapping_sub(inputs_end) & 0xffff_ffff;
        let record = self.record(learn, potential);
        self.flags_ok.next = flags & !7 == 0 && !(potential && !learn);
        self.write_length.next = (8 + 4 * count).to_bits();
        self.inputs_end.next = inputs_end.to_bits();
        self.whole_targets_step.next = ((0x1_0000 - rest % target_bytes) & 0xffff).to_bits();
        self.whole_targets_ok.next = rest % target_bytes == 0;
        let sample_length = 4 + 2 * self._inputs as u64 + target_bytes * self._outputs as u64;
        self.sample_length_ok.next = length == sample_length;
        self.record.next = record.to_bits();
        self.whole_rates.next = (length - (length & 3)).to_bits();
        use request_length as r;
        self.empty.next = length == r::EMPTY;
        self.reset_length_ok.next = length == r::RESET;
        self.memory_length_ok.next = length == r::MEMORY;
        self.parameters_length_ok.next = length == self._parameters_length;
        self.below_memory.next = length < r::MEMORY;
        self.below_parameters.next = length < r::PARAMETERS_FIXED;
        self.below_run.next = length < r::RUN;
        self.below_queue.next = length < r::QUEUE;
        self.write_length_ok.next = length == 8 + 4 * count;
        self.below_inputs_end.next = length < inputs_end;
        self.at_inputs_end.next = length == inputs_end;
        self.whole_rates_ok.next = length & 3 == 0;
        self.learn.next = learn;
        self.start.next = flags & 2 != 0;
        self.potential.next = potential;
        self.sample_flags.next = (flags & !2).to_bits();
        self.one_sample_length.next = (6 + record).to_bits();
        self.too_many.next = samples > self._max_samples as u64;
        self.limit_length.next = ((6 + self._max_samples as u64 * record) & 0xffff_ffff).to_bits();
    }
    fn connect(&mut self) {
        self.flags_ok.connect();
        self.write_length.connect();
        self.inputs_end.connect();
        self.whole_targets_step.connect();
        self.whole_targets_ok.connect();
        self.empty.connect();
        self.reset_length_ok.connect();
        self.memory_length_ok.connect();
        self.parameters_length_ok.connect();
        self.below_memory.connect();
        self.below_parameters.connect();
        self.below_run.connect();
        self.below_queue.connect();
        self.write_length_ok.connect();
        self.below_inputs_end.connect();
        self.at_inputs_end.connect();
        self.sample_length_ok.connect();
        self.whole_rates_ok.connect();
        self.record.connect();
        self.whole_rates.connect();
        self.learn.connect();
        self.start.connect();
        self.potential.connect();
        self.sample_flags.connect();
        self.one_sample_length.connect();
        self.too_many.connect();
        self.limit_length.connect();
    }
    fn hdl(&self) -> Verilog {
        use request_length as r;
        let max = self._max_samples as u64;
        let (bare, activity, potential) = (
            self.record(false, false),
            self.record(true, false),
            self.record(true, true),
        );
        assert!(
            self._parameters_length < 1 << 16,
            "a set-parameters length of {} bytes does not fit 16 bits",
            self._parameters_length
        );
        // `length < c` for a constant c below 32 is `length[15:5] == 0` and bit `length[4:0]`
        // of the mask of the c lowest bits: LUTs, where a comparison would take a carry chain.
        let below = |name: &str, c: u64| {
            assert!(c < 32, "the length {c} is not below 32");
            format!(
                "wire [31:0] {name}_mask = 32'h{:x};\n\
                 wire {name}_bit = {name}_mask[length[4:0]];\n",
                (1u64 << c) - 1
            )
        };
        let masks = [
            below("below_memory", r::MEMORY),
            below("below_parameters", r::PARAMETERS_FIXED),
            below("below_run", r::RUN),
            below("below_queue", r::QUEUE),
        ]
        .concat();
        // `rest` is the low two bits of `length - inputs_end`, the bytes after the inputs.
        // `inputs_end = 4 + 2 count` has bit 0 clear and bit 1 equal to `count[0]`, so no
        // subtraction is needed, and `partial` is the part of a target word at the end.
        // `inputs_end` has 18 bits and `write_length = 2 inputs_end` 19.
        Verilog::Custom(format!(
            "wire [17:0] inputs_end18 = 18'd4 + {{1'b0, count, 1'b0}};\n\
             wire [1:0] rest = {{length[1] ^ count[0], length[0]}};\n\
             wire [1:0] partial = flags[2] ? rest : {{1'b0, rest[0]}};\n\
             wire short = length[15:5] == 11'h0;\n\
             wire unused_samples = &{{1'b0, samples}};\n\
             {masks}\
             always @(*) begin\n\
             \x20  flags_ok = (flags[7:3] == 5'h0) && !(flags[2] && !flags[0]);\n\
             \x20  write_length = {{13'h0, inputs_end18, 1'b0}};\n\
             \x20  inputs_end = {{14'h0, inputs_end18}};\n\
             \x20  whole_targets_step = {{{{14{{|partial}}}}, partial[1] ^ partial[0], partial[0]}};\n\
             \x20  whole_targets_ok = partial == 2'h0;\n\
             \x20  whole_rates = {{16'h0, length[15:2], 2'h0}};\n\
             \x20  empty = length == 16'd{empty};\n\
             \x20  reset_length_ok = length == 16'd{reset};\n\
             \x20  memory_length_ok = length == 16'd{memory};\n\
             \x20  parameters_length_ok = length == 16'd{parameters};\n\
             \x20  below_memory = short && below_memory_bit;\n\
             \x20  below_parameters = short && below_parameters_bit;\n\
             \x20  below_run = short && below_run_bit;\n\
             \x20  below_queue = short && below_queue_bit;\n\
             \x20  write_length_ok = {{3'h0, length}} == {{inputs_end18, 1'b0}};\n\
             \x20  below_inputs_end = {{2'h0, length}} < inputs_end18;\n\
             \x20  at_inputs_end = {{2'h0, length}} == inputs_end18;\n\
             \x20  sample_length_ok = {{1'b0, length}} == (flags[2] ? 17'd{sample_potential} : 17'd{sample_activity});\n\
             \x20  whole_rates_ok = length[1:0] == 2'h0;\n\
             \x20  learn = flags[0];\n\
             \x20  start = flags[1];\n\
             \x20  potential = flags[2];\n\
             \x20  sample_flags = {{24'h0, flags[7:2], 1'b0, flags[0]}};\n\
             \x20  too_many = {too_many};\n\
             \x20  if (!flags[0]) begin\n\
             \x20    record = 16'd{bare};\n\
             \x20    one_sample_length = 32'd{one_bare};\n\
             \x20    limit_length = 32'd{limit_bare};\n\
             \x20  end else if (flags[2]) begin\n\
             \x20    record = 16'd{potential};\n\
             \x20    one_sample_length = 32'd{one_potential};\n\
             \x20    limit_length = 32'd{limit_potential};\n\
             \x20  end else begin\n\
             \x20    record = 16'd{activity};\n\
             \x20    one_sample_length = 32'd{one_activity};\n\
             \x20    limit_length = 32'd{limit_activity};\n\
             \x20  end\n\
             end\n",
            too_many = above_verilog("samples", 16, max),
            empty = r::EMPTY,
            reset = r::RESET,
            memory = r::MEMORY,
            parameters = self._parameters_length,
            sample_activity = 4 + activity,
            sample_potential = 4 + potential,
            one_bare = 6 + bare,
            one_activity = 6 + activity,
            one_potential = 6 + potential,
            limit_bare = (6 + max * bare) & 0xffff_ffff,
            limit_activity = (6 + max * activity) & 0xffff_ffff,
            limit_potential = (6 + max * potential) & 0xffff_ffff,
        ))
    }
}

/// Joins a host weight address: `(word << bank_bits) | lane`, at most 24 bits wide in the
/// engine's 32-bit host address.
#[derive(LogicBlock)]
pub struct AddressJoin {
    pub word: Signal<In, Bits<16>>,
    pub lane: Signal<In, Bits<8>>,
    pub address: Signal<Out, Bits<32>>,
    _bank_bits: usize,
}

impl AddressJoin {
    pub fn new(bank_bits: usize) -> Self {
        assert!((1..=8).contains(&bank_bits));
        AddressJoin {
            word: Default::default(),
            lane: Default::default(),
            address: Default::default(),
            _bank_bits: bank_bits,
        }
    }
}

impl Logic for AddressJoin {
    fn update(&mut self) {
        let b = self._bank_bits;
        let word = self.word.val().to_u64();
        let lane = self.lane.val().to_u64() & ((1 << b) - 1);
        self.address.next = ((word << b) | lane).to_bits();
    }
    fn connect(&mut self) {
        self.address.connect();
    }
    fn hdl(&self) -> Verilog {
        let b = self._bank_bits;
        Verilog::Custom(format!(
            "always @(*) address = {{{}'h0, word, lane[{}:0]}};\n",
            16 - b,
            b - 1
        ))
    }
}

/// Packs reply words: the 8-byte memory header (`memory`, 0, `count`, `offset`) and the 8-byte
/// error payload (`code`, `opcode`, 0, 0, `detail`), little-endian. The executor sends the header
/// only after [`MemoryRange`] passes it. So the memory id fits 3 bits, the offset and the count
/// fit [`span_bits`] bits, and the header keeps only those bits.
#[derive(LogicBlock)]
pub struct ReplyWords {
    pub memory: Signal<In, Bits<8>>,
    pub count: Signal<In, Bits<16>>,
    pub offset: Signal<In, Bits<32>>,
    pub code: Signal<In, Bits<8>>,
    pub opcode: Signal<In, Bits<8>>,
    pub detail: Signal<In, Bits<32>>,
    pub header: Signal<Out, Bits<64>>,
    pub error: Signal<Out, Bits<64>>,
    _span_bits: usize,
}

impl ReplyWords {
    pub fn new(span_bits: usize) -> Self {
        assert!(span_bits >= 1, "a header span needs at least one bit");
        ReplyWords {
            memory: Default::default(),
            count: Default::default(),
            offset: Default::default(),
            code: Default::default(),
            opcode: Default::default(),
            detail: Default::default(),
            header: Default::default(),
            error: Default::default(),
            _span_bits: span_bits,
        }
    }
}

impl Logic for ReplyWords {
    fn update(&mut self) {
        let span_mask = (1u64 << self._span_bits.min(32)) - 1;
        let header = (self.memory.val().to_u64() & 7)
            | ((self.count.val().to_u64() & span_mask) << 16)
            | ((self.offset.val().to_u64() & span_mask) << 32);
        let error = self.code.val().to_u64()
            | (self.opcode.val().to_u64() << 8)
            | (self.detail.val().to_u64() << 32);
        self.header.next = header.to_bits();
        self.error.next = error.to_bits();
    }
    fn connect(&mut self) {
        self.header.connect();
        self.error.connect();
    }
    fn hdl(&self) -> Verilog {
        // The low `bits` of a `width`-bit field, zero-extended, and its unused high bits.
        let keep = |name: &str, width: usize| {
            let bits = self._span_bits.min(width);
            if bits == width {
                (name.to_string(), String::new())
            } else {
                (
                    format!("{{{}'h0, {name}[{}:0]}}", width - bits, bits - 1),
                    format!(", {name}[{}:{bits}]", width - 1),
                )
            }
        };
        let (offset, unused_offset) = keep("offset", 32);
        let (count, unused_count) = keep("count", 16);
        Verilog::Custom(format!(
            "always @(*) begin\n\
             \x20  header = {{{offset}, {count}, 13'h0, memory[2:0]}};\n\
             \x20  error = {{detail, 16'h0, opcode, code}};\n\
             end\n\
             wire unused_header = &{{1'b0, memory[7:3]{unused_offset}{unused_count}}};\n"
        ))
    }
}

/// Error codes of the error reply (`leap_model::protocol::ErrorCode`). They fit 4 bits.
pub mod error_code {
    pub const UNKNOWN_OPCODE: u64 = 0x01;
    pub const PAYLOAD_LENGTH: u64 = 0x02;
    pub const UNKNOWN_MEMORY: u64 = 0x03;
    pub const ADDRESS_RANGE: u64 = 0x04;
    pub const WORD_RANGE: u64 = 0x05;
    pub const INVALID_PARAMETER: u64 = 0x06;
    pub const SAMPLE_SHAPE: u64 = 0x07;
    pub const OUT_OF_ORDER: u64 = 0x08;
    pub const INVALID_FLAGS: u64 = 0x0A;
}

/// Codes of an error reply's source, which [`ErrorDetail`] turns into the error code and the
/// detail word, so a check sets one 6-bit code. A code below [`PARAMETER`] is a payload-length
/// error whose detail is the code itself: the small generation-time lengths need no selection.
/// `PARAMETER + n` for `n` in 1 to 7 is an invalid-parameter error naming field `n`, and
/// `PARAMETER` itself the unknown opcode (detail 0). From [`SELECT`] on, each code selects an
/// input or a constant as the detail.
pub mod detail_source {
    /// The first code of an invalid-parameter field number, and the unknown opcode.
    pub const PARAMETER: u64 = 32;
    pub const UNKNOWN_OPCODE: u64 = PARAMETER;
    /// The first code that selects a value as the detail.
    pub const SELECT: u64 = 40;
    pub const LENGTH_PARAMETERS: u64 = SELECT;
    pub const NO_STREAM: u64 = SELECT + 1;
    pub const INPUTS: u64 = SELECT + 2;
    pub const OUTPUTS: u64 = SELECT + 3;
    /// The flags byte, `byte`, of invalid flags.
    pub const BYTE: u64 = SELECT + 4;
    pub const WRITE_LENGTH: u64 = SELECT + 5;
    pub const MEMORY_SIZE: u64 = SELECT + 6;
    pub const INDEX: u64 = SELECT + 7;
    pub const ADDRESS: u64 = SELECT + 8;
    pub const STREAM_NEXT: u64 = SELECT + 9;
    pub const FIELD: u64 = SELECT + 10;
    pub const WHOLE_RATES: u64 = SELECT + 11;
    pub const INPUTS_END: u64 = SELECT + 12;
    /// A run frame's length without the bytes that do not fill a whole target word, which the
    /// executor forms in `address`.
    pub const WHOLE_TARGETS: u64 = SELECT + 13;
    pub const ONE_SAMPLE_LENGTH: u64 = SELECT + 14;
    /// A queue frame's length, `6 + samples · record`, which the executor sums in its
    /// serializer instead, so the selector's word for it is unused.
    pub const QUEUE_LENGTH: u64 = SELECT + 15;
    pub const LIMIT_LENGTH: u64 = SELECT + 16;
    pub const SAMPLE_FLAGS: u64 = SELECT + 17;
    /// The memory id, `byte`, of an unknown memory.
    pub const MEMORY: u64 = SELECT + 18;

    /// Returns the error code of `source`.
    pub fn error_code(source: u64) -> u64 {
        use super::error_code as e;
        match source {
            s if s < UNKNOWN_OPCODE => e::PAYLOAD_LENGTH,
            UNKNOWN_OPCODE => e::UNKNOWN_OPCODE,
            s if s < SELECT => e::INVALID_PARAMETER,
            NO_STREAM | STREAM_NEXT => e::OUT_OF_ORDER,
            INPUTS | OUTPUTS => e::SAMPLE_SHAPE,
            BYTE | SAMPLE_FLAGS => e::INVALID_FLAGS,
            MEMORY => e::UNKNOWN_MEMORY,
            MEMORY_SIZE => e::ADDRESS_RANGE,
            INDEX | ADDRESS => e::WORD_RANGE,
            FIELD => e::INVALID_PARAMETER,
            _ => e::PAYLOAD_LENGTH,
        }
    }
}

/// Selects the error code and the detail word of an error reply by `source`, a
/// [`detail_source`] code. Below `SELECT` the detail is the code's low five bits. From `SELECT`
/// on the code selects one of the inputs, the set-parameters length, the input or output
/// count, or all ones (a queue frame out of order with no stream open). Each check sets a 6-bit
/// code instead of a 32-bit word and a 4-bit code, so the detail needs one multiplexer and the
/// error code a small table.
#[derive(LogicBlock)]
pub struct ErrorDetail {
    pub source: Signal<In, Bits<6>>,
    pub byte: Signal<In, Bits<8>>,
    pub index: Signal<In, Bits<16>>,
    pub address: Signal<In, Bits<16>>,
    pub stream_next: Signal<In, Bits<16>>,
    pub write_length: Signal<In, Bits<32>>,
    pub memory_size: Signal<In, Bits<32>>,
    pub whole_rates: Signal<In, Bits<32>>,
    pub inputs_end: Signal<In, Bits<32>>,
    pub one_sample_length: Signal<In, Bits<32>>,
    pub limit_length: Signal<In, Bits<32>>,
    pub sample_flags: Signal<In, Bits<32>>,
    pub detail: Signal<Out, Bits<32>>,
    /// The error code, zero-extended to the reply's byte.
    pub code: Signal<Out, Bits<8>>,
    _length_parameters: u64,
    _inputs: u64,
    _outputs: u64,
    _coefficients: u64,
    _first_rate_field: u64,
}

impl ErrorDetail {
    /// Builds the selector for a set-parameters length of `length_parameters` bytes, a network
    /// of `inputs` inputs and `outputs` outputs, and `coefficients` coefficients.
    ///
    /// The detail of [`detail_source::FIELD`] is the field number of coefficient `index`:
    /// coefficients 0 to 2 (dt/τ_m, τ_r/τ_m, β) are fields 0 to 2, and the learning rates
    /// that follow are fields `first_rate_field` on.
    pub fn new(
        length_parameters: u64,
        inputs: u64,
        outputs: u64,
        coefficients: u64,
        first_rate_field: u64,
    ) -> Self {
        assert!(
            coefficients >= 3 && first_rate_field >= 3,
            "{coefficients} coefficients with learning rates from field {first_rate_field} do not \
             follow the three constants"
        );
        ErrorDetail {
            source: Default::default(),
            byte: Default::default(),
            index: Default::default(),
            address: Default::default(),
            stream_next: Default::default(),
            write_length: Default::default(),
            memory_size: Default::default(),
            whole_rates: Default::default(),
            inputs_end: Default::default(),
            one_sample_length: Default::default(),
            limit_length: Default::default(),
            sample_flags: Default::default(),
            detail: Default::default(),
            code: Default::default(),
            _length_parameters: length_parameters,
            _inputs: inputs,
            _outputs: outputs,
            _coefficients: coefficients,
            _first_rate_field: first_rate_field,
        }
    }

    /// Returns the field number of coefficient `index`.
    fn field(&self, index: u64) -> u64 {
        if index < 3 {
            index
        } else {
            index - 3 + self._first_rate_field
        }
    }

    /// Returns the bits that every coefficient index and field number fit in.
    fn field_bits(&self) -> usize {
        let largest = self.field(self._coefficients - 1).max(self._coefficients - 1);
        (64 - largest.max(1).leading_zeros()) as usize
    }
}

impl Logic for ErrorDetail {
    fn update(&mut self) {
        use detail_source as d;
        let source = self.source.val().to_u64();
        let detail = match source {
            s if s < d::SELECT => s & 31,
            d::LENGTH_PARAMETERS => self._length_parameters,
            d::NO_STREAM => 0xffff_ffff,
            d::INPUTS => self._inputs,
            d::OUTPUTS => self._outputs,
            d::BYTE => self.byte.val().to_u64(),
            d::WRITE_LENGTH => self.write_length.val().to_u64(),
            d::MEMORY_SIZE => self.memory_size.val().to_u64(),
            d::MEMORY => self.byte.val().to_u64(),
            d::INDEX => self.index.val().to_u64(),
            d::ADDRESS => self.address.val().to_u64(),
            d::STREAM_NEXT => self.stream_next.val().to_u64(),
            d::FIELD => self.field(self.index.val().to_u64()),
            d::WHOLE_RATES => self.whole_rates.val().to_u64(),
            d::INPUTS_END => self.inputs_end.val().to_u64(),
            d::WHOLE_TARGETS => self.address.val().to_u64(),
            d::ONE_SAMPLE_LENGTH => self.one_sample_length.val().to_u64(),
            d::LIMIT_LENGTH => self.limit_length.val().to_u64(),
            d::SAMPLE_FLAGS => self.sample_flags.val().to_u64(),
            _ => source & 31,
        };
        self.detail.next = detail.to_bits();
        self.code.next = d::error_code(source).to_bits();
    }
    fn connect(&mut self) {
        self.detail.connect();
        self.code.connect();
    }
    fn hdl(&self) -> Verilog {
        use detail_source as d;
        // The field number of coefficient `index`, which is below the coefficient count, so
        // its low `field_bits` bits are the whole index.
        let field_bits = self.field_bits();
        assert!(field_bits <= 16, "{} coefficients exceed 16-bit field numbers", self._coefficients);
        let field = format!(
            "wire [{top}:0] field = index[{top}:0] + ((index[{top}:0] > {field_bits}'d2) ? {field_bits}'d{offset} : {field_bits}'d0);\n",
            top = field_bits - 1,
            offset = self._first_rate_field - 3,
        );
        let arms = [
            (
                d::LENGTH_PARAMETERS,
                format!("32'd{}", self._length_parameters),
            ),
            (d::NO_STREAM, "32'hffffffff".to_string()),
            (d::INPUTS, format!("32'd{}", self._inputs)),
            (d::OUTPUTS, format!("32'd{}", self._outputs)),
            (d::BYTE, "{24'h0, byte}".to_string()),
            (d::MEMORY, "{24'h0, byte}".to_string()),
            (d::WRITE_LENGTH, "write_length".to_string()),
            (d::MEMORY_SIZE, "memory_size".to_string()),
            (d::INDEX, "{16'h0, index}".to_string()),
            (d::ADDRESS, "{16'h0, address}".to_string()),
            (d::STREAM_NEXT, "{16'h0, stream_next}".to_string()),
            (d::FIELD, format!("{{{}'h0, field}}", 32 - field_bits)),
            (d::WHOLE_RATES, "whole_rates".to_string()),
            (d::INPUTS_END, "inputs_end".to_string()),
            (d::WHOLE_TARGETS, "{16'h0, address}".to_string()),
            (d::ONE_SAMPLE_LENGTH, "one_sample_length".to_string()),
            (d::LIMIT_LENGTH, "limit_length".to_string()),
            (d::SAMPLE_FLAGS, "sample_flags".to_string()),
        ];
        let cases: String = arms
            .iter()
            .map(|(code, value)| format!("\x20    6'd{code}: detail = {value};\n"))
            .collect();
        // The error code of every source, merged into one arm per code.
        let mut codes: Vec<(u64, Vec<u64>)> = Vec::new();
        for source in 0..64 {
            let code = d::error_code(source);
            match codes.iter_mut().find(|(c, _)| *c == code) {
                Some((_, sources)) => sources.push(source),
                None => codes.push((code, vec![source])),
            }
        }
        let code_cases: String = codes
            .iter()
            .map(|(code, sources)| {
                let labels: Vec<String> = sources.iter().map(|s| format!("6'd{s}")).collect();
                format!("\x20    {}: code = 8'd{code};\n", labels.join(", "))
            })
            .collect();
        Verilog::Custom(format!(
            "{field}\
             always @(*) begin\n\
             \x20  case (source)\n\
             {cases}\
             \x20    default: detail = {{27'h0, source[4:0]}};\n\
             \x20  endcase\n\
             \x20  case (source)\n\
             {code_cases}\
             \x20    default: code = 8'd0;\n\
             \x20  endcase\n\
             end\n"
        ))
    }
}

/// Zero-extends an `I`-bit value to `O` bits.
#[derive(LogicBlock, Default)]
pub struct ZeroExtend<const I: usize, const O: usize> {
    pub value: Signal<In, Bits<I>>,
    pub result: Signal<Out, Bits<O>>,
}

impl<const I: usize, const O: usize> Logic for ZeroExtend<I, O> {
    fn update(&mut self) {
        self.result.next = self.value.val().to_u64().to_bits();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(O > I, "zero extension needs a wider result");
        Verilog::Custom(format!("always @(*) result = {{{}'h0, value}};\n", O - I))
    }
}

/// Sign-extends an `I`-bit value to `O` bits.
#[derive(LogicBlock, Default)]
pub struct SignExtend<const I: usize, const O: usize> {
    pub value: Signal<In, Bits<I>>,
    pub result: Signal<Out, Bits<O>>,
}

impl<const I: usize, const O: usize> Logic for SignExtend<I, O> {
    fn update(&mut self) {
        let value = self.value.val().to_u64();
        let extended = if (value >> (I - 1)) & 1 == 1 {
            value | (u64::MAX << I)
        } else {
            value
        };
        let mask = if O >= 64 { u64::MAX } else { (1u64 << O) - 1 };
        self.result.next = (extended & mask).to_bits();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(O > I, "sign extension needs a wider result");
        Verilog::Custom(format!(
            "always @(*) result = {{{{{}{{value[{}]}}}}, value}};\n",
            O - I,
            I - 1
        ))
    }
}

/// The source of counter `index` of the counters reply: the engine (`from_engine`) at the
/// counter address `engine_address`, or (`link`) the frame decoder's counter `index - 8` (the
/// link error counters, then the unknown-opcode and replay counters, indices 8 to 13), or
/// neither. Inputs and targets arrive as 16-bit words and potential targets are range-checked,
/// so no input or target saturates and that counter reads 0. `index` is the counter loop's
/// index, below 14, so it has four bits.
#[derive(LogicBlock, Default)]
pub struct CounterSelect {
    pub index: Signal<In, Bits<4>>,
    pub from_engine: Signal<Out, Bit>,
    pub engine_address: Signal<Out, Bits<32>>,
    pub link: Signal<Out, Bit>,
}

impl Logic for CounterSelect {
    fn update(&mut self) {
        use crate::engine::counter;
        let index = self.index.val().to_u64();
        let (from_engine, address) = match index {
            0 => (true, counter::CYCLES),
            1 => (true, counter::STEPS),
            3..=7 => (true, counter::POTENTIAL + index - 3),
            _ => (false, 0),
        };
        self.from_engine.next = from_engine;
        self.engine_address.next = address.to_bits();
        self.link.next = index >= 8;
    }
    fn connect(&mut self) {
        self.from_engine.connect();
        self.engine_address.connect();
        self.link.connect();
    }
    fn hdl(&self) -> Verilog {
        use crate::engine::counter;
        let engine_cases: String = (3..=7)
            .map(|index| {
                format!(
                    "\x20    4'd{index}: begin from_engine = 1'b1; engine_address = 32'd{}; end\n",
                    counter::POTENTIAL + index - 3
                )
            })
            .collect();
        Verilog::Custom(format!(
            "always @(*) begin\n\
             \x20  from_engine = 1'b0;\n\
             \x20  engine_address = 32'h0;\n\
             \x20  case (index)\n\
             \x20    4'd0: begin from_engine = 1'b1; engine_address = 32'd{cycles}; end\n\
             \x20    4'd1: begin from_engine = 1'b1; engine_address = 32'd{steps}; end\n\
             {engine_cases}\
             \x20    default: ;\n\
             \x20  endcase\n\
             \x20  link = index[3];\n\
             end\n",
            cycles = counter::CYCLES,
            steps = counter::STEPS,
        ))
    }
}

/// The engine `select` code of a protocol memory id, for reads and for writes (they differ only
/// for the stochastic-rounding state: a counter to read, a constant to write), and the engine
/// address of that state.
#[derive(LogicBlock, Default)]
pub struct MemorySelect {
    pub memory: Signal<In, Bits<8>>,
    pub read_select: Signal<Out, Bits<8>>,
    pub write_select: Signal<Out, Bits<8>>,
    pub is_weights: Signal<Out, Bit>,
    pub is_rounding: Signal<Out, Bit>,
    pub rounding_read_address: Signal<Out, Bits<32>>,
    pub rounding_write_address: Signal<Out, Bits<32>>,
}

impl Logic for MemorySelect {
    fn update(&mut self) {
        use crate::engine::{constant, counter, select};
        let code = match self.memory.val().to_u64() {
            1 => select::WEIGHT,
            2 => select::POTENTIAL,
            3 => select::ERROR,
            4 => select::PROSPECTIVE,
            5 => select::RATE,
            6 => select::SLOPE,
            _ => select::COUNTER,
        };
        let rounding = self.memory.val().to_u64() == 7;
        self.read_select.next = code.to_bits();
        self.write_select.next = if rounding { select::CONSTANT } else { code }.to_bits();
        self.is_weights.next = self.memory.val().to_u64() == 1;
        self.is_rounding.next = rounding;
        self.rounding_read_address.next = counter::ROUNDING_STATE.to_bits();
        self.rounding_write_address.next = constant::ROUNDING_STATE.to_bits();
    }
    fn connect(&mut self) {
        self.read_select.connect();
        self.write_select.connect();
        self.is_weights.connect();
        self.is_rounding.connect();
        self.rounding_read_address.connect();
        self.rounding_write_address.connect();
    }
    fn hdl(&self) -> Verilog {
        use crate::engine::{constant, counter, select};
        Verilog::Custom(format!(
            "always @(*) begin\n\
             \x20  case (memory)\n\
             \x20    8'd1: read_select = 8'd{weight};\n\
             \x20    8'd2: read_select = 8'd{potential};\n\
             \x20    8'd3: read_select = 8'd{error};\n\
             \x20    8'd4: read_select = 8'd{prospective};\n\
             \x20    8'd5: read_select = 8'd{rate};\n\
             \x20    8'd6: read_select = 8'd{slope};\n\
             \x20    default: read_select = 8'd{counter_code};\n\
             \x20  endcase\n\
             \x20  is_weights = memory == 8'd1;\n\
             \x20  is_rounding = memory == 8'd7;\n\
             \x20  write_select = is_rounding ? 8'd{constant_code} : read_select;\n\
             \x20  rounding_read_address = 32'd{read_address};\n\
             \x20  rounding_write_address = 32'd{write_address};\n\
             end\n",
            weight = select::WEIGHT,
            potential = select::POTENTIAL,
            error = select::ERROR,
            prospective = select::PROSPECTIVE,
            rate = select::RATE,
            slope = select::SLOPE,
            counter_code = select::COUNTER,
            constant_code = select::CONSTANT,
            read_address = counter::ROUNDING_STATE,
            write_address = constant::ROUNDING_STATE,
        ))
    }
}

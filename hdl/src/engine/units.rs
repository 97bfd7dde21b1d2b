//! Hand-written leaf blocks of the engine: block RAM, the per-neuron error arithmetic and the
//! stochastic-rounding generator. Each `update` is a Rust model for rust-hdl's simulator; the
//! Verilated engine is checked against the golden model.

use rust_hdl::prelude::*;

use super::{counter, field};
use crate::counter_bank::CounterSpec;
use crate::leaf::{round_shift_value, saturate_value, signed_value};
use crate::verilog::{extend, literal, round_shift, saturate};

/// Simple dual-port block RAM: one registered read port and one write port on the same clock.
///
/// The memory stores `stored_bits` bits per word and sign-extends (or zero-extends) them to the
/// port width on read. A read of the word written in the same clock returns the old word, but the
/// engine never does both to the same word. So the memory carries `no_rw_check`, and yosys infers
/// block RAM without bypass logic. The contents start undefined, except the words that
/// [`Memory::preload`] sets.
///
/// A memory made by [`Memory::exact`] stores exactly its depth in words. A read or write past the
/// last word has an undefined effect (rust-hdl's simulator reads 0 and stores nothing).
#[derive(LogicBlock)]
pub struct Memory<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub read_address: Signal<In, Bits<16>>,
    pub read_data: Signal<Out, T>,
    pub write_address: Signal<In, Bits<16>>,
    pub write_data: Signal<In, T>,
    pub write_enable: Signal<In, Bit>,
    _address_bits: usize,
    _depth: usize,
    _stored_bits: usize,
    _signed: bool,
    _words: Vec<T>,
    /// The words that [`Memory::preload`] set, which the Verilog starts with; the others start
    /// undefined.
    _preloaded: Vec<(usize, u64)>,
}

impl<T: Synth> Memory<T> {
    /// Creates a memory of at least `depth` words (rounded up to a power of two) of `stored_bits` bits.
    pub fn new(depth: usize, stored_bits: usize, signed: bool) -> Self {
        Self::exact(depth.max(2).next_power_of_two(), stored_bits, signed)
    }

    /// Creates a memory of exactly `depth` words of `stored_bits` bits. yosys 0.23 maps a depth
    /// just past a power of two to fewer block RAMs than the next power of two: 543 words of 32
    /// bits take 6 SB_RAM40_4K in place of 8, plus about 70 SB_LUT4 of read multiplexer.
    pub fn exact(depth: usize, stored_bits: usize, signed: bool) -> Self {
        assert!(stored_bits >= 1, "a memory word needs at least one bit");
        assert!(
            stored_bits <= T::BITS,
            "{stored_bits} stored bits do not fit a {}-bit port",
            T::BITS
        );
        let address_bits = depth.max(2).next_power_of_two().trailing_zeros() as usize;
        assert!(
            address_bits <= 16,
            "a memory of {depth} words needs more than 16 address bits"
        );
        Memory {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Default::default(),
            write_address: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _address_bits: address_bits,
            _depth: depth.max(2),
            _stored_bits: stored_bits,
            _signed: signed,
            _words: vec![T::default(); depth.max(2)],
            _preloaded: Vec::new(),
        }
    }
}

impl<const N: usize> Memory<Signed<N>> {
    /// Sets the word at `index` to `value` at configuration (the Verilog's `initial` contents,
    /// which yosys maps into the block RAM's initial contents), before any write.
    pub fn preload(&mut self, index: usize, value: i64) {
        assert!(
            index < self._depth,
            "word {index} is past the memory's {} words",
            self._depth
        );
        self._words[index] = value.into();
        let mask = (1u64 << self._stored_bits) - 1;
        self._preloaded.push((index, value as u64 & mask));
    }
}

impl<T: Synth> Logic for Memory<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let mask = (1usize << self._address_bits) - 1;
            let read_index = self.read_address.val().index() & mask;
            self.read_data.next = self._words.get(read_index).copied().unwrap_or_default();
            if self.write_enable.val() {
                let write_index = self.write_address.val().index() & mask;
                if let Some(word) = self._words.get_mut(write_index) {
                    *word = self.write_data.val();
                }
            }
        }
    }
    fn connect(&mut self) {
        self.read_data.connect();
    }
    fn hdl(&self) -> Verilog {
        let (a, b, w) = (self._address_bits, self._stored_bits, T::BITS);
        let extension = if b == w {
            "read_word".to_string()
        } else if self._signed {
            format!("{{{{{}{{read_word[{}]}}}}, read_word}}", w - b, b - 1)
        } else {
            format!("{{{}'b0, read_word}}", w - b)
        };
        let write_slice = if b == w {
            "write_data".to_string()
        } else {
            format!("write_data[{}:0]", b - 1)
        };
        let mut contents = String::new();
        if !self._preloaded.is_empty() {
            contents.push_str("initial begin\n");
            for (index, value) in &self._preloaded {
                contents.push_str(&format!("   words[{index}] = {b}'h{value:x};\n"));
            }
            contents.push_str("end\n");
        }
        Verilog::Custom(format!(
            "(* no_rw_check *)\n\
             reg [{top}:0] words [0:{last}];\n\
             {contents}\
             reg [{top}:0] read_word;\n\
             always @(posedge clock) begin\n\
             \x20  if (write_enable) words[write_address[{at}:0]] <= {write_slice};\n\
             \x20  read_word <= words[read_address[{at}:0]];\n\
             end\n\
             always @(*) read_data = {extension};\n",
            top = b - 1,
            last = self._depth - 1,
            at = a - 1,
        ))
    }
}

/// `bits = xorshift32(state ^ address) & mask`: the stochastic rounding bits of the weight at
/// `address` (see `leap_model::format::stochastic_bits`), or with a full mask and address 0 the
/// next generator state.
#[derive(LogicBlock)]
pub struct Xorshift {
    pub state: Signal<In, Bits<32>>,
    pub address: Signal<In, Bits<32>>,
    pub bits: Signal<Out, Bits<32>>,
    _mask: u32,
}

impl Xorshift {
    pub fn new(mask: u32) -> Self {
        Xorshift {
            state: Default::default(),
            address: Default::default(),
            bits: Default::default(),
            _mask: mask,
        }
    }
}

impl Logic for Xorshift {
    fn update(&mut self) {
        let mut x = (self.state.val().to_u64() ^ self.address.val().to_u64()) as u32;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.bits.next = ((x & self._mask) as u64).to_bits();
    }
    fn connect(&mut self) {
        self.bits.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "wire [31:0] mixed = state ^ address;\n\
             wire [31:0] step1 = mixed ^ (mixed << 13);\n\
             wire [31:0] step2 = step1 ^ (step1 >> 17);\n\
             wire [31:0] step3 = step2 ^ (step2 << 5);\n\
             always @(*) bits = step3 & 32'h{:x};\n",
            self._mask
        ))
    }
}

/// `result` is the low `bits` bits of `value`, sign-extended to 48 bits. A sum whose range
/// fits `bits` bits keeps its value, and synthesis removes the adder stages above them.
#[derive(LogicBlock)]
pub struct SignExtend48 {
    pub value: Signal<In, Signed<48>>,
    pub result: Signal<Out, Signed<48>>,
    _bits: usize,
}

impl SignExtend48 {
    pub fn new(bits: usize) -> Self {
        assert!((1..=48).contains(&bits), "{bits} bits do not fit 48");
        SignExtend48 {
            value: Default::default(),
            result: Default::default(),
            _bits: bits,
        }
    }
}

impl Logic for SignExtend48 {
    fn update(&mut self) {
        let shift = 64 - self._bits;
        let value = signed_value(self.value.val());
        self.result.next = ((value << shift) >> shift).into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let bits = self._bits;
        if bits == 48 {
            return Verilog::Custom("always @(*) result = value;\n".into());
        }
        Verilog::Custom(format!(
            "always @(*) result = {{{{{}{{value[{top}]}}}}, value[{top}:0]}};\n\
             wire unused_high_bits = &{{1'b0, value[47:{bits}]}};\n",
            48 - bits,
            top = bits - 1,
        ))
    }
}

/// Sign-extends a 32-bit product to the 48-bit accumulator width.
#[derive(LogicBlock, Default)]
pub struct Widen {
    pub value: Signal<In, Signed<32>>,
    pub result: Signal<Out, Signed<48>>,
}

impl Logic for Widen {
    fn update(&mut self) {
        self.result.next = signed_value(self.value.val()).into();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "always @(*) result = {};\n",
            extend("value", 32, 16)
        ))
    }
}

/// The operands of the output error of one neuron, `e = sat(β · x)` (β rounded by its shift),
/// where `x` is `sat(shift_round(realign(t − r) · d, act_frac))` for a rate target and
/// `sat(t − ŭ)` for a voltage target.
///
/// The block has no multiplier and, for the sums and their saturation, no adder of its own.
/// The engine forms both products on the neuron unit's lent multipliers and shifter. The
/// neuron unit's lent rounded sum then forms `sat(base + round(halves))` of each two clocks
/// later (see [`crate::neuron::NeuronUnit`]). In the first product's clock the block gives the
/// shifter's `amount` and the sum's `base`:
/// - voltage target: the product is `ŭ · (−1)` moved by 0, and `base = t`, so the sum is `t − ŭ`;
/// - rate target: the product is `(t − r) · d`, with the 17-bit `rate_difference = t − r`.
///   `realign(t − r)` moves left by `pot_frac − act_frac`, so the product moves right by
///   `act_frac − (pot_frac − act_frac)` with rounding. When that move is 0 or more, the shifter
///   makes it and `base = 0`. Otherwise the block moves the product left itself and saturates
///   it into `base`, sets `saturated` when that clamped, and `amount` is 63, which leaves
///   `round(halves) = 0` whatever the product.
///
/// In the second product's clock, where `second` is set, the product is `x · β_mant`, `amount`
/// is `β_shift` and `base = 0`.
#[derive(LogicBlock)]
pub struct OutputError {
    /// An activity word (rate target) or a potential word (voltage target).
    pub target: Signal<In, Signed<32>>,
    pub rate: Signal<In, Signed<16>>,
    pub voltage: Signal<In, Bit>,
    pub beta_shift: Signal<In, Bits<6>>,
    /// Set in the clock of the second product.
    pub second: Signal<In, Bit>,
    /// `(t − r) · d` from the engine's shared product.
    pub rate_product: Signal<In, Signed<48>>,
    pub rate_difference: Signal<Out, Signed<32>>,
    pub amount: Signal<Out, Bits<6>>,
    pub base: Signal<Out, Signed<32>>,
    pub saturated: Signal<Out, Bit>,
    _act_frac: u32,
    _pot_frac: u32,
    _pot_bits: u32,
}

impl OutputError {
    pub fn new(act_frac: u32, pot_frac: u32, pot_bits: u32) -> Self {
        OutputError {
            target: Default::default(),
            rate: Default::default(),
            voltage: Default::default(),
            beta_shift: Default::default(),
            second: Default::default(),
            rate_product: Default::default(),
            rate_difference: Default::default(),
            amount: Default::default(),
            base: Default::default(),
            saturated: Default::default(),
            _act_frac: act_frac,
            _pot_frac: pot_frac,
            _pot_bits: pot_bits,
        }
    }

    /// Returns the right move of the rate product `(t − r) · d` to the potential format, or
    /// minus its left move.
    fn rate_move(&self) -> i32 {
        2 * self._act_frac as i32 - self._pot_frac as i32
    }
}

impl Logic for OutputError {
    fn update(&mut self) {
        let bits = self._pot_bits as usize;
        let rate_move = self.rate_move();
        let rate_difference =
            signed_value(self.target.val()) as i16 as i64 - signed_value(self.rate.val()) as i64;
        self.rate_difference.next = rate_difference.into();
        let (moved, moved_saturated) = if rate_move < 0 {
            let product = signed_value(self.rate_product.val()) as i128;
            saturate_value(round_shift_value(product, rate_move), bits)
        } else {
            (0, false)
        };
        let (amount, base, saturated) = if self.second.val() {
            (self.beta_shift.val().to_u64(), 0, false)
        } else if self.voltage.val() {
            (0, signed_value(self.target.val()), false)
        } else if rate_move >= 0 {
            (rate_move as u64, 0, false)
        } else {
            (63, moved, moved_saturated)
        };
        self.amount.next = amount.to_bits();
        self.base.next = base.into();
        self.saturated.next = saturated;
    }
    fn connect(&mut self) {
        self.rate_difference.connect();
        self.amount.connect();
        self.base.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let bits = self._pot_bits as usize;
        let rate_move = self.rate_move();
        // `t − r` has 17 bits, so the shared product `(t − r) · d` is exact and fits 32 bits.
        let mut text = format!(
            "wire signed [16:0] rate_wide = {{target[15], target[15:0]}} - {{rate[15], rate}};\n\
             always @(*) rate_difference = {rate_extended};\n",
            rate_extended = extend("rate_wide", 17, 15),
        );
        if rate_move >= 0 {
            text += &format!(
                "wire unused_rate_product = &{{1'b0, rate_product}};\n\
                 always @(*) amount = second ? beta_shift : voltage ? 6'd0 : 6'd{rate_move};\n\
                 always @(*) base = (voltage && !second) ? target : 32'sd0;\n\
                 always @(*) saturated = 1'b0;\n"
            );
        } else {
            text += "wire signed [31:0] slope_product = rate_product[31:0];\n\
                     wire unused_rate_product = &{1'b0, rate_product[47:32]};\n";
            let (moved, moved_width) = round_shift("slope_product", 32, rate_move, "slope_moved");
            text += &moved;
            text += "reg signed [31:0] moved;\nreg moved_saturated;\n";
            text += &saturate(
                "slope_moved",
                moved_width,
                bits,
                "moved",
                32,
                "moved_saturated",
            );
            text += "always @(*) begin\n\
                         if (second) begin\n\
                             amount = beta_shift;\n\
                             base = 32'sd0;\n\
                         end else if (voltage) begin\n\
                             amount = 6'd0;\n\
                             base = target;\n\
                         end else begin\n\
                             amount = 6'd63;\n\
                             base = moved;\n\
                         end\n\
                     end\n\
                     always @(*) saturated = !second && !voltage && moved_saturated;\n";
        }
        Verilog::Custom(text)
    }
}

/// The update factor `g = sat16(realign(e · η_mant, pot_frac + η_shift, upd_frac))`, from the
/// product `e · η_mant` of the neuron unit's lent multipliers.
///
/// The alignment moves right by `pot_frac + η_shift − upd_frac` bits when that is positive
/// (rounding half up) and left otherwise. When `pot_frac >= upd_frac`, every move is to the
/// right: the neuron unit's lent shifter moves the product by `amount`, the engine's
/// [`RoundHalves`] rounds it and the block takes `rounded`. A move of 47 bits or more leaves
/// 0 from a 47-bit product, so `amount` stops at 63, the largest move of the 6-bit shifter.
/// When `pot_frac < upd_frac`, the block moves `product` itself.
#[derive(LogicBlock)]
pub struct UpdateFactor {
    pub product: Signal<In, Signed<48>>,
    pub eta_shift: Signal<In, Bits<6>>,
    pub rounded: Signal<In, Signed<17>>,
    pub amount: Signal<Out, Bits<6>>,
    pub factor: Signal<Out, Signed<16>>,
    pub saturated: Signal<Out, Bit>,
    _pot_frac: u32,
    _upd_frac: u32,
}

impl UpdateFactor {
    pub fn new(pot_frac: u32, upd_frac: u32) -> Self {
        UpdateFactor {
            product: Default::default(),
            eta_shift: Default::default(),
            rounded: Default::default(),
            amount: Default::default(),
            factor: Default::default(),
            saturated: Default::default(),
            _pot_frac: pot_frac,
            _upd_frac: upd_frac,
        }
    }
}

impl Logic for UpdateFactor {
    fn update(&mut self) {
        let product = signed_value(self.product.val()) as i128;
        let amount =
            self._pot_frac as i32 + self.eta_shift.val().to_u64() as i32 - self._upd_frac as i32;
        let mut moved = round_shift_value(product, amount);
        if self._pot_frac >= self._upd_frac {
            self.amount.next = (amount.min(63) as u64).to_bits();
            moved = signed_value(self.rounded.val()) as i128;
        } else {
            self.amount.next = 0u64.to_bits();
        }
        let (factor, clamped) = saturate_value(moved, 16);
        self.factor.next = factor.into();
        self.saturated.next = clamped;
    }
    fn connect(&mut self) {
        self.amount.connect();
        self.factor.connect();
        self.saturated.connect();
    }
    fn hdl(&self) -> Verilog {
        let offset = self._pot_frac as i128 - self._upd_frac as i128;
        if offset >= 0 {
            // Every alignment is a right move by `η_shift + offset`, which stops at 63.
            let mut text = format!(
                "wire [6:0] alignment = {{1'b0, eta_shift}} + 7'd{offset};\n\
                 always @(*) amount = alignment[6] ? 6'd63 : alignment[5:0];\n"
            );
            text += &saturate("rounded", 17, 16, "factor", 16, "saturated");
            return Verilog::Custom(text);
        }
        let mut text = format!(
            "always @(*) amount = 6'd0;\n\
             wire signed [7:0] alignment = $signed({{2'b0, eta_shift}}) + {offset};\n\
             wire [6:0] right = alignment[6:0];\n\
             wire [6:0] left = 7'd0 - alignment[6:0];\n\
             wire signed [95:0] wide = {wide};\n\
             wire signed [95:0] half = (alignment <= 8'sd0) ? 96'sh0 : (96'sh1 <<< (right - 7'd1));\n\
             wire signed [95:0] moved = (alignment < 8'sd0) ? (wide <<< left) : ((wide + half) >>> right);\n",
            offset = literal(offset, 8),
            wide = extend("product", 48, 48),
        );
        text += &saturate("moved", 96, 16, "factor", 16, "saturated");
        Verilog::Custom(text)
    }
}

/// `rounded = (halves + 1) >>> 1` for the shifted doubled product `halves` that the neuron
/// unit's lent shifter forms (see [`crate::leaf::CoefficientShift`]): the product moved right by
/// the shifter's amount and rounded half up, for the update factor.
///
/// The update factor saturates the result to 16 bits, so `rounded` has only 17 and the adder
/// only 18. It is exact for `halves` from −2^16 to 2^16 − 1. Outside that range it is −2^16 or
/// 2^16 − 1 by the sign of `halves`, which saturates to the same word and flag.
#[derive(LogicBlock, Default)]
pub struct RoundHalves {
    pub halves: Signal<In, Signed<34>>,
    pub rounded: Signal<Out, Signed<17>>,
}

impl Logic for RoundHalves {
    fn update(&mut self) {
        let halves = signed_value(self.halves.val()) as i128;
        let rounded = if (-(1i128 << 16)..(1i128 << 16)).contains(&halves) {
            (halves + 1) >> 1
        } else if halves < 0 {
            -(1i128 << 16)
        } else {
            (1i128 << 16) - 1
        };
        self.rounded.next = (rounded as i64).into();
    }
    fn connect(&mut self) {
        self.rounded.connect();
    }
    fn hdl(&self) -> Verilog {
        // Bits 33 to 16 of `halves` are equal exactly when it fits 17 bits. Then `halves + 1`
        // fits 18 bits and its top 17 are the exact result.
        Verilog::Custom(
            "wire sign = halves[33];\n\
             wire fits = (halves[33:16] == {18{sign}});\n\
             wire signed [17:0] bumped = {sign, halves[16:0]} + 18'sd1;\n\
             always @(*) rounded = fits ? bumped[17:1] : {sign, {16{!sign}}};\n\
             wire unused_bits = &{1'b0, bumped[0]};\n"
                .into(),
        )
    }
}

/// A loadable counter: `q ← value` when `load`, else `q ← q + step` when `enable`, and
/// `q ← 0` on `reset`. A counter made by [`Counter::new`] keeps only its low `bits` bits and
/// reads 0 in the others, so synthesis removes their flip-flops and adder stages. [`Default`]
/// keeps all `N` bits.
///
/// `q + step` stays a carry chain even where `step` is 1. Forming `q + 1` in gates as
/// [`crate::link::StepByOne`] does saves one logic cell on a lone 3- to 7-bit counter. With
/// the engine's ten short counters in gates, the iCEBreaker core packed into 15 more logic cells:
/// 18 fewer carry-only cells and 33 more LUT-only cells (yosys 0.23, nextpnr-ice40 0.4
/// pack-only). Averaged over 69 engine packs with random subsets of them in gates, no single
/// counter saved more than 4 ± 4 cells.
#[derive(LogicBlock)]
pub struct Counter<const N: usize> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub load: Signal<In, Bit>,
    pub value: Signal<In, Bits<N>>,
    pub enable: Signal<In, Bit>,
    pub step: Signal<In, Bits<N>>,
    pub q: Signal<Out, Bits<N>>,
    _bits: usize,
}

impl<const N: usize> Counter<N> {
    /// Creates a counter that keeps the low `bits` bits of its count.
    pub fn new(bits: usize) -> Self {
        assert!(
            (1..=N).contains(&bits),
            "a {N}-bit counter cannot keep {bits} bits"
        );
        Counter {
            clock: Default::default(),
            reset: Default::default(),
            load: Default::default(),
            value: Default::default(),
            enable: Default::default(),
            step: Default::default(),
            q: Default::default(),
            _bits: bits,
        }
    }

    /// Creates a counter for values from 0 to `max`: it keeps the bits that `max` needs.
    pub fn up_to(max: u64) -> Self {
        let bits = (64 - max.leading_zeros() as usize).max(1);
        assert!(bits <= N, "a bound of {max} does not fit {N} bits");
        Self::new(bits)
    }

    fn mask(&self) -> u128 {
        (1u128 << self._bits) - 1
    }
}

impl<const N: usize> Default for Counter<N> {
    fn default() -> Self {
        Self::new(N)
    }
}

impl<const N: usize> Logic for Counter<N> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            let mut next = if self.reset.val() {
                Bits::<N>::default()
            } else if self.load.val() {
                self.value.val()
            } else if self.enable.val() {
                self.q.val() + self.step.val()
            } else {
                self.q.val()
            };
            for i in self._bits..N {
                next = next.replace_bit(i, false);
            }
            self.q.next = next;
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        if self._bits == N {
            return Verilog::Custom(format!(
                "always @(posedge clock) begin\n\
                 \x20  if (reset) q <= {N}'h0;\n\
                 \x20  else if (load) q <= value;\n\
                 \x20  else if (enable) q <= q + step;\n\
                 end\n"
            ));
        }
        // The mask clears the upper bits in every branch, so their flip-flops hold 0.
        let mask = format!("{N}'h{:x}", self.mask());
        Verilog::Custom(format!(
            "always @(posedge clock) begin\n\
             \x20  if (reset) q <= {N}'h0;\n\
             \x20  else if (load) q <= value & {mask};\n\
             \x20  else if (enable) q <= (q + step) & {mask};\n\
             end\n"
        ))
    }
}

/// The engine's events of one clock as the `increments` of its [`crate::counter_bank::CounterBank`]: one field per
/// counter, in counter address order (see [`super::counter`]). The cycle counter's field is
/// always 1, the potential field counts the set `potential` inputs, and the weight field is
/// `weight`. The engine reads a counter only while it is idle, so only the cycle counter has
/// events while the bank waits for a read.
#[derive(LogicBlock, Default)]
pub struct CounterEvents {
    pub step: Signal<In, Bit>,
    /// Potential-format clamps: up to four per clock.
    pub potential0: Signal<In, Bit>,
    pub potential1: Signal<In, Bit>,
    pub potential2: Signal<In, Bit>,
    pub potential3: Signal<In, Bit>,
    pub rate: Signal<In, Bit>,
    pub message: Signal<In, Bit>,
    pub update: Signal<In, Bit>,
    /// Weight clamps of this clock.
    pub weight: Signal<In, Bits<8>>,
    pub increments: Signal<Out, Bits<64>>,
}

impl CounterEvents {
    /// Returns the engine's counters in counter address order, for at most `weight_max` weight
    /// clamps per clock.
    pub fn counters(weight_max: usize) -> Vec<CounterSpec> {
        assert!(
            (1..=255).contains(&weight_max),
            "{weight_max} weight clamps per clock do not fit the 8-bit input"
        );
        vec![
            CounterSpec::new(48, 1, 1),
            CounterSpec::new(32, 1, 1).quiet_while_reading(),
            CounterSpec::new(32, 3, 4).quiet_while_reading(),
            CounterSpec::new(32, 1, 1).quiet_while_reading(),
            CounterSpec::new(32, 1, 1).quiet_while_reading(),
            CounterSpec::new(32, 1, 1).quiet_while_reading(),
            CounterSpec::new(32, 8, weight_max as u64).quiet_while_reading(),
        ]
    }
}

// The fields of `CounterEvents::increments` follow the counter addresses, and the engine takes
// every counter address below 7 as one of the bank's counters.
const _: () = assert!(
    counter::CYCLES == 0
        && counter::STEPS == 1
        && counter::POTENTIAL == 2
        && counter::RATE == 3
        && counter::MESSAGE == 4
        && counter::UPDATE == 5
        && counter::WEIGHT == 6
        && counter::ROUNDING_STATE == 7
);

impl Logic for CounterEvents {
    fn update(&mut self) {
        let potential = [
            self.potential0.val(),
            self.potential1.val(),
            self.potential2.val(),
            self.potential3.val(),
        ]
        .iter()
        .filter(|&&event| event)
        .count() as u64;
        let word = 1
            | (self.step.val() as u64) << 1
            | potential << 2
            | (self.rate.val() as u64) << 5
            | (self.message.val() as u64) << 6
            | (self.update.val() as u64) << 7
            | self.weight.val().to_u64() << 8;
        self.increments.next = word.to_bits();
    }
    fn connect(&mut self) {
        self.increments.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "wire [2:0] potential = {2'b0, potential0} + {2'b0, potential1} + {2'b0, potential2}\n\
             \x20  + {2'b0, potential3};\n\
             always @(*) increments = {48'h0, weight, update, message, rate, potential, step, 1'b1};\n"
                .into(),
        )
    }
}

/// Views of a 32-bit word of a memory that stores both potential-format values and layer-table
/// words: `potential` sign-extends its low `bits` bits, `table_word` zero-extends all 32.
#[derive(LogicBlock)]
pub struct StoredWord {
    pub stored: Signal<In, Signed<32>>,
    pub potential: Signal<Out, Signed<32>>,
    pub table_word: Signal<Out, Bits<64>>,
    _bits: usize,
}

impl StoredWord {
    pub fn new(bits: u32) -> Self {
        assert!(
            (2..=32).contains(&bits),
            "a stored value of {bits} bits does not fit 32"
        );
        StoredWord {
            stored: Default::default(),
            potential: Default::default(),
            table_word: Default::default(),
            _bits: bits as usize,
        }
    }
}

impl Logic for StoredWord {
    fn update(&mut self) {
        let word = signed_value(self.stored.val()) as u32 as u64;
        let shift = 64 - self._bits;
        self.potential.next = (((word << shift) as i64) >> shift).into();
        self.table_word.next = word.to_bits();
    }
    fn connect(&mut self) {
        self.potential.connect();
        self.table_word.connect();
    }
    fn hdl(&self) -> Verilog {
        let bits = self._bits;
        let potential = if bits == 32 {
            "stored".to_string()
        } else {
            format!(
                "{{{{{}{{stored[{}]}}}}, stored[{}:0]}}",
                32 - bits,
                bits - 1,
                bits - 1
            )
        };
        Verilog::Custom(format!(
            "always @(*) begin\n\
             \x20  potential = {potential};\n\
             \x20  table_word = {{32'h0, stored}};\n\
             end\n"
        ))
    }
}

/// Typed views of a 64-bit word: the low bits as each port type needs them.
#[derive(LogicBlock, Default)]
pub struct WordView {
    pub word: Signal<In, Bits<64>>,
    pub signed16: Signal<Out, Signed<16>>,
    pub signed32: Signal<Out, Signed<32>>,
    pub unsigned32: Signal<Out, Bits<32>>,
    pub unsigned16: Signal<Out, Bits<16>>,
    pub unsigned6: Signal<Out, Bits<6>>,
    pub unsigned2: Signal<Out, Bits<2>>,
    pub flag: Signal<Out, Bit>,
}

impl Logic for WordView {
    fn update(&mut self) {
        let w = self.word.val().to_u64();
        self.signed16.next = (w as u16 as i16 as i64).into();
        self.signed32.next = (w as u32 as i32 as i64).into();
        self.unsigned32.next = (w & 0xffff_ffff).to_bits();
        self.unsigned16.next = (w & 0xffff).to_bits();
        self.unsigned6.next = (w & 0x3f).to_bits();
        self.unsigned2.next = (w & 0x3).to_bits();
        self.flag.next = w & 1 == 1;
    }
    fn connect(&mut self) {
        self.signed16.connect();
        self.signed32.connect();
        self.unsigned32.connect();
        self.unsigned16.connect();
        self.unsigned6.connect();
        self.unsigned2.connect();
        self.flag.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) begin\n\
             \x20  signed16 = word[15:0];\n\
             \x20  signed32 = word[31:0];\n\
             \x20  unsigned32 = word[31:0];\n\
             \x20  unsigned16 = word[15:0];\n\
             \x20  unsigned6 = word[5:0];\n\
             \x20  unsigned2 = word[1:0];\n\
             \x20  flag = word[0];\n\
             end\n"
                .into(),
        )
    }
}

/// Splits a host weight address into the word within a lane's bank (`address >> bank_bits`) and
/// the lane (`address & (2^bank_bits - 1)`). `beyond` is set when the word does not fit the
/// 16-bit bank address.
#[derive(LogicBlock)]
pub struct AddressSplit {
    pub address: Signal<In, Bits<32>>,
    pub word: Signal<Out, Bits<16>>,
    pub bank: Signal<Out, Bits<8>>,
    pub beyond: Signal<Out, Bit>,
    _bank_bits: usize,
}

impl AddressSplit {
    pub fn new(bank_bits: usize) -> Self {
        assert!((1..=8).contains(&bank_bits));
        AddressSplit {
            address: Default::default(),
            word: Default::default(),
            bank: Default::default(),
            beyond: Default::default(),
            _bank_bits: bank_bits,
        }
    }
}

impl Logic for AddressSplit {
    fn update(&mut self) {
        let a = self.address.val().to_u64();
        self.word.next = ((a >> self._bank_bits) & 0xffff).to_bits();
        self.bank.next = (a & ((1 << self._bank_bits) - 1)).to_bits();
        self.beyond.next = a >> (self._bank_bits + 16) != 0;
    }
    fn connect(&mut self) {
        self.word.connect();
        self.bank.connect();
        self.beyond.connect();
    }
    fn hdl(&self) -> Verilog {
        let b = self._bank_bits;
        let bank = if b == 8 {
            "address[7:0]".to_string()
        } else {
            format!("{{{}'h0, address[{}:0]}}", 8 - b, b - 1)
        };
        Verilog::Custom(format!(
            "always @(*) begin\n   word = address[{top}:{b}];\n   bank = {bank};\n   beyond = |address[31:{high}];\nend\n",
            top = b + 15,
            high = b + 16
        ))
    }
}

/// The host's read multiplexer: the word at (`select`, `address`), sign-extended to 64 bits
/// where the source is signed. Codes are in [`super::select`] and [`super::counter`].
///
/// `address` contains the low address bits that the engine latches, and `beyond` is set when
/// any higher bit is set. Such a weight address or counter address reads 0. `bank` selects the
/// memory of the installed errors: `errors0` when clear, `errors1` when set. `activity` is the
/// input memory of its own, which is unused when the inputs live in `errors1`.
#[derive(LogicBlock)]
pub struct ReadBack {
    pub select: Signal<In, Bits<8>>,
    pub address: Signal<In, Bits<32>>,
    pub beyond: Signal<In, Bit>,
    pub bank: Signal<In, Bit>,
    pub weight: Signal<In, Signed<32>>,
    /// `potentials`, `errors0` and `errors1` as the memories return them: the first two
    /// sign-extended from the potential format, `errors1` with all 32 stored bits.
    pub potentials: Signal<In, Signed<32>>,
    pub errors0: Signal<In, Signed<32>>,
    pub errors1: Signal<In, Signed<32>>,
    pub rate: Signal<In, Signed<16>>,
    pub slope: Signal<In, Signed<16>>,
    pub activity: Signal<In, Signed<16>>,
    /// The counter that a read of a cycle, step or saturation counter waits for, from the
    /// engine's [`crate::counter_bank::CounterBank`]. Only the cycle counter uses bits 47:32.
    pub counter: Signal<In, Bits<48>>,
    pub rounding_state: Signal<In, Bits<32>>,
    pub data: Signal<Out, Bits<64>>,
    _pot_bits: usize,
    _inputs_in_errors1: bool,
}

impl ReadBack {
    pub fn new(pot_bits: u32, inputs_in_errors1: bool) -> Self {
        assert!(
            (2..=32).contains(&pot_bits),
            "a potential of {pot_bits} bits does not fit 32"
        );
        ReadBack {
            select: Default::default(),
            address: Default::default(),
            beyond: Default::default(),
            bank: Default::default(),
            weight: Default::default(),
            potentials: Default::default(),
            errors0: Default::default(),
            errors1: Default::default(),
            rate: Default::default(),
            slope: Default::default(),
            activity: Default::default(),
            counter: Default::default(),
            rounding_state: Default::default(),
            data: Default::default(),
            _pot_bits: pot_bits as usize,
            _inputs_in_errors1: inputs_in_errors1,
        }
    }
}

impl Logic for ReadBack {
    fn update(&mut self) {
        // rust-hdl's simulator is not used for the engine; the Verilated model is the reference.
        self.data.next = 0u64.to_bits();
    }
    fn connect(&mut self) {
        self.data.connect();
    }
    fn hdl(&self) -> Verilog {
        use super::select;
        // The case on `select` picks one source, which fixes both the word and how it extends.
        // Several selects share a memory: potentials and targets, prospective potentials and
        // errors, and errors, inputs and the layer table in `errors1`, which differ only in
        // their upper bits. A second case forms the 16-bit slices of `data` from the source,
        // with each source's extension folded into its slices: yosys 0.23 maps that to about
        // 40 fewer SB_LUT4 than a 32-bit word multiplexer followed by an extension
        // multiplexer. Counter addresses are below 8, so one OR of the upper address bits and
        // a 3-bit case replace eight 32-bit comparisons.
        let codes = [
            counter::CYCLES,
            counter::STEPS,
            counter::POTENTIAL,
            counter::RATE,
            counter::MESSAGE,
            counter::UPDATE,
            counter::WEIGHT,
            counter::ROUNDING_STATE,
        ];
        assert!(codes.iter().all(|&code| code < 8));
        let bits = self._pot_bits;
        let input_source = if self._inputs_in_errors1 {
            "SOURCE_ERRORS1_INPUT"
        } else {
            "SOURCE_ACTIVITY"
        };
        // `errors1` stores all 32 bits of a word, so an error read from it is sign-extended
        // from the potential format's sign bit, in both 16-bit slices.
        let sign = bits - 1;
        let potential_mid = if bits == 32 {
            "errors1[31:16]".to_string()
        } else if bits > 16 {
            format!(
                "{{{{{}{{errors1[{sign}]}}}}, errors1[{sign}:16]}}",
                32 - bits
            )
        } else {
            format!("{{16{{errors1[{sign}]}}}}")
        };
        let potential_low = if bits >= 16 {
            "errors1[15:0]".to_string()
        } else {
            format!(
                "{{{{{}{{errors1[{sign}]}}}}, errors1[{sign}:0]}}",
                16 - bits
            )
        };
        Verilog::Custom(format!(
            "localparam SOURCE_ZERO = 4'd0, SOURCE_WEIGHT = 4'd1, SOURCE_POTENTIALS = 4'd2,\n\
             \x20  SOURCE_ERRORS0 = 4'd3, SOURCE_ERRORS1_ERROR = 4'd4, SOURCE_ERRORS1_TABLE = 4'd5,\n\
             \x20  SOURCE_ERRORS1_INPUT = 4'd6, SOURCE_RATE = 4'd7, SOURCE_SLOPE = 4'd8,\n\
             \x20  SOURCE_ACTIVITY = 4'd9, SOURCE_CYCLES = 4'd10, SOURCE_COUNTER = 4'd11,\n\
             \x20  SOURCE_ROUNDING_STATE = 4'd12;\n\
             wire counter_address = ~beyond & ~|address[31:3];\n\
             reg [3:0] source;\n\
             always @(*) begin\n\
             \x20  source = SOURCE_ZERO;\n\
             \x20  case (select)\n\
             \x20     8'd{w}: source = beyond ? SOURCE_ZERO : SOURCE_WEIGHT;\n\
             \x20     8'd{u}, 8'd{t}: source = SOURCE_POTENTIALS;\n\
             \x20     8'd{ub}: source = SOURCE_ERRORS0;\n\
             \x20     8'd{e}: source = bank ? SOURCE_ERRORS1_ERROR : SOURCE_ERRORS0;\n\
             \x20     8'd{r}: source = SOURCE_RATE;\n\
             \x20     8'd{d}: source = SOURCE_SLOPE;\n\
             \x20     8'd{x}: source = {input_source};\n\
             \x20     8'd{table_code}: source = SOURCE_ERRORS1_TABLE;\n\
             \x20     8'd{counters}: if (counter_address) case (address[2:0])\n\
             \x20        3'd{cycles_code}: source = SOURCE_CYCLES;\n\
             \x20        3'd{steps_code}, 3'd{pot_code}, 3'd{rate_code}, 3'd{msg_code}, 3'd{upd_code},\n\
             \x20           3'd{weight_code}: source = SOURCE_COUNTER;\n\
             \x20        3'd{rounding_code}: source = SOURCE_ROUNDING_STATE;\n\
             \x20        default: source = SOURCE_ZERO;\n\
             \x20     endcase\n\
             \x20     default: source = SOURCE_ZERO;\n\
             \x20  endcase\n\
             end\n\
             // `data` is {{16 x sign, high | 16 x sign, mid, low}}: `sign` is set only for signed\n\
             // sources and `high` only for the cycle counter.\n\
             reg sign;\n\
             reg [15:0] low;\n\
             reg [15:0] mid;\n\
             reg [15:0] high;\n\
             always @(*) begin\n\
             \x20  sign = 1'b0;\n\
             \x20  low = 16'h0;\n\
             \x20  mid = 16'h0;\n\
             \x20  high = 16'h0;\n\
             \x20  case (source)\n\
             \x20     SOURCE_WEIGHT: begin\n\
             \x20        sign = weight[31];\n\
             \x20        low = weight[15:0];\n\
             \x20        mid = weight[31:16];\n\
             \x20     end\n\
             \x20     SOURCE_POTENTIALS: begin\n\
             \x20        sign = potentials[31];\n\
             \x20        low = potentials[15:0];\n\
             \x20        mid = potentials[31:16];\n\
             \x20     end\n\
             \x20     SOURCE_ERRORS0: begin\n\
             \x20        sign = errors0[31];\n\
             \x20        low = errors0[15:0];\n\
             \x20        mid = errors0[31:16];\n\
             \x20     end\n\
             \x20     SOURCE_ERRORS1_ERROR: begin\n\
             \x20        sign = errors1[{sign}];\n\
             \x20        low = {potential_low};\n\
             \x20        mid = {potential_mid};\n\
             \x20     end\n\
             \x20     SOURCE_ERRORS1_TABLE: begin\n\
             \x20        low = errors1[15:0];\n\
             \x20        mid = errors1[31:16];\n\
             \x20     end\n\
             \x20     SOURCE_ERRORS1_INPUT: begin\n\
             \x20        sign = errors1[15];\n\
             \x20        low = errors1[15:0];\n\
             \x20        mid = {{16{{errors1[15]}}}};\n\
             \x20     end\n\
             \x20     SOURCE_RATE: begin\n\
             \x20        sign = rate[15];\n\
             \x20        low = rate;\n\
             \x20        mid = {{16{{rate[15]}}}};\n\
             \x20     end\n\
             \x20     SOURCE_SLOPE: begin\n\
             \x20        sign = slope[15];\n\
             \x20        low = slope;\n\
             \x20        mid = {{16{{slope[15]}}}};\n\
             \x20     end\n\
             \x20     SOURCE_ACTIVITY: begin\n\
             \x20        sign = activity[15];\n\
             \x20        low = activity;\n\
             \x20        mid = {{16{{activity[15]}}}};\n\
             \x20     end\n\
             \x20     SOURCE_CYCLES: begin\n\
             \x20        low = counter[15:0];\n\
             \x20        mid = counter[31:16];\n\
             \x20        high = counter[47:32];\n\
             \x20     end\n\
             \x20     SOURCE_COUNTER: begin\n\
             \x20        low = counter[15:0];\n\
             \x20        mid = counter[31:16];\n\
             \x20     end\n\
             \x20     SOURCE_ROUNDING_STATE: begin\n\
             \x20        low = rounding_state[15:0];\n\
             \x20        mid = rounding_state[31:16];\n\
             \x20     end\n\
             \x20     default: ;\n\
             \x20  endcase\n\
             \x20  data = {{{{16{{sign}}}}, high | {{16{{sign}}}}, mid, low}};\n\
             end\n",
            w = select::WEIGHT,
            u = select::POTENTIAL,
            t = select::TARGET,
            ub = select::PROSPECTIVE,
            e = select::ERROR,
            r = select::RATE,
            d = select::SLOPE,
            x = select::INPUT,
            table_code = select::LAYER_TABLE,
            counters = select::COUNTER,
            cycles_code = counter::CYCLES,
            steps_code = counter::STEPS,
            pot_code = counter::POTENTIAL,
            rate_code = counter::RATE,
            msg_code = counter::MESSAGE,
            upd_code = counter::UPDATE,
            weight_code = counter::WEIGHT,
            rounding_code = counter::ROUNDING_STATE,
        ))
    }
}

/// A register that loads `d` when `enable` is set and keeps its value otherwise. It has no reset,
/// because the host or the engine writes it before use.
#[derive(LogicBlock, Default)]
pub struct EnableRegister<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub enable: Signal<In, Bit>,
    pub d: Signal<In, T>,
    pub q: Signal<Out, T>,
}

impl<T: Synth> Logic for EnableRegister<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.enable.val() {
            self.q.next = self.d.val();
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(posedge clock) begin\n   if (enable) q <= d;\nend\n".into())
    }
}

/// Decodes the table address of a load clock into the layer-table field that the table read
/// of the clock before returns: one flag per field that the engine keeps while loading. The
/// engine reads η's mantissa in `StreamStart` instead. A layer's entry starts at a multiple of
/// [`field::STRIDE`], so the low address bits are that field plus one.
#[derive(LogicBlock, Default)]
pub struct TableFields {
    pub address: Signal<In, Bits<16>>,
    pub rows: Signal<Out, Bit>,
    pub columns: Signal<Out, Bit>,
    pub groups: Signal<Out, Bit>,
    pub cadence_last: Signal<Out, Bit>,
    pub weight_base: Signal<Out, Bit>,
    pub address_base: Signal<Out, Bit>,
    pub state_base: Signal<Out, Bit>,
    pub input_base: Signal<Out, Bit>,
    pub activation: Signal<Out, Bit>,
    pub eta_shift: Signal<Out, Bit>,
    pub first: Signal<Out, Bit>,
    pub inputs: Signal<Out, Bit>,
    pub groups_last: Signal<Out, Bit>,
}

// Every field the engine keeps, plus one, fits the 4 address bits below the stride.
const _: () = assert!(field::STRIDE == 16 && field::GROUPS_LAST + 1 < field::STRIDE);

impl TableFields {
    /// Returns each output with the field whose word it flags.
    fn outputs(&mut self) -> [(&mut Signal<Out, Bit>, u64); 13] {
        [
            (&mut self.rows, field::ROWS),
            (&mut self.columns, field::COLUMNS),
            (&mut self.groups, field::GROUPS),
            (&mut self.cadence_last, field::CADENCE_LAST),
            (&mut self.weight_base, field::WEIGHT_BASE),
            (&mut self.address_base, field::ADDRESS_BASE),
            (&mut self.state_base, field::STATE_BASE),
            (&mut self.input_base, field::INPUT_BASE),
            (&mut self.activation, field::ACTIVATION),
            (&mut self.eta_shift, field::ETA_SHIFT),
            (&mut self.first, field::FIRST),
            (&mut self.inputs, field::INPUTS),
            (&mut self.groups_last, field::GROUPS_LAST),
        ]
    }
}

impl Logic for TableFields {
    fn update(&mut self) {
        let low = self.address.val().to_u64() % field::STRIDE;
        for (output, code) in self.outputs() {
            output.next = low == code + 1;
        }
    }
    fn connect(&mut self) {
        for (output, _) in self.outputs() {
            output.connect();
        }
    }
    fn hdl(&self) -> Verilog {
        let names = [
            ("rows", field::ROWS),
            ("columns", field::COLUMNS),
            ("groups", field::GROUPS),
            ("cadence_last", field::CADENCE_LAST),
            ("weight_base", field::WEIGHT_BASE),
            ("address_base", field::ADDRESS_BASE),
            ("state_base", field::STATE_BASE),
            ("input_base", field::INPUT_BASE),
            ("activation", field::ACTIVATION),
            ("eta_shift", field::ETA_SHIFT),
            ("first", field::FIRST),
            ("inputs", field::INPUTS),
            ("groups_last", field::GROUPS_LAST),
        ];
        let mut text = String::from("always @(*) begin\n");
        for (name, code) in names {
            text += &format!("   {name} = address[3:0] == 4'd{};\n", code + 1);
        }
        text += "end\nwire unused_address = &{1'b0, address[15:4]};\n";
        Verilog::Custom(text)
    }
}

/// An [`EnableRegister`] that a configuration may preset. With a preset value, `reset` loads it
/// and takes priority over `enable`. Without one, `reset` does nothing and the register starts
/// undefined, as an [`EnableRegister`] does.
#[derive(LogicBlock, Default)]
pub struct PresetRegister<T: Synth> {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub enable: Signal<In, Bit>,
    pub d: Signal<In, T>,
    pub q: Signal<Out, T>,
    /// The value and its bit pattern; `None` leaves the register without reset.
    _preset: Option<(T, u64)>,
}

impl<T: Synth> PresetRegister<T> {
    /// Makes `reset` load `value`, whose bit pattern is `bits`.
    pub fn preset(&mut self, value: T, bits: u64) {
        self._preset = Some((value, bits));
    }
}

impl<T: Synth> Logic for PresetRegister<T> {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            match self._preset {
                Some((value, _)) if self.reset.val() => self.q.next = value,
                _ => {
                    if self.enable.val() {
                        self.q.next = self.d.val();
                    }
                }
            }
        }
    }
    fn connect(&mut self) {
        self.q.connect();
    }
    fn hdl(&self) -> Verilog {
        match self._preset {
            Some((_, bits)) => Verilog::Custom(format!(
                "always @(posedge clock) begin\n   if (reset) q <= {}'h{bits:x};\n   \
                 else if (enable) q <= d;\nend\n",
                T::BITS
            )),
            None => Verilog::Custom(
                "always @(posedge clock) begin\n   if (enable) q <= d;\nend\n\
                 wire unused_reset = reset;\n"
                    .into(),
            ),
        }
    }
}

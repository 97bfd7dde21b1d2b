//! Event counters kept in a single-port memory of 16-bit words, with only a small pending count
//! per counter in flip-flops.

use rust_hdl::prelude::*;

use crate::link::SinglePortMemory;

/// One counter of a [`CounterBank`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterSpec {
    /// 16-bit memory words of the counter, low word first: 2 for a 32-bit counter, 3 for a
    /// 48-bit one.
    pub halves: usize,
    /// Width of the counter's field in `increments`.
    pub increment_bits: usize,
    /// The largest increment that the field carries in one clock.
    pub max_increment: u64,
    /// The field is 0 while `reading` is high, so the pending count needs no room for the
    /// clocks that a read stops the round.
    pub quiet_while_reading: bool,
    /// Clocks of the shortest window that can take `max_increment` events: the events of any
    /// `spacing` consecutive clocks add up to at most `max_increment`. 1 unless set.
    pub spacing: usize,
}

impl CounterSpec {
    /// Creates a counter of `bits` bits (32 or 48) that takes at most `max_increment` events per
    /// clock in a field of `increment_bits` bits.
    pub fn new(bits: usize, increment_bits: usize, max_increment: u64) -> Self {
        assert!(
            bits == 32 || bits == 48,
            "a counter of {bits} bits is not supported, only 32 or 48"
        );
        CounterSpec {
            halves: bits / 16,
            increment_bits,
            max_increment,
            quiet_while_reading: false,
            spacing: 1,
        }
    }

    /// Returns the counter with [`CounterSpec::spacing`] set to `clocks`, which sizes its
    /// pending count for `max_increment` events per `clocks` clocks.
    pub fn spaced(self, clocks: usize) -> Self {
        assert!(clocks >= 1, "a spacing of 0 clocks is invalid");
        CounterSpec {
            spacing: clocks,
            ..self
        }
    }

    /// Returns the counter with [`CounterSpec::quiet_while_reading`] set.
    pub fn quiet_while_reading(self) -> Self {
        CounterSpec {
            quiet_while_reading: true,
            ..self
        }
    }
}

/// Clocks of the fold round and the bits of every pending count, derived from the counters.
#[derive(Clone, Debug)]
struct BankLayout {
    counters: Vec<CounterSpec>,
    /// Memory word of each counter's low half; its other halves follow it.
    first_slot: Vec<usize>,
    slots: usize,
    /// Clocks of one round: a read clock and a write clock per memory word.
    round: usize,
    pending_bits: Vec<usize>,
    /// Offset of each counter's field in `increments`.
    offsets: Vec<usize>,
}

impl BankLayout {
    fn new(counters: &[CounterSpec], hold_clocks: usize) -> Self {
        assert!(
            (1..16).contains(&counters.len()),
            "a bank keeps 1 to 15 counters, not {}",
            counters.len()
        );
        let mut first_slot = Vec::new();
        let mut offsets = Vec::new();
        let (mut slots, mut offset) = (0, 0);
        for spec in counters {
            assert!(
                (2..=3).contains(&spec.halves),
                "a counter of {} halves is not supported",
                spec.halves
            );
            assert!(
                (1..=16).contains(&spec.increment_bits),
                "an increment field of {} bits is not supported",
                spec.increment_bits
            );
            assert!(
                spec.max_increment >= 1 && spec.max_increment < 1 << spec.increment_bits,
                "a maximum increment of {} does not fit {} bits",
                spec.max_increment,
                spec.increment_bits
            );
            first_slot.push(slots);
            offsets.push(offset);
            slots += spec.halves;
            offset += spec.increment_bits;
        }
        assert!(
            offset <= 64,
            "the increment fields take {offset} bits of 64"
        );

        let round = 2 * slots;
        // A pending count takes the events from the clock of one fold of its counter up to the
        // clock before the next fold. That is a round of clocks, plus the clocks that a read
        // stalls the round unless the counter is quiet while reading. Those clocks split into
        // at most `ceil(clocks / spacing)` windows of `spacing` clocks.
        let pending_bits: Vec<usize> = counters
            .iter()
            .map(|spec| {
                let read_clocks = if spec.quiet_while_reading {
                    0
                } else {
                    hold_clocks
                };
                let windows = (round + read_clocks).div_ceil(spec.spacing);
                bits_for(spec.max_increment * windows as u64)
            })
            .collect();
        for &bits in &pending_bits {
            assert!(
                bits < 16,
                "a pending count of {bits} bits does not fit below a 16-bit half"
            );
        }
        BankLayout {
            counters: counters.to_vec(),
            first_slot,
            slots,
            round,
            pending_bits,
            offsets,
        }
    }

    /// Memory word of the counter's top half.
    fn top_slot(&self, counter: usize) -> usize {
        self.first_slot[counter] + self.counters[counter].halves - 1
    }

    /// Returns the counter whose half is at memory word `slot`, and that half's index.
    fn slot_owner(&self, slot: usize) -> (usize, usize) {
        let counter = (0..self.counters.len())
            .rev()
            .find(|&k| self.first_slot[k] <= slot)
            .unwrap();
        (counter, slot - self.first_slot[counter])
    }

    /// Returns the phase at which a read of `counter` stops the round: the read clock after its
    /// top half was written.
    fn hold_phase(&self, counter: usize) -> usize {
        2 * ((self.top_slot(counter) + 1) % self.slots)
    }

    fn wide(&self) -> bool {
        self.counters.iter().any(|spec| spec.halves == 3)
    }
}

/// Bits of an unsigned number up to `max`.
fn bits_for(max: u64) -> usize {
    (64 - max.leading_zeros() as usize).max(1)
}

/// `N` counters of 32 or 48 bits that wrap around, kept in a [`SinglePortMemory`] of 16-bit
/// words (an SB_SPRAM256KA on iCE40), with a pending count per counter in flip-flops.
///
/// Counter `k` adds the field `k` of `increments` in every clock; the fields follow each other
/// from bit 0 with the widths of the [`CounterSpec`]s. The bank folds the pending counts into
/// the memory in a fixed round. Each memory word takes two clocks: the bank reads it, then
/// writes back the word plus the counter's pending count (on its low half) or the carry out of
/// the half below. A fold adds the pending count, which ends with the clock before the fold,
/// and restarts it at the increment of the fold's own clock. So only the pending count's
/// register feeds the fold, and each bit of its sum shares a logic cell with its flip-flop. A
/// pending count collects the events of at most `round + hold_clocks` clocks, where `round` is
/// twice the memory words, or of `round` clocks for a counter that is quiet while reading. Its
/// flip-flops are sized for that many clocks at the maximum increment per
/// [`CounterSpec::spacing`] clocks, so it never overflows while the caller keeps that spacing
/// and the read contract below.
///
/// A read raises `reading` with a counter index in `select` and keeps both until `ready`. The
/// bank waits for the next fold of that counter that starts after `reading` rises, then stops
/// the round after the counter's top half and reads that word back, and raises `ready` one clock
/// later with the counter in `value`. `value` and `ready` stay while `reading` stays high. So
/// `value` counts the events up to the clock before the one that folded the low half, and a
/// read waits at most about a round and the counter's words. `ready` is a register, so that a
/// consumer may form `reading` in the same logic that takes `ready`, and it is valid only while
/// `reading` is high.
/// Contract: `reading` falls at most `hold_clocks - 1` clocks after `ready` rises, so that the
/// round stops for at most `hold_clocks` clocks, and it stays low for a clock between two reads.
///
/// NOTE: the bank does not check this contract. A caller that breaks it can overflow a pending
/// count and lose events.
///
/// In a bank with a 48-bit counter, bits 47:32 of `value` are not zero for a 32-bit counter
/// (they repeat its top half), which saves a multiplexer; the caller ignores them.
///
/// NOTE: the cosim tests check a 48-bit counter (the engine's cycle counter) past 2^16 clocks,
/// but no test runs the 2^32 clocks that carry into its top word.
///
/// `reset` and `clear` (both synchronous) zero every counter: they drop the pending counts and
/// restart the round as a clearing round, whose folds write the pending counts in place of the
/// memory's contents. That also covers the undefined contents after power-on. `reset` drops the
/// increments of its own clock too, while `clear` counts them, so that the counters start from
/// the events still in flight.
#[derive(LogicBlock)]
pub struct CounterBank {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub clear: Signal<In, Bit>,
    pub increments: Signal<In, Bits<64>>,
    pub reading: Signal<In, Bit>,
    pub select: Signal<In, Bits<4>>,
    /// The selected counter. Bits above its width are zero unless the bank has a 48-bit counter.
    pub value: Signal<Out, Bits<48>>,
    pub ready: Signal<Out, Bit>,
    fold: CounterFold,
    memory: SinglePortMemory<Bits<16>>,
}

impl CounterBank {
    /// Creates a bank of `counters`, for reads that stop the round for at most `hold_clocks`
    /// clocks (at least 2).
    pub fn new(counters: &[CounterSpec], hold_clocks: usize) -> Self {
        assert!(
            hold_clocks >= 2,
            "a read stops the round for at least 2 clocks"
        );
        let layout = BankLayout::new(counters, hold_clocks);
        CounterBank {
            clock: Default::default(),
            reset: Default::default(),
            clear: Default::default(),
            increments: Default::default(),
            reading: Default::default(),
            select: Default::default(),
            value: Default::default(),
            ready: Default::default(),
            memory: SinglePortMemory::new(layout.slots),
            fold: CounterFold::new(layout),
        }
    }
}

impl Logic for CounterBank {
    #[hdl_gen]
    fn update(&mut self) {
        self.fold.clock.next = self.clock.val();
        self.fold.reset.next = self.reset.val();
        self.fold.clear.next = self.clear.val();
        self.fold.increments.next = self.increments.val();
        self.fold.reading.next = self.reading.val();
        self.fold.select.next = self.select.val();
        self.fold.read_data.next = self.memory.read_data.val();
        self.memory.clock.next = self.clock.val();
        self.memory.address.next = self.fold.address.val();
        self.memory.write_enable.next = self.fold.write_enable.val();
        self.memory.write_data.next = self.fold.write_data.val();
        self.value.next = self.fold.value.val();
        self.ready.next = self.fold.ready.val();
    }
}

/// The controller and adder of a [`CounterBank`], which drive its memory port.
#[derive(LogicBlock)]
pub struct CounterFold {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub clear: Signal<In, Bit>,
    pub increments: Signal<In, Bits<64>>,
    pub reading: Signal<In, Bit>,
    pub select: Signal<In, Bits<4>>,
    pub value: Signal<Out, Bits<48>>,
    pub ready: Signal<Out, Bit>,
    pub address: Signal<Out, Bits<16>>,
    pub write_enable: Signal<Out, Bit>,
    pub write_data: Signal<Out, Bits<16>>,
    pub read_data: Signal<In, Bits<16>>,
    _layout: BankLayout,
    _phase: usize,
    _pending: Vec<u64>,
    _clearing: bool,
    _carry: bool,
    _low: u64,
    _middle: u64,
    _fresh: bool,
    _held: bool,
}

impl CounterFold {
    fn new(layout: BankLayout) -> Self {
        let counters = layout.counters.len();
        CounterFold {
            clock: Default::default(),
            reset: Default::default(),
            clear: Default::default(),
            increments: Default::default(),
            reading: Default::default(),
            select: Default::default(),
            value: Default::default(),
            ready: Default::default(),
            address: Default::default(),
            write_enable: Default::default(),
            write_data: Default::default(),
            read_data: Default::default(),
            _layout: layout,
            _phase: 0,
            _pending: vec![0; counters],
            _clearing: true,
            _carry: false,
            _low: 0,
            _middle: 0,
            _fresh: false,
            _held: false,
        }
    }

    /// Returns the increment of each counter in this clock.
    fn increments_now(&self) -> Vec<u64> {
        let word = self.increments.val().to_u64();
        let layout = &self._layout;
        (0..layout.counters.len())
            .map(|k| {
                let field =
                    (word >> layout.offsets[k]) & ((1 << layout.counters[k].increment_bits) - 1);
                field & ((1 << layout.pending_bits[k]) - 1)
            })
            .collect()
    }
}

impl Logic for CounterFold {
    fn update(&mut self) {
        let layout = self._layout.clone();
        let counters = layout.counters.len();
        let increments = self.increments_now();
        let sums: Vec<u64> = (0..counters)
            .map(|k| (self._pending[k] + increments[k]) & ((1 << layout.pending_bits[k]) - 1))
            .collect();
        let slot = self._phase / 2;
        let writing = self._phase % 2 == 1;
        let (owner, half) = layout.slot_owner(slot);
        let first = half == 0;
        let last = half + 1 == layout.counters[owner].halves;
        let target = self.select.val().to_u64() as usize;
        let waits = self.reading.val() && target < counters;
        let hold = waits && self._fresh && self._phase == layout.hold_phase(target);

        let addend = if first {
            self._pending[owner]
        } else {
            self._carry as u64
        };
        let result = if self._clearing {
            addend
        } else {
            self.read_data.val().to_u64() + addend
        };
        let high = self.read_data.val().to_u64();
        let value = if layout.wide() {
            (high << 32) | (self._middle << 16) | self._low
        } else {
            (high << 16) | self._low
        };
        self.value.next = value.to_bits();
        self.ready.next = self._held;
        self.address.next = (if hold { layout.top_slot(target) } else { slot } as u64).to_bits();
        self.write_enable.next = writing;
        self.write_data.next = (result & 0xffff).to_bits();

        if self.clock.pos_edge() {
            if self.reset.val() || self.clear.val() {
                self._phase = 0;
                self._pending = if self.reset.val() {
                    vec![0; counters]
                } else {
                    increments
                };
                self._clearing = true;
                self._carry = false;
                self._fresh = false;
                self._held = false;
                return;
            }
            self._pending = sums;
            self._held = hold;
            if !waits {
                self._fresh = false;
            } else if writing && first && owner == target {
                self._fresh = true;
            }
            if writing {
                if first {
                    self._pending[owner] = increments[owner];
                    self._low = result & 0xffff;
                } else if half == 1 {
                    // The second word: the middle of a 48-bit counter or the top of a 32-bit one.
                    self._middle = result & 0xffff;
                }
                self._carry = !last && result >> 16 != 0;
            }
            if !hold {
                if self._phase + 1 == layout.round {
                    self._clearing = false;
                }
                self._phase = (self._phase + 1) % layout.round;
            }
        }
    }
    fn connect(&mut self) {
        self.value.connect();
        self.ready.connect();
        self.address.connect();
        self.write_enable.connect();
        self.write_data.connect();
    }
    fn hdl(&self) -> Verilog {
        let layout = &self._layout;
        let counters = layout.counters.len();
        let slot_bits = bits_for(layout.slots as u64 - 1);
        let phase_bits = bits_for(layout.round as u64 - 1);
        // A round has at least 4 clocks, so every pending count has at least 3 bits.
        let widest = *layout.pending_bits.iter().max().unwrap();

        let mut text = String::new();
        // Pending counts and their sums with this clock's increments. Only the register feeds
        // the fold, so that each sum bit and its flip-flop share a logic cell.
        let mut used = 0;
        for (k, spec) in layout.counters.iter().enumerate() {
            let bits = layout.pending_bits[k];
            let offset = layout.offsets[k];
            let field = if spec.increment_bits >= bits {
                format!("increments[{}:{offset}]", offset + bits - 1)
            } else {
                format!(
                    "{{{}'h0, increments[{}:{offset}]}}",
                    bits - spec.increment_bits,
                    offset + spec.increment_bits - 1
                )
            };
            if spec.increment_bits > bits {
                // The maximum increment fits the pending count, so these bits are always 0.
                text += &format!(
                    "wire unused_increment{k} = &{{1'b0, increments[{}:{}]}};\n",
                    offset + spec.increment_bits - 1,
                    offset + bits
                );
            }
            text += &format!(
                "reg [{top}:0] pending{k};\n\
                 wire [{top}:0] increment{k} = {field};\n\
                 wire [{top}:0] sum{k} = pending{k} + increment{k};\n",
                top = bits - 1,
            );
            used = offset + spec.increment_bits;
        }
        if used < 64 {
            text += &format!("wire unused_increments = &{{1'b0, increments[63:{used}]}};\n");
        }

        // The memory word of this phase, and whether it is a counter's low or top half. A low
        // half adds the counter's pending sum, the other halves add the carry.
        text += &format!(
            "reg [{pt}:0] phase;\n\
             wire [{st}:0] slot = phase[{pt}:1];\n\
             wire writing = phase[0];\n\
             reg slot_first, slot_second, slot_last;\n\
             reg [{wt}:0] first_addend;\n\
             always @(*) begin\n\
             \x20  slot_first = 1'b0;\n\
             \x20  slot_second = 1'b0;\n\
             \x20  slot_last = 1'b0;\n\
             \x20  first_addend = {widest}'h0;\n\
             \x20  case (slot)\n",
            pt = phase_bits - 1,
            st = slot_bits - 1,
            wt = widest - 1,
        );
        for slot in 0..layout.slots {
            let (owner, half) = layout.slot_owner(slot);
            let halves = layout.counters[owner].halves;
            let mut body = String::new();
            if half == 0 {
                let bits = layout.pending_bits[owner];
                let sum = if bits == widest {
                    format!("pending{owner}")
                } else {
                    format!("{{{}'h0, pending{owner}}}", widest - bits)
                };
                body += &format!(" slot_first = 1'b1; first_addend = {sum};");
            }
            if half == 1 {
                body += " slot_second = 1'b1;";
            }
            if half + 1 == halves {
                body += " slot_last = 1'b1;";
            }
            text += &format!("      {slot_bits}'d{slot}: begin {body} end\n");
        }
        text += "      default: ;\n   endcase\nend\n";

        // The fold: the carry is 0 on a low half and the pending sum is 0 on the others, so
        // one OR forms the addend. A clearing round writes the addend alone.
        text += &format!(
            "reg clearing, carry;\n\
             wire [15:0] addend = {addend};\n\
             wire [16:0] result = {{1'b0, read_data}} + {{1'b0, addend}};\n\
             always @(*) begin\n\
             \x20  write_enable = writing;\n\
             \x20  write_data = clearing ? addend : result[15:0];\n\
             end\n",
            addend = format!(
                "{{{}'h0, first_addend[{}:1], first_addend[0] | carry}}",
                16 - widest,
                widest - 1
            ),
        );

        // Reads: the selected counter's low and top words, and the phase where the round stops.
        let wide = layout.wide();
        text += &format!(
            "reg [{st}:0] target_first, target_top;\n\
             reg [{pt}:0] target_hold;\n\
             always @(*) begin\n\
             \x20  target_first = {sb}'d0;\n\
             \x20  target_top = {sb}'d0;\n\
             \x20  target_hold = {pb}'d0;\n\
             \x20  case (select)\n",
            st = slot_bits - 1,
            pt = phase_bits - 1,
            sb = slot_bits,
            pb = phase_bits,
        );
        for k in 0..counters {
            text += &format!(
                "      4'd{k}: begin target_first = {slot_bits}'d{}; target_top = {slot_bits}'d{}; \
                 target_hold = {phase_bits}'d{}; end\n",
                layout.first_slot[k],
                layout.top_slot(k),
                layout.hold_phase(k),
            );
        }
        text += &format!(
            "      default: ;\n\
             \x20  endcase\n\
             end\n\
             wire waits = reading & (select < 4'd{counters});\n\
             reg fresh, held;\n\
             wire hold = waits & fresh & (phase == target_hold);\n\
             reg [15:0] low;\n"
        );
        if wide {
            text += "reg [15:0] middle;\n\
                     always @(*) value = {read_data, middle, low};\n";
        } else {
            text += "always @(*) value = {16'h0, read_data, low};\n\
                     wire unused_slot_second = slot_second;\n";
        }
        text += &format!(
            "always @(*) begin\n\
             \x20  ready = held;\n\
             \x20  address = {{{pad}'h0, hold ? target_top : slot}};\n\
             end\n",
            pad = 16 - slot_bits,
        );

        // Registers.
        text += &format!(
            "always @(posedge clock) begin\n\
             \x20  if (reset | clear) begin\n\
             \x20     phase <= {pb}'d0;\n\
             \x20     clearing <= 1'b1;\n\
             \x20     carry <= 1'b0;\n\
             \x20     fresh <= 1'b0;\n\
             \x20     held <= 1'b0;\n\
             \x20  end else begin\n\
             \x20     if (~hold) begin\n\
             \x20        phase <= (phase == {pb}'d{last_phase}) ? {pb}'d0 : phase + {pb}'d1;\n\
             \x20        if (phase == {pb}'d{last_phase}) clearing <= 1'b0;\n\
             \x20     end\n\
             \x20     if (writing) carry <= result[16] & ~slot_last & ~clearing;\n\
             \x20     fresh <= waits & (fresh | (writing & slot_first & (slot == target_first)));\n\
             \x20     held <= hold;\n\
             \x20  end\n\
             \x20  if (writing & slot_first) low <= write_data;\n",
            pb = phase_bits,
            last_phase = layout.round - 1,
        );
        if wide {
            // The second word is the middle of a 48-bit counter and the top of a 32-bit one,
            // so `value` needs no multiplexer for bits 31:16.
            text += "   if (writing & slot_second) middle <= write_data;\n";
        }
        text += "end\n";
        for (k, bits) in layout.pending_bits.iter().enumerate() {
            text += &format!(
                "always @(posedge clock)\n\
                 \x20  if (reset) pending{k} <= {bits}'h0;\n\
                 \x20  else if (clear | (writing & (slot == {slot_bits}'d{first}))) pending{k} <= increment{k};\n\
                 \x20  else pending{k} <= sum{k};\n",
                first = layout.first_slot[k],
            );
        }
        Verilog::Custom(text)
    }
}

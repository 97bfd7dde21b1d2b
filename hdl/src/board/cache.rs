//! The reply cache: the replies of the last state-changing requests, so a retried request gets
//! its reply again without a second execution.

use rust_hdl::prelude::*;

use crate::engine::units::{Counter, EnableRegister};
use crate::leaf::ResetRegister;
use crate::link::SinglePortMemory;

/// Replies the cache keeps (the protocol's replay depth).
pub const CACHE_ENTRIES: usize = 8;

/// Keeps the replies of the last [`CACHE_ENTRIES`] successful state-changing requests, each keyed
/// by the request's opcode and sequence number, in a byte memory of one slot per entry.
///
/// Lookup is combinational: `hit` is high when a valid entry has key (`opcode`, `seq`), with the
/// slot's first byte address `hit_base` and the reply's payload length `hit_length`. A new reply
/// is written into the slot at `head_base` through `write`, then `insert` (strobe) files it under
/// (`opcode`, `seq`, `length`) and moves the head on, replacing the oldest entry. `clear`
/// (strobe) empties every entry. The byte memory has one port (an SB_SPRAM256KA on iCE40): it
/// reads with latency 1 on clocks without `write`, and on a clock with `write` `read_byte` keeps
/// its value. The executor writes a slot only while it builds a reply and reads one only while
/// it replays one, so the two never coincide. Keys hold only the low three bits of the
/// opcode, so `hit` is meaningful for the state-changing opcodes alone, the only ones filed.
#[derive(LogicBlock)]
pub struct ReplyCache {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub clear: Signal<In, Bit>,
    /// The low three bits of the request's opcode, which tell the five state-changing opcodes
    /// (0x03 to 0x06 and 0x08) apart.
    pub opcode: Signal<In, Bits<3>>,
    pub seq: Signal<In, Bits<16>>,
    pub length: Signal<In, Bits<16>>,
    pub insert: Signal<In, Bit>,
    pub hit: Signal<Out, Bit>,
    pub hit_base: Signal<Out, Bits<16>>,
    pub hit_length: Signal<Out, Bits<16>>,
    pub head_base: Signal<Out, Bits<16>>,
    pub write: Signal<In, Bit>,
    pub write_address: Signal<In, Bits<16>>,
    pub write_byte: Signal<In, Bits<8>>,
    pub read_address: Signal<In, Bits<16>>,
    pub read_byte: Signal<Out, Bits<8>>,
    /// Entry the next reply goes to, the oldest one.
    head: Counter<3>,
    valid: Vec<ResetRegister<Bit>>,
    opcodes: Vec<EnableRegister<Bits<3>>>,
    seqs: Vec<EnableRegister<Bits<16>>>,
    /// Reply lengths, masked to the bits of the slot size: a reply never exceeds its slot.
    lengths: Vec<EnableRegister<Bits<16>>>,
    bytes: SinglePortMemory<Bits<8>>,
    entry_index: Vec<Constant<Bits<3>>>,
    slot_base: Vec<Constant<Bits<16>>>,
    zero3: Constant<Bits<3>>,
    one3: Constant<Bits<3>>,
    zero16: Constant<Bits<16>>,
    length_mask: Constant<Bits<16>>,
}

impl ReplyCache {
    /// Creates a cache whose slots hold replies of up to `slot_bytes` bytes.
    pub fn new(slot_bytes: usize) -> Self {
        let slot_bytes = slot_bytes.max(8).next_power_of_two();
        assert!(
            slot_bytes * CACHE_ENTRIES <= 1 << 16,
            "reply cache slots of {slot_bytes} bytes do not fit 16 address bits"
        );
        ReplyCache {
            clock: Default::default(),
            reset: Default::default(),
            clear: Default::default(),
            opcode: Default::default(),
            seq: Default::default(),
            length: Default::default(),
            insert: Default::default(),
            hit: Default::default(),
            hit_base: Default::default(),
            hit_length: Default::default(),
            head_base: Default::default(),
            write: Default::default(),
            write_address: Default::default(),
            write_byte: Default::default(),
            read_address: Default::default(),
            read_byte: Default::default(),
            head: Default::default(),
            valid: (0..CACHE_ENTRIES).map(|_| Default::default()).collect(),
            opcodes: (0..CACHE_ENTRIES).map(|_| Default::default()).collect(),
            seqs: (0..CACHE_ENTRIES).map(|_| Default::default()).collect(),
            lengths: (0..CACHE_ENTRIES).map(|_| Default::default()).collect(),
            bytes: SinglePortMemory::new(slot_bytes * CACHE_ENTRIES),
            entry_index: (0..CACHE_ENTRIES)
                .map(|e| Constant::new((e as u64).to_bits()))
                .collect(),
            slot_base: (0..CACHE_ENTRIES)
                .map(|e| Constant::new(((e * slot_bytes) as u64).to_bits()))
                .collect(),
            zero3: Constant::new(0u64.to_bits()),
            one3: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            length_mask: Constant::new((2 * slot_bytes as u64 - 1).to_bits()),
        }
    }
}

impl Logic for ReplyCache {
    #[hdl_gen]
    fn update(&mut self) {
        self.head.clock.next = self.clock.val();
        self.head.reset.next = self.reset.val();
        self.head.load.next = false;
        self.head.value.next = self.zero3.val();
        self.head.enable.next = self.insert.val();
        self.head.step.next = self.one3.val();
        self.bytes.clock.next = self.clock.val();
        self.bytes.write_enable.next = self.write.val();
        self.bytes.write_data.next = self.write_byte.val();
        self.bytes.address.next = self.read_address.val();
        if self.write.val() {
            self.bytes.address.next = self.write_address.val();
        }
        self.read_byte.next = self.bytes.read_data.val();

        self.hit.next = false;
        self.hit_base.next = self.zero16.val();
        self.hit_length.next = self.zero16.val();
        self.head_base.next = self.zero16.val();
        for e in 0..CACHE_ENTRIES {
            self.valid[e].clock.next = self.clock.val();
            self.valid[e].reset.next = self.reset.val();
            self.valid[e].d.next = self.valid[e].q.val() & !self.clear.val();
            self.opcodes[e].clock.next = self.clock.val();
            self.opcodes[e].enable.next = false;
            self.opcodes[e].d.next = self.opcode.val();
            self.seqs[e].clock.next = self.clock.val();
            self.seqs[e].enable.next = false;
            self.seqs[e].d.next = self.seq.val();
            self.lengths[e].clock.next = self.clock.val();
            self.lengths[e].enable.next = false;
            self.lengths[e].d.next = self.length.val() & self.length_mask.val();

            if self.valid[e].q.val()
                & (self.opcodes[e].q.val() == self.opcode.val())
                & (self.seqs[e].q.val() == self.seq.val())
            {
                self.hit.next = true;
                self.hit_base.next = self.slot_base[e].val();
                self.hit_length.next = self.lengths[e].q.val();
            }
            if self.head.q.val() == self.entry_index[e].val() {
                self.head_base.next = self.slot_base[e].val();
                if self.insert.val() {
                    self.valid[e].d.next = true;
                    self.opcodes[e].enable.next = true;
                    self.seqs[e].enable.next = true;
                    self.lengths[e].enable.next = true;
                }
            }
        }
    }
}

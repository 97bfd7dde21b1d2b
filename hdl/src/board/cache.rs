//! The reply cache: the replies of the last state-changing requests, so a retried request gets
//! its reply again without a second execution.

use rust_hdl::prelude::*;

use super::units::ZeroExtend;
use crate::engine::units::{Counter, EnableRegister};
use crate::leaf::ResetRegister;
use crate::link::SinglePortMemory;

/// Replies the cache keeps (the protocol's replay depth).
pub const CACHE_ENTRIES: usize = 8;

/// Bytes of an entry's key record: the sequence number (low byte first), the opcode in bits 2:0
/// with bits 12:8 of the reply length in bits 7:3, and the low byte of the reply length.
const KEY_RECORD: u64 = 4;

/// Key-record byte of the opcode and the length's high bits, and of the length's low byte, the
/// last one filed.
const KEY_OPCODE: u64 = 2;
const KEY_LAST: u64 = 3;

// The scan position, made of the entry and the record byte, has 5 bits.
const _: () = assert!(CACHE_ENTRIES as u64 * KEY_RECORD == 32);

/// Keeps the replies of the last [`CACHE_ENTRIES`] successful state-changing requests, each keyed
/// by the request's opcode and sequence number, in a byte memory of one slot per entry.
///
/// The byte memory has one port (an SB_SPRAM256KA on iCE40). Its lower half contains the reply
/// slots and its upper half a key record per entry: the sequence number, the opcode and the
/// reply length. Only the valid bits are flip-flops.
///
/// `lookup` (strobe) scans the key records, one byte per clock, while `busy` is high. Then `hit`
/// is high when a valid entry has key (`opcode`, `seq`), with the slot's first byte address
/// `hit_base` and the reply's payload length `hit_length`. These outputs keep their values
/// until the next lookup. A new reply is written into the slot at `head_base` through `write`.
/// Then `insert` (strobe) files it under (`opcode`, `seq`, `length`). The cache writes the key
/// record while `busy` is high, then marks the entry valid and moves the head on, replacing the
/// oldest entry. The inputs must hold their values while `busy` is high. `clear` (strobe)
/// empties every entry.
///
/// The memory reads with latency 1 on clocks without a write, and on a clock with a write
/// `read_byte` keeps its value. The executor writes a slot only while it builds a reply, reads
/// one only while it replays one, and never does either while the cache is busy, so no two
/// uses coincide. Keys hold only the low three bits of the opcode, so `hit` is meaningful for
/// the state-changing opcodes alone, the only ones filed.
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
    pub lookup: Signal<In, Bit>,
    pub insert: Signal<In, Bit>,
    pub busy: Signal<Out, Bit>,
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
    /// Key-record byte the memory is addressed at: entry in bits 4:2, byte in bits 1:0.
    scan: Counter<16>,
    scanning: ResetRegister<Bit>,
    filing: ResetRegister<Bit>,
    /// The key-record byte whose data the memory outputs now, and whether it is one.
    previous: EnableRegister<Bits<5>>,
    previous_live: ResetRegister<Bit>,
    /// The entry of the record being read still matches the key.
    matching: EnableRegister<Bit>,
    found: ResetRegister<Bit>,
    found_entry: EnableRegister<Bits<3>>,
    /// The found entry's reply length: bits 7:0, and bits 12:8.
    found_low: EnableRegister<Bits<8>>,
    found_high: EnableRegister<Bits<5>>,
    bytes: SinglePortMemory<Bits<8>>,
    wide_opcode: ZeroExtend<3, 8>,
    wide_low: ZeroExtend<8, 16>,
    wide_high: ZeroExtend<5, 16>,
    /// Key-record byte [`KEY_OPCODE`]: the opcode and bits 12:8 of the masked length.
    opcode_byte: Signal<Local, Bits<8>>,
    masked_length: Signal<Local, Bits<16>>,
    entry_valid: Signal<Local, Bit>,
    entry_index: Vec<Constant<Bits<3>>>,
    slot_base: Vec<Constant<Bits<16>>>,
    record_base: Vec<Constant<Bits<16>>>,
    key_base: Constant<Bits<16>>,
    slot_mask: Constant<Bits<16>>,
    key_seq_high: Constant<Bits<2>>,
    key_opcode: Constant<Bits<2>>,
    key_last: Constant<Bits<2>>,
    key_last_record: Constant<Bits<16>>,
    zero2: Constant<Bits<2>>,
    zero3: Constant<Bits<3>>,
    one3: Constant<Bits<3>>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    length_mask: Constant<Bits<16>>,
}

impl ReplyCache {
    /// Creates a cache whose slots hold replies of up to `slot_bytes` bytes.
    pub fn new(slot_bytes: usize) -> Self {
        let slot_bytes = slot_bytes.max(8).next_power_of_two();
        let slots_bytes = slot_bytes * CACHE_ENTRIES;
        assert!(
            2 * slots_bytes <= 1 << 16,
            "reply cache slots of {slot_bytes} bytes and their key records do not fit 16 \
             address bits"
        );
        assert!(
            2 * slot_bytes <= 1 << 13,
            "reply lengths of reply cache slots of {slot_bytes} bytes do not fit 13 bits"
        );
        let c2 = |v: u64| Constant::<Bits<2>>::new(v.to_bits());
        let c3 = |v: u64| Constant::<Bits<3>>::new(v.to_bits());
        let c16 = |v: u64| Constant::<Bits<16>>::new(v.to_bits());
        ReplyCache {
            clock: Default::default(),
            reset: Default::default(),
            clear: Default::default(),
            opcode: Default::default(),
            seq: Default::default(),
            length: Default::default(),
            lookup: Default::default(),
            insert: Default::default(),
            busy: Default::default(),
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
            scan: Counter::up_to(CACHE_ENTRIES as u64 * KEY_RECORD - 1),
            scanning: Default::default(),
            filing: Default::default(),
            previous: Default::default(),
            previous_live: Default::default(),
            matching: Default::default(),
            found: Default::default(),
            found_entry: Default::default(),
            found_low: Default::default(),
            found_high: Default::default(),
            bytes: SinglePortMemory::new(2 * slots_bytes),
            wide_opcode: Default::default(),
            wide_low: Default::default(),
            wide_high: Default::default(),
            opcode_byte: Default::default(),
            masked_length: Default::default(),
            entry_valid: Default::default(),
            entry_index: (0..CACHE_ENTRIES).map(|e| c3(e as u64)).collect(),
            slot_base: (0..CACHE_ENTRIES)
                .map(|e| c16((e * slot_bytes) as u64))
                .collect(),
            record_base: (0..CACHE_ENTRIES)
                .map(|e| c16(e as u64 * KEY_RECORD))
                .collect(),
            key_base: c16(slots_bytes as u64),
            slot_mask: c16(slots_bytes as u64 - 1),
            key_seq_high: c2(1),
            key_opcode: c2(KEY_OPCODE),
            key_last: c2(KEY_LAST),
            key_last_record: c16((CACHE_ENTRIES as u64 - 1) * KEY_RECORD + KEY_LAST),
            zero2: c2(0),
            zero3: c3(0),
            one3: c3(1),
            one16: c16(1),
            zero16: c16(0),
            length_mask: c16(2 * slot_bytes as u64 - 1),
        }
    }
}

impl Logic for ReplyCache {
    #[hdl_gen]
    fn update(&mut self) {
        self.head.clock.next = self.clock.val();
        self.head.reset.next = self.reset.val();
        self.scan.clock.next = self.clock.val();
        self.scan.reset.next = self.reset.val();
        self.scanning.clock.next = self.clock.val();
        self.scanning.reset.next = self.reset.val();
        self.filing.clock.next = self.clock.val();
        self.filing.reset.next = self.reset.val();
        self.previous.clock.next = self.clock.val();
        self.previous_live.clock.next = self.clock.val();
        self.previous_live.reset.next = self.reset.val();
        self.matching.clock.next = self.clock.val();
        self.found.clock.next = self.clock.val();
        self.found.reset.next = self.reset.val();
        self.found_entry.clock.next = self.clock.val();
        self.found_low.clock.next = self.clock.val();
        self.found_high.clock.next = self.clock.val();
        self.bytes.clock.next = self.clock.val();

        // ---- Defaults. ----
        self.head.load.next = false;
        self.head.value.next = self.zero3.val();
        self.head.enable.next = false;
        self.head.step.next = self.one3.val();
        self.scan.load.next = false;
        self.scan.value.next = self.zero16.val();
        self.scan.enable.next = false;
        self.scan.step.next = self.one16.val();
        self.scanning.d.next = self.scanning.q.val();
        self.filing.d.next = self.filing.q.val();
        self.previous.enable.next = true;
        self.previous.d.next = self.scan.q.val().get_bits::<5>(0);
        self.previous_live.d.next = self.scanning.q.val();
        self.matching.enable.next = false;
        self.matching.d.next = false;
        self.found.d.next = self.found.q.val();
        self.found_entry.enable.next = false;
        self.found_entry.d.next = self.previous.q.val().get_bits::<3>(2);
        self.found_low.enable.next = false;
        self.found_low.d.next = self.bytes.read_data.val();
        self.found_high.enable.next = false;
        self.found_high.d.next = self.bytes.read_data.val().get_bits::<5>(3);
        self.wide_low.value.next = self.found_low.q.val();
        self.wide_high.value.next = self.found_high.q.val();
        self.wide_opcode.value.next = self.opcode.val();
        self.masked_length.next = self.length.val() & self.length_mask.val();
        self.opcode_byte.next = (self.masked_length.val().get_bits::<8>(8) << 3)
            | self.wide_opcode.result.val();

        // ---- The byte memory: key records while busy, else the executor's slot bytes. ----
        self.bytes.write_enable.next = self.write.val();
        self.bytes.write_data.next = self.write_byte.val();
        self.bytes.address.next = self.read_address.val() & self.slot_mask.val();
        if self.write.val() {
            self.bytes.address.next = self.write_address.val() & self.slot_mask.val();
        }
        if self.scanning.q.val() | self.filing.q.val() {
            self.bytes.address.next = self.key_base.val() | self.scan.q.val();
        }
        self.read_byte.next = self.bytes.read_data.val();

        // ---- Entries: validity, the slot of the head and of the entry found. ----
        self.head_base.next = self.zero16.val();
        self.hit_base.next = self.zero16.val();
        self.entry_valid.next = false;
        for e in 0..CACHE_ENTRIES {
            self.valid[e].clock.next = self.clock.val();
            self.valid[e].reset.next = self.reset.val();
            self.valid[e].d.next = self.valid[e].q.val() & !self.clear.val();
            if self.head.q.val() == self.entry_index[e].val() {
                self.head_base.next = self.slot_base[e].val();
                if self.filing.q.val()
                    & (self.scan.q.val().get_bits::<2>(0) == self.key_last.val())
                {
                    self.valid[e].d.next = true;
                }
            }
            if self.found_entry.q.val() == self.entry_index[e].val() {
                self.hit_base.next = self.slot_base[e].val();
            }
            if self.previous.q.val().get_bits::<3>(2) == self.entry_index[e].val() {
                self.entry_valid.next = self.valid[e].q.val();
            }
        }
        self.hit.next = self.found.q.val();
        self.hit_length.next = ((self.wide_high.result.val() << 8) | self.wide_low.result.val())
            & self.length_mask.val();
        self.busy.next = self.scanning.q.val() | self.previous_live.q.val() | self.filing.q.val();

        // ---- Lookup: address the record bytes of each entry in turn. ----
        if self.lookup.val() {
            self.scan.load.next = true;
            self.scanning.d.next = true;
            self.found.d.next = false;
        }
        if self.scanning.q.val() {
            self.scan.enable.next = true;
            if self.scan.q.val() == self.key_last_record.val() {
                self.scanning.d.next = false;
            }
        }
        // The memory outputs the byte addressed on the previous clock. The opcode byte decides
        // the match and carries the length's high bits, and the low byte follows it.
        if self.previous_live.q.val() {
            if self.previous.q.val().get_bits::<2>(0) == self.zero2.val() {
                self.matching.d.next = self.entry_valid.val()
                    & (self.bytes.read_data.val() == self.seq.val().get_bits::<8>(0));
                self.matching.enable.next = true;
            }
            if self.previous.q.val().get_bits::<2>(0) == self.key_seq_high.val() {
                self.matching.d.next = self.matching.q.val()
                    & (self.bytes.read_data.val() == self.seq.val().get_bits::<8>(8));
                self.matching.enable.next = true;
            }
            if self.previous.q.val().get_bits::<2>(0) == self.key_opcode.val() {
                self.matching.d.next = self.matching.q.val()
                    & (self.bytes.read_data.val().get_bits::<3>(0) == self.opcode.val());
                self.matching.enable.next = true;
                if self.matching.q.val()
                    & (self.bytes.read_data.val().get_bits::<3>(0) == self.opcode.val())
                {
                    self.found.d.next = true;
                    self.found_entry.enable.next = true;
                    self.found_high.enable.next = true;
                }
            }
            if self.previous.q.val().get_bits::<2>(0) == self.key_last.val() {
                self.found_low.enable.next = self.matching.q.val();
            }
        }

        // ---- Filing: write the record bytes of the head entry. ----
        if self.insert.val() {
            self.filing.d.next = true;
            self.scan.load.next = true;
            for e in 0..CACHE_ENTRIES {
                if self.head.q.val() == self.entry_index[e].val() {
                    self.scan.value.next = self.record_base[e].val();
                }
            }
        }
        if self.filing.q.val() {
            self.bytes.write_enable.next = true;
            self.bytes.write_data.next = self.seq.val().get_bits::<8>(0);
            if self.scan.q.val().get_bits::<2>(0) == self.key_seq_high.val() {
                self.bytes.write_data.next = self.seq.val().get_bits::<8>(8);
            }
            if self.scan.q.val().get_bits::<2>(0) == self.key_opcode.val() {
                self.bytes.write_data.next = self.opcode_byte.val();
            }
            if self.scan.q.val().get_bits::<2>(0) == self.key_last.val() {
                self.bytes.write_data.next = self.masked_length.val().get_bits::<8>(0);
                self.filing.d.next = false;
                self.head.enable.next = true;
            }
            self.scan.enable.next = true;
        }
    }
}

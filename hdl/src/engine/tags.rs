//! One stage of the tags that travel with a group of columns through the stream pipeline.

use rust_hdl::prelude::*;

use crate::leaf::{Register, ResetRegister};

/// Bits of each tag that a pipeline stage keeps. A tag that no later stage reads gets 0 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagWidths {
    pub group: usize,
    /// Whether the stage keeps `first_row`, `first_group` and `last_group`.
    pub first_row: bool,
    pub group_flags: bool,
}

/// Registers the tags of one pipeline stage. Only `valid` is reset. The registers keep the low
/// bits that [`TagWidths`] gives and hold 0 in the others, so synthesis removes their
/// flip-flops.
#[derive(LogicBlock)]
pub struct StreamTags {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub group: Signal<In, Bits<16>>,
    pub first_row: Signal<In, Bit>,
    pub first_group: Signal<In, Bit>,
    pub last_group: Signal<In, Bit>,
    pub valid_q: Signal<Out, Bit>,
    pub group_q: Signal<Out, Bits<16>>,
    pub first_row_q: Signal<Out, Bit>,
    pub first_group_q: Signal<Out, Bit>,
    pub last_group_q: Signal<Out, Bit>,
    valid_register: ResetRegister<Bit>,
    group_register: Register<Bits<16>>,
    first_row_register: Register<Bit>,
    first_group_register: Register<Bit>,
    last_group_register: Register<Bit>,
    group_mask: Constant<Bits<16>>,
    keep_first_row: Constant<Bit>,
    keep_group_flags: Constant<Bit>,
}

/// Returns a mask of the low `bits` bits.
fn low_mask(bits: usize) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl StreamTags {
    pub fn new(widths: TagWidths) -> Self {
        StreamTags {
            clock: Default::default(),
            reset: Default::default(),
            valid: Default::default(),
            group: Default::default(),
            first_row: Default::default(),
            first_group: Default::default(),
            last_group: Default::default(),
            valid_q: Default::default(),
            group_q: Default::default(),
            first_row_q: Default::default(),
            first_group_q: Default::default(),
            last_group_q: Default::default(),
            valid_register: Default::default(),
            group_register: Default::default(),
            first_row_register: Default::default(),
            first_group_register: Default::default(),
            last_group_register: Default::default(),
            group_mask: Constant::new(low_mask(widths.group).to_bits()),
            keep_first_row: Constant::new(widths.first_row),
            keep_group_flags: Constant::new(widths.group_flags),
        }
    }
}

impl Logic for StreamTags {
    #[hdl_gen]
    fn update(&mut self) {
        self.valid_register.clock.next = self.clock.val();
        self.valid_register.reset.next = self.reset.val();
        self.group_register.clock.next = self.clock.val();
        self.first_row_register.clock.next = self.clock.val();
        self.first_group_register.clock.next = self.clock.val();
        self.last_group_register.clock.next = self.clock.val();

        self.valid_register.d.next = self.valid.val();
        self.group_register.d.next = self.group.val() & self.group_mask.val();
        self.first_row_register.d.next = self.first_row.val() & self.keep_first_row.val();
        self.first_group_register.d.next = self.first_group.val() & self.keep_group_flags.val();
        self.last_group_register.d.next = self.last_group.val() & self.keep_group_flags.val();

        self.valid_q.next = self.valid_register.q.val();
        self.group_q.next = self.group_register.q.val();
        self.first_row_q.next = self.first_row_register.q.val();
        self.first_group_q.next = self.first_group_register.q.val();
        self.last_group_q.next = self.last_group_register.q.val();
    }
}

//! One stage of the tags that travel with a group of columns through the stream pipeline.

use rust_hdl::prelude::*;

use crate::leaf::{Register, ResetRegister};

/// Registers the tags of one pipeline stage. Only `valid` is reset.
#[derive(LogicBlock, Default)]
pub struct StreamTags {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub valid: Signal<In, Bit>,
    pub row: Signal<In, Bits<16>>,
    pub group: Signal<In, Bits<16>>,
    pub group_column: Signal<In, Bits<16>>,
    pub group_address: Signal<In, Bits<32>>,
    pub weight_address: Signal<In, Bits<16>>,
    pub first_row: Signal<In, Bit>,
    pub first_group: Signal<In, Bit>,
    pub last_group: Signal<In, Bit>,
    pub valid_q: Signal<Out, Bit>,
    pub row_q: Signal<Out, Bits<16>>,
    pub group_q: Signal<Out, Bits<16>>,
    pub group_column_q: Signal<Out, Bits<16>>,
    pub group_address_q: Signal<Out, Bits<32>>,
    pub weight_address_q: Signal<Out, Bits<16>>,
    pub first_row_q: Signal<Out, Bit>,
    pub first_group_q: Signal<Out, Bit>,
    pub last_group_q: Signal<Out, Bit>,
    valid_register: ResetRegister<Bit>,
    row_register: Register<Bits<16>>,
    group_register: Register<Bits<16>>,
    group_column_register: Register<Bits<16>>,
    group_address_register: Register<Bits<32>>,
    weight_address_register: Register<Bits<16>>,
    first_row_register: Register<Bit>,
    first_group_register: Register<Bit>,
    last_group_register: Register<Bit>,
}

impl Logic for StreamTags {
    #[hdl_gen]
    fn update(&mut self) {
        self.valid_register.clock.next = self.clock.val();
        self.valid_register.reset.next = self.reset.val();
        self.row_register.clock.next = self.clock.val();
        self.group_register.clock.next = self.clock.val();
        self.group_column_register.clock.next = self.clock.val();
        self.group_address_register.clock.next = self.clock.val();
        self.weight_address_register.clock.next = self.clock.val();
        self.first_row_register.clock.next = self.clock.val();
        self.first_group_register.clock.next = self.clock.val();
        self.last_group_register.clock.next = self.clock.val();

        self.valid_register.d.next = self.valid.val();
        self.row_register.d.next = self.row.val();
        self.group_register.d.next = self.group.val();
        self.group_column_register.d.next = self.group_column.val();
        self.group_address_register.d.next = self.group_address.val();
        self.weight_address_register.d.next = self.weight_address.val();
        self.first_row_register.d.next = self.first_row.val();
        self.first_group_register.d.next = self.first_group.val();
        self.last_group_register.d.next = self.last_group.val();

        self.valid_q.next = self.valid_register.q.val();
        self.row_q.next = self.row_register.q.val();
        self.group_q.next = self.group_register.q.val();
        self.group_column_q.next = self.group_column_register.q.val();
        self.group_address_q.next = self.group_address_register.q.val();
        self.weight_address_q.next = self.weight_address_register.q.val();
        self.first_row_q.next = self.first_row_register.q.val();
        self.first_group_q.next = self.first_group_register.q.val();
        self.last_group_q.next = self.last_group_register.q.val();
    }
}

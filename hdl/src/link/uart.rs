//! 8N1 UART receiver and transmitter: one start bit (low), eight data bits least significant
//! first, one stop bit (high); the line idles high. A bit lasts `clocks_per_bit` clocks.

use rust_hdl::prelude::*;

use super::{low_mask, LinkParams, MIN_CLOCKS_PER_BIT};
use crate::leaf::ResetRegister;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum UartRxState {
    /// Waiting for the line to fall.
    Idle,
    /// In the start bit, until its middle.
    Start,
    /// In the data bits; each is sampled one bit time after the previous sample.
    Data,
    /// In the stop bit, until its middle.
    Stop,
    /// After a low stop bit, waiting for the line to return high.
    Recover,
}

/// UART receiver.
///
/// `rx` passes two flip-flops before use. A falling edge starts a byte. The line is sampled again
/// half a bit later and must still be low, or the edge is taken for a glitch. From there every
/// sample lies one bit time after the previous one, so each data bit and the stop bit are sampled
/// at their middle. The receiver returns to waiting for a start bit at the middle of the stop
/// bit, so it takes a start bit that follows the stop bit with no idle time. A low stop bit drops
/// the byte, and the receiver waits for the line to go high before it looks for the next start bit.
/// `byte_valid` is high for one clock, about three clocks after the middle of the stop bit: two
/// for the synchroniser and one for the strobe register. `byte` keeps its value until the next
/// byte's first data bit.
#[derive(LogicBlock)]
pub struct UartRx {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rx: Signal<In, Bit>,
    pub byte: Signal<Out, Bits<8>>,
    pub byte_valid: Signal<Out, Bit>,
    /// The inverted line through two flip-flops, so the reset value 0 means idle (high).
    low_meta: ResetRegister<Bit>,
    low: ResetRegister<Bit>,
    state: ResetRegister<UartRxState>,
    /// Clocks since the start of the current bit interval (reset 0). It never passes
    /// `clocks_per_bit - 1`, so `tick_mask` keeps only the bits that value needs.
    ticks: ResetRegister<Bits<16>>,
    /// Data bits received of the current byte (reset 0).
    bit_index: ResetRegister<Bits<4>>,
    /// Data bits, shifted in from the top (reset 0).
    data: ResetRegister<Bits<8>>,
    /// The registered `byte_valid` strobe (reset 0).
    strobe: ResetRegister<Bit>,
    half_last: Constant<Bits<16>>,
    bit_last: Constant<Bits<16>>,
    tick_mask: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    last_bit_index: Constant<Bits<4>>,
    one4: Constant<Bits<4>>,
    zero4: Constant<Bits<4>>,
    top_bit: Constant<Bits<8>>,
}

impl UartRx {
    pub fn new(params: &LinkParams) -> Self {
        let clocks_per_bit = params.clocks_per_bit;
        assert!(
            clocks_per_bit >= MIN_CLOCKS_PER_BIT && clocks_per_bit <= u16::MAX as usize,
            "{clocks_per_bit} clocks per bit is outside {MIN_CLOCKS_PER_BIT}..=65535"
        );
        UartRx {
            clock: Default::default(),
            reset: Default::default(),
            rx: Default::default(),
            byte: Default::default(),
            byte_valid: Default::default(),
            low_meta: Default::default(),
            low: Default::default(),
            state: Default::default(),
            ticks: Default::default(),
            bit_index: Default::default(),
            data: Default::default(),
            strobe: Default::default(),
            half_last: Constant::new(((clocks_per_bit / 2 - 1) as u64).to_bits()),
            bit_last: Constant::new(((clocks_per_bit - 1) as u64).to_bits()),
            tick_mask: Constant::new(low_mask(clocks_per_bit as u64 - 1).to_bits()),
            one16: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            last_bit_index: Constant::new(7u64.to_bits()),
            one4: Constant::new(1u64.to_bits()),
            zero4: Constant::new(0u64.to_bits()),
            top_bit: Constant::new(0x80u64.to_bits()),
        }
    }
}

impl Logic for UartRx {
    #[hdl_gen]
    fn update(&mut self) {
        self.low_meta.clock.next = self.clock.val();
        self.low_meta.reset.next = self.reset.val();
        self.low.clock.next = self.clock.val();
        self.low.reset.next = self.reset.val();
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.ticks.clock.next = self.clock.val();
        self.ticks.reset.next = self.reset.val();
        self.bit_index.clock.next = self.clock.val();
        self.bit_index.reset.next = self.reset.val();
        self.data.clock.next = self.clock.val();
        self.data.reset.next = self.reset.val();
        self.strobe.clock.next = self.clock.val();
        self.strobe.reset.next = self.reset.val();

        // Synchroniser.
        self.low_meta.d.next = !self.rx.val();
        self.low.d.next = self.low_meta.q.val();

        // Defaults: hold, count ticks, no strobe.
        self.state.d.next = self.state.q.val();
        self.ticks.d.next = (self.ticks.q.val() + self.one16.val()) & self.tick_mask.val();
        self.bit_index.d.next = self.bit_index.q.val();
        self.data.d.next = self.data.q.val();
        self.strobe.d.next = false;

        match self.state.q.val() {
            UartRxState::Idle => {
                self.ticks.d.next = self.zero16.val();
                if self.low.q.val() {
                    self.state.d.next = UartRxState::Start;
                }
            }
            UartRxState::Start => {
                if self.ticks.q.val() == self.half_last.val() {
                    self.ticks.d.next = self.zero16.val();
                    self.bit_index.d.next = self.zero4.val();
                    if self.low.q.val() {
                        self.state.d.next = UartRxState::Data;
                    } else {
                        self.state.d.next = UartRxState::Idle;
                    }
                }
            }
            UartRxState::Data => {
                if self.ticks.q.val() == self.bit_last.val() {
                    self.ticks.d.next = self.zero16.val();
                    self.bit_index.d.next = self.bit_index.q.val() + self.one4.val();
                    self.data.d.next = self.data.q.val() >> 1;
                    if !self.low.q.val() {
                        self.data.d.next = (self.data.q.val() >> 1) | self.top_bit.val();
                    }
                    if self.bit_index.q.val() == self.last_bit_index.val() {
                        self.state.d.next = UartRxState::Stop;
                    }
                }
            }
            UartRxState::Stop => {
                if self.ticks.q.val() == self.bit_last.val() {
                    self.ticks.d.next = self.zero16.val();
                    if self.low.q.val() {
                        self.state.d.next = UartRxState::Recover;
                    } else {
                        self.strobe.d.next = true;
                        self.state.d.next = UartRxState::Idle;
                    }
                }
            }
            UartRxState::Recover => {
                self.ticks.d.next = self.zero16.val();
                if !self.low.q.val() {
                    self.state.d.next = UartRxState::Idle;
                }
            }
        }

        self.byte.next = self.data.q.val();
        self.byte_valid.next = self.strobe.q.val();
    }
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum UartTxState {
    Idle,
    Start,
    Data,
    Stop,
}

/// UART transmitter.
///
/// A byte moves in on a clock where `byte_valid` and `byte_ready` are both high. `byte_ready` is
/// high while idle and in the last clock of a stop bit, so bytes offered back to back leave with
/// no idle time between a stop bit and the next start bit. Each bit lasts exactly
/// `clocks_per_bit` clocks; the start bit begins on the clock after the byte is accepted.
#[derive(LogicBlock)]
pub struct UartTx {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub byte: Signal<In, Bits<8>>,
    pub byte_valid: Signal<In, Bit>,
    pub byte_ready: Signal<Out, Bit>,
    pub tx: Signal<Out, Bit>,
    state: ResetRegister<UartTxState>,
    /// Clocks since the start of the current bit (reset 0). It never passes
    /// `clocks_per_bit - 1`, so `tick_mask` keeps only the bits that value needs.
    ticks: ResetRegister<Bits<16>>,
    /// Data bits sent of the current byte (reset 0).
    bit_index: ResetRegister<Bits<4>>,
    /// Data bits not yet sent, least significant first (reset 0).
    data: ResetRegister<Bits<8>>,
    /// The inverted line, so the reset value 0 drives it idle (high).
    line_low: ResetRegister<Bit>,
    accept: Signal<Local, Bit>,
    bit_last: Constant<Bits<16>>,
    tick_mask: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    last_bit_index: Constant<Bits<4>>,
    one4: Constant<Bits<4>>,
    zero4: Constant<Bits<4>>,
}

impl UartTx {
    pub fn new(params: &LinkParams) -> Self {
        let clocks_per_bit = params.clocks_per_bit;
        assert!(
            clocks_per_bit >= MIN_CLOCKS_PER_BIT && clocks_per_bit <= u16::MAX as usize,
            "{clocks_per_bit} clocks per bit is outside {MIN_CLOCKS_PER_BIT}..=65535"
        );
        UartTx {
            clock: Default::default(),
            reset: Default::default(),
            byte: Default::default(),
            byte_valid: Default::default(),
            byte_ready: Default::default(),
            tx: Default::default(),
            state: Default::default(),
            ticks: Default::default(),
            bit_index: Default::default(),
            data: Default::default(),
            line_low: Default::default(),
            accept: Default::default(),
            bit_last: Constant::new(((clocks_per_bit - 1) as u64).to_bits()),
            tick_mask: Constant::new(low_mask(clocks_per_bit as u64 - 1).to_bits()),
            one16: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            last_bit_index: Constant::new(7u64.to_bits()),
            one4: Constant::new(1u64.to_bits()),
            zero4: Constant::new(0u64.to_bits()),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.ticks.clock.next = self.clock.val();
        self.ticks.reset.next = self.reset.val();
        self.bit_index.clock.next = self.clock.val();
        self.bit_index.reset.next = self.reset.val();
        self.data.clock.next = self.clock.val();
        self.data.reset.next = self.reset.val();
        self.line_low.clock.next = self.clock.val();
        self.line_low.reset.next = self.reset.val();

        self.state.d.next = self.state.q.val();
        self.ticks.d.next = (self.ticks.q.val() + self.one16.val()) & self.tick_mask.val();
        self.bit_index.d.next = self.bit_index.q.val();
        self.data.d.next = self.data.q.val();
        self.line_low.d.next = self.line_low.q.val();

        // Ready while idle and in the last clock of a stop bit.
        self.accept.next = false;
        self.byte_ready.next = false;
        match self.state.q.val() {
            UartTxState::Idle => {
                self.byte_ready.next = true;
                self.ticks.d.next = self.zero16.val();
            }
            UartTxState::Start => {
                if self.ticks.q.val() == self.bit_last.val() {
                    self.ticks.d.next = self.zero16.val();
                    self.bit_index.d.next = self.zero4.val();
                    self.line_low.d.next = !self.data.q.val().get_bit(0);
                    self.data.d.next = self.data.q.val() >> 1;
                    self.state.d.next = UartTxState::Data;
                }
            }
            UartTxState::Data => {
                if self.ticks.q.val() == self.bit_last.val() {
                    self.ticks.d.next = self.zero16.val();
                    self.bit_index.d.next = self.bit_index.q.val() + self.one4.val();
                    self.line_low.d.next = !self.data.q.val().get_bit(0);
                    self.data.d.next = self.data.q.val() >> 1;
                    if self.bit_index.q.val() == self.last_bit_index.val() {
                        // The stop bit.
                        self.line_low.d.next = false;
                        self.state.d.next = UartTxState::Stop;
                    }
                }
            }
            UartTxState::Stop => {
                if self.ticks.q.val() == self.bit_last.val() {
                    self.byte_ready.next = true;
                    self.ticks.d.next = self.zero16.val();
                    self.state.d.next = UartTxState::Idle;
                }
            }
        }

        self.accept.next = self.byte_ready.val() & self.byte_valid.val();
        if self.accept.val() {
            self.data.d.next = self.byte.val();
            self.line_low.d.next = true;
            self.ticks.d.next = self.zero16.val();
            self.state.d.next = UartTxState::Start;
        }

        self.tx.next = !self.line_low.q.val();
    }
}

/// A UartTx and a UartRx side by side with separate ports: the transmitter's `tx_byte`,
/// `tx_valid`, `tx_ready` and line `tx`, the receiver's line `rx` and `rx_byte`, `rx_valid`.
/// A test closes the loop from `tx` to `rx` or drives `rx` from its own bit-level model.
#[derive(LogicBlock)]
pub struct UartPair {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub tx_byte: Signal<In, Bits<8>>,
    pub tx_valid: Signal<In, Bit>,
    pub tx_ready: Signal<Out, Bit>,
    pub tx: Signal<Out, Bit>,
    pub rx: Signal<In, Bit>,
    pub rx_byte: Signal<Out, Bits<8>>,
    pub rx_valid: Signal<Out, Bit>,
    transmitter: UartTx,
    receiver: UartRx,
}

impl UartPair {
    pub fn new(params: &LinkParams) -> Self {
        UartPair {
            clock: Default::default(),
            reset: Default::default(),
            tx_byte: Default::default(),
            tx_valid: Default::default(),
            tx_ready: Default::default(),
            tx: Default::default(),
            rx: Default::default(),
            rx_byte: Default::default(),
            rx_valid: Default::default(),
            transmitter: UartTx::new(params),
            receiver: UartRx::new(params),
        }
    }
}

impl Logic for UartPair {
    #[hdl_gen]
    fn update(&mut self) {
        self.transmitter.clock.next = self.clock.val();
        self.transmitter.reset.next = self.reset.val();
        self.transmitter.byte.next = self.tx_byte.val();
        self.transmitter.byte_valid.next = self.tx_valid.val();
        self.tx_ready.next = self.transmitter.byte_ready.val();
        self.tx.next = self.transmitter.tx.val();

        self.receiver.clock.next = self.clock.val();
        self.receiver.reset.next = self.reset.val();
        self.receiver.rx.next = self.rx.val();
        self.rx_byte.next = self.receiver.byte.val();
        self.rx_valid.next = self.receiver.byte_valid.val();
    }
}

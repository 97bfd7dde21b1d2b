//! 8N1 UART receiver and transmitter: one start bit (low), eight data bits least significant
//! first, one stop bit (high); the line idles high. A bit lasts `clocks_per_bit` clocks.

use rust_hdl::prelude::*;

use super::step::StepByOne;
use super::{low_mask, LinkParams, MIN_CLOCKS_PER_BIT};
use crate::leaf::ResetRegister;

/// Values of [`UartRx`]'s `phase` register. The receiver waits for the line to fall, stays in the
/// start bit until its middle, then in data bit `k` (`PHASE_FIRST_DATA + k`) and in the stop bit
/// until their middles. After a low stop bit it waits for the line to return high. From the start
/// bit to the stop bit, a phase that ends with the line low leads to the next phase.
const PHASE_IDLE: u64 = 0;
const PHASE_START: u64 = 1;
const PHASE_FIRST_DATA: u64 = 2;
const PHASE_STOP: u64 = PHASE_FIRST_DATA + 8;
const PHASE_RECOVER: u64 = PHASE_STOP + 1;

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
    /// The receiver's position in the frame, one of the `PHASE_` values (reset `PHASE_IDLE`).
    phase: ResetRegister<Bits<4>>,
    /// Clocks since the start of the current bit interval (reset 0). It never passes
    /// `clocks_per_bit - 1`, so `tick_mask` keeps only the bits that value needs.
    ticks: ResetRegister<Bits<16>>,
    /// Data bits, shifted in from the top (reset 0).
    data: ResetRegister<Bits<8>>,
    /// The registered `byte_valid` strobe (reset 0).
    strobe: ResetRegister<Bit>,
    /// `ticks + 1` and `phase + 1`.
    tick_step: StepByOne<16>,
    phase_step: StepByOne<4>,
    /// The current phase ends in this clock with a sample of the line.
    sample: Signal<Local, Bit>,
    in_data: Signal<Local, Bit>,
    half_last: Constant<Bits<16>>,
    bit_last: Constant<Bits<16>>,
    tick_mask: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    phase_idle: Constant<Bits<4>>,
    phase_start: Constant<Bits<4>>,
    phase_first_data: Constant<Bits<4>>,
    phase_stop: Constant<Bits<4>>,
    phase_recover: Constant<Bits<4>>,
    top_bit: Constant<Bits<8>>,
}

impl UartRx {
    pub fn new(params: &LinkParams) -> Self {
        let clocks_per_bit = params.clocks_per_bit;
        assert!(
            clocks_per_bit >= MIN_CLOCKS_PER_BIT && clocks_per_bit <= u16::MAX as usize,
            "{clocks_per_bit} clocks per bit is outside {MIN_CLOCKS_PER_BIT}..=65535"
        );
        let phase = |value: u64| Constant::new(value.to_bits());
        UartRx {
            clock: Default::default(),
            reset: Default::default(),
            rx: Default::default(),
            byte: Default::default(),
            byte_valid: Default::default(),
            low_meta: Default::default(),
            low: Default::default(),
            phase: Default::default(),
            ticks: Default::default(),
            data: Default::default(),
            strobe: Default::default(),
            tick_step: StepByOne::up(),
            phase_step: StepByOne::up(),
            sample: Default::default(),
            in_data: Default::default(),
            half_last: Constant::new(((clocks_per_bit / 2 - 1) as u64).to_bits()),
            bit_last: Constant::new(((clocks_per_bit - 1) as u64).to_bits()),
            tick_mask: Constant::new(low_mask(clocks_per_bit as u64 - 1).to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            phase_idle: phase(PHASE_IDLE),
            phase_start: phase(PHASE_START),
            phase_first_data: phase(PHASE_FIRST_DATA),
            phase_stop: phase(PHASE_STOP),
            phase_recover: phase(PHASE_RECOVER),
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
        self.phase.clock.next = self.clock.val();
        self.phase.reset.next = self.reset.val();
        self.ticks.clock.next = self.clock.val();
        self.ticks.reset.next = self.reset.val();
        self.data.clock.next = self.clock.val();
        self.data.reset.next = self.reset.val();
        self.strobe.clock.next = self.clock.val();
        self.strobe.reset.next = self.reset.val();

        // Synchroniser.
        self.low_meta.d.next = !self.rx.val();
        self.low.d.next = self.low_meta.q.val();

        // Defaults: hold, count ticks, no strobe.
        self.tick_step.value.next = self.ticks.q.val();
        self.phase_step.value.next = self.phase.q.val();
        self.phase.d.next = self.phase.q.val();
        self.ticks.d.next = self.tick_step.result.val() & self.tick_mask.val();
        self.data.d.next = self.data.q.val();
        self.strobe.d.next = false;

        // The start bit is sampled after half a bit, every later bit one bit time after that.
        self.sample.next = self.ticks.q.val() == self.bit_last.val();
        if self.phase.q.val() == self.phase_start.val() {
            self.sample.next = self.ticks.q.val() == self.half_last.val();
        }
        self.in_data.next = (self.phase.q.val() >= self.phase_first_data.val())
            & (self.phase.q.val() < self.phase_stop.val());

        if self.phase.q.val() == self.phase_idle.val() {
            self.ticks.d.next = self.zero16.val();
            if self.low.q.val() {
                self.phase.d.next = self.phase_start.val();
            }
        } else if self.phase.q.val() == self.phase_recover.val() {
            self.ticks.d.next = self.zero16.val();
            if !self.low.q.val() {
                self.phase.d.next = self.phase_idle.val();
            }
        } else if self.sample.val() {
            self.ticks.d.next = self.zero16.val();
            if self.in_data.val() {
                self.data.d.next = self.data.q.val() >> 1;
                if !self.low.q.val() {
                    self.data.d.next = (self.data.q.val() >> 1) | self.top_bit.val();
                }
            }
            // A low start bit and every data bit lead on, a high start bit back to idle. A high
            // stop bit ends the byte, a low one leads to the recovery phase.
            self.phase.d.next = self.phase_idle.val();
            if self.in_data.val() | self.low.q.val() {
                self.phase.d.next = self.phase_step.result.val();
            }
            if (self.phase.q.val() == self.phase_stop.val()) & !self.low.q.val() {
                self.strobe.d.next = true;
            }
        }

        self.byte.next = self.data.q.val();
        self.byte_valid.next = self.strobe.q.val();
    }
}

/// The inverted line levels of the frame that sends `byte`, first bit in bit 0: the start bit
/// (1), the inverted data bits least significant first, and the stop bit (0).
#[derive(LogicBlock, Default)]
pub struct TxFrame {
    pub byte: Signal<In, Bits<8>>,
    pub frame_low: Signal<Out, Bits<10>>,
}

impl Logic for TxFrame {
    fn update(&mut self) {
        let inverted = !self.byte.val().to_u64() & 0xFF;
        self.frame_low.next = (inverted << 1 | 1).to_bits();
    }
    fn connect(&mut self) {
        self.frame_low.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(*) frame_low = {1'b0, ~byte, 1'b1};\n".into())
    }
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
    /// The frame's bits still to send on the inverted line, the current one in bit 0: start,
    /// data least significant first, stop. It shifts in zeros, so the line idles high after the
    /// stop bit and from reset (reset 0).
    frame_low: ResetRegister<Bits<10>>,
    /// Bits of the frame still to send, the current one included, and 0 while idle (reset 0).
    bits_left: ResetRegister<Bits<4>>,
    /// Clocks since the start of the current bit (reset 0). It never passes
    /// `clocks_per_bit - 1`, so `tick_mask` keeps only the bits that value needs.
    ticks: ResetRegister<Bits<16>>,
    frame: TxFrame,
    /// `ticks + 1` and `bits_left - 1`.
    tick_step: StepByOne<16>,
    bits_step: StepByOne<4>,
    idle: Signal<Local, Bit>,
    bit_end: Signal<Local, Bit>,
    accept: Signal<Local, Bit>,
    bit_last: Constant<Bits<16>>,
    tick_mask: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    frame_bits: Constant<Bits<4>>,
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
            frame_low: Default::default(),
            bits_left: Default::default(),
            ticks: Default::default(),
            frame: Default::default(),
            tick_step: StepByOne::up(),
            bits_step: StepByOne::down(),
            idle: Default::default(),
            bit_end: Default::default(),
            accept: Default::default(),
            bit_last: Constant::new(((clocks_per_bit - 1) as u64).to_bits()),
            tick_mask: Constant::new(low_mask(clocks_per_bit as u64 - 1).to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            frame_bits: Constant::new(10u64.to_bits()),
            one4: Constant::new(1u64.to_bits()),
            zero4: Constant::new(0u64.to_bits()),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        self.frame_low.clock.next = self.clock.val();
        self.frame_low.reset.next = self.reset.val();
        self.bits_left.clock.next = self.clock.val();
        self.bits_left.reset.next = self.reset.val();
        self.ticks.clock.next = self.clock.val();
        self.ticks.reset.next = self.reset.val();

        // Bit timing: the ticks restart at the end of each bit and stay at 0 while idle.
        self.idle.next = self.bits_left.q.val() == self.zero4.val();
        self.bit_end.next = self.ticks.q.val() == self.bit_last.val();
        self.tick_step.value.next = self.ticks.q.val();
        self.ticks.d.next = self.tick_step.result.val() & self.tick_mask.val();
        if self.idle.val() | self.bit_end.val() {
            self.ticks.d.next = self.zero16.val();
        }

        // The next bit at the end of each bit.
        self.frame_low.d.next = self.frame_low.q.val();
        self.bits_step.value.next = self.bits_left.q.val();
        self.bits_left.d.next = self.bits_left.q.val();
        if self.bit_end.val() & !self.idle.val() {
            self.frame_low.d.next = self.frame_low.q.val() >> 1;
            self.bits_left.d.next = self.bits_step.result.val();
        }

        // Ready while idle and in the last clock of a stop bit. An accepted byte loads the
        // frame: stop bit (line high), the inverted data bits and the start bit (line low).
        self.byte_ready.next = self.idle.val()
            | ((self.bits_left.q.val() == self.one4.val()) & self.bit_end.val());
        self.accept.next = self.byte_ready.val() & self.byte_valid.val();
        self.frame.byte.next = self.byte.val();
        if self.accept.val() {
            self.frame_low.d.next = self.frame.frame_low.val();
            self.bits_left.d.next = self.frame_bits.val();
            self.ticks.d.next = self.zero16.val();
        }

        self.tx.next = !self.frame_low.q.val().get_bit(0);
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

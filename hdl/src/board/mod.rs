//! The board: the command executor that replies to the link protocol with the engine, and the
//! top levels that connect it to the link front end.

pub mod axis;
pub mod cache;
pub mod executor;
pub mod top;
pub mod units;
pub mod walker;

use rust_hdl::prelude::*;

pub use axis::BoardAxis;
pub use executor::{power_on_writes, BoardConfig, CommandExecutor};
pub use top::{Board, BoardBytes};

use crate::engine::Engine;

/// The executor and the engine, with the executor's frame-decoder and frame-encoder ports as
/// the top-level ports: the design that frame-level tests drive in place of the link front end.
#[derive(LogicBlock)]
pub struct ExecutorHarness {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub frame_valid: Signal<In, Bit>,
    pub frame_opcode: Signal<In, Bits<8>>,
    pub frame_seq: Signal<In, Bits<16>>,
    pub frame_length: Signal<In, Bits<16>>,
    pub payload_address: Signal<Out, Bits<16>>,
    pub payload_byte: Signal<In, Bits<8>>,
    pub frame_release: Signal<Out, Bit>,
    pub clear_counters: Signal<Out, Bit>,
    pub error_select: Signal<Out, Bits<4>>,
    pub error_reading: Signal<Out, Bit>,
    pub error_count: Signal<In, Bits<32>>,
    pub error_ready: Signal<In, Bit>,
    pub unknown_opcode: Signal<Out, Bit>,
    pub replay: Signal<Out, Bit>,
    pub reply_write: Signal<Out, Bit>,
    pub reply_address: Signal<Out, Bits<16>>,
    pub reply_byte: Signal<Out, Bits<8>>,
    pub reply_send: Signal<Out, Bit>,
    pub reply_opcode: Signal<Out, Bits<8>>,
    pub reply_seq: Signal<Out, Bits<16>>,
    pub reply_length: Signal<Out, Bits<16>>,
    pub reply_busy: Signal<In, Bit>,
    executor: CommandExecutor,
    engine: Engine,
}

impl ExecutorHarness {
    pub fn new(board: &BoardConfig) -> Self {
        ExecutorHarness {
            clock: Default::default(),
            reset: Default::default(),
            frame_valid: Default::default(),
            frame_opcode: Default::default(),
            frame_seq: Default::default(),
            frame_length: Default::default(),
            payload_address: Default::default(),
            payload_byte: Default::default(),
            frame_release: Default::default(),
            clear_counters: Default::default(),
            error_select: Default::default(),
            error_reading: Default::default(),
            error_count: Default::default(),
            error_ready: Default::default(),
            unknown_opcode: Default::default(),
            replay: Default::default(),
            reply_write: Default::default(),
            reply_address: Default::default(),
            reply_byte: Default::default(),
            reply_send: Default::default(),
            reply_opcode: Default::default(),
            reply_seq: Default::default(),
            reply_length: Default::default(),
            reply_busy: Default::default(),
            executor: CommandExecutor::new(board),
            engine: {
                let mut engine = Engine::new(&board.config.fixed, &board.engine);
                engine.preload(&power_on_writes(board));
                engine
            },
        }
    }
}

impl Logic for ExecutorHarness {
    #[hdl_gen]
    fn update(&mut self) {
        self.executor.clock.next = self.clock.val();
        self.executor.reset.next = self.reset.val();
        self.engine.clock.next = self.clock.val();
        self.engine.reset.next = self.reset.val();

        self.executor.frame_valid.next = self.frame_valid.val();
        self.executor.frame_opcode.next = self.frame_opcode.val();
        self.executor.frame_seq.next = self.frame_seq.val();
        self.executor.frame_length.next = self.frame_length.val();
        self.payload_address.next = self.executor.payload_address.val();
        self.executor.payload_byte.next = self.payload_byte.val();
        self.frame_release.next = self.executor.frame_release.val();
        self.clear_counters.next = self.executor.clear_counters.val();
        self.error_select.next = self.executor.error_select.val();
        self.error_reading.next = self.executor.error_reading.val();
        self.executor.error_count.next = self.error_count.val();
        self.executor.error_ready.next = self.error_ready.val();
        self.unknown_opcode.next = self.executor.unknown_opcode.val();
        self.replay.next = self.executor.replay.val();

        self.reply_write.next = self.executor.reply_write.val();
        self.reply_address.next = self.executor.reply_address.val();
        self.reply_byte.next = self.executor.reply_byte.val();
        self.reply_send.next = self.executor.reply_send.val();
        self.reply_opcode.next = self.executor.reply_opcode.val();
        self.reply_seq.next = self.executor.reply_seq.val();
        self.reply_length.next = self.executor.reply_length.val();
        self.executor.reply_busy.next = self.reply_busy.val();

        self.engine.write.next = self.executor.engine_write.val();
        self.engine.read.next = self.executor.engine_read.val();
        self.engine.run.next = self.executor.engine_run.val();
        self.engine.learn.next = self.executor.engine_learn.val();
        self.engine.select.next = self.executor.engine_select.val();
        self.engine.address.next = self.executor.engine_address.val();
        self.engine.data.next = self.executor.engine_data.val();
        self.engine.clear_counters.next = self.executor.engine_clear_counters.val();
        self.executor.engine_busy.next = self.engine.busy.val();
        self.executor.engine_read_data.next = self.engine.read_data.val();
        self.executor.engine_read_valid.next = self.engine.read_valid.val();
    }
}

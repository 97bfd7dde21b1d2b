//! The board top levels: the link front end, the command executor and the engine.

use rust_hdl::prelude::*;

use super::executor::{power_on_writes, BoardConfig, CommandExecutor};
use crate::engine::Engine;
use crate::link::{FrameDecoder, FrameEncoder, LinkParams, UartRx, UartTx};

/// The board with byte ports: received bytes go straight into the frame decoder and the frame
/// encoder's bytes come straight out, the transaction-level form of [`Board`] that the
/// simulated board drives. `idle` is high when no frame is held or in progress and no reply
/// byte is waiting, so a simulation may stop clocking.
#[derive(LogicBlock)]
pub struct BoardBytes {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rx_byte: Signal<In, Bits<8>>,
    pub rx_valid: Signal<In, Bit>,
    pub tx_byte: Signal<Out, Bits<8>>,
    pub tx_valid: Signal<Out, Bit>,
    pub tx_ready: Signal<In, Bit>,
    pub idle: Signal<Out, Bit>,
    decoder: FrameDecoder,
    executor: CommandExecutor,
    engine: Engine,
    encoder: FrameEncoder,
}

impl BoardBytes {
    /// Builds the board for `board` with the link's inter-byte timeout and UART divisor of
    /// `link`, whose maximum payload must be the board's.
    pub fn new(board: &BoardConfig, link: &LinkParams) -> Self {
        BoardBytes::with_decoder(board, link, FrameDecoder::new(link))
    }

    /// Builds the board as [`BoardBytes::new`] does, for a byte source that keeps `rx_byte` at
    /// its value for at least the clock after each `rx_valid` strobe, as [`UartRx`] does.
    pub fn with_held_rx_byte(board: &BoardConfig, link: &LinkParams) -> Self {
        BoardBytes::with_decoder(board, link, FrameDecoder::with_held_byte(link))
    }

    fn with_decoder(board: &BoardConfig, link: &LinkParams, decoder: FrameDecoder) -> Self {
        assert_eq!(
            link.max_payload, board.max_payload,
            "the decoder and the executor must agree on the maximum payload"
        );
        BoardBytes {
            clock: Default::default(),
            reset: Default::default(),
            rx_byte: Default::default(),
            rx_valid: Default::default(),
            tx_byte: Default::default(),
            tx_valid: Default::default(),
            tx_ready: Default::default(),
            idle: Default::default(),
            decoder,
            executor: CommandExecutor::new(board),
            engine: {
                let mut engine = Engine::new(&board.config.fixed, &board.engine);
                engine.preload(&power_on_writes(board));
                engine
            },
            encoder: FrameEncoder::new(link),
        }
    }
}

impl Logic for BoardBytes {
    #[hdl_gen]
    fn update(&mut self) {
        self.decoder.clock.next = self.clock.val();
        self.decoder.reset.next = self.reset.val();
        self.executor.clock.next = self.clock.val();
        self.executor.reset.next = self.reset.val();
        self.engine.clock.next = self.clock.val();
        self.engine.reset.next = self.reset.val();
        self.encoder.clock.next = self.clock.val();
        self.encoder.reset.next = self.reset.val();

        // Bytes in.
        self.decoder.byte.next = self.rx_byte.val();
        self.decoder.byte_valid.next = self.rx_valid.val();

        // Decoder to executor.
        self.decoder.clear_counters.next = self.executor.clear_counters.val();
        self.executor.frame_valid.next = self.decoder.frame_valid.val();
        self.executor.frame_opcode.next = self.decoder.frame_opcode.val();
        self.executor.frame_seq.next = self.decoder.frame_seq.val();
        self.executor.frame_length.next = self.decoder.frame_length.val();
        self.decoder.payload_address.next = self.executor.payload_address.val();
        self.executor.payload_byte.next = self.decoder.payload_byte.val();
        self.decoder.frame_release.next = self.executor.frame_release.val();
        self.decoder.error_select.next = self.executor.error_select.val();
        self.decoder.error_reading.next = self.executor.error_reading.val();
        self.executor.error_count.next = self.decoder.error_count.val();
        self.executor.error_ready.next = self.decoder.error_ready.val();
        self.decoder.unknown_opcode.next = self.executor.unknown_opcode.val();
        self.decoder.replay.next = self.executor.replay.val();

        // Executor to engine.
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

        // Executor to encoder.
        self.encoder.write.next = self.executor.reply_write.val();
        self.encoder.write_address.next = self.executor.reply_address.val();
        self.encoder.write_byte.next = self.executor.reply_byte.val();
        self.encoder.send.next = self.executor.reply_send.val();
        self.encoder.opcode.next = self.executor.reply_opcode.val();
        self.encoder.seq.next = self.executor.reply_seq.val();
        self.encoder.length.next = self.executor.reply_length.val();
        self.executor.reply_busy.next = self.encoder.busy.val();

        // Bytes out.
        self.tx_byte.next = self.encoder.byte.val();
        self.tx_valid.next = self.encoder.byte_valid.val();
        self.encoder.byte_ready.next = self.tx_ready.val();

        self.idle.next =
            self.executor.idle.val() & !self.decoder.frame_valid.val() & !self.encoder.busy.val();
    }
}

/// The board with UART pins: `rx` (idle high) into a UART receiver and the frame decoder, the
/// frame encoder out through a UART transmitter to `tx`. 8N1 at the board clock divided by the
/// link's clocks per bit.
#[derive(LogicBlock)]
pub struct Board {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub rx: Signal<In, Bit>,
    pub tx: Signal<Out, Bit>,
    pub idle: Signal<Out, Bit>,
    uart_rx: UartRx,
    uart_tx: UartTx,
    core: BoardBytes,
}

impl Board {
    pub fn new(board: &BoardConfig, link: &LinkParams) -> Self {
        Board {
            clock: Default::default(),
            reset: Default::default(),
            rx: Default::default(),
            tx: Default::default(),
            idle: Default::default(),
            uart_rx: UartRx::new(link),
            uart_tx: UartTx::new(link),
            core: BoardBytes::with_held_rx_byte(board, link),
        }
    }
}

impl Logic for Board {
    #[hdl_gen]
    fn update(&mut self) {
        self.uart_rx.clock.next = self.clock.val();
        self.uart_rx.reset.next = self.reset.val();
        self.uart_tx.clock.next = self.clock.val();
        self.uart_tx.reset.next = self.reset.val();
        self.core.clock.next = self.clock.val();
        self.core.reset.next = self.reset.val();

        self.uart_rx.rx.next = self.rx.val();
        self.core.rx_byte.next = self.uart_rx.byte.val();
        self.core.rx_valid.next = self.uart_rx.byte_valid.val();

        self.uart_tx.byte.next = self.core.tx_byte.val();
        self.uart_tx.byte_valid.next = self.core.tx_valid.val();
        self.core.tx_ready.next = self.uart_tx.byte_ready.val();
        self.tx.next = self.uart_tx.tx.val();
        self.idle.next = self.core.idle.val();
    }
}

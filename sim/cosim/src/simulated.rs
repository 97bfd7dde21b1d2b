//! The simulated board: the Verilated `board_bytes` design replying to a byte stream, for
//! `leap serve --device verilator`.

use std::time::Instant;

use leap_hdl::board::BoardConfig;
use leap_model::protocol::{Accept, Decoder, INTER_BYTE_TIMEOUT};
use leap_model::Config;
use leap_verilator_sys::{Model, PortId};

/// Clocks the board must stay idle before the simulation stops clocking, besides two per byte
/// received since it last stopped. The decoder's scanner examines one byte per clock and may
/// rescan the bytes of a rejected candidate, and the board looks idle meanwhile.
///
/// NOTE: garbage with many false sync bytes can make the scanner rescan a byte more than twice.
/// A frame it finds after that gets its reply on the next `receive` or `poll`.
const SETTLE_CLOCKS: u64 = 64;

/// Inter-byte timeout of the simulated board's frame decoder, in clocks. The simulation stops
/// the clock while the host is silent, so this only sets how many clocks it runs to cut off a
/// stalled frame once the wall-clock timeout has passed.
pub const SIMULATED_TIMEOUT_CLOCKS: u64 = 4096;

/// UART clocks per bit of the `board` variants.
pub const SIMULATED_CLOCKS_PER_BIT: usize = 8;

/// Name of the Verilated `board_bytes` model of the default (Yin-Yang) network.
pub const BOARD_BYTES_MODEL: &str = "board_bytes_yinyang";

/// Returns the board that the `*_yinyang` board variants are generated for.
pub fn yinyang_board() -> BoardConfig {
    BoardConfig {
        config: Config::default(),
        engine: Default::default(),
        max_payload: leap_model::protocol::MAX_PAYLOAD,
    }
}

struct BytePorts {
    rx_byte: PortId,
    rx_valid: PortId,
    tx_byte: PortId,
    tx_valid: PortId,
    tx_ready: PortId,
    idle: PortId,
}

/// The Verilated `board_bytes` model behind a byte stream. Bytes cross at transaction level:
/// one received byte per clock into the frame decoder, one sent byte per clock out of the frame
/// encoder. The clock runs only while the board has work, so wall-clock time and board clocks
/// are decoupled. A software [`Decoder`] follows the same bytes to find where frames end, and
/// the model runs each complete frame to its reply before it takes the next frame's bytes.
/// When no byte of a partial frame arrived for the inter-byte timeout (50 ms of wall-clock
/// time), it clocks the board for its timeout in clocks, so the board cuts the frame off as the
/// software decoder does.
pub struct SimulatedBoard {
    model: Model,
    ports: BytePorts,
    shadow: Decoder,
    /// Bytes received since the clock last stopped.
    unsettled_bytes: u64,
    /// Clock cycles spent on requests, from their bytes to their replies.
    pub busy_cycles: u64,
}

impl SimulatedBoard {
    /// Creates the simulated board for `config`, which must be the network, formats and error
    /// source the model was generated for (the default Yin-Yang configuration).
    pub fn new(config: &Config) -> Result<SimulatedBoard, String> {
        let board = yinyang_board();
        board.identity().check_config(config).map_err(|e| {
            format!("the simulated board runs the default 4-120-3 Yin-Yang network: {e}")
        })?;
        let mut model = Model::new(BOARD_BYTES_MODEL, 1);
        let ports = BytePorts {
            rx_byte: model.port("rx_byte"),
            rx_valid: model.port("rx_valid"),
            tx_byte: model.port("tx_byte"),
            tx_valid: model.port("tx_valid"),
            tx_ready: model.port("tx_ready"),
            idle: model.port("idle"),
        };
        model.set(ports.rx_valid, 0);
        model.set(ports.rx_byte, 0);
        model.set(ports.tx_ready, 1);
        model.reset(4);
        let mut simulated = SimulatedBoard {
            model,
            ports,
            shadow: Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT),
            unsettled_bytes: 0,
            busy_cycles: 0,
        };
        // Power-on: the executor loads the engine's layer table and constants.
        let mut discard = Vec::new();
        simulated.run_until_idle(&mut discard);
        Ok(simulated)
    }

    /// Takes `bytes` received at `now` and returns the replies the board sent meanwhile.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        let mut out = self.poll(now);
        for &byte in bytes {
            self.model.set(self.ports.rx_byte, byte as i64);
            self.model.set(self.ports.rx_valid, 1);
            self.step(&mut out);
            self.model.set(self.ports.rx_valid, 0);
            self.unsettled_bytes += 1;
            let mut frame_ended = self.shadow.push(byte, now).is_some();
            while self.shadow.poll(now).is_some() {
                frame_ended = true;
            }
            if frame_ended {
                self.run_until_idle(&mut out);
            }
        }
        out
    }

    /// Cuts off a partial frame once no byte of it arrived for the inter-byte timeout, as the
    /// board would after that time, and returns any replies that follow.
    pub fn poll(&mut self, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.shadow.in_frame() {
            return out;
        }
        let mut expired = false;
        while self.shadow.poll(now).is_some() {
            expired = true;
        }
        if expired {
            for _ in 0..SIMULATED_TIMEOUT_CLOCKS + 2 {
                self.step(&mut out);
            }
            self.run_until_idle(&mut out);
        }
        out
    }

    /// Clock cycles run since the model was created.
    pub fn cycles(&self) -> u64 {
        self.model.cycles()
    }

    /// Runs one clock, taking the byte the encoder offers on it.
    fn step(&mut self, out: &mut Vec<u8>) {
        if self.model.get(self.ports.tx_valid) == 1 {
            out.push(self.model.get(self.ports.tx_byte) as u8);
        }
        self.model.clock();
    }

    /// Clocks until the board has been idle with nothing to send for [`SETTLE_CLOCKS`] plus two
    /// clocks per byte received since the last time.
    fn run_until_idle(&mut self, out: &mut Vec<u8>) {
        let start = self.model.cycles();
        let settle = SETTLE_CLOCKS + 2 * self.unsettled_bytes;
        self.unsettled_bytes = 0;
        let mut quiet = 0;
        while quiet < settle {
            let idle =
                self.model.get(self.ports.idle) == 1 && self.model.get(self.ports.tx_valid) == 0;
            quiet = if idle { quiet + 1 } else { 0 };
            self.step(out);
        }
        self.busy_cycles += self.model.cycles() - start;
    }
}

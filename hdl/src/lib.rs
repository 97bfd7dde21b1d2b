//! The LEAP datapath in rust-hdl: the synapse lane and the neuron unit of the Latent Equilibrium
//! engine, emitted as Verilog for a given set of number formats.
//!
//! Port widths are the largest each format allows (weights 32 bits, potentials 32, operands 16,
//! accumulators 48), so one block interface serves every valid [`Formats`]. The configured widths
//! enter as saturation bounds, slice positions and shifts, which are constants of the emitted
//! Verilog. Every arithmetic result is checked bit for bit against the golden model under
//! Verilator. rust-hdl's own simulator is not used as a reference, because its width rules differ
//! from those of its emitted Verilog.

pub mod board;
pub mod boards;
pub mod counter_bank;
pub mod engine;
pub mod lane;
pub mod leaf;
pub mod link;
pub mod neuron;
pub mod tools;
pub mod verilog;

use std::fmt;

use leap_model::format::Formats;
use rust_hdl::prelude::*;

pub use lane::{SynapseLane, LANE_LATENCY};
pub use neuron::{NeuronUnit, NEURON_LATENCY};

/// A block that can be emitted as a top-level Verilog module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Design {
    /// One [`SynapseLane`].
    Lane,
    /// One [`NeuronUnit`].
    Neuron,
    /// The [`engine::Engine`] with [`engine::EngineParams::default`].
    Engine,
    /// The [`link::FrameDecoder`].
    Decoder,
    /// The [`link::FrameEncoder`].
    Encoder,
    /// A [`link::UartTx`] and a [`link::UartRx`] side by side ([`link::UartPair`]).
    Uart,
}

impl Design {
    /// The datapath designs.
    pub const ALL: [Design; 3] = [Design::Lane, Design::Neuron, Design::Engine];
    /// The link designs, built from [`link::LinkParams`] (see [`emit_link`]).
    pub const LINK: [Design; 3] = [Design::Decoder, Design::Encoder, Design::Uart];

    /// Returns the short name used for files and command-line options.
    pub fn name(self) -> &'static str {
        match self {
            Design::Lane => "lane",
            Design::Neuron => "neuron",
            Design::Engine => "engine",
            Design::Decoder => "decoder",
            Design::Encoder => "encoder",
            Design::Uart => "uart",
        }
    }

    pub fn from_name(name: &str) -> Option<Design> {
        Design::ALL
            .into_iter()
            .chain(Design::LINK)
            .find(|d| d.name() == name)
    }
}

impl fmt::Display for Design {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Direction of a top-level port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

/// A port of an emitted top-level module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub width: usize,
    pub direction: Direction,
}

/// Verilog text and top-level ports of one design. The top module is named `top`.
#[derive(Clone, Debug)]
pub struct Emitted {
    pub verilog: String,
    pub ports: Vec<Port>,
}

/// Collects the parameters of the outermost scope.
#[derive(Default)]
struct PortCollector {
    depth: usize,
    ports: Vec<Port>,
}

impl Probe for PortCollector {
    fn visit_start_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.depth += 1;
    }
    fn visit_atom(&mut self, name: &str, signal: &dyn Atom) {
        if self.depth != 1 {
            return;
        }
        let direction = match signal.kind() {
            AtomKind::InputParameter => Direction::Input,
            AtomKind::OutputParameter | AtomKind::OutputPassthrough => Direction::Output,
            _ => return,
        };
        self.ports.push(Port {
            name: name.to_string(),
            width: signal.bits(),
            direction,
        });
    }
    fn visit_end_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.depth -= 1;
    }
}

/// Emits the Verilog of `block` after marking every input as driven from outside.
pub(crate) fn emit_block<B: Block>(mut block: B, mark_inputs: impl FnOnce(&mut B)) -> Emitted {
    mark_inputs(&mut block);
    block.connect_all();
    let verilog = generate_verilog(&block);
    let mut collector = PortCollector::default();
    block.accept("top", &mut collector);
    Emitted {
        verilog,
        ports: collector.ports,
    }
}

/// Emits the Verilog of `design` for `formats`.
///
/// Panics when `formats` is invalid: call [`Formats::validate`] first.
pub fn emit(design: Design, formats: &Formats) -> Emitted {
    if let Err(e) = formats.validate() {
        panic!("cannot emit {design} for invalid formats: {e}");
    }
    match design {
        Design::Lane => emit_block(SynapseLane::new(formats), |b| {
            b.clock.connect();
            b.reset.connect();
            b.valid.connect();
            b.slice.connect();
            b.low.connect();
            b.rate.connect();
            b.message.connect();
            b.update_factor.connect();
            b.rounding.connect();
            b.learn.connect();
        }),
        Design::Neuron => emit_block(NeuronUnit::new(formats), |b| {
            b.clock.connect();
            b.reset.connect();
            b.valid.connect();
            b.sum.connect();
            b.potential.connect();
            b.error.connect();
            b.error_load.connect();
            b.k_r_mant.connect();
            b.k_r_shift.connect();
            b.k_dt_mant.connect();
            b.k_dt_shift.connect();
            b.activation.connect();
            b.spare_high.connect();
            b.spare_low.connect();
            b.spare_mant.connect();
            b.spare_amount.connect();
        }),
        Design::Engine => emit_engine(formats, &engine::EngineParams::default()),
        Design::Decoder | Design::Encoder | Design::Uart => {
            emit_link(design, &link::LinkParams::default())
        }
    }
}

/// Emits the Verilog of a link design for `params`; a datapath design is emitted with the
/// default formats.
///
/// Panics when `params` is invalid: call [`link::LinkParams::validate`] first.
pub fn emit_link(design: Design, params: &link::LinkParams) -> Emitted {
    if let Err(e) = params.validate() {
        panic!("cannot emit {design} for invalid link parameters: {e}");
    }
    match design {
        Design::Decoder => emit_block(link::FrameDecoder::new(params), |b| {
            b.clock.connect();
            b.reset.connect();
            b.byte.connect();
            b.byte_valid.connect();
            b.clear_counters.connect();
            b.payload_address.connect();
            b.frame_release.connect();
            b.error_select.connect();
            b.error_reading.connect();
            b.unknown_opcode.connect();
            b.replay.connect();
        }),
        Design::Encoder => emit_block(link::FrameEncoder::new(params), |b| {
            b.clock.connect();
            b.reset.connect();
            b.write.connect();
            b.write_address.connect();
            b.write_byte.connect();
            b.send.connect();
            b.opcode.connect();
            b.seq.connect();
            b.length.connect();
            b.byte_ready.connect();
        }),
        Design::Uart => emit_block(link::UartPair::new(params), |b| {
            b.clock.connect();
            b.reset.connect();
            b.tx_byte.connect();
            b.tx_valid.connect();
            b.rx.connect();
        }),
        Design::Lane | Design::Neuron | Design::Engine => emit(design, &Formats::default()),
    }
}

/// Emits the Verilog of the command executor and the engine of `board`, with the executor's
/// frame-decoder and frame-encoder ports at the top (see [`board::ExecutorHarness`]).
pub fn emit_executor(board: &board::BoardConfig) -> Emitted {
    emit_block(board::ExecutorHarness::new(board), |b| {
        b.clock.connect();
        b.reset.connect();
        b.frame_valid.connect();
        b.frame_opcode.connect();
        b.frame_seq.connect();
        b.frame_length.connect();
        b.payload_byte.connect();
        b.error_count.connect();
        b.error_ready.connect();
        b.reply_busy.connect();
    })
}

/// Emits the Verilog of a board top level for `board` and `link`: [`board::Board`] with UART
/// pins when `uart` is set, else [`board::BoardBytes`] with byte ports.
pub fn emit_board(board: &board::BoardConfig, link: &link::LinkParams, uart: bool) -> Emitted {
    if uart {
        emit_block(board::Board::new(board, link), |b| {
            b.clock.connect();
            b.reset.connect();
            b.rx.connect();
        })
    } else {
        emit_block(board::BoardBytes::new(board, link), |b| {
            b.clock.connect();
            b.reset.connect();
            b.rx_byte.connect();
            b.rx_valid.connect();
            b.tx_ready.connect();
        })
    }
}

/// Emits the Verilog of the board behind 64-bit AXI-Stream ports, for the XDMA IP's streams.
pub fn emit_board_axis(board: &board::BoardConfig, link: &link::LinkParams) -> Emitted {
    emit_block(board::BoardAxis::new(board, link), |b| {
        b.clock.connect();
        b.reset.connect();
        b.s_axis_tdata.connect();
        b.s_axis_tkeep.connect();
        b.s_axis_tvalid.connect();
        b.s_axis_tlast.connect();
        b.m_axis_tready.connect();
    })
}

/// Emits the Verilog of the engine for `formats` and `params`.
pub fn emit_engine(formats: &Formats, params: &engine::EngineParams) -> Emitted {
    emit_block(engine::Engine::new(formats, params), |b| {
        b.clock.connect();
        b.reset.connect();
        b.write.connect();
        b.read.connect();
        b.run.connect();
        b.learn.connect();
        b.select.connect();
        b.address.connect();
        b.data.connect();
        b.clear_counters.connect();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_names_round_trip() {
        for design in Design::ALL.into_iter().chain(Design::LINK) {
            assert_eq!(Design::from_name(design.name()), Some(design));
        }
        assert_eq!(Design::from_name("missing"), None);
    }

    #[test]
    fn lane_ports_follow_the_block() {
        let emitted = emit(Design::Lane, &Formats::default());
        let port = |name: &str| emitted.ports.iter().find(|p| p.name == name).cloned();
        assert_eq!(
            port("slice").map(|p| (p.width, p.direction)),
            Some((16, Direction::Input))
        );
        assert_eq!(
            port("low").map(|p| (p.width, p.direction)),
            Some((16, Direction::Input))
        );
        assert_eq!(
            port("forward").map(|p| (p.width, p.direction)),
            Some((32, Direction::Output))
        );
        assert!(
            emitted.verilog.contains("module top("),
            "the top module is named top"
        );
    }

    #[test]
    fn engine_bank_bits_cover_the_lanes() {
        for (lanes, bits) in [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (16, 4)] {
            let params = engine::EngineParams {
                lanes,
                ..Default::default()
            };
            assert_eq!(params.bank_bits(), bits, "{lanes} lanes");
        }
    }
}

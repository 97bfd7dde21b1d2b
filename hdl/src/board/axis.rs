//! The board behind 64-bit AXI-Stream ports, the stream interface of the Xilinx XDMA IP: the
//! host-to-card stream feeds the frame decoder and the frame encoder fills the card-to-host stream.

use rust_hdl::prelude::*;

use super::executor::BoardConfig;
use super::top::BoardBytes;
use super::units::ZeroExtend;
use crate::link::LinkParams;

/// [`BoardBytes`] between two 64-bit AXI-Stream interfaces.
///
/// Host to card: a beat is taken when `s_axis_tvalid` and `s_axis_tready` are high. Its bytes
/// whose `s_axis_tkeep` bit is set go to the frame decoder one per clock, lowest byte first, and
/// `s_axis_tready` is low until the beat is used up. `s_axis_tlast` is ignored, because frames
/// carry their own length.
///
/// Card to host: reply bytes fill a beat from its lowest byte. The beat is offered on
/// `m_axis_*` when it has 8 bytes or the last byte of a frame, with `m_axis_tkeep` marking its
/// bytes and `m_axis_tlast` set on the beat that ends a frame. The shell counts the frame's bytes
/// from the length field of its header to find that end.
#[derive(LogicBlock)]
pub struct BoardAxis {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, Bit>,
    pub s_axis_tdata: Signal<In, Bits<64>>,
    pub s_axis_tkeep: Signal<In, Bits<8>>,
    pub s_axis_tvalid: Signal<In, Bit>,
    pub s_axis_tlast: Signal<In, Bit>,
    pub s_axis_tready: Signal<Out, Bit>,
    pub m_axis_tdata: Signal<Out, Bits<64>>,
    pub m_axis_tkeep: Signal<Out, Bits<8>>,
    pub m_axis_tvalid: Signal<Out, Bit>,
    pub m_axis_tlast: Signal<Out, Bit>,
    pub m_axis_tready: Signal<In, Bit>,
    core: BoardBytes,
    /// Bytes of the host-to-card beat not yet sent, lowest first; reset to 0.
    rx_data: DFF<Bits<64>>,
    /// Keep bits of `rx_data`; the beat is used up when they are all clear. Reset to 0.
    rx_keep: DFF<Bits<8>>,
    /// The card-to-host beat being filled or offered; reset to 0.
    tx_data: DFF<Bits<64>>,
    /// Keep bits of `tx_data`; reset to 0.
    tx_keep: DFF<Bits<8>>,
    /// Bit offset in `tx_data` of the lane the next reply byte goes to: 0, 8, ..., 56. Reset to 0.
    tx_offset: DFF<Bits<6>>,
    /// The beat is offered on `m_axis_*`; reset to 0.
    tx_offered: DFF<Bit>,
    /// The offered beat ends a frame; reset to 0.
    tx_last: DFF<Bit>,
    /// Index of the next reply byte within its frame; reset to 0.
    frame_index: DFF<Bits<16>>,
    /// Low byte of the frame's length field, taken at index 4; reset to 0.
    length_low: DFF<Bits<16>>,
    /// Index of the frame's last byte (length + 9), set at index 5; reset to 0.
    frame_end: DFF<Bits<16>>,
    /// The reply byte zero-extended to a beat, before the shift into its lane.
    lane_byte: ZeroExtend<8, 64>,
    /// The reply byte zero-extended to the width of the length field.
    length_byte: ZeroExtend<8, 16>,
    zero6: Constant<Bits<6>>,
    lane_width6: Constant<Bits<6>>,
    last_lane_offset6: Constant<Bits<6>>,
    zero8: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    zero16: Constant<Bits<16>>,
    one16: Constant<Bits<16>>,
    length_low_index: Constant<Bits<16>>,
    length_high_index: Constant<Bits<16>>,
    /// A frame is its payload and 10 more bytes (the 6-byte header and the 4-byte CRC), so its
    /// last byte has index length + 9.
    last_index_offset: Constant<Bits<16>>,
    zero64: Constant<Bits<64>>,
}

impl BoardAxis {
    pub fn new(board: &BoardConfig, link: &LinkParams) -> Self {
        BoardAxis {
            clock: Default::default(),
            reset: Default::default(),
            s_axis_tdata: Default::default(),
            s_axis_tkeep: Default::default(),
            s_axis_tvalid: Default::default(),
            s_axis_tlast: Default::default(),
            s_axis_tready: Default::default(),
            m_axis_tdata: Default::default(),
            m_axis_tkeep: Default::default(),
            m_axis_tvalid: Default::default(),
            m_axis_tlast: Default::default(),
            m_axis_tready: Default::default(),
            core: BoardBytes::new(board, link),
            rx_data: Default::default(),
            rx_keep: Default::default(),
            tx_data: Default::default(),
            tx_keep: Default::default(),
            tx_offset: Default::default(),
            tx_offered: Default::default(),
            tx_last: Default::default(),
            frame_index: Default::default(),
            length_low: Default::default(),
            frame_end: Default::default(),
            lane_byte: Default::default(),
            length_byte: Default::default(),
            zero6: Constant::new(0u64.to_bits()),
            lane_width6: Constant::new(8u64.to_bits()),
            last_lane_offset6: Constant::new(56u64.to_bits()),
            zero8: Constant::new(0u64.to_bits()),
            one8: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            one16: Constant::new(1u64.to_bits()),
            length_low_index: Constant::new(4u64.to_bits()),
            length_high_index: Constant::new(5u64.to_bits()),
            last_index_offset: Constant::new(9u64.to_bits()),
            zero64: Constant::new(0u64.to_bits()),
        }
    }
}

impl Logic for BoardAxis {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rx_data,
            rx_keep,
            tx_data,
            tx_keep,
            tx_offset,
            tx_offered,
            tx_last,
            frame_index,
            length_low,
            frame_end
        );
        self.core.clock.next = self.clock.val();
        self.core.reset.next = self.reset.val();

        // Host to card: unpack the held beat one byte lane per clock.
        self.s_axis_tready.next = !self.rx_keep.q.val().any();
        self.core.rx_byte.next = self.rx_data.q.val().get_bits::<8>(0);
        self.core.rx_valid.next = self.rx_keep.q.val().get_bit(0);
        if self.rx_keep.q.val().any() {
            self.rx_data.d.next = self.rx_data.q.val() >> 8;
            self.rx_keep.d.next = self.rx_keep.q.val() >> 1;
        } else if self.s_axis_tvalid.val() {
            self.rx_data.d.next = self.s_axis_tdata.val();
            self.rx_keep.d.next = self.s_axis_tkeep.val();
        }

        // Card to host: pack reply bytes into a beat, offer it, and start a new one once taken.
        self.lane_byte.value.next = self.core.tx_byte.val();
        self.length_byte.value.next = self.core.tx_byte.val();
        self.m_axis_tdata.next = self.tx_data.q.val();
        self.m_axis_tkeep.next = self.tx_keep.q.val();
        self.m_axis_tvalid.next = self.tx_offered.q.val();
        self.m_axis_tlast.next = self.tx_last.q.val();
        self.core.tx_ready.next = !self.tx_offered.q.val();
        if self.tx_offered.q.val() & self.m_axis_tready.val() {
            self.tx_offered.d.next = false;
            self.tx_last.d.next = false;
            self.tx_data.d.next = self.zero64.val();
            self.tx_keep.d.next = self.zero8.val();
            self.tx_offset.d.next = self.zero6.val();
        }
        if !self.tx_offered.q.val() & self.core.tx_valid.val() {
            self.tx_data.d.next =
                self.tx_data.q.val() | (self.lane_byte.result.val() << self.tx_offset.q.val());
            // Bits 5:3 of the bit offset are the lane number.
            self.tx_keep.d.next =
                self.tx_keep.q.val() | (self.one8.val() << self.tx_offset.q.val().get_bits::<3>(3));
            self.tx_offset.d.next = self.tx_offset.q.val() + self.lane_width6.val();
            self.frame_index.d.next = self.frame_index.q.val() + self.one16.val();
            if self.frame_index.q.val() == self.length_low_index.val() {
                self.length_low.d.next = self.length_byte.result.val();
            }
            if self.frame_index.q.val() == self.length_high_index.val() {
                self.frame_end.d.next = ((self.length_byte.result.val() << 8)
                    | self.length_low.q.val())
                    + self.last_index_offset.val();
            }
            if (self.frame_index.q.val() > self.length_high_index.val())
                & (self.frame_index.q.val() == self.frame_end.q.val())
            {
                self.frame_index.d.next = self.zero16.val();
                self.tx_offered.d.next = true;
                self.tx_last.d.next = true;
            }
            if self.tx_offset.q.val() == self.last_lane_offset6.val() {
                self.tx_offered.d.next = true;
            }
        }

        if self.reset.val() {
            self.rx_data.d.next = self.zero64.val();
            self.rx_keep.d.next = self.zero8.val();
            self.tx_data.d.next = self.zero64.val();
            self.tx_keep.d.next = self.zero8.val();
            self.tx_offset.d.next = self.zero6.val();
            self.tx_offered.d.next = false;
            self.tx_last.d.next = false;
            self.frame_index.d.next = self.zero16.val();
            self.length_low.d.next = self.zero16.val();
            self.frame_end.d.next = self.zero16.val();
        }
    }
}

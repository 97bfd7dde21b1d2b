//! The power-on reset of a board: held until the PLL locks and a set number of clocks more.

use rust_hdl::prelude::*;

use crate::link::low_mask;

/// Width of the hold counter: holds up to 65,535 clocks.
pub const HOLD_BITS: usize = 16;

/// Holds `reset` high from configuration until `locked` has been high for `hold_clocks` clocks
/// of `clock`, and raises it again whenever `locked` falls.
///
/// The hold covers the time after configuration in which iCE40 block RAM reads return zeros. That
/// time was measured on iCE40 boards at about 36 clocks of 12 MHz (3 µs), and the board table
/// sets the hold in microseconds. `locked` comes from the PLL asynchronously, so it passes two flip-flops first.
///
/// Latency: `reset` falls `hold_clocks + 3` clocks after `locked` rises (two synchroniser stages,
/// the count, and the output register) and rises 3 clocks after `locked` falls.
///
/// Every register here starts from its configuration value (rust-hdl's `DFF` emits `initial`
/// zeros, which iCE40 and ECP5 bitstreams load), because nothing can reset the reset generator.
#[derive(LogicBlock)]
pub struct PowerOnReset {
    pub clock: Signal<In, Clock>,
    /// The PLL's lock output, asynchronous to `clock`.
    pub locked: Signal<In, Bit>,
    /// Active-high reset for the design clocked by `clock`.
    pub reset: Signal<Out, Bit>,
    /// First synchroniser stage of `locked`; starts at 0.
    lock_meta: DFF<Bit>,
    /// Second synchroniser stage of `locked`; starts at 0.
    lock_sync: DFF<Bit>,
    /// Clocks counted since `lock_sync` rose; starts at 0. It stops at `hold`, so `count_mask`
    /// keeps only the bits that `hold` needs.
    count: DFF<Bits<HOLD_BITS>>,
    /// High once `count` has reached `hold`; starts at 0, so `reset` starts high.
    released: DFF<Bit>,
    hold: Constant<Bits<HOLD_BITS>>,
    count_mask: Constant<Bits<HOLD_BITS>>,
}

impl PowerOnReset {
    /// Creates a reset that releases `hold_clocks` clocks after lock. Panics above 65,535 clocks.
    pub fn new(hold_clocks: u64) -> PowerOnReset {
        assert!(
            hold_clocks < (1 << HOLD_BITS),
            "reset hold of {hold_clocks} clocks does not fit the {HOLD_BITS}-bit counter"
        );
        PowerOnReset {
            clock: Default::default(),
            locked: Default::default(),
            reset: Default::default(),
            lock_meta: Default::default(),
            lock_sync: Default::default(),
            count: Default::default(),
            released: Default::default(),
            hold: Constant::new(hold_clocks.to_bits()),
            count_mask: Constant::new(low_mask(hold_clocks).to_bits()),
        }
    }
}

impl Logic for PowerOnReset {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, lock_meta, lock_sync, count, released);

        self.lock_meta.d.next = self.locked.val();
        self.lock_sync.d.next = self.lock_meta.q.val();

        if !self.lock_sync.q.val() {
            self.count.d.next = 0.into();
            self.released.d.next = false;
        } else if !self.released.q.val() {
            if self.count.q.val() == self.hold.val() {
                self.released.d.next = true;
            } else {
                self.count.d.next = (self.count.q.val() + 1) & self.count_mask.val();
            }
        }

        self.reset.next = !self.released.q.val();
    }
}

//! PLL divider searches and the PLL primitives as rust-hdl black boxes.
//!
//! The searches take the reference frequency and the requested output frequency and return the
//! divider settings whose output is closest to the request within the ranges the vendors'
//! datasheets allow. Each primitive block takes its settings as generation parameters and emits an
//! instance of the vendor cell (iCE40 `SB_PLL40_PAD`, ECP5 `EHXPLLL`), which synthesis and place
//! and route resolve. In rust-hdl's simulator the block passes the reference clock through.

use std::fmt;

use rust_hdl::prelude::*;

/// Frequency ranges of the iCE40 PLL in MHz (Lattice TN1251, "iCE40 sysCLOCK PLL Design and
/// Usage Guide"): reference input, phase detector input `F_REF / (DIVR + 1)`, VCO and output.
pub mod ice40_limits {
    pub const REF_MHZ: (f64, f64) = (10.0, 133.0);
    pub const PFD_MHZ: (f64, f64) = (10.0, 133.0);
    pub const VCO_MHZ: (f64, f64) = (533.0, 1066.0);
    pub const OUT_MHZ: (f64, f64) = (16.0, 275.0);
}

/// Frequency ranges of the ECP5 EHXPLLL in MHz (Lattice TN1263, "ECP5 and ECP5-5G sysCLOCK PLL/DLL
/// Design and Usage Guide"): CLKI input, phase detector input `CLKI / CLKI_DIV`, VCO and CLKOP.
pub mod ecp5_limits {
    pub const REF_MHZ: (f64, f64) = (8.0, 400.0);
    pub const PFD_MHZ: (f64, f64) = (3.125, 400.0);
    pub const VCO_MHZ: (f64, f64) = (400.0, 800.0);
    pub const OUT_MHZ: (f64, f64) = (3.125, 400.0);
}

/// A PLL search that found no setting.
#[derive(Clone, Debug, PartialEq)]
pub struct PllError {
    pub message: String,
}

impl fmt::Display for PllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PllError {}

fn check_range(
    what: &str,
    mhz: f64,
    (low, high): (f64, f64),
    device: &str,
) -> Result<(), PllError> {
    if mhz.is_finite() && (low..=high).contains(&mhz) {
        Ok(())
    } else {
        Err(PllError {
            message: format!(
                "{what} {mhz} MHz is outside the {device} PLL range {low}..={high} MHz; \
                 choose a frequency inside that range"
            ),
        })
    }
}

/// Divider settings of an iCE40 PLL in SIMPLE feedback mode:
/// `F_OUT = F_REF · (DIVF + 1) / ((DIVR + 1) · 2^DIVQ)`, with the VCO at `F_OUT · 2^DIVQ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ice40PllSettings {
    /// Reference divider, 0 to 15.
    pub divr: u8,
    /// Feedback divider, 0 to 127.
    pub divf: u8,
    /// Output divider exponent, 1 to 6.
    pub divq: u8,
    /// Loop filter range for the phase detector frequency, 1 to 6.
    pub filter_range: u8,
    pub reference_mhz: f64,
    pub pfd_mhz: f64,
    pub vco_mhz: f64,
    /// The output frequency these dividers produce.
    pub output_mhz: f64,
}

impl Ice40PllSettings {
    /// Finds the dividers whose output is closest to `target_mhz` from a `reference_mhz` clock.
    ///
    /// Among settings with the same output it takes the highest phase detector frequency (the
    /// smallest DIVR), which keeps the loop's jitter lowest, and then the smallest DIVQ.
    pub fn search(reference_mhz: f64, target_mhz: f64) -> Result<Ice40PllSettings, PllError> {
        use ice40_limits::*;
        check_range("reference clock", reference_mhz, REF_MHZ, "iCE40")?;
        check_range("requested output", target_mhz, OUT_MHZ, "iCE40")?;

        let mut best: Option<Ice40PllSettings> = None;
        for divr in 0..=15u8 {
            let pfd = reference_mhz / (divr as f64 + 1.0);
            if !(PFD_MHZ.0..=PFD_MHZ.1).contains(&pfd) {
                continue;
            }
            for divq in 1..=6u8 {
                let scale = (1u32 << divq) as f64;
                // The feedback divider nearest the target, and its neighbours, cover the best
                // output for this DIVR and DIVQ because the output grows linearly with DIVF.
                let ideal = target_mhz * scale / pfd - 1.0;
                let centre = ideal.round() as i64;
                for divf in (centre - 1)..=(centre + 1) {
                    if !(0..=127).contains(&divf) {
                        continue;
                    }
                    let vco = pfd * (divf as f64 + 1.0);
                    let output = vco / scale;
                    if !(VCO_MHZ.0..=VCO_MHZ.1).contains(&vco)
                        || !(OUT_MHZ.0..=OUT_MHZ.1).contains(&output)
                    {
                        continue;
                    }
                    let candidate = Ice40PllSettings {
                        divr,
                        divf: divf as u8,
                        divq,
                        filter_range: ice40_filter_range(pfd),
                        reference_mhz,
                        pfd_mhz: pfd,
                        vco_mhz: vco,
                        output_mhz: output,
                    };
                    let better = match &best {
                        None => true,
                        Some(b) => {
                            (output - target_mhz).abs() < (b.output_mhz - target_mhz).abs() - 1e-9
                        }
                    };
                    if better {
                        best = Some(candidate);
                    }
                }
            }
        }
        best.ok_or_else(|| PllError {
            message: format!(
                "no iCE40 PLL setting makes {target_mhz} MHz from {reference_mhz} MHz within the \
                 VCO range {}..={} MHz; choose another engine clock",
                VCO_MHZ.0, VCO_MHZ.1
            ),
        })
    }
}

/// Returns the iCE40 loop filter range for a phase detector frequency (TN1251's table: 10–17 MHz
/// is 1, 17–26 is 2, 26–44 is 3, 44–66 is 4, 66–101 is 5, above that 6).
pub fn ice40_filter_range(pfd_mhz: f64) -> u8 {
    match pfd_mhz {
        f if f < 17.0 => 1,
        f if f < 26.0 => 2,
        f if f < 44.0 => 3,
        f if f < 66.0 => 4,
        f if f < 101.0 => 5,
        _ => 6,
    }
}

/// Divider settings of an ECP5 EHXPLLL with CLKOP as feedback:
/// `CLKOP = CLKI · CLKFB_DIV / CLKI_DIV`, with the VCO at `CLKOP · CLKOP_DIV`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ecp5PllSettings {
    /// Input divider, 1 to 128.
    pub clki_div: u8,
    /// Feedback divider, 1 to 80.
    pub clkfb_div: u8,
    /// Output divider, 1 to 128.
    pub clkop_div: u8,
    pub reference_mhz: f64,
    pub pfd_mhz: f64,
    pub vco_mhz: f64,
    /// The output frequency these dividers produce.
    pub output_mhz: f64,
}

/// The VCO frequency the ECP5 search prefers among equally good settings: the middle of its range.
const ECP5_VCO_PREFERRED_MHZ: f64 = 600.0;

impl Ecp5PllSettings {
    /// Finds the dividers whose output is closest to `target_mhz` from a `reference_mhz` clock.
    ///
    /// Among settings with the same output it takes the highest phase detector frequency (the
    /// smallest CLKI_DIV), then the VCO frequency nearest the middle of its range.
    pub fn search(reference_mhz: f64, target_mhz: f64) -> Result<Ecp5PllSettings, PllError> {
        use ecp5_limits::*;
        check_range("reference clock", reference_mhz, REF_MHZ, "ECP5")?;
        check_range("requested output", target_mhz, OUT_MHZ, "ECP5")?;

        let mut best: Option<Ecp5PllSettings> = None;
        for clki_div in 1..=128u8 {
            let pfd = reference_mhz / clki_div as f64;
            if !(PFD_MHZ.0..=PFD_MHZ.1).contains(&pfd) {
                continue;
            }
            for clkfb_div in 1..=80u8 {
                let output = pfd * clkfb_div as f64;
                if !(OUT_MHZ.0..=OUT_MHZ.1).contains(&output) {
                    continue;
                }
                for clkop_div in 1..=128u8 {
                    let vco = output * clkop_div as f64;
                    if !(VCO_MHZ.0..=VCO_MHZ.1).contains(&vco) {
                        continue;
                    }
                    let candidate = Ecp5PllSettings {
                        clki_div,
                        clkfb_div,
                        clkop_div,
                        reference_mhz,
                        pfd_mhz: pfd,
                        vco_mhz: vco,
                        output_mhz: output,
                    };
                    let better = match &best {
                        None => true,
                        Some(b) => {
                            let error = (output - target_mhz).abs();
                            let best_error = (b.output_mhz - target_mhz).abs();
                            if (error - best_error).abs() > 1e-9 {
                                error < best_error
                            } else if clki_div != b.clki_div {
                                false
                            } else {
                                (vco - ECP5_VCO_PREFERRED_MHZ).abs()
                                    < (b.vco_mhz - ECP5_VCO_PREFERRED_MHZ).abs() - 1e-9
                            }
                        }
                    };
                    if better {
                        best = Some(candidate);
                    }
                }
            }
        }
        best.ok_or_else(|| PllError {
            message: format!(
                "no ECP5 PLL setting makes {target_mhz} MHz from {reference_mhz} MHz within the \
                 VCO range {}..={} MHz; choose another engine clock",
                VCO_MHZ.0, VCO_MHZ.1
            ),
        })
    }
}

/// An iCE40 `SB_PLL40_PAD` in SIMPLE feedback mode, fed straight from the clock pin.
///
/// `reference` must come straight from a top-level input placed on a PLL-capable pin. `locked` rises once the output is
/// stable; it is asynchronous to `clock`.
#[derive(LogicBlock)]
pub struct Ice40Pll {
    /// The oscillator pin.
    pub reference: Signal<In, Clock>,
    pub clock: Signal<Out, Clock>,
    pub locked: Signal<Out, Bit>,
    _settings: Ice40PllSettings,
}

impl Ice40Pll {
    pub fn new(settings: Ice40PllSettings) -> Ice40Pll {
        Ice40Pll {
            reference: Default::default(),
            clock: Default::default(),
            locked: Default::default(),
            _settings: settings,
        }
    }
}

impl Logic for Ice40Pll {
    /// Models the PLL for rust-hdl's simulator as the reference clock, always locked.
    fn update(&mut self) {
        self.clock.next = self.reference.val();
        self.locked.next = true;
    }

    fn connect(&mut self) {
        self.clock.connect();
        self.locked.connect();
    }

    fn hdl(&self) -> Verilog {
        let s = &self._settings;
        Verilog::Wrapper(Wrapper {
            code: format!(
                "// {ref_mhz} MHz in, {pfd:.3} MHz at the phase detector, VCO {vco:.3} MHz, \
                 {out:.4} MHz out.\n\
                 SB_PLL40_PAD #(\n\
                 \x20   .FEEDBACK_PATH(\"SIMPLE\"),\n\
                 \x20   .PLLOUT_SELECT(\"GENCLK\"),\n\
                 \x20   .DIVR(4'd{divr}),\n\
                 \x20   .DIVF(7'd{divf}),\n\
                 \x20   .DIVQ(3'd{divq}),\n\
                 \x20   .FILTER_RANGE(3'd{filter})\n\
                 ) pll (\n\
                 \x20   .PACKAGEPIN(reference),\n\
                 \x20   .PLLOUTGLOBAL(clock),\n\
                 \x20   .LOCK(locked),\n\
                 \x20   .RESETB(1'b1),\n\
                 \x20   .BYPASS(1'b0)\n\
                 );\n",
                ref_mhz = s.reference_mhz,
                pfd = s.pfd_mhz,
                vco = s.vco_mhz,
                out = s.output_mhz,
                divr = s.divr,
                divf = s.divf,
                divq = s.divq,
                filter = s.filter_range,
            ),
            cores: "(* blackbox *)\n\
                    module SB_PLL40_PAD(PACKAGEPIN, PLLOUTCORE, PLLOUTGLOBAL, EXTFEEDBACK, \
                    DYNAMICDELAY, LOCK, BYPASS, RESETB, LATCHINPUTVALUE, SDO, SDI, SCLK);\n\
                    \x20 parameter FEEDBACK_PATH = \"SIMPLE\";\n\
                    \x20 parameter PLLOUT_SELECT = \"GENCLK\";\n\
                    \x20 parameter DIVR = 4'b0000;\n\
                    \x20 parameter DIVF = 7'b0000000;\n\
                    \x20 parameter DIVQ = 3'b000;\n\
                    \x20 parameter FILTER_RANGE = 3'b000;\n\
                    \x20 input PACKAGEPIN;\n\
                    \x20 output PLLOUTCORE;\n\
                    \x20 output PLLOUTGLOBAL;\n\
                    \x20 input EXTFEEDBACK;\n\
                    \x20 input [7:0] DYNAMICDELAY;\n\
                    \x20 output LOCK;\n\
                    \x20 input BYPASS;\n\
                    \x20 input RESETB;\n\
                    \x20 input LATCHINPUTVALUE;\n\
                    \x20 output SDO;\n\
                    \x20 input SDI;\n\
                    \x20 input SCLK;\n\
                    endmodule\n"
                .into(),
        })
    }
}

/// An ECP5 `EHXPLLL` with CLKOP fed back internally.
///
/// `locked` rises once the output is stable; it is asynchronous to `clock`.
#[derive(LogicBlock)]
pub struct Ecp5Pll {
    pub reference: Signal<In, Clock>,
    pub clock: Signal<Out, Clock>,
    pub locked: Signal<Out, Bit>,
    _settings: Ecp5PllSettings,
}

impl Ecp5Pll {
    pub fn new(settings: Ecp5PllSettings) -> Ecp5Pll {
        Ecp5Pll {
            reference: Default::default(),
            clock: Default::default(),
            locked: Default::default(),
            _settings: settings,
        }
    }
}

impl Logic for Ecp5Pll {
    /// Models the PLL for rust-hdl's simulator as the reference clock, always locked.
    fn update(&mut self) {
        self.clock.next = self.reference.val();
        self.locked.next = true;
    }

    fn connect(&mut self) {
        self.clock.connect();
        self.locked.connect();
    }

    fn hdl(&self) -> Verilog {
        let s = &self._settings;
        // A zero phase shift of CLKOP needs the coarse phase at CLKOP_DIV - 1.
        Verilog::Wrapper(Wrapper {
            code: format!(
                "// {ref_mhz} MHz in, {pfd:.4} MHz at the phase detector, VCO {vco:.3} MHz, \
                 {out:.4} MHz out.\n\
                 wire clkop;\n\
                 (* FREQUENCY_PIN_CLKI=\"{ref_mhz}\" *)\n\
                 (* FREQUENCY_PIN_CLKOP=\"{out:.4}\" *)\n\
                 EHXPLLL #(\n\
                 \x20   .PLLRST_ENA(\"DISABLED\"),\n\
                 \x20   .INTFB_WAKE(\"DISABLED\"),\n\
                 \x20   .STDBY_ENABLE(\"DISABLED\"),\n\
                 \x20   .DPHASE_SOURCE(\"DISABLED\"),\n\
                 \x20   .OUTDIVIDER_MUXA(\"DIVA\"),\n\
                 \x20   .CLKOP_ENABLE(\"ENABLED\"),\n\
                 \x20   .CLKOP_FPHASE(0),\n\
                 \x20   .CLKOP_CPHASE({cphase}),\n\
                 \x20   .CLKOP_DIV({clkop}),\n\
                 \x20   .CLKFB_DIV({clkfb}),\n\
                 \x20   .CLKI_DIV({clki}),\n\
                 \x20   .FEEDBK_PATH(\"CLKOP\")\n\
                 ) pll (\n\
                 \x20   .CLKI(reference),\n\
                 \x20   .CLKFB(clkop),\n\
                 \x20   .CLKOP(clkop),\n\
                 \x20   .LOCK(locked),\n\
                 \x20   .RST(1'b0),\n\
                 \x20   .STDBY(1'b0),\n\
                 \x20   .PHASESEL0(1'b0),\n\
                 \x20   .PHASESEL1(1'b0),\n\
                 \x20   .PHASEDIR(1'b0),\n\
                 \x20   .PHASESTEP(1'b0),\n\
                 \x20   .PHASELOADREG(1'b0),\n\
                 \x20   .PLLWAKESYNC(1'b0),\n\
                 \x20   .ENCLKOP(1'b0)\n\
                 );\n\
                 assign clock = clkop;\n",
                ref_mhz = s.reference_mhz,
                pfd = s.pfd_mhz,
                vco = s.vco_mhz,
                out = s.output_mhz,
                cphase = s.clkop_div as u32 - 1,
                clkop = s.clkop_div,
                clkfb = s.clkfb_div,
                clki = s.clki_div,
            ),
            cores: "(* blackbox *)\n\
                    module EHXPLLL(CLKI, CLKFB, PHASESEL1, PHASESEL0, PHASEDIR, PHASESTEP, \
                    PHASELOADREG, STDBY, PLLWAKESYNC, RST, ENCLKOP, ENCLKOS, ENCLKOS2, ENCLKOS3, \
                    CLKOP, CLKOS, CLKOS2, CLKOS3, LOCK, INTLOCK, REFCLK, CLKINTFB);\n\
                    \x20 parameter CLKI_DIV = 1;\n\
                    \x20 parameter CLKFB_DIV = 1;\n\
                    \x20 parameter CLKOP_DIV = 8;\n\
                    \x20 parameter CLKOP_ENABLE = \"ENABLED\";\n\
                    \x20 parameter CLKOP_CPHASE = 0;\n\
                    \x20 parameter CLKOP_FPHASE = 0;\n\
                    \x20 parameter FEEDBK_PATH = \"CLKOP\";\n\
                    \x20 parameter OUTDIVIDER_MUXA = \"DIVA\";\n\
                    \x20 parameter PLLRST_ENA = \"DISABLED\";\n\
                    \x20 parameter INTFB_WAKE = \"DISABLED\";\n\
                    \x20 parameter STDBY_ENABLE = \"DISABLED\";\n\
                    \x20 parameter DPHASE_SOURCE = \"DISABLED\";\n\
                    \x20 input CLKI, CLKFB, PHASESEL1, PHASESEL0, PHASEDIR, PHASESTEP, \
                    PHASELOADREG, STDBY, PLLWAKESYNC, RST, ENCLKOP, ENCLKOS, ENCLKOS2, ENCLKOS3;\n\
                    \x20 output CLKOP, CLKOS, CLKOS2, CLKOS3, LOCK, INTLOCK, REFCLK, CLKINTFB;\n\
                    endmodule\n"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values derived by hand from the datasheet formulas in the type documentation.

    #[test]
    fn ice40_12_to_30_mhz() {
        // 30 MHz · 2^q must lie in 533..1066 MHz: only q = 5 (960 MHz) does. DIVF + 1 = 960 / 12.
        let s = Ice40PllSettings::search(12.0, 30.0).unwrap();
        assert_eq!((s.divr, s.divf, s.divq, s.filter_range), (0, 79, 5, 1));
        assert_eq!(s.output_mhz, 30.0);
        assert_eq!(s.vco_mhz, 960.0);
    }

    #[test]
    fn ice40_12_to_48_mhz() {
        // q = 4: VCO 768 MHz, DIVF + 1 = 64. 12 / 2 = 6 MHz is below the PFD range, so DIVR = 0.
        let s = Ice40PllSettings::search(12.0, 48.0).unwrap();
        assert_eq!((s.divr, s.divf, s.divq, s.filter_range), (0, 63, 4, 1));
        assert_eq!(s.output_mhz, 48.0);
    }

    #[test]
    fn ice40_inexact_target_takes_nearest() {
        // 100 MHz: only q = 3 keeps the VCO in range (800 MHz); DIVF + 1 = 66.67, so 67 gives
        // 804 / 8 = 100.5 MHz and 66 gives 99 MHz. The nearer is 100.5 MHz.
        let s = Ice40PllSettings::search(12.0, 100.0).unwrap();
        assert_eq!((s.divr, s.divf, s.divq), (0, 66, 3));
        assert_eq!(s.output_mhz, 100.5);
    }

    #[test]
    fn ice40_high_reference_uses_divr() {
        // 100 MHz in, 50 MHz out: DIVR = 0 gives a 100 MHz PFD (filter range 5), DIVF + 1 = 8 for
        // q = 4 (VCO 800 MHz). Every output is exact with DIVR = 0, which the search prefers.
        let s = Ice40PllSettings::search(100.0, 50.0).unwrap();
        assert_eq!((s.divr, s.divf, s.divq, s.filter_range), (0, 7, 4, 5));
        assert_eq!(s.output_mhz, 50.0);
    }

    #[test]
    fn ice40_filter_table() {
        for (pfd, range) in [
            (12.0, 1),
            (17.0, 2),
            (25.9, 2),
            (30.0, 3),
            (50.0, 4),
            (100.0, 5),
            (120.0, 6),
        ] {
            assert_eq!(ice40_filter_range(pfd), range, "{pfd} MHz");
        }
    }

    #[test]
    fn ice40_rejects_out_of_range_requests() {
        let low = Ice40PllSettings::search(12.0, 10.0).unwrap_err();
        assert!(low.message.contains("10 MHz"), "{}", low.message);
        let reference = Ice40PllSettings::search(5.0, 30.0).unwrap_err();
        assert!(
            reference.message.contains("reference clock 5 MHz"),
            "{}",
            reference.message
        );
    }

    #[test]
    fn ecp5_25_to_60_mhz() {
        // 60 / 25 = 12 / 5: CLKI_DIV = 5 (PFD 5 MHz), CLKFB_DIV = 12. A smaller CLKI_DIV cannot
        // give 60 MHz exactly. The VCO 60 · CLKOP_DIV nearest 600 MHz is CLKOP_DIV = 10.
        let s = Ecp5PllSettings::search(25.0, 60.0).unwrap();
        assert_eq!((s.clki_div, s.clkfb_div, s.clkop_div), (5, 12, 10));
        assert_eq!(s.output_mhz, 60.0);
        assert_eq!(s.vco_mhz, 600.0);
    }

    #[test]
    fn ecp5_25_to_50_mhz() {
        // CLKI_DIV = 1 and CLKFB_DIV = 2 give 50 MHz at the highest PFD; CLKOP_DIV = 12 puts the
        // VCO at 600 MHz.
        let s = Ecp5PllSettings::search(25.0, 50.0).unwrap();
        assert_eq!((s.clki_div, s.clkfb_div, s.clkop_div), (1, 2, 12));
    }

    #[test]
    fn ecp5_inexact_target_takes_nearest() {
        // 25 MHz to 33 MHz: 25 · 4 / 3 = 33.33 with CLKI_DIV = 3 (PFD 8.33 MHz); CLKI_DIV = 8
        // (PFD 3.125 MHz) gives 25 · 11 / 8 = 34.375 and 25 · 10 / 8 = 31.25; CLKI_DIV = 7 gives
        // 25 · 9 / 7 = 32.14; CLKI_DIV = 4 with PFD 6.25 gives 31.25 or 37.5. Of all, 25 · 4 / 3
        // is nearest (0.33 MHz off).
        let s = Ecp5PllSettings::search(25.0, 33.0).unwrap();
        assert_eq!((s.clki_div, s.clkfb_div), (3, 4));
        assert!((s.output_mhz - 100.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn ecp5_rejects_out_of_range_requests() {
        let high = Ecp5PllSettings::search(25.0, 500.0).unwrap_err();
        assert!(high.message.contains("500 MHz"), "{}", high.message);
    }

    #[test]
    fn searches_respect_every_limit() {
        for target in [16.0, 20.0, 33.3, 48.0, 60.0, 75.0, 90.0, 120.0] {
            let s = Ice40PllSettings::search(12.0, target).unwrap();
            assert!(
                (533.0..=1066.0).contains(&s.vco_mhz),
                "{target}: VCO {}",
                s.vco_mhz
            );
            assert!(
                s.divf <= 127 && s.divr <= 15 && (1..=6).contains(&s.divq),
                "{s:?}"
            );
            let e = Ecp5PllSettings::search(25.0, target).unwrap();
            assert!(
                (400.0..=800.0).contains(&e.vco_mhz),
                "{target}: VCO {}",
                e.vco_mhz
            );
            assert!(e.pfd_mhz >= 3.125, "{target}: PFD {}", e.pfd_mhz);
        }
    }
}

//! The RTL link front end: UART receiver and transmitter, CRC-32, frame decoder and frame encoder.
//!
//! The frame layout, the CRC and the rules of frame acceptance are those of
//! `leap_model::protocol`, whose software `Decoder` is the reference for [`FrameDecoder`]. The
//! generation parameters are in [`LinkParams`].

pub mod compare;
pub mod crc;
pub mod decoder;
pub mod encoder;
pub mod single_port;
pub mod step;
pub mod uart;

use std::fmt;

use leap_model::protocol::{FRAME_OVERHEAD, INTER_BYTE_TIMEOUT, MAX_PAYLOAD};

pub use compare::AboveConstant;
pub use crc::{Crc32, CrcStep};
pub use decoder::FrameDecoder;
pub use encoder::FrameEncoder;
pub use single_port::{SinglePortMemory, SINGLE_PORT_ATTRIBUTE};
pub use step::StepByOne;
pub use uart::{UartPair, UartRx, UartTx};

/// Largest relative difference between the requested baud rate and the one the clock divisor gives.
pub const MAX_BAUD_ERROR: f64 = 0.02;

/// Minimum clocks per UART bit, because the receiver samples the start bit after half a bit.
pub const MIN_CLOCKS_PER_BIT: usize = 4;

/// Returns the mask of the bits that every value from 0 to `max` needs. A counter masked with it
/// keeps only those bits, and yosys removes the flip-flops of the others.
pub fn low_mask(max: u64) -> u64 {
    u64::MAX.checked_shr(max.leading_zeros()).unwrap_or(0)
}

/// Generation parameters of the link blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkParams {
    /// Largest payload in bytes that the decoder accepts and the encoder buffers, at most
    /// `leap_model::protocol::MAX_PAYLOAD` (4096). The decoder rejects a longer length field.
    pub max_payload: usize,
    /// Inter-byte timeout in clocks: the decoder rejects a partial frame when more than this many
    /// clocks pass between two of its bytes.
    pub timeout_clocks: u64,
    /// Clocks per UART bit.
    pub clocks_per_bit: usize,
}

/// Invalid link parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkParamsError {
    /// The clock divisor for the baud rate misses it by more than [`MAX_BAUD_ERROR`].
    BaudError {
        clock_hz: u64,
        baud: u64,
        clocks_per_bit: usize,
        error: f64,
    },
    /// Fewer than [`MIN_CLOCKS_PER_BIT`] clocks per bit, or more than the 16-bit bit timer counts.
    ClocksPerBit { clocks_per_bit: usize },
    /// `max_payload` is 0 or above the protocol's maximum.
    MaxPayload { max_payload: usize },
    /// `timeout_clocks` is 0 or does not fit the 32-bit idle counter.
    TimeoutClocks { timeout_clocks: u64 },
    /// The clock frequency or the baud rate is 0.
    ZeroRate { clock_hz: u64, baud: u64 },
}

impl fmt::Display for LinkParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkParamsError::BaudError {
                clock_hz,
                baud,
                clocks_per_bit,
                error,
            } => write!(
                f,
                "a {clock_hz} Hz clock divided by {clocks_per_bit} misses {baud} baud by {:.2} %, \
                 more than the {:.0} % a UART tolerates: choose a baud rate closer to a divisor of the clock",
                error * 100.0,
                MAX_BAUD_ERROR * 100.0
            ),
            LinkParamsError::ClocksPerBit { clocks_per_bit } => write!(
                f,
                "{clocks_per_bit} clocks per UART bit is invalid: use {MIN_CLOCKS_PER_BIT} to 65535 \
                 (a lower baud rate or a faster clock gives more)"
            ),
            LinkParamsError::MaxPayload { max_payload } => write!(
                f,
                "a maximum payload of {max_payload} bytes is invalid: use 1 to {MAX_PAYLOAD}"
            ),
            LinkParamsError::TimeoutClocks { timeout_clocks } => write!(
                f,
                "an inter-byte timeout of {timeout_clocks} clocks is invalid: use 1 to {}",
                u32::MAX - 1
            ),
            LinkParamsError::ZeroRate { clock_hz, baud } => write!(
                f,
                "clock {clock_hz} Hz and baud rate {baud} must both be above 0"
            ),
        }
    }
}

impl std::error::Error for LinkParamsError {}

impl LinkParams {
    /// Derives the parameters for a board clock and a UART baud rate: the clock divisor rounded
    /// to the nearest integer, and the protocol's inter-byte timeout (50 ms) in clocks, rounded down.
    pub fn new(
        clock_hz: u64,
        baud: u64,
        max_payload: usize,
    ) -> Result<LinkParams, LinkParamsError> {
        if clock_hz == 0 || baud == 0 {
            return Err(LinkParamsError::ZeroRate { clock_hz, baud });
        }
        let clocks_per_bit = ((clock_hz + baud / 2) / baud) as usize;
        if clocks_per_bit < MIN_CLOCKS_PER_BIT || clocks_per_bit > u16::MAX as usize {
            return Err(LinkParamsError::ClocksPerBit { clocks_per_bit });
        }
        let actual = clock_hz as f64 / clocks_per_bit as f64;
        let error = (actual - baud as f64).abs() / baud as f64;
        if error > MAX_BAUD_ERROR {
            return Err(LinkParamsError::BaudError {
                clock_hz,
                baud,
                clocks_per_bit,
                error,
            });
        }
        let timeout_clocks =
            (clock_hz as u128 * INTER_BYTE_TIMEOUT.as_nanos() / 1_000_000_000) as u64;
        let params = LinkParams {
            max_payload,
            timeout_clocks,
            clocks_per_bit,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks every field against the limits of the blocks.
    pub fn validate(&self) -> Result<(), LinkParamsError> {
        if self.max_payload == 0 || self.max_payload > MAX_PAYLOAD {
            return Err(LinkParamsError::MaxPayload {
                max_payload: self.max_payload,
            });
        }
        if self.timeout_clocks == 0 || self.timeout_clocks >= u32::MAX as u64 {
            return Err(LinkParamsError::TimeoutClocks {
                timeout_clocks: self.timeout_clocks,
            });
        }
        if self.clocks_per_bit < MIN_CLOCKS_PER_BIT || self.clocks_per_bit > u16::MAX as usize {
            return Err(LinkParamsError::ClocksPerBit {
                clocks_per_bit: self.clocks_per_bit,
            });
        }
        Ok(())
    }

    /// Bytes of the decoder's receive ring: two largest frames, rounded up to a power of two.
    pub fn ring_bytes(&self) -> usize {
        (2 * (self.max_payload + FRAME_OVERHEAD)).next_power_of_two()
    }
}

impl Default for LinkParams {
    /// Returns the parameters for the iCEBreaker's 12 MHz clock at 115,200 baud (104 clocks per bit, 0.16 % fast) and
    /// the protocol's maximum payload.
    fn default() -> Self {
        LinkParams::new(12_000_000, 115_200, MAX_PAYLOAD)
            .expect("12 MHz and 115200 baud are valid link parameters")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_the_divisor_to_nearest() {
        let params = LinkParams::new(12_000_000, 115_200, 256).unwrap();
        assert_eq!(params.clocks_per_bit, 104);
        assert_eq!(params.timeout_clocks, 600_000);
        let params = LinkParams::new(12_000_000, 3_000_000, 256).unwrap();
        assert_eq!(params.clocks_per_bit, 4);
    }

    #[test]
    fn params_reject_large_baud_error() {
        // 12 MHz / 2.4 MBd = 5 exactly; 12 MHz / 2.2 MBd = 5.45, rounded to 5: 9 % fast.
        assert!(LinkParams::new(12_000_000, 2_400_000, 256).is_ok());
        let error = LinkParams::new(12_000_000, 2_200_000, 256).unwrap_err();
        assert!(
            matches!(
                error,
                LinkParamsError::BaudError {
                    clocks_per_bit: 5,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("2200000 baud"), "{error}");
    }

    #[test]
    fn params_reject_invalid_fields() {
        assert!(matches!(
            LinkParams::new(12_000_000, 12_000_000, 256),
            Err(LinkParamsError::ClocksPerBit { clocks_per_bit: 1 })
        ));
        assert!(matches!(
            LinkParams::new(12_000_000, 115_200, 4097),
            Err(LinkParamsError::MaxPayload { max_payload: 4097 })
        ));
        assert!(matches!(
            LinkParams::new(0, 115_200, 256),
            Err(LinkParamsError::ZeroRate { .. })
        ));
    }

    #[test]
    fn ring_holds_two_largest_frames() {
        let mut params = LinkParams::default();
        assert_eq!(params.ring_bytes(), 16384);
        params.max_payload = 256;
        assert_eq!(params.ring_bytes(), 1024);
    }
}

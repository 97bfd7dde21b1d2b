//! Payloads that configure and observe the engine: its parameters and its counters.

use serde::{Deserialize, Serialize};

use super::frame::LinkCounters;
use super::message::{read_u32, read_u64, ErrorCode, MessageError};
use crate::config::{Config, ConfigError, TargetKind};
use crate::fixed::{Constants, Saturations};
use crate::format::Coefficient;

/// The engine constants and run settings that a set-parameters request loads.
///
/// Field numbers, used as the detail of an invalid-parameter error: 0 `k_dt`, 1 `k_r`, 2 `beta`,
/// 3 `steps_per_sample`, 4 `settle_steps`, 5 `target`, 6 `learning`, 7 `rounding_state`, and
/// `8 + l` for `eta[l]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineParameters {
    /// `dt / τ_m`.
    pub k_dt: Coefficient,
    /// `τ_r / τ_m`.
    pub k_r: Coefficient,
    /// Nudging strength β.
    pub beta: Coefficient,
    /// Per-layer learning rate, already scaled by the schedule.
    pub eta: Vec<Coefficient>,
    pub steps_per_sample: u32,
    pub settle_steps: u32,
    pub target: TargetKind,
    /// When false, samples run with frozen weights and no nudging even if they carry a target.
    pub learning: bool,
    /// New stochastic-rounding state; 0 keeps the current one.
    pub rounding_state: u32,
}

impl EngineParameters {
    pub const FIELD_K_DT: u32 = 0;
    pub const FIELD_K_R: u32 = 1;
    pub const FIELD_BETA: u32 = 2;
    pub const FIELD_STEPS: u32 = 3;
    pub const FIELD_SETTLE: u32 = 4;
    pub const FIELD_TARGET: u32 = 5;
    pub const FIELD_LEARNING: u32 = 6;
    pub const FIELD_ROUNDING: u32 = 7;
    pub const FIELD_ETA: u32 = 8;

    /// Bytes before the learning rates.
    pub const FIXED_LEN: usize = 28;

    /// Converts a configuration with learning rates scaled by `eta_factor`, with learning on and
    /// the rounding state kept.
    pub fn from_config(config: &Config, eta_factor: f64) -> Result<EngineParameters, ConfigError> {
        let constants = Constants::from_config(config, eta_factor)?;
        Ok(EngineParameters {
            k_dt: constants.k_dt,
            k_r: constants.k_r,
            beta: constants.beta,
            eta: constants.eta,
            steps_per_sample: config.presentation.steps_per_sample as u32,
            settle_steps: config.presentation.settle_steps as u32,
            target: config.learning.target,
            learning: true,
            rounding_state: 0,
        })
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        for c in [self.k_dt, self.k_r, self.beta] {
            encode_coefficient(c, out);
        }
        out.extend_from_slice(&self.steps_per_sample.to_le_bytes());
        out.extend_from_slice(&self.settle_steps.to_le_bytes());
        out.extend_from_slice(&self.rounding_state.to_le_bytes());
        out.push(match self.target {
            TargetKind::Rate => 0,
            TargetKind::Voltage => 1,
        });
        out.push(self.learning as u8);
        out.extend_from_slice(&[0, 0]);
        for &c in &self.eta {
            encode_coefficient(c, out);
        }
    }

    pub(super) fn decode(payload: &[u8]) -> Result<EngineParameters, MessageError> {
        if payload.len() < Self::FIXED_LEN {
            return Err(MessageError::length(Self::FIXED_LEN));
        }
        let etas = payload[Self::FIXED_LEN..].chunks_exact(4);
        if !etas.remainder().is_empty() {
            return Err(MessageError::length(payload.len() - etas.remainder().len()));
        }
        let target = match payload[24] {
            0 => TargetKind::Rate,
            1 => TargetKind::Voltage,
            _ => {
                return Err(MessageError::new(
                    ErrorCode::INVALID_PARAMETER,
                    Self::FIELD_TARGET,
                ))
            }
        };
        let learning = match payload[25] {
            0 => false,
            1 => true,
            _ => {
                return Err(MessageError::new(
                    ErrorCode::INVALID_PARAMETER,
                    Self::FIELD_LEARNING,
                ))
            }
        };
        Ok(EngineParameters {
            k_dt: decode_coefficient(&payload[0..4]),
            k_r: decode_coefficient(&payload[4..8]),
            beta: decode_coefficient(&payload[8..12]),
            steps_per_sample: read_u32(payload, 12),
            settle_steps: read_u32(payload, 16),
            rounding_state: read_u32(payload, 20),
            target,
            learning,
            eta: etas.map(decode_coefficient).collect(),
        })
    }
}

fn encode_coefficient(c: Coefficient, out: &mut Vec<u8>) {
    out.extend_from_slice(&c.mant.to_le_bytes());
    out.extend_from_slice(&(c.shift.min(u16::MAX as u32) as u16).to_le_bytes());
}

fn decode_coefficient(bytes: &[u8]) -> Coefficient {
    Coefficient {
        mant: i16::from_le_bytes([bytes[0], bytes[1]]),
        shift: u16::from_le_bytes([bytes[2], bytes[3]]) as u32,
    }
}

/// The counters a device keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Engine clock cycles spent on samples.
    pub cycles: u64,
    /// Time steps run.
    pub steps: u64,
    pub saturations: Saturations,
    /// Input the device's frame decoder rejected.
    pub link: LinkCounters,
    /// Retried requests that got a stored reply instead of a second execution.
    pub replays: u64,
}

impl Counters {
    pub const LEN: usize = 14 * 8;

    pub(super) fn words(&self) -> [u64; 14] {
        let s = &self.saturations;
        let l = &self.link;
        [
            self.cycles,
            self.steps,
            s.input,
            s.potential,
            s.rate,
            s.message,
            s.update,
            s.weight,
            l.crc,
            l.framing,
            l.length,
            l.timeout,
            l.unknown_opcode,
            self.replays,
        ]
    }

    pub(super) fn decode(payload: &[u8]) -> Result<Counters, MessageError> {
        if payload.len() != Self::LEN {
            return Err(MessageError::length(Self::LEN));
        }
        let w = |i: usize| read_u64(payload, 8 * i);
        Ok(Counters {
            cycles: w(0),
            steps: w(1),
            saturations: Saturations {
                input: w(2),
                potential: w(3),
                rate: w(4),
                message: w(5),
                update: w(6),
                weight: w(7),
            },
            link: LinkCounters {
                crc: w(8),
                framing: w(9),
                length: w(10),
                timeout: w(11),
                unknown_opcode: w(12),
            },
            replays: w(13),
        })
    }
}

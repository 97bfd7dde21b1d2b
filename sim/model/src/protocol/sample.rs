//! Sample payloads: the words of one sample and of its output.

use super::message::{read_u64, ErrorCode, MessageError};

/// Flags of a sample request.
pub mod sample_flags {
    /// Target words follow the input words: the steps after the settle steps nudge the output
    /// toward them and update the weights.
    pub const LEARN: u8 = 0x01;
    /// The first sample of a stream (queue sample only): the device accepts any sequence number
    /// for it and expects consecutive ones after it.
    pub const START: u8 = 0x02;
    /// The target words are 32-bit potential words (voltage target) rather than 16-bit activity
    /// words (rate target).
    pub const POTENTIAL_TARGET: u8 = 0x04;
    pub const ALL: u8 = LEARN | START | POTENTIAL_TARGET;
}

/// Target words of a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetWords {
    /// Activity words, for a rate target.
    Activity(Vec<i16>),
    /// Potential words, for a voltage target.
    Potential(Vec<i32>),
}

impl TargetWords {
    pub fn len(&self) -> usize {
        match self {
            TargetWords::Activity(words) => words.len(),
            TargetWords::Potential(words) => words.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the words widened to 64 bits, as the golden model takes them.
    pub fn to_i64(&self) -> Vec<i64> {
        match self {
            TargetWords::Activity(words) => words.iter().map(|&w| w as i64).collect(),
            TargetWords::Potential(words) => words.iter().map(|&w| w as i64).collect(),
        }
    }
}

/// One sample: activity input words without the bias input, and the target when it learns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Marks the first sample of a stream (queue sample only).
    pub start: bool,
    pub input: Vec<i16>,
    /// With a target the sample nudges and learns; without one it runs with frozen weights.
    pub target: Option<TargetWords>,
}

impl Sample {
    /// Bytes of the payload that carries this sample.
    pub fn payload_len(&self) -> usize {
        let target = match &self.target {
            None => 0,
            Some(TargetWords::Activity(words)) => 2 * words.len(),
            Some(TargetWords::Potential(words)) => 4 * words.len(),
        };
        4 + 2 * self.input.len() + target
    }

    pub(crate) fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.start {
            flags |= sample_flags::START;
        }
        match self.target {
            None => {}
            Some(TargetWords::Activity(_)) => flags |= sample_flags::LEARN,
            Some(TargetWords::Potential(_)) => {
                flags |= sample_flags::LEARN | sample_flags::POTENTIAL_TARGET
            }
        }
        flags
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flags());
        out.push(0);
        out.extend_from_slice(&(self.input.len() as u16).to_le_bytes());
        for word in &self.input {
            out.extend_from_slice(&word.to_le_bytes());
        }
        match &self.target {
            None => {}
            Some(TargetWords::Activity(words)) => words
                .iter()
                .for_each(|w| out.extend_from_slice(&w.to_le_bytes())),
            Some(TargetWords::Potential(words)) => words
                .iter()
                .for_each(|w| out.extend_from_slice(&w.to_le_bytes())),
        }
    }

    pub(super) fn decode(payload: &[u8]) -> Result<Sample, MessageError> {
        if payload.len() < 4 {
            return Err(MessageError::length(4));
        }
        let flags = payload[0];
        if flags & !sample_flags::ALL != 0
            || (flags & sample_flags::POTENTIAL_TARGET != 0 && flags & sample_flags::LEARN == 0)
        {
            return Err(MessageError::new(ErrorCode::INVALID_FLAGS, flags as u32));
        }
        let n_inputs = u16::from_le_bytes([payload[2], payload[3]]) as usize;
        let inputs_end = 4 + 2 * n_inputs;
        if payload.len() < inputs_end {
            return Err(MessageError::length(inputs_end));
        }
        let input = payload[4..inputs_end]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        let rest = &payload[inputs_end..];
        let target = if flags & sample_flags::LEARN == 0 {
            if !rest.is_empty() {
                return Err(MessageError::length(inputs_end));
            }
            None
        } else if flags & sample_flags::POTENTIAL_TARGET != 0 {
            let words = rest.chunks_exact(4);
            if !words.remainder().is_empty() {
                return Err(MessageError::length(
                    payload.len() - words.remainder().len(),
                ));
            }
            Some(TargetWords::Potential(
                words
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ))
        } else {
            let words = rest.chunks_exact(2);
            if !words.remainder().is_empty() {
                return Err(MessageError::length(
                    payload.len() - words.remainder().len(),
                ));
            }
            Some(TargetWords::Activity(
                words.map(|c| i16::from_le_bytes([c[0], c[1]])).collect(),
            ))
        };
        Ok(Sample {
            start: flags & sample_flags::START != 0,
            input,
            target,
        })
    }
}

/// The output of a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleOutput {
    /// The device's saturation count over all formats after the sample.
    pub saturations: u64,
    /// Output rates after the last time step, activity format.
    pub rates: Vec<i16>,
}

impl SampleOutput {
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.saturations.to_le_bytes());
        self.rates
            .iter()
            .for_each(|r| out.extend_from_slice(&r.to_le_bytes()));
    }

    pub(super) fn decode(payload: &[u8]) -> Result<SampleOutput, MessageError> {
        if payload.len() < 8 {
            return Err(MessageError::length(8));
        }
        let rates = payload[8..].chunks_exact(2);
        if !rates.remainder().is_empty() {
            return Err(MessageError::length(payload.len() - 1));
        }
        Ok(SampleOutput {
            saturations: read_u64(payload, 0),
            rates: rates.map(|c| i16::from_le_bytes([c[0], c[1]])).collect(),
        })
    }
}

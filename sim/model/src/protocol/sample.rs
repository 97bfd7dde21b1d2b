//! Sample payloads: the words of one sample, of a frame of queued samples, and of their
//! outputs.

use super::message::{read_u64, ErrorCode, MessageError};

/// Flags of a sample request.
pub mod sample_flags {
    /// Target words follow the input words: the steps after the settle steps nudge the output
    /// toward them and update the weights.
    pub const LEARN: u8 = 0x01;
    /// The first frame of a stream (queue samples only): the device accepts any sequence number
    /// for it and expects consecutive ones after it.
    pub const START: u8 = 0x02;
    /// The target words are 32-bit potential words (voltage target) rather than 16-bit activity
    /// words (rate target).
    pub const POTENTIAL_TARGET: u8 = 0x04;
    pub const ALL: u8 = LEARN | START | POTENTIAL_TARGET;
}

/// Rejects undefined flag bits, and a potential target without the learn flag.
fn check_flags(flags: u8) -> Result<(), MessageError> {
    if flags & !sample_flags::ALL != 0
        || (flags & sample_flags::POTENTIAL_TARGET != 0 && flags & sample_flags::LEARN == 0)
    {
        return Err(MessageError::new(ErrorCode::INVALID_FLAGS, flags as u32));
    }
    Ok(())
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
    /// Sets the start-of-stream flag of a run-sample payload, which the device ignores there.
    /// Queued samples carry the flag once per frame, in [`SampleBatch`].
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
        check_flags(flags)?;
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

/// The output of a run sample, or of the k samples of a queue-samples frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleOutput {
    /// The device's saturation count over all formats after the (last) sample.
    pub saturations: u64,
    /// Output rates after the last time step of each sample, activity format, sample by sample.
    pub rates: Vec<i16>,
}

impl SampleOutput {
    /// Bytes before the rates: the saturation count.
    pub const HEADER_LEN: usize = 8;

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

/// Bytes of a sample record: `n_inputs` activity words, then with the learn flag `n_outputs`
/// target words of 2 bytes (rate target) or 4 bytes (potential target, flag bit 2).
pub fn record_len(flags: u8, n_inputs: usize, n_outputs: usize) -> usize {
    let target_word = if flags & sample_flags::LEARN == 0 {
        0
    } else if flags & sample_flags::POTENTIAL_TARGET != 0 {
        4
    } else {
        2
    };
    2 * n_inputs + target_word * n_outputs
}

/// The payload of a queue-samples request: k samples that share one flags byte, each a record
/// of input words and, with the learn flag, target words.
///
/// A device needs its network's output count to split the records, so the payload is kept as
/// bytes here and [`SampleBatch::samples`] splits and checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleBatch {
    flags: u8,
    n_inputs: u16,
    count: u16,
    records: Vec<u8>,
}

impl SampleBatch {
    /// Bytes before the first record: flags, reserved, input words per sample, samples.
    pub const HEADER_LEN: usize = 6;

    /// Packs `samples` into one frame's payload; `start` marks the first frame of a stream.
    /// The samples' own `start` fields are ignored.
    ///
    /// Returns an error message when there are no samples, more than 65 535, or when they differ
    /// in input count, target count or target kind, because the frame has one header for all.
    pub fn new(start: bool, samples: &[Sample]) -> Result<SampleBatch, String> {
        let Some(first) = samples.first() else {
            return Err("a queue-samples frame needs at least one sample".into());
        };
        let count = u16::try_from(samples.len()).map_err(|_| {
            format!(
                "{} samples do not fit one queue-samples frame, which counts at most 65535",
                samples.len()
            )
        })?;
        let n_inputs = u16::try_from(first.input.len()).map_err(|_| {
            format!(
                "a sample of {} input words does not fit the 16-bit input count",
                first.input.len()
            )
        })?;
        let shape = |s: &Sample| {
            (
                s.input.len(),
                s.flags() & !sample_flags::START,
                s.target.as_ref().map(TargetWords::len),
            )
        };
        if let Some(index) = samples.iter().position(|s| shape(s) != shape(first)) {
            return Err(format!(
                "sample {index} differs from sample 0 in its input count, target count or target kind, but the samples of one frame share them"
            ));
        }

        let mut flags = first.flags() & !sample_flags::START;
        if start {
            flags |= sample_flags::START;
        }
        let mut records = Vec::with_capacity(samples.len() * (first.payload_len() - 4));
        for sample in samples {
            let mut payload = Vec::with_capacity(sample.payload_len());
            sample.encode(&mut payload);
            records.extend_from_slice(&payload[4..]);
        }
        Ok(SampleBatch {
            flags,
            n_inputs,
            count,
            records,
        })
    }

    /// Returns whether this frame starts a stream.
    pub fn start(&self) -> bool {
        self.flags & sample_flags::START != 0
    }

    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Returns k, the number of samples the header announces.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// Returns n, the number of input words per sample the header announces.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs as usize
    }

    /// Bytes of the payload that carries this frame.
    pub fn payload_len(&self) -> usize {
        Self::HEADER_LEN + self.records.len()
    }

    /// Returns the maximum number of samples with records of `record_len` bytes whose request
    /// payload (`6 + k × record_len`) and reply payload (`8 + k × 2 × n_outputs`) both fit
    /// `max_payload`, capped at 65 535. Zero means not even one sample fits.
    pub fn max_count(max_payload: usize, record_len: usize, n_outputs: usize) -> usize {
        let by_request = max_payload.saturating_sub(Self::HEADER_LEN) / record_len.max(1);
        let by_reply =
            max_payload.saturating_sub(SampleOutput::HEADER_LEN) / (2 * n_outputs).max(1);
        by_request.min(by_reply).min(u16::MAX as usize)
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flags);
        out.push(0);
        out.extend_from_slice(&self.n_inputs.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.records);
    }

    /// Decodes the header and keeps the records. The record length depends on the device's
    /// output count, so [`SampleBatch::samples`] checks the payload length.
    pub(super) fn decode(payload: &[u8]) -> Result<SampleBatch, MessageError> {
        if payload.len() < Self::HEADER_LEN {
            return Err(MessageError::length(Self::HEADER_LEN));
        }
        let flags = payload[0];
        check_flags(flags)?;
        Ok(SampleBatch {
            flags,
            n_inputs: u16::from_le_bytes([payload[2], payload[3]]),
            count: u16::from_le_bytes([payload[4], payload[5]]),
            records: payload[Self::HEADER_LEN..].to_vec(),
        })
    }

    /// Splits the records for a network of `n_inputs` inputs and `n_outputs` outputs whose
    /// replies may carry at most `max_payload` bytes.
    ///
    /// # Errors
    /// - invalid sample shape, detail `n_inputs`, when the header's input count differs;
    /// - invalid payload length, detail the length of a one-sample frame, when k is 0;
    /// - invalid payload length, detail `6 + k × record`, when the length does not match k;
    /// - invalid payload length, detail the longest valid payload, when the reply of k samples
    ///   would exceed `max_payload`.
    pub fn samples(
        &self,
        n_inputs: usize,
        n_outputs: usize,
        max_payload: usize,
    ) -> Result<Vec<Sample>, MessageError> {
        if self.n_inputs() != n_inputs {
            return Err(MessageError::new(ErrorCode::SAMPLE_SHAPE, n_inputs as u32));
        }
        let record = record_len(self.flags, n_inputs, n_outputs);
        if self.count == 0 {
            return Err(MessageError::length(Self::HEADER_LEN + record));
        }
        let expected = Self::HEADER_LEN + self.count() * record;
        if self.payload_len() != expected {
            return Err(MessageError::length(expected));
        }
        let max_count = Self::max_count(max_payload, record, n_outputs);
        if self.count() > max_count {
            return Err(MessageError::length(Self::HEADER_LEN + max_count * record));
        }

        let mut samples = Vec::with_capacity(self.count());
        let mut payload = Vec::with_capacity(4 + record);
        for chunk in self.records.chunks_exact(record.max(1)).take(self.count()) {
            payload.clear();
            payload.push(self.flags & !sample_flags::START);
            payload.push(0);
            payload.extend_from_slice(&self.n_inputs.to_le_bytes());
            payload.extend_from_slice(chunk);
            samples.push(Sample::decode(&payload)?);
        }
        Ok(samples)
    }
}

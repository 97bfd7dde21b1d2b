//! The software device: the fixed-point golden model behind the link protocol, replying to every
//! request as the board does.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::frame::{Accept, Decoder, Frame, FrameError, Opcode};
use super::identity::Identity;
use super::message::{reset_flags, ErrorCode, ErrorReply, Memory, MessageError, Reply, Request};
use super::parameters::{Counters, EngineParameters};
use super::sample::{Sample, SampleBatch, SampleOutput, TargetWords};
use super::{words_per_frame, INTER_BYTE_TIMEOUT, MAX_PAYLOAD, REPLAY_DEPTH};
use crate::config::{Config, TargetKind};
use crate::device::{DeviceError, Parameters};
use crate::fixed::{FixedModel, FixedState, Saturations};
use crate::format::{Word, MAX_COEFFICIENT_SHIFT};

/// Lanes the software device reports. It has no datapath, so the number only enters the
/// identity and the generator hash.
pub const SOFTWARE_LANES: u16 = 1;

/// Largest number of non-input layers the identity reply can describe.
pub const MAX_DEPTH: usize = 255;

/// Smallest maximum payload [`SoftwareDevice::set_max_payload`] accepts. The counters reply,
/// 112 bytes, fits it, and so does a read or write of 30 words.
pub const MIN_MAX_PAYLOAD: usize = 128;

/// A reply kept for a request that changes state, so a retry gets it again without a second
/// execution.
#[derive(Clone, Debug)]
struct StoredReply {
    opcode: Opcode,
    seq: u16,
    reply: Frame,
}

/// The fixed-point golden model behind the link protocol.
///
/// [`SoftwareDevice::handle`] maps each request frame to its reply frame, and
/// [`SoftwareDevice::receive`] does the same for a byte stream through a [`Decoder`], whose
/// rejections the device counts. The network (layers, activations, formats, error source) is
/// fixed when the device is built, as the RTL generator fixes it for a board.
#[derive(Clone, Debug)]
pub struct SoftwareDevice {
    network: Config,
    identity: Identity,
    model: FixedModel,
    parameters: EngineParameters,
    decoder: Decoder,
    replay: VecDeque<StoredReply>,
    /// Sequence number the next queue-samples frame must carry, unless it starts a stream.
    stream_next: Option<u16>,
    replays: u64,
}

impl SoftwareDevice {
    /// Builds a device for the network of `config`, with the initial weights that
    /// `training.seed` selects, learning on and the configuration's parameters loaded.
    pub fn new(config: &Config) -> Result<SoftwareDevice, DeviceError> {
        config.validate_fixed()?;
        if config.depth() > MAX_DEPTH {
            return Err(DeviceError::Other(format!(
                "the network has {} non-input layers, but the link protocol describes at most {MAX_DEPTH}",
                config.depth()
            )));
        }
        let model = FixedModel::new(config)?;
        let parameters = EngineParameters::from_config(config, 1.0)?;
        Ok(SoftwareDevice {
            network: config.clone(),
            identity: Identity::for_config(config, SOFTWARE_LANES),
            model,
            parameters,
            decoder: Decoder::new(Accept::Requests, INTER_BYTE_TIMEOUT),
            replay: VecDeque::with_capacity(REPLAY_DEPTH),
            stream_next: None,
            replays: 0,
        })
    }

    /// Sets the maximum payload the device advertises in its identity and accepts, as a board
    /// with smaller buffers does (default [`MAX_PAYLOAD`]). Its decoder rejects a longer length
    /// field as soon as the header is complete; [`SoftwareDevice::handle`] rejects a longer
    /// payload with an invalid-payload-length error whose detail is the maximum. Replies never
    /// exceed it either.
    ///
    /// # Errors
    /// Returns a message when `max_payload` is outside 64 to [`MAX_PAYLOAD`], or when the
    /// network's identity, parameters or one sample would not fit it.
    pub fn set_max_payload(&mut self, max_payload: usize) -> Result<(), String> {
        if !(MIN_MAX_PAYLOAD..=MAX_PAYLOAD).contains(&max_payload) {
            return Err(format!(
                "maximum payload {max_payload} is outside {MIN_MAX_PAYLOAD} to {MAX_PAYLOAD} bytes"
            ));
        }
        let mut identity = Vec::new();
        self.identity.encode(&mut identity);
        let parameters = EngineParameters::FIXED_LEN + 4 * self.network.depth();
        let (n_inputs, n_outputs) = (self.network.n_inputs(), self.network.n_outputs());
        let sample = SampleBatch::HEADER_LEN + 2 * n_inputs + 4 * n_outputs;
        let reply = SampleOutput::HEADER_LEN + 2 * n_outputs;
        let needed = identity.len().max(parameters).max(sample).max(reply);
        if needed > max_payload {
            return Err(format!(
                "maximum payload {max_payload} is too small for this network: its identity, parameters or one sample need {needed} bytes"
            ));
        }
        self.identity.max_payload = max_payload as u16;
        self.decoder.set_max_payload(max_payload);
        Ok(())
    }

    fn max_payload(&self) -> usize {
        self.identity.max_payload as usize
    }

    /// Sets the inter-byte timeout of the device's frame decoder (default [`INTER_BYTE_TIMEOUT`]).
    pub fn set_inter_byte_timeout(&mut self, timeout: Duration) {
        self.decoder.set_inter_byte_timeout(timeout);
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Returns the golden model in the device's current state.
    pub fn model(&self) -> &FixedModel {
        &self.model
    }

    pub fn counters(&self) -> Counters {
        let state = self.model.state();
        Counters {
            // NOTE: the software device has no clock, so it reports zero cycles.
            cycles: 0,
            steps: state.steps,
            saturations: state.saturations,
            link: self.decoder.counters(),
            replays: self.replays,
        }
    }

    /// Decodes `bytes` received at `now` and returns the encoded replies.
    ///
    /// Intact request frames get one reply each, in order. A frame with an unknown opcode gets
    /// an error reply with its sequence number. Garbage, cut frames, bad CRCs and oversize
    /// lengths get no reply, because their sequence numbers cannot be trusted; they are counted.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        for &byte in bytes {
            if let Some(event) = self.decoder.push(byte, now) {
                self.answer(event, &mut out);
            }
            while let Some(event) = self.decoder.poll(now) {
                self.answer(event, &mut out);
            }
        }
        out
    }

    /// Cuts off a partly received frame once the inter-byte timeout has passed at `now`.
    /// Returns the encoded replies to any frames found in its bytes.
    pub fn poll(&mut self, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(event) = self.decoder.poll(now) {
            self.answer(event, &mut out);
        }
        out
    }

    fn answer(&mut self, event: Result<Frame, FrameError>, out: &mut Vec<u8>) {
        match event {
            Ok(frame) => self.handle(&frame).encode_into(out),
            Err(FrameError::UnknownOpcode { opcode, seq }) => {
                let error = ErrorReply {
                    code: ErrorCode::UNKNOWN_OPCODE,
                    opcode,
                    detail: 0,
                };
                Reply::Error(error).to_frame(seq).encode_into(out);
            }
            Err(_) => {}
        }
    }

    /// Returns the reply to one request frame.
    ///
    /// A request that changes state and repeats the opcode and sequence number of one of the
    /// last [`REPLAY_DEPTH`] such requests that succeeded gets that request's stored reply and
    /// is not executed again. A failed request changes nothing, so a retry executes it again.
    pub fn handle(&mut self, frame: &Frame) -> Frame {
        if frame.opcode == Opcode::Identify {
            // A new session starts: sequence numbers of an earlier host mean nothing now.
            self.replay.clear();
            self.stream_next = None;
        }
        let stores = frame.opcode.changes_state();
        if stores {
            if let Some(stored) = self
                .replay
                .iter()
                .find(|s| s.opcode == frame.opcode && s.seq == frame.seq)
            {
                self.replays += 1;
                return stored.reply.clone();
            }
        }

        let request = if frame.payload.len() > self.max_payload() {
            Err(MessageError::new(
                ErrorCode::PAYLOAD_LENGTH,
                self.max_payload() as u32,
            ))
        } else {
            Request::from_frame(frame)
        };
        let reply = match request.and_then(|request| self.execute(request, frame.seq)) {
            Ok(reply) => reply,
            Err(error) => Reply::Error(ErrorReply {
                code: error.code,
                opcode: frame.opcode as u8,
                detail: error.detail,
            }),
        };
        let reply_frame = reply.to_frame(frame.seq);
        if stores && reply_frame.opcode != Opcode::Error {
            if self.replay.len() == REPLAY_DEPTH {
                self.replay.pop_front();
            }
            self.replay.push_back(StoredReply {
                opcode: frame.opcode,
                seq: frame.seq,
                reply: reply_frame.clone(),
            });
        }
        reply_frame
    }

    fn execute(&mut self, request: Request, seq: u16) -> Result<Reply, MessageError> {
        match request {
            Request::Identify => Ok(Reply::Identity(self.identity.clone())),
            Request::ReadMemory {
                memory,
                offset,
                count,
            } => {
                let words = self.read_memory(memory, offset, count)?;
                Ok(Reply::MemoryData {
                    memory,
                    offset,
                    words,
                })
            }
            Request::WriteMemory {
                memory,
                offset,
                words,
            } => {
                self.write_memory(memory, offset, &words)?;
                Ok(Reply::MemoryWritten {
                    memory,
                    offset,
                    count: words.len() as u16,
                })
            }
            Request::SetParameters(parameters) => {
                self.set_parameters(parameters)?;
                Ok(Reply::ParametersSet)
            }
            Request::RunSample(sample) => Ok(Reply::SampleOutput(self.run_sample(&sample)?)),
            Request::QueueSamples(batch) => {
                if !batch.start() && self.stream_next != Some(seq) {
                    let expected = self.stream_next.map_or(u32::MAX, u32::from);
                    return Err(MessageError::new(ErrorCode::OUT_OF_ORDER, expected));
                }
                let samples = batch.samples(
                    self.network.n_inputs(),
                    self.network.n_outputs(),
                    self.max_payload(),
                )?;
                // Every sample is checked before the first one runs, so a rejected frame
                // changes nothing.
                let record_words = self.network.n_inputs() + self.network.n_outputs();
                for (index, sample) in samples.iter().enumerate() {
                    self.check_sample(sample)
                        .map_err(|error| in_frame(error, index * record_words))?;
                }
                let mut rates = Vec::with_capacity(samples.len() * self.network.n_outputs());
                for sample in &samples {
                    rates.extend(self.present(sample));
                }
                self.stream_next = Some(seq.wrapping_add(1));
                Ok(Reply::SampleResults(SampleOutput {
                    saturations: self.model.saturation_counts().total(),
                    rates,
                }))
            }
            Request::ReadCounters => Ok(Reply::Counters(self.counters())),
            Request::Reset { flags } => {
                self.reset(flags);
                Ok(Reply::ResetDone)
            }
        }
    }

    fn memory_size(&self, memory: Memory) -> usize {
        match memory {
            Memory::Weights => self.identity.weight_words as usize,
            Memory::Rounding => 1,
            _ => self.identity.neuron_words as usize,
        }
    }

    /// The format a word of `memory` must fit, or `None` for the rounding state.
    fn memory_format(&self, memory: Memory) -> Option<Word> {
        let f = self.network.fixed;
        match memory {
            Memory::Weights => Some(f.weight()),
            Memory::Potential | Memory::Error | Memory::Prospective => Some(f.pot()),
            Memory::Rate | Memory::Slope => Some(f.act()),
            Memory::Rounding => None,
        }
    }

    fn check_range(&self, memory: Memory, offset: u32, count: usize) -> Result<(), MessageError> {
        let size = self.memory_size(memory);
        if count > words_per_frame(self.max_payload()) || offset as usize + count > size {
            return Err(MessageError::new(ErrorCode::ADDRESS_RANGE, size as u32));
        }
        Ok(())
    }

    /// Returns every word of `memory` in network-wide order.
    fn memory_words(&self, memory: Memory) -> Vec<i64> {
        let depth = self.network.depth();
        let layers = 0..depth;
        let m = &self.model;
        match memory {
            Memory::Weights => layers
                .flat_map(|l| m.weight_words(l).iter().map(|&w| w as i64))
                .collect(),
            Memory::Potential => layers.flat_map(|l| m.u_words(l).to_vec()).collect(),
            Memory::Error => layers.flat_map(|l| m.error_words(l).to_vec()).collect(),
            Memory::Prospective => layers
                .flat_map(|l| m.prospective_words(l).to_vec())
                .collect(),
            Memory::Rate => layers
                .flat_map(|l| m.rate_words(l).iter().map(|&w| w as i64))
                .collect(),
            Memory::Slope => layers
                .flat_map(|l| m.slope_words(l).iter().map(|&w| w as i64))
                .collect(),
            Memory::Rounding => vec![m.rounding_state() as i32 as i64],
        }
    }

    fn read_memory(
        &self,
        memory: Memory,
        offset: u32,
        count: u16,
    ) -> Result<Vec<i32>, MessageError> {
        self.check_range(memory, offset, count as usize)?;
        let words = self.memory_words(memory);
        let start = offset as usize;
        Ok(words[start..start + count as usize]
            .iter()
            .map(|&w| w as i32)
            .collect())
    }

    fn write_memory(
        &mut self,
        memory: Memory,
        offset: u32,
        words: &[i32],
    ) -> Result<(), MessageError> {
        self.check_range(memory, offset, words.len())?;
        let format = self.memory_format(memory);
        for (index, &word) in words.iter().enumerate() {
            let fits = match format {
                Some(format) => (format.min()..=format.max()).contains(&(word as i64)),
                // xorshift32 never leaves the zero state.
                None => word != 0,
            };
            if !fits {
                return Err(MessageError::new(ErrorCode::WORD_RANGE, index as u32));
            }
        }

        let mut state = self.model.state();
        let target: &mut Vec<Vec<i64>> = match memory {
            Memory::Weights => &mut state.weights,
            Memory::Potential => &mut state.u,
            Memory::Error => &mut state.e,
            Memory::Prospective => &mut state.ub,
            Memory::Rate => &mut state.r,
            Memory::Slope => &mut state.d,
            Memory::Rounding => {
                state.rounding_state = words.first().map_or(state.rounding_state, |&w| w as u32);
                return self.load_state(&state);
            }
        };
        for (address, &word) in (offset as usize..).zip(words) {
            let (layer, index) = locate(target, address);
            target[layer][index] = word as i64;
        }
        self.load_state(&state)
    }

    fn load_state(&mut self, state: &FixedState) -> Result<(), MessageError> {
        // Every word was checked against its format, so the model accepts the state.
        self.model
            .set_state(state)
            .map_err(|_| MessageError::new(ErrorCode::WORD_RANGE, 0))
    }

    /// Checks new engine parameters and rebuilds the model with them, keeping its state.
    fn set_parameters(&mut self, p: EngineParameters) -> Result<(), MessageError> {
        let depth = self.network.depth();
        if p.eta.len() != depth {
            return Err(MessageError::new(
                ErrorCode::PAYLOAD_LENGTH,
                (EngineParameters::FIXED_LEN + 4 * depth) as u32,
            ));
        }
        let invalid = |field: u32| MessageError::new(ErrorCode::INVALID_PARAMETER, field);
        let coefficients = [
            (p.k_dt, EngineParameters::FIELD_K_DT),
            (p.k_r, EngineParameters::FIELD_K_R),
            (p.beta, EngineParameters::FIELD_BETA),
        ];
        let etas = p
            .eta
            .iter()
            .enumerate()
            .map(|(l, &c)| (c, EngineParameters::FIELD_ETA + l as u32));
        for (coefficient, field) in coefficients.into_iter().chain(etas) {
            if coefficient.shift > MAX_COEFFICIENT_SHIFT {
                return Err(invalid(field));
            }
        }
        // NOTE: the board takes any coefficient, but the golden model loads its constants from a
        // configuration, so the software device accepts only the ranges `Config::validate`
        // allows: dt/τ_m in (0, 1], τ_r/τ_m in [0, 4], β in [0, 16], η in [0, 1].
        let k_dt = p.k_dt.to_f64();
        if !(k_dt > 0.0 && k_dt <= 1.0) {
            return Err(invalid(EngineParameters::FIELD_K_DT));
        }
        if !(0.0..=4.0).contains(&p.k_r.to_f64()) {
            return Err(invalid(EngineParameters::FIELD_K_R));
        }
        if !(0.0..=16.0).contains(&p.beta.to_f64()) {
            return Err(invalid(EngineParameters::FIELD_BETA));
        }
        if let Some(l) = p
            .eta
            .iter()
            .position(|c| !(0.0..=1.0).contains(&c.to_f64()))
        {
            return Err(invalid(EngineParameters::FIELD_ETA + l as u32));
        }
        if !(1..=1_000_000).contains(&p.steps_per_sample) {
            return Err(invalid(EngineParameters::FIELD_STEPS));
        }
        if p.settle_steps >= p.steps_per_sample {
            return Err(invalid(EngineParameters::FIELD_SETTLE));
        }

        let mut config = self.network.clone();
        config.neuron.tau_m = 1.0;
        config.neuron.dt = k_dt;
        config.neuron.tau_r = p.k_r.to_f64();
        config.learning.beta = p.beta.to_f64();
        config.learning.eta = p.eta.iter().map(|c| c.to_f64()).collect();
        config.learning.target = p.target;
        config.presentation.steps_per_sample = p.steps_per_sample as usize;
        config.presentation.settle_steps = p.settle_steps as usize;

        let mut state = self.model.state();
        state.eta_factor = 1.0;
        if p.rounding_state != 0 {
            state.rounding_state = p.rounding_state;
        }
        let mut model = FixedModel::with_parameters(&config, &zero_parameters(&config))
            .map_err(|_| MessageError::new(ErrorCode::INVALID_PARAMETER, u32::MAX))?;
        model
            .set_state(&state)
            .map_err(|_| MessageError::new(ErrorCode::INVALID_PARAMETER, u32::MAX))?;
        self.model = model;
        self.parameters = EngineParameters {
            rounding_state: 0,
            ..p
        };
        Ok(())
    }

    fn run_sample(&mut self, sample: &Sample) -> Result<SampleOutput, MessageError> {
        self.check_sample(sample)?;
        let rates = self.present(sample);
        Ok(SampleOutput {
            saturations: self.model.saturation_counts().total(),
            rates,
        })
    }

    /// Checks a sample's shape, target kind and target words against the network and the
    /// parameters. A word's index in an error counts the sample's inputs first.
    fn check_sample(&self, sample: &Sample) -> Result<(), MessageError> {
        let n_inputs = self.network.n_inputs();
        let n_outputs = self.network.n_outputs();
        if sample.input.len() != n_inputs {
            return Err(MessageError::new(ErrorCode::SAMPLE_SHAPE, n_inputs as u32));
        }
        if let Some(target) = &sample.target {
            let matches_kind = matches!(
                (target, self.parameters.target),
                (TargetWords::Activity(_), TargetKind::Rate)
                    | (TargetWords::Potential(_), TargetKind::Voltage)
            );
            if !matches_kind {
                return Err(MessageError::new(
                    ErrorCode::INVALID_FLAGS,
                    sample.flags() as u32,
                ));
            }
            if target.len() != n_outputs {
                return Err(MessageError::new(ErrorCode::SAMPLE_SHAPE, n_outputs as u32));
            }
            if let TargetWords::Potential(words) = target {
                let pot = self.network.fixed.pot();
                if let Some(i) = words
                    .iter()
                    .position(|&w| !(pot.min()..=pot.max()).contains(&(w as i64)))
                {
                    return Err(MessageError::new(
                        ErrorCode::WORD_RANGE,
                        (n_inputs + i) as u32,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Presents a checked sample for the configured time steps and returns the output rates.
    fn present(&mut self, sample: &Sample) -> Vec<i16> {
        let mut input: Vec<i32> = sample.input.iter().map(|&w| w as i32).collect();
        input.push(self.network.fixed.act().one() as i32);
        let target = if self.parameters.learning {
            sample.target.as_ref().map(TargetWords::to_i64)
        } else {
            None
        };
        let settle = self.parameters.settle_steps;
        for step in 0..self.parameters.steps_per_sample {
            let nudge = if step >= settle {
                target.as_deref()
            } else {
                None
            };
            self.model.step(&input, nudge);
        }

        self.model
            .rate_words(self.network.depth() - 1)
            .iter()
            .map(|&r| r as i16)
            .collect()
    }

    fn reset(&mut self, flags: u8) {
        let mut state = self.model.state();
        if flags & reset_flags::NEURON_STATE != 0 {
            for layers in [
                &mut state.u,
                &mut state.e,
                &mut state.ub,
                &mut state.r,
                &mut state.d,
            ] {
                layers.iter_mut().for_each(|words| words.fill(0));
            }
        }
        if flags & reset_flags::COUNTERS != 0 {
            state.saturations = Saturations::default();
            state.steps = 0;
            self.replays = 0;
            self.decoder.reset_counters();
        }
        self.model
            .set_state(&state)
            .expect("zeroed state words fit every format");
    }
}

/// Moves a word-range error of one sample of a queue-samples frame to the word's index among
/// the frame's words, where the sample's words start at `first_word`.
fn in_frame(error: MessageError, first_word: usize) -> MessageError {
    if error.code == ErrorCode::WORD_RANGE {
        MessageError::new(ErrorCode::WORD_RANGE, error.detail + first_word as u32)
    } else {
        error
    }
}

/// Finds the layer and index of network-wide address `address` in per-layer vectors.
fn locate(layers: &[Vec<i64>], mut address: usize) -> (usize, usize) {
    for (layer, words) in layers.iter().enumerate() {
        if address < words.len() {
            return (layer, address);
        }
        address -= words.len();
    }
    unreachable!("addresses are checked against the memory size first")
}

fn zero_parameters(config: &Config) -> Parameters {
    let sizes = &config.network.layers;
    Parameters {
        weights: sizes.windows(2).map(|w| vec![0.0; w[0] * w[1]]).collect(),
        biases: sizes[1..].iter().map(|&n| vec![0.0; n]).collect(),
    }
}

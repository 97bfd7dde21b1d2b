//! [`LinkDevice`]: the training loop's [`Device`] over any transport.

use std::cell::{Cell, RefCell};

use leap_model::config::TargetKind;
use leap_model::device::{check_target_count, DeviceError, Parameters, Snapshot};
use leap_model::fixed::{FixedState, Saturations};
use leap_model::protocol::{
    record_len, reset_flags, sample_flags, words_per_frame, Counters, EngineParameters, Identity,
    Memory, Reply, Request, Sample, SampleBatch, SampleOutput, TargetWords, MAX_DEPTH, MAX_PAYLOAD,
    QUEUE_DEPTH,
};
use leap_model::{Config, Device, FixedModel};

use tracing::debug;

use super::{Link, LinkError, LinkOptions, LinkStats, Transport};

fn device_error(error: LinkError) -> DeviceError {
    DeviceError::Other(error.to_string())
}

/// A device behind a link: the board, the simulated board or the software device.
///
/// Inputs and targets are converted to words on the host with the rules of
/// `FixedModel::quantise_input` and `FixedModel::quantise_target` (round to nearest, ties away
/// from zero, saturate), and their saturations are counted here. So a run over the link matches
/// `FixedModel` driven directly, word for word.
///
/// The `Device` trait reads parameters and snapshots through `&self`, so the link sits in a
/// `RefCell`. A `LinkDevice` is therefore not meant to be shared between threads.
pub struct LinkDevice {
    link: RefCell<Link>,
    name: String,
    config: Config,
    identity: Identity,
    /// Largest payload of any frame sent or asked for: the device's advertised maximum, at most
    /// [`MAX_PAYLOAD`].
    max_payload: usize,
    /// Words of the weight memory and of each neuron-state memory that this network uses.
    weight_words: usize,
    neuron_words: usize,
    eta_factor: f64,
    /// Saturations and time steps of the state restored last; the device's counters were reset
    /// then, so they count only what came after.
    base_saturations: Saturations,
    base_steps: u64,
    /// Saturations while converting inputs and targets to words since the last restore.
    input_saturations: u64,
    /// The device's saturation count after the last sample, since its counters were reset.
    device_saturations: Cell<u64>,
}

impl LinkDevice {
    /// Connects to the device over `transport`, checks that it was generated for the network
    /// of `config`, and loads the initial state of `FixedModel::new(config)`: weights, zero
    /// neuron state, parameters, rounding state, and counters reset.
    pub fn connect(
        transport: Box<dyn Transport>,
        config: &Config,
        options: LinkOptions,
    ) -> Result<LinkDevice, DeviceError> {
        config.validate_fixed()?;
        let mut link = Link::new(transport, options);
        link.discard_input().map_err(device_error)?;
        let identity = match link.request(&Request::Identify).map_err(device_error)? {
            Reply::Identity(identity) => identity,
            other => return Err(invalid_reply(&link, "identify", &other)),
        };
        let weight_words = config.synapses();
        let neuron_words: usize = config.network.layers[1..].iter().sum();
        let incompatible = |reason| {
            device_error(LinkError::Incompatible {
                endpoint: link.endpoint().to_string(),
                reason,
            })
        };
        check_device_fits(&identity, config).map_err(incompatible)?;
        let max_payload = (identity.max_payload as usize).min(MAX_PAYLOAD);
        check_frame_sizes(config, max_payload).map_err(incompatible)?;

        let name = format!("link ({})", link.endpoint());
        let mut device = LinkDevice {
            link: RefCell::new(link),
            name,
            config: config.clone(),
            identity,
            max_payload,
            weight_words,
            neuron_words,
            eta_factor: 1.0,
            base_saturations: Saturations::default(),
            base_steps: 0,
            input_saturations: 0,
            device_saturations: Cell::new(0),
        };
        let initial = FixedModel::new(config)?.state();
        device.load_state(&initial)?;
        Ok(device)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn link_stats(&self) -> LinkStats {
        self.link.borrow().stats()
    }

    /// Reads the device's counters. Their saturations and steps count from the last restore.
    pub fn counters(&self) -> Result<Counters, DeviceError> {
        match self.request(&Request::ReadCounters)? {
            Reply::Counters(counters) => Ok(counters),
            other => Err(self.invalid("read counters", &other)),
        }
    }

    /// Returns the largest payload this host sends to the device or requests from it.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Returns the samples of one queue-samples frame: as many as fit the maximum payload in
    /// the request and in the reply.
    pub fn samples_per_frame(&self, learn: bool) -> usize {
        let flags = match (learn, self.config.learning.target) {
            (false, _) => 0,
            (true, TargetKind::Rate) => sample_flags::LEARN,
            (true, TargetKind::Voltage) => sample_flags::LEARN | sample_flags::POTENTIAL_TARGET,
        };
        let (n_inputs, n_outputs) = (self.config.n_inputs(), self.config.n_outputs());
        let record = record_len(flags, n_inputs, n_outputs);
        SampleBatch::max_count(self.max_payload, record, n_outputs)
    }

    /// Streams samples in queue-samples frames of at most as many samples as the maximum payload
    /// allows, with up to two frames outstanding, and returns the output rates of each sample.
    /// [`Link::stream`] sizes the frames by the device's measured speed.
    fn stream(
        &mut self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
        on_samples: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f64>>, DeviceError> {
        self.check_widths(inputs, targets)?;
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let samples: Vec<Sample> = (0..inputs.len())
            .map(|i| self.quantise(inputs[i], targets.map(|t| t[i])))
            .collect();
        // `check_frame_sizes` ensured at connection that one sample fits.
        let max_samples = self.samples_per_frame(targets.is_some()).max(1);
        let window = (self.identity.queue_depth as usize).clamp(1, QUEUE_DEPTH as usize);
        let n_outputs = self.config.n_outputs();

        let replies = self
            .link
            .borrow_mut()
            .stream(&samples, max_samples, window, &mut |count, _| {
                on_samples(count)
            })
            .map_err(device_error)?;
        let allowance = self.link.borrow().work_allowance(targets.is_some(), 1);
        debug!(
            samples = inputs.len(),
            frames = replies.len(),
            max_samples_per_frame = max_samples,
            learn = targets.is_some(),
            seconds_allowed_per_sample = allowance.as_secs_f64(),
            "streamed samples in queue-samples frames"
        );
        let mut outputs = Vec::with_capacity(inputs.len());
        for (count, reply) in &replies {
            if reply.rates.len() != count * n_outputs {
                return Err(DeviceError::Other(format!(
                    "{} sent {} output words for a frame of {count} samples of {n_outputs} outputs; the device does not follow protocol version 2",
                    self.link.borrow().endpoint(),
                    reply.rates.len()
                )));
            }
            self.device_saturations.set(reply.saturations);
            outputs.extend(
                reply
                    .rates
                    .chunks(n_outputs)
                    .map(|rates| self.to_real(rates)),
            );
        }
        Ok(outputs)
    }

    fn request(&self, request: &Request) -> Result<Reply, DeviceError> {
        self.link
            .borrow_mut()
            .request(request)
            .map_err(device_error)
    }

    fn invalid(&self, what: &str, reply: &Reply) -> DeviceError {
        invalid_reply(&self.link.borrow(), what, reply)
    }

    /// Converts a sample to words as `FixedModel::quantise_input` and `quantise_target` do.
    fn quantise(&mut self, input: &[f64], target: Option<&[f64]>) -> Sample {
        let f = self.config.fixed;
        let act = f.act();
        let input = input
            .iter()
            .map(|&v| act.from_f64(v, &mut self.input_saturations) as i16)
            .collect();
        let target = target.map(|y| match self.config.learning.target {
            TargetKind::Rate => TargetWords::Activity(
                y.iter()
                    .map(|&v| act.from_f64(v, &mut self.input_saturations) as i16)
                    .collect(),
            ),
            TargetKind::Voltage => {
                let pot = f.pot();
                TargetWords::Potential(
                    y.iter()
                        .map(|&v| pot.from_f64(v, &mut self.input_saturations) as i32)
                        .collect(),
                )
            }
        });
        Sample {
            start: false,
            input,
            target,
        }
    }

    fn rates(&self, output: &SampleOutput) -> Vec<f64> {
        self.device_saturations.set(output.saturations);
        self.to_real(&output.rates)
    }

    /// Converts activity words to real numbers.
    fn to_real(&self, words: &[i16]) -> Vec<f64> {
        let act = self.config.fixed.act();
        words.iter().map(|&r| act.to_f64(r as i64)).collect()
    }

    fn check_widths(
        &self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
    ) -> Result<(), DeviceError> {
        let (n_inputs, n_outputs) = (self.config.n_inputs(), self.config.n_outputs());
        if let Some(x) = inputs.iter().find(|x| x.len() != n_inputs) {
            return Err(DeviceError::InputWidth {
                expected: n_inputs,
                found: x.len(),
            });
        }
        if let Some(targets) = targets {
            check_target_count(inputs.len(), targets.len())?;
            if let Some(t) = targets.iter().find(|t| t.len() != n_outputs) {
                return Err(DeviceError::TargetWidth {
                    expected: n_outputs,
                    found: t.len(),
                });
            }
        }
        Ok(())
    }

    /// Reads a whole memory in frames whose replies fit the maximum payload.
    fn read_memory(&self, memory: Memory, size: usize) -> Result<Vec<i64>, DeviceError> {
        let per_frame = words_per_frame(self.max_payload);
        let mut words = Vec::with_capacity(size);
        while words.len() < size {
            let offset = words.len() as u32;
            let count = (size - words.len()).min(per_frame) as u16;
            match self.request(&Request::ReadMemory {
                memory,
                offset,
                count,
            })? {
                Reply::MemoryData {
                    memory: m,
                    offset: o,
                    words: chunk,
                } if m == memory && o == offset && chunk.len() == count as usize => {
                    words.extend(chunk.iter().map(|&w| w as i64));
                }
                other => return Err(self.invalid("read memory", &other)),
            }
        }
        Ok(words)
    }

    /// Writes a whole memory in frames that fit the maximum payload.
    fn write_memory(&self, memory: Memory, words: &[i64]) -> Result<(), DeviceError> {
        let per_frame = words_per_frame(self.max_payload);
        for (index, chunk) in words.chunks(per_frame).enumerate() {
            let offset = (index * per_frame) as u32;
            let request = Request::WriteMemory {
                memory,
                offset,
                words: chunk.iter().map(|&w| w as i32).collect(),
            };
            match self.request(&request)? {
                Reply::MemoryWritten {
                    memory: m,
                    offset: o,
                    count,
                } if m == memory && o == offset && count as usize == chunk.len() => {}
                other => return Err(self.invalid("write memory", &other)),
            }
        }
        Ok(())
    }

    /// Splits a network-wide memory into layers of the given sizes.
    fn split(words: Vec<i64>, sizes: impl Iterator<Item = usize>) -> Vec<Vec<i64>> {
        let mut rest = words.as_slice();
        sizes
            .map(|n| {
                let (layer, tail) = rest.split_at(n);
                rest = tail;
                layer.to_vec()
            })
            .collect()
    }

    fn weight_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.config
            .network
            .layers
            .windows(2)
            .map(|w| (w[0] + 1) * w[1])
    }

    fn neuron_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.config.network.layers[1..].iter().copied()
    }

    /// Writes every word of `state` to the device, loads its parameters and rounding state, and
    /// resets the device's counters. The counts in `state` become the base that later counts add
    /// to.
    fn load_state(&mut self, state: &FixedState) -> Result<(), DeviceError> {
        // A local model checks the state's shape and formats with the golden model's messages.
        let mut check = FixedModel::with_parameters(&self.config, &zero_parameters(&self.config))?;
        check.set_state(state)?;

        let flat = |layers: &[Vec<i64>]| layers.concat();
        self.write_memory(Memory::Weights, &flat(&state.weights))?;
        self.write_memory(Memory::Potential, &flat(&state.u))?;
        self.write_memory(Memory::Error, &flat(&state.e))?;
        self.write_memory(Memory::Prospective, &flat(&state.ub))?;
        self.write_memory(Memory::Rate, &flat(&state.r))?;
        self.write_memory(Memory::Slope, &flat(&state.d))?;

        let parameters = EngineParameters {
            rounding_state: state.rounding_state,
            ..EngineParameters::from_config(&self.config, state.eta_factor)?
        };
        match self.request(&Request::SetParameters(parameters))? {
            Reply::ParametersSet => {}
            other => return Err(self.invalid("set parameters", &other)),
        }
        match self.request(&Request::Reset {
            flags: reset_flags::COUNTERS,
        })? {
            Reply::ResetDone => {}
            other => return Err(self.invalid("reset", &other)),
        }

        self.eta_factor = state.eta_factor;
        self.base_saturations = state.saturations;
        self.base_steps = state.steps;
        self.input_saturations = 0;
        self.device_saturations.set(0);
        Ok(())
    }
}

/// Checks that a device with `identity` runs the network of `config` and that its memories hold
/// it. The error names the first difference, the protocol version and layers before memory
/// sizes, which follow from the layers.
pub fn check_device_fits(identity: &Identity, config: &Config) -> Result<(), String> {
    identity.check_config(config)?;
    let weight_words = config.synapses();
    if (identity.weight_words as usize) < weight_words {
        return Err(format!(
            "the network needs {weight_words} weight words (biases included), but the device \
             holds {}; use a smaller network, or a device built with a larger \
             `engine.weight_words` (words per lane) in its board table entry: rebuild it with \
             `leap build --board NAME`",
            identity.weight_words
        ));
    }
    let neuron_words: usize = config.network.layers[1..].iter().sum();
    if (identity.neuron_words as usize) < neuron_words {
        return Err(format!(
            "the network needs {neuron_words} neuron words (one per non-input neuron), but the \
             device holds {}; use a smaller network, or a device built with a larger \
             `engine.state_words` in its board table entry: rebuild it with \
             `leap build --board NAME`",
            identity.neuron_words
        ));
    }
    Ok(())
}

fn invalid_reply(link: &Link, what: &str, reply: &Reply) -> DeviceError {
    DeviceError::Other(format!(
        "{} sent an unexpected reply to {what}: {reply:?}",
        link.endpoint()
    ))
}

fn zero_parameters(config: &Config) -> Parameters {
    let sizes = &config.network.layers;
    Parameters {
        weights: sizes.windows(2).map(|w| vec![0.0; w[0] * w[1]]).collect(),
        biases: sizes[1..].iter().map(|&n| vec![0.0; n]).collect(),
    }
}

/// Checks that every request this host sends for the network of `config` fits a payload of
/// `max_payload` bytes: one sample with potential targets, its reply, the parameters and a
/// memory transfer of at least one word.
fn check_frame_sizes(config: &Config, max_payload: usize) -> Result<(), String> {
    if config.depth() > MAX_DEPTH {
        return Err(format!(
            "the network has {} non-input layers, but the link protocol describes at most {MAX_DEPTH}",
            config.depth()
        ));
    }
    let (n_inputs, n_outputs) = (config.n_inputs(), config.n_outputs());
    let sample = SampleBatch::HEADER_LEN + 2 * n_inputs + 4 * n_outputs;
    let reply = SampleOutput::HEADER_LEN + 2 * n_outputs;
    let parameters = EngineParameters::FIXED_LEN + 4 * config.depth();
    let memory = 8 + 4;
    let needed = [
        ("the inputs and targets of one sample", sample),
        ("the outputs of one sample", reply),
        ("the engine parameters", parameters),
        ("a memory transfer of one word", memory),
    ];
    for (what, bytes) in needed {
        if bytes > max_payload {
            return Err(format!(
                "{what} need {bytes} payload bytes, more than the device's maximum payload of {max_payload} bytes; use a network with fewer inputs, outputs or layers, or a device with larger buffers"
            ));
        }
    }
    Ok(())
}

impl Device for LinkDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn set_learning_rate_factor(&mut self, factor: f64) -> Result<(), DeviceError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(DeviceError::Other(format!(
                "learning-rate factor {factor} is invalid: use a finite number >= 0"
            )));
        }
        let parameters = EngineParameters::from_config(&self.config, factor)?;
        match self.request(&Request::SetParameters(parameters))? {
            Reply::ParametersSet => {}
            other => return Err(self.invalid("set parameters", &other)),
        }
        self.eta_factor = factor;
        Ok(())
    }

    fn run_batch(
        &mut self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
    ) -> Result<Vec<Vec<f64>>, DeviceError> {
        if inputs.len() > 1 {
            return Err(DeviceError::BatchSize {
                max: 1,
                found: inputs.len(),
            });
        }
        self.check_widths(inputs, targets)?;
        let Some(x) = inputs.first() else {
            return Ok(Vec::new());
        };
        let sample = self.quantise(x, targets.map(|t| t[0]));
        match self.request(&Request::RunSample(sample))? {
            Reply::SampleOutput(output) => Ok(vec![self.rates(&output)]),
            other => Err(self.invalid("run sample", &other)),
        }
    }

    fn run_stream(
        &mut self,
        inputs: &[&[f64]],
        targets: Option<&[&[f64]]>,
        on_samples: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f64>>, DeviceError> {
        self.stream(inputs, targets, on_samples)
    }

    fn saturations(&self) -> u64 {
        self.base_saturations.total() + self.input_saturations + self.device_saturations.get()
    }

    fn parameters(&self) -> Result<Parameters, DeviceError> {
        let weights = self.read_memory(Memory::Weights, self.weight_words)?;
        let w = self.config.fixed.weight();
        let mut parameters = Parameters {
            weights: Vec::new(),
            biases: Vec::new(),
        };
        for (layer, words) in Self::split(weights, self.weight_sizes())
            .into_iter()
            .enumerate()
        {
            let n_cols = self.config.network.layers[layer] + 1;
            let mut weights = Vec::with_capacity(words.len());
            let mut biases = Vec::new();
            for row in words.chunks(n_cols) {
                weights.extend(row[..n_cols - 1].iter().map(|&x| w.to_f64(x)));
                biases.push(w.to_f64(row[n_cols - 1]));
            }
            parameters.weights.push(weights);
            parameters.biases.push(biases);
        }
        Ok(parameters)
    }

    fn snapshot(&self) -> Result<Snapshot, DeviceError> {
        let neurons = self.neuron_words;
        let weights = self.read_memory(Memory::Weights, self.weight_words)?;
        let read_neurons = |memory| -> Result<Vec<Vec<i64>>, DeviceError> {
            Ok(Self::split(
                self.read_memory(memory, neurons)?,
                self.neuron_sizes(),
            ))
        };
        let rounding = self.read_memory(Memory::Rounding, 1)?[0] as u32;
        let counters = self.counters()?;
        let (base, device) = (self.base_saturations, counters.saturations);
        let saturations = Saturations {
            input: base.input + self.input_saturations + device.input,
            potential: base.potential + device.potential,
            rate: base.rate + device.rate,
            message: base.message + device.message,
            update: base.update + device.update,
            weight: base.weight + device.weight,
        };
        Ok(Snapshot::Fixed(FixedState {
            weights: Self::split(weights, self.weight_sizes()),
            u: read_neurons(Memory::Potential)?,
            e: read_neurons(Memory::Error)?,
            ub: read_neurons(Memory::Prospective)?,
            r: read_neurons(Memory::Rate)?,
            d: read_neurons(Memory::Slope)?,
            rounding_state: rounding,
            eta_factor: self.eta_factor,
            saturations,
            steps: self.base_steps + counters.steps,
        }))
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), DeviceError> {
        match snapshot {
            Snapshot::Fixed(state) => self.load_state(state),
            Snapshot::Float(_) => Err(DeviceError::Snapshot(
                "it was taken on the float model; resume it with the software-float device".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_fits_own_network() {
        let config = Config::default();
        let identity = Identity::for_config(&config, 2);
        assert_eq!(check_device_fits(&identity, &config), Ok(()));
    }

    #[test]
    fn small_weight_memory_names_remedy() {
        let config = Config::default();
        let mut identity = Identity::for_config(&config, 2);
        let needed = config.synapses();
        identity.weight_words = needed as u32 - 1;

        let message = check_device_fits(&identity, &config).unwrap_err();

        assert!(
            message.contains(&format!(
                "needs {needed} weight words (biases included), but the device holds {}",
                needed - 1
            )),
            "{message}"
        );
        assert!(message.contains("use a smaller network"), "{message}");
        assert!(message.contains("`engine.weight_words`"), "{message}");
        assert!(message.contains("`leap build --board NAME`"), "{message}");
    }

    #[test]
    fn small_neuron_memory_names_remedy() {
        let config = Config::default();
        let mut identity = Identity::for_config(&config, 2);
        let needed: usize = config.network.layers[1..].iter().sum();
        identity.neuron_words = needed as u32 - 1;

        let message = check_device_fits(&identity, &config).unwrap_err();

        assert!(
            message.contains(&format!(
                "needs {needed} neuron words (one per non-input neuron), but the device holds {}",
                needed - 1
            )),
            "{message}"
        );
        assert!(message.contains("use a smaller network"), "{message}");
        assert!(message.contains("`engine.state_words`"), "{message}");
        assert!(message.contains("`leap build --board NAME`"), "{message}");
    }
}

//! The identity payload: the build configuration a device reports.

use super::message::{read_u32, read_u64, ErrorCode, MessageError};
use super::{MAX_PAYLOAD, PROTOCOL_VERSION, QUEUE_DEPTH};
use crate::config::{Activation, Config, ErrorSource};
use crate::format::Formats;

fn activation_code(activation: Activation) -> u8 {
    match activation {
        Activation::HardSigmoid => 0,
        Activation::Relu => 1,
        Activation::Linear => 2,
        Activation::Tanh => 3,
        Activation::Logistic => 4,
    }
}

fn activation_from_code(code: u8) -> Option<Activation> {
    [
        Activation::HardSigmoid,
        Activation::Relu,
        Activation::Linear,
        Activation::Tanh,
        Activation::Logistic,
    ]
    .into_iter()
    .find(|&a| activation_code(a) == code)
}

fn error_source_code(source: ErrorSource) -> u8 {
    match source {
        ErrorSource::TauM => 0,
        ErrorSource::TauR => 1,
    }
}

/// The build configuration a device reports in reply to identify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub protocol_version: u16,
    /// Synapses the engine processes per clock.
    pub lanes: u16,
    /// Input buffers, so samples that may be queued before the first result returns.
    pub queue_depth: u8,
    pub formats: Formats,
    pub error_source: ErrorSource,
    pub max_payload: u16,
    /// Size of the weight memory, biases included.
    pub weight_words: u32,
    /// Size of each neuron-state memory (`u`, `e`, `ŭ`, `r`, `d`): the non-input neurons.
    pub neuron_words: u32,
    /// Words of one input buffer: a sample's inputs and targets.
    pub input_words: u32,
    /// [`generator_hash`] of the configuration the engine was generated for.
    pub generator_hash: u64,
    /// Neurons per layer, input first.
    pub layers: Vec<u32>,
    /// One per non-input layer.
    pub activations: Vec<Activation>,
}

impl Identity {
    /// Bytes before the layer sizes.
    pub const FIXED_LEN: usize = 36;

    /// Describes an engine generated for `config` with `lanes` lanes.
    pub fn for_config(config: &Config, lanes: u16) -> Identity {
        let layers = &config.network.layers;
        Identity {
            protocol_version: PROTOCOL_VERSION,
            lanes,
            queue_depth: QUEUE_DEPTH,
            formats: config.fixed,
            error_source: config.neuron.error_source,
            max_payload: MAX_PAYLOAD as u16,
            weight_words: config.synapses() as u32,
            neuron_words: layers[1..].iter().sum::<usize>() as u32,
            input_words: (config.n_inputs() + config.n_outputs()) as u32,
            generator_hash: generator_hash(config, lanes),
            layers: layers.iter().map(|&n| n as u32).collect(),
            activations: config.network.activations.clone(),
        }
    }

    /// Checks that the device runs the network of `config`; the error names the first
    /// difference.
    pub fn check_config(&self, config: &Config) -> Result<(), String> {
        if self.protocol_version != PROTOCOL_VERSION {
            return Err(format!(
                "the device speaks protocol version {}, but this host speaks version {PROTOCOL_VERSION}",
                self.protocol_version
            ));
        }
        let layers: Vec<u32> = config.network.layers.iter().map(|&n| n as u32).collect();
        if self.layers != layers {
            let joined = |l: &[u32]| l.iter().map(u32::to_string).collect::<Vec<_>>().join("-");
            return Err(format!(
                "the device runs network {}, but network.layers of the configuration is {}; {}",
                joined(&self.layers),
                joined(&layers),
                MISMATCH_HINT
            ));
        }
        if self.activations != config.network.activations {
            let names =
                |a: &[Activation]| a.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
            return Err(format!(
                "the device uses activations [{}], but network.activations of the configuration is [{}]; {}",
                names(&self.activations),
                names(&config.network.activations),
                MISMATCH_HINT
            ));
        }
        if let Some((key, device, configured)) = self.formats.first_difference(&config.fixed) {
            return Err(format!(
                "the device was built with fixed.{key} = {device}, but the configuration sets \
                 fixed.{key} = {configured}; {MISMATCH_HINT}"
            ));
        }
        if self.error_source != config.neuron.error_source {
            return Err(format!(
                "the device was built with neuron.error_source = \"{}\", but the configuration sets \"{}\"; {}",
                error_source_name(self.error_source),
                error_source_name(config.neuron.error_source),
                MISMATCH_HINT
            ));
        }
        let expected = generator_hash(config, self.lanes);
        if self.generator_hash != expected {
            return Err(format!(
                "the device's generator hash 0x{:016X} differs from 0x{expected:016X}, the hash of \
                 this configuration with {} lanes. The network, formats and error source agree, \
                 so the device hashes its configuration differently: it was built by another \
                 LEAP version; rebuild its bitstream with this version",
                self.generator_hash, self.lanes
            ));
        }
        Ok(())
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        let f = &self.formats;
        out.extend_from_slice(&self.protocol_version.to_le_bytes());
        out.extend_from_slice(&self.lanes.to_le_bytes());
        out.push(self.queue_depth);
        out.push(self.activations.len() as u8);
        for bits in [
            f.act_frac,
            f.weight_bits,
            f.weight_frac,
            f.pot_bits,
            f.pot_frac,
            f.msg_frac,
            f.upd_frac,
        ] {
            out.push(bits as u8);
        }
        out.push(error_source_code(self.error_source));
        out.extend_from_slice(&self.max_payload.to_le_bytes());
        out.extend_from_slice(&self.weight_words.to_le_bytes());
        out.extend_from_slice(&self.neuron_words.to_le_bytes());
        out.extend_from_slice(&self.input_words.to_le_bytes());
        out.extend_from_slice(&self.generator_hash.to_le_bytes());
        for n in &self.layers {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for &a in &self.activations {
            out.push(activation_code(a));
        }
    }

    pub(super) fn decode(payload: &[u8]) -> Result<Identity, MessageError> {
        if payload.len() < Self::FIXED_LEN {
            return Err(MessageError::length(Self::FIXED_LEN));
        }
        let depth = payload[5] as usize;
        let expected = Self::FIXED_LEN + 4 * (depth + 1) + depth;
        if payload.len() != expected {
            return Err(MessageError::length(expected));
        }
        let f = |i: usize| payload[6 + i] as u32;
        let formats = Formats {
            act_frac: f(0),
            weight_bits: f(1),
            weight_frac: f(2),
            pot_bits: f(3),
            pot_frac: f(4),
            msg_frac: f(5),
            upd_frac: f(6),
        };
        let error_source = match payload[13] {
            0 => ErrorSource::TauM,
            1 => ErrorSource::TauR,
            _ => return Err(MessageError::new(ErrorCode::INVALID_PARAMETER, 13)),
        };
        let layers_end = Self::FIXED_LEN + 4 * (depth + 1);
        let layers = payload[Self::FIXED_LEN..layers_end]
            .chunks_exact(4)
            .map(|c| read_u32(c, 0))
            .collect();
        let activations = payload[layers_end..]
            .iter()
            .map(|&code| {
                activation_from_code(code)
                    .ok_or(MessageError::new(ErrorCode::INVALID_PARAMETER, code as u32))
            })
            .collect::<Result<_, _>>()?;
        Ok(Identity {
            protocol_version: u16::from_le_bytes([payload[0], payload[1]]),
            lanes: u16::from_le_bytes([payload[2], payload[3]]),
            queue_depth: payload[4],
            formats,
            error_source,
            max_payload: u16::from_le_bytes([payload[14], payload[15]]),
            weight_words: read_u32(payload, 16),
            neuron_words: read_u32(payload, 20),
            input_words: read_u32(payload, 24),
            generator_hash: read_u64(payload, 28),
            layers,
            activations,
        })
    }
}

/// FNV-1a (64-bit) hash of what the RTL generator builds the engine from: the layer sizes,
/// activations, number formats, error source and lanes.
///
/// The hashed bytes, integers little-endian, are in order:
/// - the ASCII tag "LEAP" and the number of layers (u32);
/// - each layer size (u32);
/// - each activation code (u8: 0 hard sigmoid, 1 ReLU, 2 linear, 3 tanh, 4 logistic);
/// - the seven format fields in [`Formats`] order (u8 each);
/// - the error-source code (u8: 0 `tau_m`, 1 `tau_r`) and the lanes (u16).
pub fn generator_hash(config: &Config, lanes: u16) -> u64 {
    const OFFSET_BASIS: u64 = 0xCBF2_9CE4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let f = &config.fixed;
    let mut bytes = b"LEAP".to_vec();
    bytes.extend_from_slice(&(config.network.layers.len() as u32).to_le_bytes());
    for &n in &config.network.layers {
        bytes.extend_from_slice(&(n as u32).to_le_bytes());
    }
    bytes.extend(
        config
            .network
            .activations
            .iter()
            .map(|&a| activation_code(a)),
    );
    for bits in [
        f.act_frac,
        f.weight_bits,
        f.weight_frac,
        f.pot_bits,
        f.pot_frac,
        f.msg_frac,
        f.upd_frac,
    ] {
        bytes.push(bits as u8);
    }
    bytes.push(error_source_code(config.neuron.error_source));
    bytes.extend_from_slice(&lanes.to_le_bytes());
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ b as u64).wrapping_mul(PRIME)
    })
}

/// The next step after a device and a configuration disagree. Training, evaluation, serving and
/// `leap info` all reach this check, so the hint names no one command.
const MISMATCH_HINT: &str = "use the configuration the device was built from, or a checkpoint \
     trained with it (`leap info` shows the device's network and formats), or else a device built \
     for this configuration";

/// Returns the name of an error source as a configuration file spells it.
fn error_source_name(source: ErrorSource) -> &'static str {
    match source {
        ErrorSource::TauM => "tau_m",
        ErrorSource::TauR => "tau_r",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each mismatch ends with a hint that fits every command that checks a device, so it names
    /// no single command such as training.
    #[test]
    fn mismatch_hint_fits_every_command() {
        let config = Config::default();
        let identity = Identity::for_config(&config, 2);
        let mut other = config.clone();
        other.network.layers[1] += 1;

        let message = identity.check_config(&other).unwrap_err();

        assert!(message.ends_with(MISMATCH_HINT), "{message}");
        assert!(!message.contains("train with"), "{message}");
        assert!(
            message.contains("a checkpoint trained with it"),
            "{message}"
        );
        assert!(
            message.contains("a device built for this configuration"),
            "{message}"
        );
        assert!(message.contains("`leap info`"), "{message}");
    }
}

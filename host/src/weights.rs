//! `leap weights save FILE` and `leap weights load FILE`: the weights and biases of a device in a
//! file, over any link or on the in-process software device.
//!
//! The file is JSON (see [`WeightsFile`]): the network it belongs to (layer sizes, activations,
//! number formats, error source) and the weight memory's words in network-wide order, with a
//! CRC-32 of the words. Words are the engine's fixed-point integers, so a file saved on one device
//! loads bit for bit into any device generated for the same network and formats, whatever its
//! lanes.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context};
use leap_model::config::{Activation, ConfigError, ErrorSource};
use leap_model::format::Formats;
use leap_model::protocol::{
    crc32, words_per_frame, Identity, Memory, Reply, Request, SoftwareDevice, MAX_PAYLOAD,
};
use leap_model::Config;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::checkpoint::write_atomic;
use crate::cli::{WeightsAction, WeightsArgs, WeightsTarget};
use crate::devices::{DeviceKind, CONNECT_TIMEOUT};
use crate::link::{InProcessTransport, Link, Transport};
use crate::train::load_config;

/// Value of the `format` field of every weights file.
pub const FORMAT_NAME: &str = "leap-weights";

/// Version of the weights file layout that this leap writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A weights file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsFile {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the layout.
    pub version: u32,
    /// Neurons per layer, input first.
    pub layers: Vec<u32>,
    /// One per non-input layer.
    pub activations: Vec<Activation>,
    pub formats: Formats,
    pub error_source: ErrorSource,
    /// The weight memory as weight-format integers, in network-wide order. That order is layer by
    /// layer from the first non-input layer, row by row, each row the neuron's weights and then
    /// its bias.
    pub words: Vec<i32>,
    /// CRC-32/ISO-HDLC of `words` as little-endian 32-bit integers.
    pub crc32: u32,
}

impl WeightsFile {
    /// Describes the weight words of a device with `identity`.
    pub fn new(identity: &Identity, words: Vec<i32>) -> WeightsFile {
        WeightsFile {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            layers: identity.layers.clone(),
            activations: identity.activations.clone(),
            formats: identity.formats,
            error_source: identity.error_source,
            crc32: words_crc(&words),
            words,
        }
    }

    /// Reads and checks a weights file: its format, version, CRC, word count and word range.
    pub fn load(path: &Path) -> anyhow::Result<WeightsFile> {
        let text = fs::read_to_string(path)
            .with_context(|| format!("failed to read weights file {}", path.display()))?;
        let file: WeightsFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "weights file {} is damaged or not a LEAP weights file; save it again with `leap weights save`",
                path.display()
            )
        })?;
        file.check().with_context(|| {
            format!(
                "weights file {} is damaged; save it again with `leap weights save`",
                path.display()
            )
        })?;
        Ok(file)
    }

    /// Checks the fields against each other.
    fn check(&self) -> anyhow::Result<()> {
        if self.format != FORMAT_NAME {
            bail!("its format is \"{}\", not \"{FORMAT_NAME}\"", self.format);
        }
        if self.version != FORMAT_VERSION {
            bail!(
                "it has layout version {}, but this leap reads version {FORMAT_VERSION}",
                self.version
            );
        }
        let crc = words_crc(&self.words);
        if crc != self.crc32 {
            bail!(
                "its words have CRC-32 0x{crc:08X}, but the file records 0x{:08X}",
                self.crc32
            );
        }
        if self.layers.len() < 2 || self.activations.len() != self.layers.len() - 1 {
            bail!(
                "it lists {} layers and {} activations; a network needs at least 2 layers and one activation per non-input layer",
                self.layers.len(),
                self.activations.len()
            );
        }

        if let Err(error) = self.formats.validate() {
            bail!("its number formats are invalid: {}", formats_error(error));
        }
        let Some(expected) = weight_count(&self.layers) else {
            bail!(
                "its layers {:?} have more weights and biases than this machine can address",
                self.layers
            );
        };
        if self.words.len() != expected {
            bail!(
                "it contains {} words, but layers {:?} have {expected} weights and biases",
                self.words.len(),
                self.layers
            );
        }
        let format = self.formats.weight();
        if let Some(index) = self
            .words
            .iter()
            .position(|&w| !(format.min()..=format.max()).contains(&(w as i64)))
        {
            bail!(
                "word {index} is {}, outside the weight format's range {} to {}",
                self.words[index],
                format.min(),
                format.max()
            );
        }
        Ok(())
    }

    /// Checks that the file belongs to the network of a device with `identity`. The error names
    /// the first difference.
    fn check_device(&self, identity: &Identity) -> Result<(), String> {
        if self.layers != identity.layers {
            return Err(format!(
                "the file holds a network with layers {:?}, but the device runs layers {:?}",
                self.layers, identity.layers
            ));
        }
        if let Some((key, file, device)) = self.formats.first_difference(&identity.formats) {
            return Err(format!(
                "the file has formats.{key} = {file}, but the device was built with {key} = {device} \
                 (file: {}; device: {})",
                formats_text(&self.formats),
                formats_text(&identity.formats)
            ));
        }
        if self.activations != identity.activations {
            return Err(format!(
                "the file's activations {} differ from the device's {}",
                activations_text(&self.activations),
                activations_text(&identity.activations)
            ));
        }
        if self.error_source != identity.error_source {
            return Err(format!(
                "the file was saved on a device with error source {}, but this device uses {}",
                error_source_name(self.error_source),
                error_source_name(identity.error_source)
            ));
        }
        Ok(())
    }
}

/// Returns the number of weights and biases of a network with `layers`, or `None` when it does
/// not fit a `usize`.
fn weight_count(layers: &[u32]) -> Option<usize> {
    layers.windows(2).try_fold(0usize, |total, pair| {
        let inputs = usize::try_from(pair[0]).ok()?.checked_add(1)?;
        let layer = inputs.checked_mul(usize::try_from(pair[1]).ok()?)?;
        total.checked_add(layer)
    })
}

/// Names the fields of a format error as a weights file does: `formats.weight_bits` where the
/// configuration file has `fixed.weight_bits`.
fn formats_error(error: ConfigError) -> String {
    match error {
        ConfigError::Invalid {
            field,
            value,
            allowed,
        } => format!(
            "`{}` is {value}, but it must be {}",
            field.replace("fixed.", "formats."),
            allowed.replace("fixed.", "formats.")
        ),
        other => other.to_string(),
    }
}

/// Lists number formats as `act_frac 12, weight_bits 32, ...`.
fn formats_text(f: &Formats) -> String {
    let fields: Vec<String> = f
        .fields()
        .iter()
        .map(|(key, value)| format!("{key} {value}"))
        .collect();
    fields.join(", ")
}

/// Lists activations by their configuration names: `[hard_sigmoid, linear]`.
fn activations_text(activations: &[Activation]) -> String {
    let names: Vec<&str> = activations.iter().map(|a| a.name()).collect();
    format!("[{}]", names.join(", "))
}

fn error_source_name(source: ErrorSource) -> &'static str {
    match source {
        ErrorSource::TauM => "tau_m",
        ErrorSource::TauR => "tau_r",
    }
}

fn words_crc(words: &[i32]) -> u32 {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    crc32(&bytes)
}

/// Runs `leap weights save` or `leap weights load`.
pub fn run(args: &WeightsArgs) -> anyhow::Result<()> {
    match &args.action {
        WeightsAction::Save(target) => save(target),
        WeightsAction::Load(target) => load(target),
    }
}

/// Reads the weight memory and writes it to the file atomically.
fn save(target: &WeightsTarget) -> anyhow::Result<()> {
    let mut device = Connection::open(target)?;
    let Some(count) = weight_count(&device.identity.layers) else {
        bail!(
            "{} reports layers {:?}, which have more weights and biases than this machine can address",
            device.description,
            device.identity.layers
        );
    };
    let words = read_weights(&mut device.link, &device.identity, count)?;
    let file = WeightsFile::new(&device.identity, words);
    let json = serde_json::to_string_pretty(&file)?;
    write_atomic(&target.file, json.as_bytes())?;

    info!(
        "saved {count} weight words of {} to {}",
        device.description,
        target.file.display()
    );
    println!(
        "saved {count} weights and biases of network {:?} from {} to {}",
        device.identity.layers,
        device.description,
        target.file.display()
    );
    Ok(())
}

/// Checks the file on its own and against the device, then writes its words to the device.
fn load(target: &WeightsTarget) -> anyhow::Result<()> {
    let file = WeightsFile::load(&target.file)?;
    let mut device = Connection::open(target)?;
    file.check_device(&device.identity).map_err(|reason| {
        anyhow::anyhow!(
            "weights file {} does not fit {}: {reason}. Load it into a device generated for its network, or save the weights of this device instead.",
            target.file.display(),
            device.description
        )
    })?;
    if (device.identity.weight_words as usize) < file.words.len() {
        bail!(
            "{} has {} weight words, but weights file {} contains {}",
            device.description,
            device.identity.weight_words,
            target.file.display(),
            file.words.len()
        );
    }
    write_weights(&mut device.link, &device.identity, &file.words)?;

    info!(
        "loaded {} weight words from {} into {}",
        file.words.len(),
        target.file.display(),
        device.description
    );
    println!(
        "loaded {} weights and biases of network {:?} from {} into {}",
        file.words.len(),
        file.layers,
        target.file.display(),
        device.description
    );
    Ok(())
}

/// A device that `leap weights` talks to, with its identity.
struct Connection {
    link: Link,
    identity: Identity,
    /// Names the device in messages: "the device at serial:/dev/pts/5@3000000", ...
    description: String,
}

impl Connection {
    /// Connects to the device of --port or --link, or builds the in-process software device,
    /// and identifies it.
    fn open(target: &WeightsTarget) -> anyhow::Result<Connection> {
        let (transport, description) = match target.link.link_spec() {
            Some(spec) => {
                let transport = spec
                    .open(CONNECT_TIMEOUT)
                    .with_context(|| format!("failed to connect to the device at {spec}"))?;
                (transport, format!("the device at {spec}"))
            }
            None => {
                if target.link.reply_timeout.is_some() {
                    bail!("--reply-timeout applies to a device behind a link: add --port PATH or --link SPEC, or remove it");
                }
                software_transport(target.device, target.config.as_deref())?
            }
        };
        let mut link = Link::new(transport, target.link.options());
        link.discard_input()?;
        let identity = match link.request(&Request::Identify)? {
            Reply::Identity(identity) => identity,
            other => bail!(
                "{} sent an unexpected reply to identify: {other:?}",
                link.endpoint()
            ),
        };
        if identity.layers.len() < 2 {
            bail!(
                "{description} reports a network of {} layers; it needs at least 2",
                identity.layers.len()
            );
        }
        Ok(Connection {
            link,
            identity,
            description,
        })
    }
}

/// Builds the software device of `config` (the default configuration without one) in this
/// process, with the initial weights that its `training.seed` selects.
fn software_transport(
    device: Option<DeviceKind>,
    config: Option<&Path>,
) -> anyhow::Result<(Box<dyn Transport>, String)> {
    match device.unwrap_or(DeviceKind::SoftwareFixed) {
        DeviceKind::SoftwareFixed => {}
        other => bail!(
            "leap weights works with software-fixed and with devices behind a link, not with {other}: weights files hold the engine's fixed-point words"
        ),
    }
    let (config, source) = match config {
        Some(path) => (
            load_config(path)?,
            format!("configuration file {}", path.display()),
        ),
        None => (Config::default(), "the default configuration".to_string()),
    };
    let device = SoftwareDevice::new(&config)
        .with_context(|| format!("{source} cannot run on the software-fixed device"))?;
    Ok((
        Box::new(InProcessTransport::new(device)),
        format!("the software-fixed device of {source}"),
    ))
}

/// Returns the words a read or write frame carries for a device with `identity`.
fn frame_words(identity: &Identity) -> usize {
    words_per_frame((identity.max_payload as usize).min(MAX_PAYLOAD)).max(1)
}

/// Reads the first `count` words of the weight memory in frames that fit the maximum payload.
fn read_weights(link: &mut Link, identity: &Identity, count: usize) -> anyhow::Result<Vec<i32>> {
    if (identity.weight_words as usize) < count {
        bail!(
            "{} reports {} weight words, fewer than the {count} its layers {:?} need",
            link.endpoint(),
            identity.weight_words,
            identity.layers
        );
    }
    let per_frame = frame_words(identity);
    let mut words = Vec::with_capacity(count);
    while words.len() < count {
        let offset = words.len() as u32;
        let chunk = (count - words.len()).min(per_frame) as u16;
        match link.request(&Request::ReadMemory {
            memory: Memory::Weights,
            offset,
            count: chunk,
        })? {
            Reply::MemoryData {
                memory: Memory::Weights,
                offset: o,
                words: read,
            } if o == offset && read.len() == chunk as usize => words.extend(read),
            other => bail!(
                "{} sent an unexpected reply to read memory: {other:?}",
                link.endpoint()
            ),
        }
    }
    Ok(words)
}

/// Writes `words` to the start of the weight memory in frames that fit the maximum payload.
fn write_weights(link: &mut Link, identity: &Identity, words: &[i32]) -> anyhow::Result<()> {
    let per_frame = frame_words(identity);
    for (index, chunk) in words.chunks(per_frame).enumerate() {
        let offset = (index * per_frame) as u32;
        let request = Request::WriteMemory {
            memory: Memory::Weights,
            offset,
            words: chunk.to_vec(),
        };
        match link.request(&request)? {
            Reply::MemoryWritten {
                memory: Memory::Weights,
                offset: o,
                count,
            } if o == offset && count as usize == chunk.len() => {}
            other => bail!(
                "{} sent an unexpected reply to write memory: {other:?}",
                link.endpoint()
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_count_of_networks() {
        assert_eq!(weight_count(&[4, 8, 3]), Some(5 * 8 + 9 * 3));
        assert_eq!(weight_count(&[2, 3, 2]), Some(3 * 3 + 4 * 2));
    }

    #[test]
    fn check_device_names_format_key() {
        let config = Config::default();
        let identity = Identity::for_config(&config, 2);
        let mut file = WeightsFile::new(&identity, Vec::new());
        assert_eq!(file.check_device(&identity), Ok(()));

        file.formats.weight_frac -= 1;
        let message = file.check_device(&identity).unwrap_err();
        let expected = format!(
            "formats.weight_frac = {}, but the device was built with weight_frac = {}",
            identity.formats.weight_frac - 1,
            identity.formats.weight_frac
        );
        assert!(message.contains(&expected), "{message}");
    }

    #[test]
    fn weight_count_overflow_is_none() {
        assert_eq!(weight_count(&[u32::MAX; 3]), None);
        assert_eq!(weight_count(&[u32::MAX; 40]), None);
    }
}

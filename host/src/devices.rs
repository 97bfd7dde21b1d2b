//! The devices that `leap` can train on, selected by name on the command line and in checkpoints.

use std::fmt;

use anyhow::Context;
use leap_model::{Config, Device, FixedModel, FloatModel};

/// A device that `leap` can build from a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// The bit-exact fixed-point golden model: the same arithmetic as the FPGA engine.
    SoftwareFixed,
    /// The f64 reference model, which also runs `training.batch_size` network copies.
    SoftwareFloat,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 2] = [DeviceKind::SoftwareFloat, DeviceKind::SoftwareFixed];

    /// Returns the name that the device reports and that checkpoints store.
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::SoftwareFixed => "software-fixed",
            DeviceKind::SoftwareFloat => "software-float",
        }
    }

    /// Looks up a device by its name.
    pub fn from_name(name: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Checks that the device can run `config`.
    ///
    /// The fixed-point model accepts fewer activations and only one network copy, so it
    /// needs `validate_fixed`.
    pub fn validate(self, config: &Config) -> Result<(), leap_model::config::ConfigError> {
        match self {
            DeviceKind::SoftwareFixed => config.validate_fixed(),
            DeviceKind::SoftwareFloat => config.validate(),
        }
    }

    /// Builds a fresh device with the initial weights that `training.seed` selects.
    pub fn build(self, config: &Config) -> anyhow::Result<Box<dyn Device>> {
        self.validate(config)
            .with_context(|| format!("the configuration cannot run on the {self} device"))?;
        let device: Box<dyn Device> = match self {
            DeviceKind::SoftwareFixed => Box::new(FixedModel::new(config)?),
            DeviceKind::SoftwareFloat => Box::new(FloatModel::new(config)?),
        };
        Ok(device)
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

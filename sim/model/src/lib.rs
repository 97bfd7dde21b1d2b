//! The LEAP specification: configuration, number formats, the float reference model and the
//! bit-exact fixed-point golden model of Latent Equilibrium (Haider et al., NeurIPS 2021).

pub mod config;
pub mod device;
pub mod fixed;
pub mod float;
pub mod format;
pub mod init;
pub mod protocol;
mod kernel;

pub use config::Config;
pub use device::{Device, DeviceError, Parameters, Snapshot};
pub use fixed::FixedModel;
pub use float::FloatModel;
pub use format::Formats;

//! Co-simulation of the LEAP blocks: Verilated RTL against references built from the golden
//! model's arithmetic primitives (`leap_model::format`).
//!
//! The references here are written from the format rules (`shift_round`, `realign`, saturation,
//! `Coefficient::apply`, `update_weight`), not from the HDL, so a test compares two independent
//! descriptions of the same arithmetic.

pub mod board;
pub mod device;
pub mod engine;
pub mod reference;
pub mod simulated;
pub mod stimulus;

pub use device::VerilatorDevice;
pub use simulated::SimulatedBoard;

/// Formats a list of named values as `name=value` pairs for mismatch reports.
pub fn describe(values: &[(&str, i64)]) -> String {
    values
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

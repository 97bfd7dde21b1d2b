
pub mod data;

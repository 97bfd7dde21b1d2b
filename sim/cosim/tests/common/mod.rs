//! Code shared by several test binaries of leap-cosim. Each binary uses a part of it, so items
//! one binary leaves unused are allowed.
#![allow(dead_code)]

pub mod up5k;
pub mod yosys;

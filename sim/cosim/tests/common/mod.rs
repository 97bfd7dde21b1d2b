//! Code shared by several test binaries of leap-cosim.

pub mod up5k;

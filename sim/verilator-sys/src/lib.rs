//! Verilator models of the LEAP blocks and a safe API to drive them.
//!
//! The build script emits each model's Verilog with leap-hdl, verilates it with
//! `--x-initial unique`, and links it with a small C ABI shim. Every model starts with random
//! values in each register and memory that has no reset (seeded by [`Model::new`]), so a missing
//! reset shows up as a mismatch. State is read through top-level ports only.
//!
//! ```no_run
//! use leap_verilator_sys::Model;
//! let mut lane = Model::new("lane", 1);
//! let valid = lane.port("valid");
//! lane.reset(2);
//! lane.set(valid, 1);
//! lane.clock();
//! ```

use std::ffi::{c_char, c_int, c_void, CString};
use std::fmt;
use std::path::Path;

mod variants;
pub use variants::{
    alternate_formats, bench_variant_specs, netlist_variant_specs, network_config,
    variant_specs, EngineSize, LinkSize, Netlist, VariantSpec,
};

/// A port of a model's top level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortInfo {
    pub name: &'static str,
    pub width: usize,
    pub input: bool,
}

struct VariantFunctions {
    name: &'static str,
    ports: &'static [PortInfo],
    new: unsafe extern "C" fn(u32) -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void),
    eval: unsafe extern "C" fn(*mut c_void, u64),
    set: unsafe extern "C" fn(*mut c_void, u32, u64),
    get: unsafe extern "C" fn(*mut c_void, u32) -> u64,
    trace_open: unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int,
    trace_close: unsafe extern "C" fn(*mut c_void),
}

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// Names of the models this crate was built with.
pub fn model_names() -> Vec<&'static str> {
    VARIANTS.iter().map(|v| v.name).collect()
}

/// A handle to one port of a [`Model`], from [`Model::port`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortId {
    index: u32,
    width: usize,
    input: bool,
}

impl PortId {
    pub fn width(&self) -> usize {
        self.width
    }
}

/// One instance of a Verilated model. It is not `Send`: Verilator binds a model to the thread
/// that created it.
pub struct Model {
    functions: &'static VariantFunctions,
    handle: *mut c_void,
    clock: Option<PortId>,
    reset: Option<PortId>,
    /// Simulation time in half clock periods.
    time: u64,
    cycles: u64,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.functions.name)
            .field("cycles", &self.cycles)
            .finish()
    }
}

impl Model {
    /// Creates an instance of the model `name` (see [`model_names`]); `seed` seeds the random
    /// initial values of registers and memories without a reset.
    ///
    /// Panics when no model has that name.
    pub fn new(name: &str, seed: u32) -> Model {
        let functions = VARIANTS.iter().find(|v| v.name == name).unwrap_or_else(|| {
            panic!(
                "no Verilator model named `{name}`: this crate was built with {:?}",
                model_names()
            )
        });
        // SAFETY: the shim returns a fresh, owned simulation handle that `Drop` frees once.
        let handle = unsafe { (functions.new)(seed) };
        assert!(!handle.is_null(), "the shim failed to create model {name}");
        let mut model = Model {
            functions,
            handle,
            clock: None,
            reset: None,
            time: 0,
            cycles: 0,
        };
        model.clock = model.find_port("clock");
        model.reset = model.find_port("reset");
        model.eval();
        model
    }

    pub fn name(&self) -> &'static str {
        self.functions.name
    }

    /// Returns the ports of the model's top level.
    pub fn ports(&self) -> &'static [PortInfo] {
        self.functions.ports
    }

    fn find_port(&self, name: &str) -> Option<PortId> {
        self.functions
            .ports
            .iter()
            .position(|p| p.name == name)
            .map(|i| PortId {
                index: i as u32,
                width: self.functions.ports[i].width,
                input: self.functions.ports[i].input,
            })
    }

    /// Looks up a port by name. Panics with the list of ports when there is none of that name.
    pub fn port(&self, name: &str) -> PortId {
        self.find_port(name).unwrap_or_else(|| {
            let names: Vec<_> = self.functions.ports.iter().map(|p| p.name).collect();
            panic!(
                "model {} has no port `{name}`; its ports are {names:?}",
                self.functions.name
            )
        })
    }

    /// Drives an input port with the low `width` bits of `value` (two's complement for negative
    /// values). Takes effect at the next [`Model::eval`] or [`Model::clock`].
    pub fn set(&mut self, port: PortId, value: i64) {
        assert!(
            port.input,
            "port {} of model {} is an output",
            self.functions.ports[port.index as usize].name,
            self.name()
        );
        // SAFETY: the handle is live and the shim masks the value to the port width.
        unsafe { (self.functions.set)(self.handle, port.index, value as u64) }
    }

    /// Reads a port as an unsigned number.
    pub fn get(&self, port: PortId) -> u64 {
        // SAFETY: the handle is live and the index is one of this model's ports.
        unsafe { (self.functions.get)(self.handle, port.index) }
    }

    /// Reads a port as a two's-complement number of the port's width.
    pub fn get_signed(&self, port: PortId) -> i64 {
        let raw = self.get(port);
        if port.width >= 64 {
            raw as i64
        } else {
            ((raw << (64 - port.width)) as i64) >> (64 - port.width)
        }
    }

    /// Evaluates the combinational logic after inputs changed.
    pub fn eval(&mut self) {
        // SAFETY: the handle is live.
        unsafe { (self.functions.eval)(self.handle, self.time) }
    }

    /// Runs one clock cycle: a falling edge, then a rising edge that updates the registers.
    /// Outputs read afterwards show the state after the rising edge.
    ///
    /// Panics when the model has no `clock` port.
    pub fn clock(&mut self) {
        let clock = self
            .clock
            .unwrap_or_else(|| panic!("model {} has no clock port", self.name()));
        self.set(clock, 0);
        self.eval();
        self.time += 1;
        self.set(clock, 1);
        self.eval();
        self.time += 1;
        self.cycles += 1;
    }

    /// Holds `reset` high for `cycles` clock cycles, then low.
    ///
    /// Panics when the model has no `reset` port.
    pub fn reset(&mut self, cycles: u32) {
        let reset = self
            .reset
            .unwrap_or_else(|| panic!("model {} has no reset port", self.name()));
        self.set(reset, 1);
        for _ in 0..cycles {
            self.clock();
        }
        self.set(reset, 0);
        self.eval();
    }

    /// Clock cycles run so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Starts writing a VCD trace of every signal to `path`, from the next evaluation on.
    pub fn trace(&mut self, path: &Path) -> std::io::Result<()> {
        let text = path.to_str().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("trace path {} is not UTF-8", path.display()),
            )
        })?;
        let c_path = CString::new(text).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "trace path contains a NUL byte",
            )
        })?;
        // SAFETY: the handle is live and the path outlives the call.
        let ok = unsafe { (self.functions.trace_open)(self.handle, c_path.as_ptr()) };
        if ok == 0 {
            return Err(std::io::Error::other(format!(
                "Verilator could not open the trace file {}",
                path.display()
            )));
        }
        Ok(())
    }

    /// Stops tracing and closes the trace file; does nothing when no trace is open.
    pub fn stop_trace(&mut self) {
        // SAFETY: the handle is live.
        unsafe { (self.functions.trace_close)(self.handle) }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the handle came from `new` and is freed only here.
        unsafe { (self.functions.free)(self.handle) }
    }
}

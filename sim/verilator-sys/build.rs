//! Emits the Verilog of every model with leap-hdl, verilates it, archives the Verilator runtime,
//! compiles the C ABI shim and writes the Rust bindings.
//!
//! Needs `verilator` (5.006 or newer), `make`, `ar` and a C++ compiler on PATH.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use leap_hdl::board::BoardConfig;
use leap_hdl::engine::EngineParams;
use leap_hdl::link::LinkParams;
use leap_hdl::{
    emit, emit_board, emit_board_axis, emit_engine, emit_executor, emit_link, Design, Direction,
    Port,
};

include!("src/variants.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/variants.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    check_verilator();
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_BENCH_ENGINES");
    let mut variants = variant_specs();
    if std::env::var_os("CARGO_FEATURE_BENCH_ENGINES").is_some() {
        variants.extend(bench_variant_specs());
    }
    println!("cargo:rerun-if-env-changed=CARGO_FEATURE_POST_SYNTHESIS");
    if std::env::var_os("CARGO_FEATURE_POST_SYNTHESIS").is_some() {
        variants.extend(netlist_variant_specs());
    }
    let mut built = Vec::new();
    for spec in &variants {
        let name = spec.name;
        let emitted = match spec.design {
            "executor" => emit_executor(&board_config(spec)),
            "board" => emit_board(&board_config(spec), &link_params(spec), true),
            "board_bytes" => emit_board(&board_config(spec), &link_params(spec), false),
            "board_axis" => emit_board_axis(&board_config(spec), &link_params(spec)),
            other if other.starts_with("board:") => emit_board_top(&other["board:".len()..]),
            _ => {
                let design = Design::from_name(spec.design).unwrap_or_else(|| {
                    panic!("variant {name} names unknown design {}", spec.design)
                });
                match design {
                    Design::Engine => emit_engine(&spec.formats, &engine_params(spec)),
                    Design::Decoder | Design::Encoder | Design::Uart => {
                        emit_link(design, &link_params(spec))
                    }
                    _ => emit(design, &spec.formats),
                }
            }
        };
        for port in &emitted.ports {
            assert!(
                port.width <= 64,
                "port {}.{} is {} bits wide; the shim handles at most 64",
                name,
                port.name,
                port.width
            );
        }
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).expect("cannot create the model directory in OUT_DIR");
        let source = dir.join(format!("{name}.v"));
        std::fs::write(&source, &emitted.verilog).expect("cannot write the Verilog source");
        match spec.netlist {
            None => verilate(name, &[source], &[], &dir),
            Some(netlist) => {
                let (sources, flags) = synthesise(name, netlist, &source, &dir);
                verilate(name, &sources, &flags, &dir);
            }
        }
        built.push((name, dir, emitted.ports));
    }

    let runtime = archive_runtime(built[0].0, &built[0].1);
    let cppflags = model_cppflags(built[0].0, &built[0].1);
    compile_shim(&built, &cppflags, &out);

    // Link order: the shim (compiled above), the model archives, the runtime, then the C++
    // standard library and pthread.
    let lib_dir = out.join("lib");
    std::fs::create_dir_all(&lib_dir).expect("cannot create OUT_DIR/lib");
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    for (name, dir, _) in &built {
        let archive = dir.join(format!("V{name}__ALL.a"));
        std::fs::copy(&archive, lib_dir.join(format!("libV{name}__ALL.a")))
            .expect("cannot copy the model archive");
        println!("cargo:rustc-link-lib=static=V{name}__ALL");
    }
    std::fs::copy(&runtime, lib_dir.join("libleap_verilated_runtime.a"))
        .expect("cannot copy the runtime archive");
    println!("cargo:rustc-link-lib=static=leap_verilated_runtime");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");

    write_bindings(&built, &out);
}

/// Emits the simulation top level of a board of LEAP's board table, from a variant design
/// `board:NAME` (the board core) or `board:NAME:DESIGN` (a `leap_hdl::boards::BoardDesign`).
fn emit_board_top(design: &str) -> leap_hdl::Emitted {
    let path = leap_hdl::boards::BoardTable::default_path();
    println!("cargo:rerun-if-changed={}", path.display());
    let (board, core) = match design.split_once(':') {
        Some((board, core)) => (
            board,
            leap_hdl::boards::BoardDesign::from_name(core).unwrap_or_else(|e| panic!("{e}")),
        ),
        None => (design, leap_hdl::boards::BoardDesign::Core),
    };
    let table = leap_hdl::boards::BoardTable::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let plan = table
        .board(board)
        .and_then(|b| b.plan())
        .unwrap_or_else(|e| panic!("{e}"));
    leap_hdl::boards::emit_board_simulation(&plan, core).unwrap_or_else(|e| panic!("{e}"))
}

fn engine_params(spec: &VariantSpec) -> EngineParams {
    let mut params = EngineParams {
        lanes: spec.lanes,
        ..EngineParams::default()
    };
    if let Some(size) = spec.size {
        params.max_layers = size.max_layers;
        params.state_words = size.state_words;
        params.max_rows = size.max_rows;
        params.max_columns = size.max_columns;
        params.max_inputs = size.max_inputs;
        params.weight_words = size.weight_words;
    }
    params
}

/// Returns the board of a board variant: its network, the engine of `spec` and the protocol's
/// maximum payload.
fn board_config(spec: &VariantSpec) -> BoardConfig {
    let network = spec
        .network
        .unwrap_or_else(|| panic!("board variant {} names no network", spec.name));
    let mut config = network_config(network);
    config.fixed = spec.formats;
    BoardConfig {
        config,
        engine: engine_params(spec),
        max_payload: leap_model::protocol::MAX_PAYLOAD,
    }
}

fn link_params(spec: &VariantSpec) -> LinkParams {
    let mut params = LinkParams::default();
    if let Some(link) = spec.link {
        params.max_payload = link.max_payload;
        params.timeout_clocks = link.timeout_clocks;
        params.clocks_per_bit = link.clocks_per_bit;
    }
    if let Err(e) = params.validate() {
        panic!("variant {} has invalid link parameters: {e}", spec.name);
    }
    params
}

fn check_verilator() {
    match Command::new("verilator").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "`verilator --version` failed ({}): {}. Reinstall it with apt-get install verilator",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(e) => panic!(
            "verilator was not found on PATH ({e}). It is needed to build the LEAP co-simulation models: \
             install it with apt-get install verilator"
        ),
    }
}

fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Returns the directory of yosys's shared data (cell models), or panics with what to install.
///
/// `yosys-config --datdir` names it where yosys's development files are installed. Otherwise it
/// is `share/yosys` beside the `bin` directory of the `yosys` on PATH, as Debian installs it.
fn yosys_datdir() -> PathBuf {
    if let Ok(output) = Command::new("yosys-config").arg("--datdir").output() {
        if output.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        }
    }
    let yosys = std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("yosys"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "yosys was not found on PATH. The post-synthesis models need it: install it with \
                 apt-get install yosys (or scripts/setup.sh), or build without the post-synthesis \
                 feature"
            )
        });
    let datdir = yosys
        .parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join("share/yosys"))
        .filter(|dir| dir.join("ice40/cells_sim.v").is_file())
        .unwrap_or_else(|| {
            panic!(
                "yosys's cell models were not found beside {} and yosys-config is missing: \
                 install yosys-dev, which provides yosys-config --datdir",
                yosys.display()
            )
        });
    datdir
}

/// Synthesises `source` with yosys into `dir/<name>_netlist.v` and returns the files and extra
/// Verilator flags that simulate the netlist with yosys's cell models.
fn synthesise(
    name: &str,
    netlist: Netlist,
    source: &Path,
    dir: &Path,
) -> (Vec<PathBuf>, Vec<String>) {
    let cells = yosys_datdir().join(netlist.cell_directory());
    let output = dir.join(format!("{name}_netlist.v"));
    let script = format!(
        "read_verilog {}; {}; write_verilog -noattr {}",
        source.display(),
        netlist.synth_command(),
        output.display()
    );
    run(
        Command::new("yosys").args(["-q", "-p", &script]),
        &format!("synthesising {name} with yosys (install yosys with apt-get install yosys)"),
    );
    // Verilator 5.006 cannot parse default values of input ports. The iCE40 models give them
    // unless this macro is defined, and the netlist connects every input it uses.
    let flags = vec![
        "-DNO_ICE40_DEFAULT_ASSIGNMENTS".to_string(),
        format!("-I{}", cells.display()),
        // The cell models are vendor Verilog: their lint findings are not the design's.
        "-Wno-lint".to_string(),
        "-Wno-style".to_string(),
        "-Wno-MULTIDRIVEN".to_string(),
        // Trace the ports only, and optimise the C++ less: a netlist has thousands of cell
        // instances, and -O2 with full tracing takes several minutes to compile per model.
        "--trace-depth".to_string(),
        "1".to_string(),
        "-CFLAGS".to_string(),
        "-O1".to_string(),
    ];
    let mut sources = vec![output.clone(), cells.join("cells_sim.v")];
    if netlist == Netlist::Ecp5 {
        sources.push(write_ecp5_multiplier_model(&cells, &output, dir));
    }
    (sources, flags)
}

/// Writes a simulation model of the ECP5 `MULT18X18D` and returns its path.
///
/// Yosys ships `MULT18X18D` only as a black box (`ecp5/cells_bb.v`). The model keeps that
/// declaration's ports and parameters and adds the combinational product: each 18-bit operand is
/// signed when its SIGNEDA or SIGNEDB pin is high, and P is the low 36 bits of the product.
/// `synth_ecp5` leaves every multiplier register off (REG_*_CLK = "NONE"), and the model
/// panics the build when the netlist enables one, because it has no registers.
fn write_ecp5_multiplier_model(cells: &Path, netlist: &Path, dir: &Path) -> PathBuf {
    let netlist_text = std::fs::read_to_string(netlist).expect("cannot read the ECP5 netlist");
    assert!(
        !netlist_text.contains("_CLK(\"CLK"),
        "the ECP5 netlist {} registers a MULT18X18D port, which the multiplier model does not \
         simulate",
        netlist.display()
    );

    let black_boxes = std::fs::read_to_string(cells.join("cells_bb.v"))
        .expect("cannot read yosys's ecp5/cells_bb.v");
    let start = black_boxes
        .find("module MULT18X18D(")
        .expect("ecp5/cells_bb.v declares MULT18X18D");
    let end = start
        + black_boxes[start..]
            .find("endmodule")
            .expect("the MULT18X18D declaration ends");
    let bus = |prefix: &str, width: usize| -> String {
        let bits: Vec<String> = (0..width).rev().map(|i| format!("{prefix}{i}")).collect();
        format!("{{{}}}", bits.join(", "))
    };
    let body = format!(
        "\twire [17:0] a = {a};\n\
         \twire [17:0] b = {b};\n\
         \twire [17:0] c = {c};\n\
         \twire signed [18:0] a_operand = {{SIGNEDA & a[17], a}};\n\
         \twire signed [18:0] b_operand = {{SIGNEDB & b[17], b}};\n\
         \twire signed [37:0] product = a_operand * b_operand;\n\
         \tassign {p} = product[35:0];\n\
         \tassign SIGNEDP = SIGNEDA | SIGNEDB;\n\
         \tassign {roa} = a;\n\
         \tassign {rob} = b;\n\
         \tassign {roc} = c;\n\
         \tassign {sroa} = a;\n\
         \tassign {srob} = b;\n",
        a = bus("A", 18),
        b = bus("B", 18),
        c = bus("C", 18),
        p = bus("P", 36),
        roa = bus("ROA", 18),
        rob = bus("ROB", 18),
        roc = bus("ROC", 18),
        sroa = bus("SROA", 18),
        srob = bus("SROB", 18),
    );
    let model = format!(
        "// Simulation model of MULT18X18D for the post-synthesis co-simulation, written by the\n\
         // leap-verilator-sys build script from yosys's black-box declaration.\n{}{}endmodule\n",
        &black_boxes[start..end],
        body
    );
    let path = dir.join("mult18x18d_model.v");
    std::fs::write(&path, model).expect("cannot write the MULT18X18D model");
    path
}

/// Builds `V<name>__ALL.a` in `dir` from `sources`. Warnings do not stop the build; the
/// co-simulation crate's lint test is the gate for them.
fn verilate(name: &str, sources: &[PathBuf], flags: &[String], dir: &Path) {
    run(
        Command::new("verilator")
            .args([
                "--cc",
                "--build",
                "-Wno-fatal",
                "-O3",
                "--x-initial",
                "unique",
                "--x-assign",
                "unique",
                "--trace",
                // rust-hdl emits Verilog-2005, and the link blocks have ports named `byte`,
                // which is a keyword in SystemVerilog, Verilator's default language.
                "--default-language",
                "1364-2005",
            ])
            .args(["--top-module", "top", "--prefix", &format!("V{name}")])
            .arg("-Mdir")
            .arg(dir)
            .args(["-CFLAGS", "-O2", "-j", "2"])
            .args(flags)
            .args(sources),
        &format!("verilating {name}"),
    );
}

/// Writes a makefile that includes the model's own makefile, so the runtime objects it lists
/// (`VK_GLOBAL_OBJS`) are compiled with the same flags and defines as the model.
fn write_extra_makefile(name: &str, dir: &Path) -> PathBuf {
    let path = dir.join("leap_extra.mk");
    let text = format!(
        "include V{name}.mk\n\n\
         leap_verilated_runtime.a: $(VK_GLOBAL_OBJS)\n\t$(AR) -rcs $@ $^\n\n\
         leap-print-cppflags:\n\t@echo $(CPPFLAGS) $(OPT_FAST)\n"
    );
    std::fs::write(&path, text).expect("cannot write the extra makefile");
    path
}

fn archive_runtime(name: &str, dir: &Path) -> PathBuf {
    let makefile = write_extra_makefile(name, dir);
    run(
        Command::new("make")
            .arg("-C")
            .arg(dir)
            .arg("-f")
            .arg(&makefile)
            .args(["-j", "2", "leap_verilated_runtime.a"]),
        "archiving the Verilator runtime",
    );
    dir.join("leap_verilated_runtime.a")
}

/// Returns the preprocessor and optimisation flags that the model makefile compiles with.
fn model_cppflags(name: &str, dir: &Path) -> Vec<String> {
    let makefile = write_extra_makefile(name, dir);
    let text = run(
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(dir)
            .arg("-f")
            .arg(&makefile)
            .arg("leap-print-cppflags"),
        "reading the model's compiler flags",
    );
    text.split_whitespace().map(str::to_string).collect()
}

fn shim_source(name: &str, ports: &[Port]) -> String {
    let class = format!("V{name}");
    let mut set_cases = String::new();
    let mut get_cases = String::new();
    for (index, port) in ports.iter().enumerate() {
        let mask = if port.width == 64 {
            u64::MAX
        } else {
            (1u64 << port.width) - 1
        };
        if port.direction == Direction::Input {
            writeln!(
                set_cases,
                "        case {index}: s->top->{} = value & 0x{mask:x}ULL; break;",
                port.name
            )
            .unwrap();
        }
        writeln!(
            get_cases,
            "        case {index}: return (uint64_t)s->top->{} & 0x{mask:x}ULL;",
            port.name
        )
        .unwrap();
    }
    format!(
        r#"
#include "{class}.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdint>

namespace {{
struct Sim_{name} {{
    VerilatedContext* context;
    {class}* top;
    VerilatedVcdC* vcd;
}};
}}

extern "C" void* leap_{name}_new(uint32_t seed) {{
    Sim_{name}* s = new Sim_{name};
    s->context = new VerilatedContext;
    // Random initial values for every register and memory without a reset (--x-initial unique).
    s->context->randReset(2);
    s->context->randSeed((int)(seed & 0x7fffffff) | 1);
    s->context->traceEverOn(true);
    Verilated::threadContextp(s->context);
    s->top = new {class}{{s->context, "top"}};
    s->vcd = nullptr;
    return s;
}}

extern "C" void leap_{name}_free(void* handle) {{
    Sim_{name}* s = static_cast<Sim_{name}*>(handle);
    if (s->vcd) {{ s->vcd->close(); delete s->vcd; }}
    s->top->final();
    delete s->top;
    delete s->context;
    delete s;
}}

extern "C" void leap_{name}_eval(void* handle, uint64_t time) {{
    Sim_{name}* s = static_cast<Sim_{name}*>(handle);
    s->context->time(time);
    s->top->eval();
    if (s->vcd) s->vcd->dump(time);
}}

extern "C" void leap_{name}_set(void* handle, uint32_t port, uint64_t value) {{
    Sim_{name}* s = static_cast<Sim_{name}*>(handle);
    switch (port) {{
{set_cases}        default: break;
    }}
}}

extern "C" uint64_t leap_{name}_get(void* handle, uint32_t port) {{
    Sim_{name}* s = static_cast<Sim_{name}*>(handle);
    switch (port) {{
{get_cases}        default: return 0;
    }}
}}

extern "C" int leap_{name}_trace_open(void* handle, const char* path) {{
    Sim_{name}* s = static_cast<Sim_{name}*>(handle);
    if (s->vcd) return 1;
    s->vcd = new VerilatedVcdC;
    s->top->trace(s->vcd, 99);
    s->vcd->open(path);
    return s->vcd->isOpen() ? 1 : 0;
}}

extern "C" void leap_{name}_trace_close(void* handle) {{
    Sim_{name}* s = static_cast<Sim_{name}*>(handle);
    if (s->vcd) {{ s->vcd->close(); delete s->vcd; s->vcd = nullptr; }}
}}
"#
    )
}

fn compile_shim(built: &[(&str, PathBuf, Vec<Port>)], cppflags: &[String], out: &Path) {
    let mut build = cc::Build::new();
    build.cpp(true).cpp_link_stdlib(None).warnings(false);
    for flag in cppflags {
        // `-I.` in the model makefile means the model directory; each shim adds its own below.
        if flag != "-I." {
            build.flag(flag);
        }
    }
    for (name, dir, ports) in built {
        let path = out.join(format!("shim_{name}.cpp"));
        std::fs::write(&path, shim_source(name, ports)).expect("cannot write the shim source");
        build.include(dir);
        build.file(&path);
    }
    build.compile("leap_verilator_shim");
}

fn write_bindings(built: &[(&str, PathBuf, Vec<Port>)], out: &Path) {
    let mut text = String::new();
    for (name, _, _) in built {
        writeln!(
            text,
            "extern \"C\" {{\n\
             \x20   fn leap_{name}_new(seed: u32) -> *mut c_void;\n\
             \x20   fn leap_{name}_free(handle: *mut c_void);\n\
             \x20   fn leap_{name}_eval(handle: *mut c_void, time: u64);\n\
             \x20   fn leap_{name}_set(handle: *mut c_void, port: u32, value: u64);\n\
             \x20   fn leap_{name}_get(handle: *mut c_void, port: u32) -> u64;\n\
             \x20   fn leap_{name}_trace_open(handle: *mut c_void, path: *const c_char) -> c_int;\n\
             \x20   fn leap_{name}_trace_close(handle: *mut c_void);\n\
             }}"
        )
        .unwrap();
    }
    writeln!(text, "static VARIANTS: &[VariantFunctions] = &[").unwrap();
    for (name, _, ports) in built {
        let ports_text: Vec<String> = ports
            .iter()
            .map(|p| {
                format!(
                    "PortInfo {{ name: {:?}, width: {}, input: {} }}",
                    p.name,
                    p.width,
                    p.direction == Direction::Input
                )
            })
            .collect();
        writeln!(
            text,
            "    VariantFunctions {{ name: {name:?}, ports: &[{}], new: leap_{name}_new, free: leap_{name}_free, \
             eval: leap_{name}_eval, set: leap_{name}_set, get: leap_{name}_get, \
             trace_open: leap_{name}_trace_open, trace_close: leap_{name}_trace_close }},",
            ports_text.join(", ")
        )
        .unwrap();
    }
    writeln!(text, "];").unwrap();
    std::fs::write(out.join("bindings.rs"), text).expect("cannot write the bindings");
}

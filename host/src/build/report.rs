//! Resource use and timing from yosys's `stat -json` and nextpnr's `--report` JSON.

use std::path::Path;

use anyhow::{Context, Result};
use leap_hdl::boards::Family;
use serde_json::Value;

/// Use of one kind of FPGA resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// LUT, FF, LC, BRAM or DSP.
    pub name: &'static str,
    pub used: u64,
    /// Cells of this kind on the device, when the tool reports it.
    pub available: Option<u64>,
}

/// Resource use of a placed design.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Utilisation {
    pub resources: Vec<Resource>,
}

impl Utilisation {
    /// Returns the use of resource `name`.
    pub fn get(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }
}

/// The frequency one clock reached in place and route.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockTiming {
    pub clock: String,
    pub achieved_mhz: f64,
    /// The engine clock the PLL produces.
    pub required_mhz: f64,
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Counts the cells of yosys's top module whose type `matches`.
fn count_cells(stat: &Value, matches: impl Fn(&str) -> bool) -> u64 {
    let cells = &stat["modules"]["\\top"]["num_cells_by_type"];
    cells
        .as_object()
        .map(|types| {
            types
                .iter()
                .filter(|(name, _)| matches(name))
                .filter_map(|(_, count)| count.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

/// Returns nextpnr's (used, available) count of a bel type.
fn bel_use(pnr: &Value, bel: &str) -> (u64, Option<u64>) {
    let entry = &pnr["utilization"][bel];
    (
        entry["used"].as_u64().unwrap_or(0),
        entry["available"].as_u64(),
    )
}

/// Reads the resource use of a design from yosys's `stat -json` output and nextpnr's report.
pub fn utilisation(family: Family, stat_path: &Path, pnr_path: &Path) -> Result<Utilisation> {
    let pnr = read_json(pnr_path)?;
    let resource = |name, (used, available): (u64, Option<u64>)| Resource {
        name,
        used,
        available,
    };
    let resources = match family {
        Family::Ice40 => {
            // An iCE40 logic cell holds one LUT4 and one flip-flop, so LUTs and FFs are counted
            // from the netlist and the logic cells from the placement.
            let stat = read_json(stat_path)?;
            let (cells, available) = bel_use(&pnr, "ICESTORM_LC");
            vec![
                resource("LUT", (count_cells(&stat, |t| t == "SB_LUT4"), available)),
                resource(
                    "FF",
                    (count_cells(&stat, |t| t.starts_with("SB_DFF")), available),
                ),
                resource("LC", (cells, available)),
                resource("BRAM", bel_use(&pnr, "ICESTORM_RAM")),
                resource("DSP", bel_use(&pnr, "ICESTORM_DSP")),
            ]
        }
        Family::Ecp5 => vec![
            resource("LUT", bel_use(&pnr, "TRELLIS_COMB")),
            resource("FF", bel_use(&pnr, "TRELLIS_FF")),
            resource("BRAM", bel_use(&pnr, "DP16KD")),
            resource("DSP", bel_use(&pnr, "MULT18X18D")),
        ],
        Family::Xilinx7 => Vec::new(),
    };
    Ok(Utilisation { resources })
}

/// Reads the achieved frequency of every clock from nextpnr's report.
pub fn timing(pnr_path: &Path, required_mhz: f64) -> Result<Vec<ClockTiming>> {
    let pnr = read_json(pnr_path)?;
    let Some(clocks) = pnr["fmax"].as_object() else {
        return Ok(Vec::new());
    };
    let mut timing: Vec<_> = clocks
        .iter()
        .filter_map(|(clock, entry)| {
            Some(ClockTiming {
                clock: clock.clone(),
                achieved_mhz: entry["achieved"].as_f64()?,
                required_mhz,
            })
        })
        .collect();
    timing.sort_by(|a, b| a.clock.cmp(&b.clock));
    Ok(timing)
}

//! Resource use and timing from yosys's `stat -json` and nextpnr's `--report` JSON.

use std::path::Path;

use anyhow::{Context, Result};
use leap_hdl::boards::{BoardPlan, Family};
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

/// One kind of cell that place and route found more of than the device has.
#[derive(Clone, Debug, PartialEq)]
pub struct Overflow {
    /// nextpnr's bel type, such as `ICESTORM_DSP`.
    pub bel: String,
    pub used: u64,
    pub available: u64,
}

/// Returns the vendor cell a nextpnr bel type implements, for error messages.
fn bel_description(bel: &str) -> Option<&'static str> {
    Some(match bel {
        "ICESTORM_LC" => "logic cells, each an SB_LUT4 and an SB_DFF",
        "ICESTORM_RAM" => "SB_RAM40_4K block RAMs",
        "ICESTORM_DSP" => "SB_MAC16 multipliers",
        "ICESTORM_SPRAM" => "SB_SPRAM256KA RAMs",
        "TRELLIS_COMB" => "LUT4s",
        "TRELLIS_FF" => "flip-flops",
        "TRELLIS_RAMW" => "distributed RAM write ports",
        "DP16KD" => "DP16KD block RAMs",
        "MULT18X18D" => "MULT18X18D multipliers",
        "ALU54B" => "ALU54B accumulators",
        _ => return None,
    })
}

/// Reads the bel types whose use exceeds the device from nextpnr's "Device utilisation" lines,
/// such as `Info:         ICESTORM_DSP:    11/     8   137%`.
pub fn overflows(log: &str) -> Vec<Overflow> {
    let mut found = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("Info:") else {
            continue;
        };
        let Some((bel, counts)) = rest.trim().split_once(':') else {
            continue;
        };
        let Some((used, rest)) = counts.trim().split_once('/') else {
            continue;
        };
        let available = rest.split_whitespace().next().unwrap_or("");
        let (Ok(used), Ok(available)) = (used.trim().parse::<u64>(), available.parse::<u64>())
        else {
            continue;
        };
        let bel = bel.trim();
        let is_name = !bel.is_empty() && bel.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_name && used > available && !found.iter().any(|o: &Overflow| o.bel == bel) {
            found.push(Overflow {
                bel: bel.to_string(),
                used,
                available,
            });
        }
    }
    found
}

/// Replaces a failed place and route's error with one that names every resource the design
/// needs more of than the board's device has, when nextpnr's log at `log_path` shows any.
/// Otherwise returns `error` unchanged.
pub fn explain_overflow(error: anyhow::Error, plan: &BoardPlan, log_path: &Path) -> anyhow::Error {
    let Ok(log) = std::fs::read_to_string(log_path) else {
        return error;
    };
    let found = overflows(&log);
    if found.is_empty() {
        return error;
    }
    let board = &plan.board;
    let part = &board.part;
    let needs: Vec<String> = found
        .iter()
        .map(|o| {
            let what = match bel_description(&o.bel) {
                Some(cells) => format!("{} ({cells})", o.bel),
                None => o.bel.clone(),
            };
            format!("needs {} {what}, the {part} has {}", o.used, o.available)
        })
        .collect();
    anyhow::anyhow!(
        "the design does not fit board {}: it {}. Lower engine.lanes, the engine memories or \
         uart.max_payload of boards.{} in the board table, or build the link bring-up design \
         with --design loopback. nextpnr's log: {}",
        board.name,
        needs.join("; it "),
        board.name,
        log_path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflows_read_from_utilisation_lines() {
        let log = "Info: Device utilisation:\n\
                   Info: \t         ICESTORM_LC:  5984/ 5280   113%\n\
                   Info: \t        ICESTORM_RAM:    20/   30    66%\n\
                   Info: \t               SB_IO:     3/   96     3%\n\
                   Info: \t        ICESTORM_DSP:    11/    8   137%\n\
                   Info: Placed 3 cells based on constraints.\n\
                   ERROR: Unable to place cell 'x', no BELs remaining\n";
        let found = overflows(log);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0],
            Overflow {
                bel: "ICESTORM_LC".into(),
                used: 5984,
                available: 5280
            }
        );
        assert_eq!(
            found[1],
            Overflow {
                bel: "ICESTORM_DSP".into(),
                used: 11,
                available: 8
            }
        );
    }

    #[test]
    fn overflows_empty_when_design_fits() {
        let log = "Info: \t        ICESTORM_DSP:     8/    8   100%\nInfo: Max frequency for clock: 40 MHz\n";
        assert!(overflows(log).is_empty());
    }
}

//! The board table: every entry parses and plans, its pins match its constraint file, the PLL
//! searches agree with icestorm's icepll, and the board top levels instantiate the PLL with the
//! planned dividers.

use std::path::Path;
use std::process::Command;

use leap_hdl::boards::pll::Ice40PllSettings;
use leap_hdl::boards::{self, constraints, BoardDesign, BoardTable, PllPlan};

fn table() -> BoardTable {
    BoardTable::load(&BoardTable::default_path()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_board_plans_and_matches_its_constraints() {
    let table = table();
    assert!(table.boards.len() >= 7, "boards: {:?}", table.boards.keys());
    for (name, board) in &table.boards {
        let plan = board.plan().unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = table.constraints_path(board);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let origin = path.display().to_string();
        let parsed =
            constraints::parse(board.family, &text, &origin).unwrap_or_else(|e| panic!("{e}"));
        constraints::check(board, &parsed, &origin).unwrap_or_else(|e| panic!("{name}: {e}"));
        let error = (plan.actual_baud - board.uart.baud as f64).abs() / board.uart.baud as f64;
        assert!(error <= 0.02, "{name}: baud error {error}");
        assert_eq!(boards::check_core(&plan), Ok(()), "{name}: board core");
    }
}

#[test]
fn published_pins_of_each_board() {
    let table = table();
    let pins = |name: &str| {
        let b = table.board(name).unwrap();
        (
            b.clock.pin.clone(),
            b.uart.rx_pin.clone(),
            b.uart.tx_pin.clone(),
        )
    };
    let expect = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(pins("icebreaker"), expect("35", "6", "9"));
    for size in ["12f", "25f", "45f", "85f"] {
        assert_eq!(
            pins(&format!("ulx3s-{size}")),
            expect("G2", "M1", "L4"),
            "ulx3s-{size}"
        );
    }
    assert_eq!(pins("arty-a7-35t"), expect("E3", "A9", "D10"));
    assert_eq!(pins("arty-a7-100t"), expect("E3", "A9", "D10"));
}

#[test]
fn icebreaker_plan_values() {
    let plan = table().board("icebreaker").unwrap().plan().unwrap();
    let PllPlan::Ice40(pll) = plan.pll else {
        panic!("icebreaker has no iCE40 PLL: {:?}", plan.pll)
    };
    assert_eq!(
        (pll.divr, pll.divf, pll.divq, pll.filter_range),
        (0, 79, 5, 1)
    );
    assert_eq!(plan.engine_mhz, 30.0);
    assert_eq!(plan.clocks_per_bit, 10);
    // 10 µs at 30 MHz.
    assert_eq!(plan.reset_hold_clocks, 300);
    // 50 ms at 30 MHz.
    assert_eq!(plan.timeout_clocks, 1_500_000);
}

#[test]
fn ulx3s_plan_values() {
    let plan = table().board("ulx3s-25f").unwrap().plan().unwrap();
    let PllPlan::Ecp5(pll) = plan.pll else {
        panic!("ulx3s has no ECP5 PLL: {:?}", plan.pll)
    };
    assert_eq!((pll.clki_div, pll.clkfb_div, pll.clkop_div), (5, 3, 40));
    assert_eq!(plan.engine_mhz, 15.0);
    assert_eq!(plan.clocks_per_bit, 5);
    assert_eq!(plan.reset_hold_clocks, 150);
}

/// Replaces `from` by `to` in the table text and parses it.
fn edited_table(from: &str, to: &str) -> BoardTable {
    let path = BoardTable::default_path();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "the table has no `{from}`");
    BoardTable::parse(
        &text.replacen(from, to, 1),
        "edited.toml",
        path.parent().unwrap(),
    )
    .unwrap()
}

#[test]
fn wrong_pin_names_port_and_pins() {
    let table = edited_table("rx_pin = \"6\"", "rx_pin = \"7\"");
    let board = table.board("icebreaker").unwrap();
    let text = std::fs::read_to_string(table.constraints_path(board)).unwrap();
    let parsed = constraints::parse(board.family, &text, "icebreaker.pcf").unwrap();
    let error = constraints::check(board, &parsed, "icebreaker.pcf").unwrap_err();
    assert!(
        error.message.contains("port rx on pin 6"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("boards.icebreaker.uart.rx_pin is 7"),
        "{}",
        error.message
    );
}

#[test]
fn extra_frequency_line_is_rejected() {
    let board = table().board("icebreaker").unwrap().clone();
    let text = "set_io clock_in 35\nset_frequency clock_in 12\nset_io rx 6\nset_io tx 9\nset_frequency core_clock 50\n";
    let parsed = constraints::parse_pcf(text, "extra.pcf").unwrap();
    let error = constraints::check(&board, &parsed, "extra.pcf").unwrap_err();
    assert!(
        error
            .message
            .starts_with("extra.pcf:5 sets a 50 MHz constraint on core_clock"),
        "{}",
        error.message
    );
}

#[test]
fn divisible_baud_is_accepted() {
    let table = edited_table("baud = 3_000_000 }", "baud = 2_500_000 }");
    let plan = table.board("icebreaker").unwrap().plan().unwrap();
    assert_eq!(plan.clocks_per_bit, 12, "30 MHz / 2.5 MBd");
    assert_eq!(plan.actual_baud, 2_500_000.0);
}

#[test]
fn inexact_baud_is_rejected() {
    let table = edited_table("baud = 3_000_000 }", "baud = 2_600_000 }");
    let error = table.board("icebreaker").unwrap().plan().unwrap_err();
    assert!(
        error
            .message
            .contains("`boards.icebreaker.uart.baud` is 2600000"),
        "{}",
        error.message
    );
    assert!(error.message.contains("2500000 baud"), "{}", error.message);
}

#[test]
fn small_engine_memory_is_rejected() {
    let table = edited_table(
        "max_rows = 120, max_columns = 121, max_inputs = 4, weight_words = 543",
        "max_rows = 100, max_columns = 121, max_inputs = 4, weight_words = 543",
    );
    let error = table.board("icebreaker").unwrap().plan().unwrap_err();
    assert!(
        error
            .message
            .contains("`boards.icebreaker.engine.max_rows` is 100"),
        "{}",
        error.message
    );
    assert!(error.message.contains("at least 120"), "{}", error.message);
}

#[test]
fn unknown_board_lists_known_ones() {
    let error = table().board("icestick").unwrap_err();
    assert!(
        error.message.contains("unknown board `icestick`"),
        "{}",
        error.message
    );
    assert!(error.message.contains("icebreaker"), "{}", error.message);
}

/// Runs icepll for 12 MHz in and returns its achieved output in MHz.
fn icepll_output(target_mhz: f64) -> f64 {
    let output = Command::new("icepll")
        .args(["-i", "12", "-o", &target_mhz.to_string()])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run icepll ({e}): install fpga-icestorm with scripts/setup.sh")
        });
    assert!(output.status.success(), "icepll -o {target_mhz} failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("(achieved)"))
        .expect("icepll prints the achieved output");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// icepll can return an output just below the datasheet's 16 MHz minimum (15.94 MHz for a 16 MHz
/// request), which the search rejects, so the targets start above that edge.
#[test]
fn ice40_search_agrees_with_icepll() {
    for target in [18.0, 25.0, 30.0, 33.0, 48.0, 50.0, 66.0, 75.0, 100.0, 120.0] {
        let ours = Ice40PllSettings::search(12.0, target).unwrap();
        let theirs = icepll_output(target);
        assert!(
            (ours.output_mhz - theirs).abs() < 1e-3,
            "{target} MHz: ours {} icepll {theirs}",
            ours.output_mhz
        );
    }
}

#[test]
fn board_tops_instantiate_planned_pll() {
    let table = table();
    let ice40 = boards::emit_board(
        &table.board("icebreaker").unwrap().plan().unwrap(),
        BoardDesign::Core,
    )
    .unwrap();
    for text in [
        "SB_PLL40_PAD #(",
        ".DIVR(4'd0)",
        ".DIVF(7'd79)",
        ".DIVQ(3'd5)",
        ".FILTER_RANGE(3'd1)",
        "localparam  hold = 16'h12c;",
    ] {
        assert!(ice40.verilog.contains(text), "board_ice40 lacks `{text}`");
    }
    let ecp5 = boards::emit_board(
        &table.board("ulx3s-12f").unwrap().plan().unwrap(),
        BoardDesign::Core,
    )
    .unwrap();
    for text in [
        "EHXPLLL #(",
        ".CLKI_DIV(5)",
        ".CLKFB_DIV(3)",
        ".CLKOP_DIV(40)",
        ".CLKOP_CPHASE(39)",
    ] {
        assert!(ecp5.verilog.contains(text), "board_ecp5 lacks `{text}`");
    }
    let names: Vec<_> = ice40.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [boards::CLOCK_PORT, boards::RX_PORT, boards::TX_PORT]
    );
}

/// Synthesises the iCEBreaker's loopback top level with yosys and checks the netlist: one PLL
/// whose output clocks every flip-flop.
#[test]
fn ice40_board_netlist_has_pll_clocking_everything() {
    let plan = table().board("icebreaker").unwrap().plan().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("board_ice40.v");
    let emitted = boards::emit_board(&plan, BoardDesign::Loopback).unwrap();
    std::fs::write(&source, emitted.verilog).unwrap();
    let netlist = dir.path().join("netlist.json");
    let script = format!(
        "read_verilog {}; synth_ice40 -top top; write_json {}",
        source.display(),
        netlist.display()
    );
    let status = Command::new("yosys")
        .args(["-q", "-p", &script])
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run yosys ({e}): install it with apt-get install yosys")
        });
    assert!(status.success(), "yosys failed on board_ice40");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&netlist)).unwrap()).unwrap();
    let cells = json["modules"]["top"]["cells"].as_object().unwrap();
    let plls: Vec<_> = cells
        .values()
        .filter(|c| c["type"] == "SB_PLL40_PAD")
        .collect();
    assert_eq!(plls.len(), 1, "PLL cells");
    let pll_out = &plls[0]["connections"]["PLLOUTGLOBAL"];
    let flops: Vec<_> = cells
        .values()
        .filter(|c| c["type"].as_str().unwrap().starts_with("SB_DFF"))
        .collect();
    // Two lock synchroniser stages, the hold count in the bits that the hold needs (9 for the
    // iCEBreaker's 300 clocks), the release flag and the loopback's two stages: yosys 0.23
    // keeps each of them.
    let hold_bits = (u64::BITS - plan.reset_hold_clocks.leading_zeros()) as usize;
    let expected_flops = 2 + hold_bits + 1 + 2;
    assert!(flops.len() >= expected_flops, "flip-flops: {}", flops.len());
    for flop in flops {
        assert_eq!(
            &flop["connections"]["C"], pll_out,
            "a flip-flop is not clocked by the PLL"
        );
    }
    assert_eq!(
        plls[0]["parameters"]["DIVF"]
            .as_str()
            .map(|s| u64::from_str_radix(s, 2).unwrap()),
        Some(79)
    );
}

//! Where the iCEBreaker board core's logic goes: yosys `synth_ice40 -dsp -spram` of the board
//! top level that `leap build --board icebreaker` synthesises, with each unit of the core kept
//! as its own module, so the report breaks the cells down by unit. Upper bounds on every unit
//! make a change that grows one fail here. yosys takes about one CPU minute, most of it on the
//! engine.

mod common;

use leap_hdl::boards::{self, BoardDesign, BoardTable};
use leap_hdl::link::SINGLE_PORT_ATTRIBUTE;

use common::yosys::{self, module_cells, Ice40Cells};

/// The units of the board core, as (module of the board top level, name in the report). The
/// executor's row excludes its walker and reply cache, and the frame decoder's and encoder's
/// rows exclude their CRC units.
const UNITS: [(&str, &str); 11] = [
    ("top$reset_gen", "power-on reset"),
    ("top$core$uart_rx", "UART receiver"),
    ("top$core$uart_tx", "UART transmitter"),
    ("top$core$core$decoder", "frame decoder"),
    ("top$core$core$decoder$crc", "decoder CRC"),
    ("top$core$core$encoder", "frame encoder"),
    ("top$core$core$encoder$crc", "encoder CRC"),
    ("top$core$core$executor", "command executor"),
    ("top$core$core$executor$walker", "weight walker"),
    ("top$core$core$executor$cache", "reply cache"),
    ("top$core$core$engine", "engine"),
];

/// Synthesises the iCEBreaker's board core as `leap build` does, with every unit in [`UNITS`]
/// kept as a module, and returns yosys's log.
fn synthesise_icebreaker_core() -> String {
    let table = BoardTable::load(&BoardTable::default_path())
        .unwrap_or_else(|e| panic!("cannot load the board table: {e}"));
    let plan = table
        .board("icebreaker")
        .and_then(|board| board.plan())
        .unwrap_or_else(|e| panic!("cannot plan the iCEBreaker: {e}"));
    let emitted = boards::emit_board(&plan, BoardDesign::Core)
        .unwrap_or_else(|e| panic!("cannot emit the iCEBreaker's board core: {e}"));

    let units: Vec<&str> = UNITS.iter().map(|(module, _)| *module).collect();
    let script = format!(
        "hierarchy -top top; \
         setattr -set ram_style \"huge\" a:{SINGLE_PORT_ATTRIBUTE}; \
         setattr -mod -set keep_hierarchy 1 {}; \
         synth_ice40 -dsp -spram -top top; stat",
        units.join(" ")
    );
    yosys::synthesise("the iCEBreaker's board core", &emitted.verilog, &script)
}

/// Maximum SB_LUT4, flip-flops, SB_RAM40_4K, SB_SPRAM256KA and SB_MAC16 of each unit: the
/// counts measured with yosys 0.23 and the icebreaker row of `constraints/boards.toml`, plus
/// about 3 % for changes in yosys's choices. A unit's count moves by up to about 30 SB_LUT4 when
/// only the rest of the design changes (the weight walker measured 128 to 157 with the same
/// Verilog), so the small units' bounds allow that much.
///
/// NOTE: the core does not fit the iCE40UP5K yet. Its 8 SB_MAC16, all in the engine, and its
/// block RAMs fit, but its 5,255 SB_LUT4 and 1,884 flip-flops pack into 5,735 logic
/// cells of the 5,280.
const BOUNDS: [(&str, Ice40Cells); 11] = [
    ("power-on reset", bound(20, 14, 0, 0, 0)),
    ("UART receiver", bound(34, 21, 0, 0, 0)),
    ("UART transmitter", bound(32, 19, 0, 0, 0)),
    ("frame decoder", bound(460, 282, 2, 1, 0)),
    ("decoder CRC", bound(64, 33, 0, 0, 0)),
    ("frame encoder", bound(125, 70, 0, 1, 0)),
    ("encoder CRC", bound(66, 33, 0, 0, 0)),
    ("command executor", bound(1_600, 373, 0, 0, 0)),
    ("weight walker", bound(120, 42, 0, 0, 0)),
    ("reply cache", bound(118, 40, 0, 1, 0)),
    ("engine", bound(2_820, 1_020, 28, 1, 8)),
];

const fn bound(
    luts: usize,
    flip_flops: usize,
    block_rams: usize,
    single_port_rams: usize,
    multipliers: usize,
) -> Ice40Cells {
    Ice40Cells {
        luts,
        flip_flops,
        carries: 0,
        block_rams,
        single_port_rams,
        multipliers,
    }
}

#[test]
fn icebreaker_core_breakdown() {
    let log = synthesise_icebreaker_core();
    let modules = module_cells(&log);

    let mut total = Ice40Cells::default();
    let mut outside_engine = Ice40Cells::default();
    eprintln!("iCEBreaker board core, yosys synth_ice40 -dsp -spram, cells per unit:");
    eprintln!(
        "{:<18} {:>6} {:>6} {:>6} {:>5} {:>6} {:>4}",
        "unit", "LUT4", "DFF", "CARRY", "EBR", "SPRAM", "MAC"
    );
    for (module, name) in UNITS {
        let cells = modules
            .get(module)
            .unwrap_or_else(|| panic!("module {module} ({name}) is missing from the report"));
        eprintln!(
            "{name:<18} {:>6} {:>6} {:>6} {:>5} {:>6} {:>4}",
            cells.luts,
            cells.flip_flops,
            cells.carries,
            cells.block_rams,
            cells.single_port_rams,
            cells.multipliers
        );
        total.add(cells);
        if name != "engine" {
            outside_engine.add(cells);
        }
    }
    eprintln!(
        "outside the engine: {} SB_LUT4, {} flip-flops, {} SB_RAM40_4K, {} SB_SPRAM256KA, {} SB_MAC16",
        outside_engine.luts,
        outside_engine.flip_flops,
        outside_engine.block_rams,
        outside_engine.single_port_rams,
        outside_engine.multipliers
    );
    eprintln!(
        "total: {} SB_LUT4, {} flip-flops, {} SB_RAM40_4K, {} SB_SPRAM256KA, {} SB_MAC16",
        total.luts, total.flip_flops, total.block_rams, total.single_port_rams, total.multipliers
    );

    for (name, max) in BOUNDS {
        let module = UNITS
            .iter()
            .find(|(_, unit)| *unit == name)
            .map(|(module, _)| *module)
            .unwrap_or_else(|| panic!("no unit named {name}"));
        let cells = &modules[module];
        assert!(
            cells.luts <= max.luts,
            "{name}: {} SB_LUT4, at most {} expected",
            cells.luts,
            max.luts
        );
        assert!(
            cells.flip_flops <= max.flip_flops,
            "{name}: {} flip-flops, at most {} expected",
            cells.flip_flops,
            max.flip_flops
        );
        assert!(
            cells.block_rams <= max.block_rams,
            "{name}: {} SB_RAM40_4K, at most {} expected",
            cells.block_rams,
            max.block_rams
        );
        assert!(
            cells.single_port_rams <= max.single_port_rams,
            "{name}: {} SB_SPRAM256KA, at most {} expected",
            cells.single_port_rams,
            max.single_port_rams
        );
        assert!(
            cells.multipliers <= max.multipliers,
            "{name}: {} SB_MAC16, at most {} expected",
            cells.multipliers,
            max.multipliers
        );
    }

    // The iCE40UP5K has 30 SB_RAM40_4K and 4 SB_SPRAM256KA.
    assert!(
        total.block_rams <= 30,
        "the core needs {} SB_RAM40_4K, the up5k has 30",
        total.block_rams
    );
    assert!(
        total.single_port_rams <= 4,
        "the core needs {} SB_SPRAM256KA, the up5k has 4",
        total.single_port_rams
    );
}

//! Reads the pin assignments and clock frequencies of PCF, LPF and XDC files, so the build and the
//! tests can check a constraint file against the board table.

use std::collections::BTreeMap;

use super::table::{Board, BoardError, Family};
use super::{CLOCK_PORT, RX_PORT, TX_PORT};

/// Pins and clock frequencies that a constraint file assigns to top-level ports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    /// Package pin by port name.
    pub pins: BTreeMap<String, String>,
    /// Stated clock frequency in MHz by port or net name, with the 1-based line that states it.
    pub frequencies: BTreeMap<String, (f64, usize)>,
}

/// Removes a trailing `#` comment.
fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

fn unquote(word: &str) -> String {
    word.trim_matches('"')
        .trim_matches('{')
        .trim_matches('}')
        .trim()
        .to_string()
}

fn parse_number(text: &str, origin: &str, line: usize) -> Result<f64, BoardError> {
    text.parse::<f64>()
        .map_err(|_| BoardError::new(format!("{origin}:{line}: `{text}` is not a number")))
}

/// Reads a PCF: `set_io [-nowarn] PORT PIN` and `set_frequency NET MHZ`.
pub fn parse_pcf(text: &str, origin: &str) -> Result<Constraints, BoardError> {
    let mut c = Constraints::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let words: Vec<_> = strip_comment(raw)
            .split_whitespace()
            .filter(|w| !w.starts_with('-'))
            .collect();
        match words.as_slice() {
            [] => {}
            ["set_io", port, pin] => {
                c.pins.insert(port.to_string(), pin.to_string());
            }
            ["set_frequency", net, mhz] => {
                c.frequencies
                    .insert(net.to_string(), (parse_number(mhz, origin, line)?, line));
            }
            _ => {
                return Err(BoardError::new(format!(
                    "{origin}:{line}: `{}` is not a set_io or set_frequency statement",
                    raw.trim()
                )))
            }
        }
    }
    Ok(c)
}

/// Reads an LPF: `LOCATE COMP "PORT" SITE "PIN";` and `FREQUENCY PORT "PORT" MHZ MHZ;`. Other
/// statements (`IOBUF`, `SYSCONFIG`) carry no pins and are skipped.
pub fn parse_lpf(text: &str, origin: &str) -> Result<Constraints, BoardError> {
    let mut c = Constraints::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        for statement in strip_comment(raw).split(';') {
            let words: Vec<_> = statement.split_whitespace().collect();
            match words.as_slice() {
                ["LOCATE", "COMP", port, "SITE", pin] => {
                    c.pins.insert(unquote(port), unquote(pin));
                }
                ["FREQUENCY", "PORT" | "NET", port, mhz, unit] => {
                    if !unit.eq_ignore_ascii_case("MHZ") {
                        return Err(BoardError::new(format!(
                            "{origin}:{line}: state the frequency of {port} in MHZ, not {unit}"
                        )));
                    }
                    c.frequencies
                        .insert(unquote(port), (parse_number(mhz, origin, line)?, line));
                }
                _ => {}
            }
        }
    }
    Ok(c)
}

/// Reads an XDC: `set_property -dict { PACKAGE_PIN PIN ... } [get_ports { PORT }]` and
/// `create_clock ... -period NS ... [get_ports { PORT }]`.
pub fn parse_xdc(text: &str, origin: &str) -> Result<Constraints, BoardError> {
    let mut c = Constraints::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let code = strip_comment(raw);
        let Some(port) = code
            .split("get_ports")
            .nth(1)
            .map(|rest| unquote(rest.trim().trim_end_matches(';').trim_end_matches(']')))
        else {
            continue;
        };
        let words: Vec<_> = code.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "PACKAGE_PIN") {
            if let Some(pin) = words.get(i + 1) {
                c.pins.insert(port.clone(), pin.to_string());
            }
        }
        if words.first() == Some(&"create_clock") {
            let Some(period) = words
                .iter()
                .position(|w| *w == "-period")
                .and_then(|i| words.get(i + 1))
            else {
                return Err(BoardError::new(format!(
                    "{origin}:{line}: create_clock has no -period"
                )));
            };
            let ns = parse_number(period, origin, line)?;
            c.frequencies.insert(port, (1000.0 / ns, line));
        }
    }
    Ok(c)
}

/// Reads a constraint file in the format of `family`.
pub fn parse(family: Family, text: &str, origin: &str) -> Result<Constraints, BoardError> {
    match family {
        Family::Ice40 => parse_pcf(text, origin),
        Family::Ecp5 => parse_lpf(text, origin),
        Family::Xilinx7 => parse_xdc(text, origin),
    }
}

/// Checks a board's constraint file against its table entry: the clock, RX and TX ports sit on
/// the table's pins, and the only stated frequency is the oscillator's on the clock port.
///
/// A frequency on any other net would override the constraint that the place-and-route tool
/// derives from the oscillator through the PLL, so it is rejected.
pub fn check(board: &Board, constraints: &Constraints, origin: &str) -> Result<(), BoardError> {
    for (port, pin, field) in [
        (CLOCK_PORT, &board.clock.pin, "clock.pin"),
        (RX_PORT, &board.uart.rx_pin, "uart.rx_pin"),
        (TX_PORT, &board.uart.tx_pin, "uart.tx_pin"),
    ] {
        match constraints.pins.get(port) {
            Some(found) if found.eq_ignore_ascii_case(pin) => {}
            Some(found) => {
                return Err(BoardError::new(format!(
                    "{origin} puts port {port} on pin {found}, but boards.{}.{field} is {pin}; \
                     correct whichever is wrong",
                    board.name
                )))
            }
            None => {
                return Err(BoardError::new(format!(
                "{origin} assigns no pin to port {port}; add it on pin {pin} (boards.{}.{field})",
                board.name
            )))
            }
        }
    }
    for (net, (mhz, line)) in &constraints.frequencies {
        if net != CLOCK_PORT {
            return Err(BoardError::new(format!(
                "{origin}:{line} sets a {mhz} MHz constraint on {net}, which would override the \
                 engine clock constraint derived through the PLL; remove it and set \
                 boards.{}.clock.engine_mhz instead",
                board.name
            )));
        }
        if (mhz - board.clock.mhz).abs() > 1e-6 {
            return Err(BoardError::new(format!(
                "{origin}:{line} states {mhz} MHz on {CLOCK_PORT}, but boards.{}.clock.mhz is {}; \
                 correct whichever is wrong",
                board.name, board.clock.mhz
            )));
        }
    }
    if !constraints.frequencies.contains_key(CLOCK_PORT) {
        return Err(BoardError::new(format!(
            "{origin} states no frequency for {CLOCK_PORT}; add the {} MHz oscillator frequency",
            board.clock.mhz
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcf_reads_pins_and_frequency() {
        let c = parse_pcf(
            "set_io -nowarn clock_in 35 # osc\nset_frequency clock_in 12\n",
            "t.pcf",
        )
        .unwrap();
        assert_eq!(c.pins.get("clock_in").map(String::as_str), Some("35"));
        assert_eq!(c.frequencies.get("clock_in"), Some(&(12.0, 2)));
    }

    #[test]
    fn pcf_rejects_unknown_statement() {
        let error = parse_pcf("set_io rx 6\nset_pin tx 9\n", "t.pcf").unwrap_err();
        assert!(error.message.starts_with("t.pcf:2:"), "{}", error.message);
    }

    #[test]
    fn lpf_reads_locate_and_frequency() {
        let text =
            "LOCATE COMP \"clock_in\" SITE \"G2\";\nIOBUF PORT \"clock_in\" IO_TYPE=LVCMOS33;\n\
                    FREQUENCY PORT \"clock_in\" 25 MHZ;\n";
        let c = parse_lpf(text, "t.lpf").unwrap();
        assert_eq!(c.pins.get("clock_in").map(String::as_str), Some("G2"));
        assert_eq!(c.frequencies.get("clock_in"), Some(&(25.0, 3)));
    }

    #[test]
    fn xdc_reads_pin_and_period() {
        let text = "set_property -dict { PACKAGE_PIN E3 IOSTANDARD LVCMOS33 } [get_ports { clock_in }];\n\
                    create_clock -add -name sys_clk_pin -period 10.00 -waveform {0 5} [get_ports { clock_in }];\n";
        let c = parse_xdc(text, "t.xdc").unwrap();
        assert_eq!(c.pins.get("clock_in").map(String::as_str), Some("E3"));
        assert_eq!(c.frequencies.get("clock_in"), Some(&(100.0, 2)));
    }
}

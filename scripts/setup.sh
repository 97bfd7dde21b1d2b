#!/usr/bin/env bash
# Installs what LEAP needs on a Debian machine: the Rust toolchain check, Verilator, yosys and a
# C++ compiler for the co-simulation. Safe to run again; it installs only what is missing.
set -euo pipefail

packages=(verilator yosys make g++ python3)
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

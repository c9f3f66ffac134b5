#!/usr/bin/env bash
# The embedding kernels on aarch64 (the neon and portable paths), on an x86-64 machine:
# trawl's library tests built for aarch64-unknown-linux-gnu with Debian's cross gcc and
# run under qemu-user emulation. Not part of scripts/test.sh (it builds every
# dependency a second time); on an aarch64 machine, scripts/test.sh runs these tests
# natively.
#
#   scripts/test-aarch64.sh [TEST FILTER]     (default: embed::)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "needs qemu-user and gcc-aarch64-linux-gnu (apt-get, as root)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
fi
models/fetch.sh

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
cargo test -p trawl --lib --locked --target "$target" -- "${1:-embed::}"

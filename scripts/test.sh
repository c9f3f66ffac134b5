#!/usr/bin/env bash
# The whole test suite, as CI runs it: fetches the model if missing, then formatting,
# lints, every test (unit, behaviour, doc, CLI), and the example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

models/fetch.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
cargo run --locked --example quickstart >/dev/null
echo "all checks passed"

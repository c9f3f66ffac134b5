#!/usr/bin/env bash
# The whole test suite, as CI runs it: fetches the model if missing, then formatting,
# lints, every test (unit, behaviour, doc, CLI, benches in test mode), the API docs (no
# broken links), the example, and the Python package (built into .venv) with its tests
# and example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

models/fetch.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked --no-fail-fast 2>&1 | tee -a "$log"
cargo test --workspace --doc --locked 2>&1 | tee -a "$log"
# The API documentation builds without a broken link.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --lib --locked
cargo run --locked --example quickstart >/dev/null
# OCR is an optional feature: tested where tesseract and pdftoppm are installed.
if command -v tesseract >/dev/null && command -v pdftoppm >/dev/null; then
    cargo test -p trawl-ingest --features ocr --locked 2>&1 | tee -a "$log"
fi

# Python: the bindings built into a local virtualenv, then lints, the pytest suite (which
# also checks the .pyi against the built module) and the Python example.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r bindings/python/requirements-dev.txt
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop -q --locked -m bindings/python/Cargo.toml
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest bindings/python 2>&1 | tee -a "$log"
.venv/bin/python examples/python/quickstart.py >/dev/null

# One closing line for the whole run (cargo prints one per test binary).
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "tests: $passed passed, $failed failed"

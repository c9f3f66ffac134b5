#!/usr/bin/env bash
# One command from a fresh clone to search results: fetches the model if missing,
# builds trawl (release), indexes the sample corpus and runs a search.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

models/fetch.sh
cargo build --release -p trawl-cli
index="${TRAWL_QUICKSTART_INDEX:-target/quickstart-index}"
rm -rf "$index"   # a fresh index each time, so the demo never meets an older format
./target/release/trawl ingest examples/corpus --index "$index"
./target/release/trawl stats --index "$index"
echo
query="${1:-how do I keep a sourdough starter healthy?}"
echo "search: $query"
./target/release/trawl search "$query" --index "$index" -k 3

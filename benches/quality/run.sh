#!/usr/bin/env bash
# Retrieval quality on BEIR SciFact: dense, keyword and hybrid (several fusions) on the
# test and train splits over one ingest, written into README.md between the
# "quality-table" markers.
#
#   benches/quality/run.sh [BEIR_DIR] [INDEX_DIR]
#
# The first run embeds the corpus (about 15 minutes on 2 cores); later runs reuse the
# index and take about a minute.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

beir="${1:-../shared/data/scifact}"
index="${2:-bench-out/scifact-idx}"
fusions=(--fusion adaptive --fusion adaptive:0.5:0.2:0 --fusion rrf --fusion z:0.5 --fusion minmax:0.5)

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli
mkdir -p "$(dirname "$index")"
table="$(mktemp)"
trap 'rm -f "$table"' EXIT
{
  echo "| split | mode | fusion | nDCG@10 | recall@100 | MRR@10 | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|---|---|"
  for split in test train; do
    ./target/release/trawl eval "$beir" --split "$split" --index "$index" --compare "${fusions[@]}" --json \
      | python3 benches/quality/table.py "$split"
  done
} > "$table"
cat "$table"
python3 - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read().strip()
readme = open("README.md").read()
new, found = re.subn(r"<!-- quality-table -->.*?<!-- /quality-table -->",
                     lambda m: "<!-- quality-table -->\n" + table + "\n<!-- /quality-table -->",
                     readme, flags=re.S)
if not found:
    sys.exit("README.md has no <!-- quality-table --> markers")
open("README.md", "w").write(new)
PY
echo "README.md updated"

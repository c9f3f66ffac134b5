#!/usr/bin/env bash
# The nDCG@10 effect of the main chunking settings on BEIR SciFact: one ingest per
# setting (bf16, the default precision of new collections), then dense, keyword and
# hybrid on the given split. Indexes are kept under OUT, so a second run (e.g. on the
# test split, after choosing settings on train) reuses them and takes a minute each.
#
#   benches/quality/chunking.sh [SPLIT] [BEIR_DIR] [OUT]
#
# Each ingest takes about 4 minutes of both cores on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

split="${1:-train}"
beir="$(realpath "${2:-../shared/data/scifact}")"
out="${3:-bench-out/chunking}"
settings=(
  "default|"
  "max-tokens 128|--max-tokens 128"
  "max-chars 1000|--max-chars 1000"
  "max-chars 600|--max-chars 600"
  "no overlap|--overlap none"
  "overlap 2 sentences|--overlap sentences:2"
  "context prefix|--context-prefix"
)

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli
mkdir -p "$out"
echo "| setting | dense | keyword | hybrid | chunks |"
echo "|---|---|---|---|---|"
for entry in "${settings[@]}"; do
  name="${entry%%|*}"
  read -r -a flags <<< "${entry#*|}"
  slug="${name// /-}"
  result="$out/$slug-$split.jsonl"
  if [ ! -s "$result" ]; then
    ./target/release/trawl eval "$beir" --split "$split" --index "$out/idx-$slug" \
      --precision bf16 --compare --json "${flags[@]}" > "$result"
  fi
  chunks="$(./target/release/trawl stats --index "$out/idx-$slug" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')"
  python3 - "$name" "$result" "$chunks" <<'PY'
import json, sys
name, path, chunks = sys.argv[1], sys.argv[2], sys.argv[3]
ndcg = {}
for line in open(path):
    r = json.loads(line)
    ndcg.setdefault(r["mode"], r["ndcg@10"])
print(f"| {name} | {ndcg['dense']:.3f} | {ndcg['keyword']:.3f} | {ndcg['hybrid']:.3f} | {chunks} |")
PY
done

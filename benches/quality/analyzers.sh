#!/usr/bin/env bash
# Keyword analyzers compared: english, auto (the default: each chunk in the language
# detected in it, each query read as every language the index holds) and the set's own
# language where it has one. Keyword-only nDCG@10 with `trawl eval`, on the sets
# benches/quality/languages.sh and faq.sh derive, on SciFact, and on `packages-mixed`:
# the English, German, French, Russian and Chinese package sets in one collection
# (ids prefixed by language, queries of all five), where no single analyzer fits.
#
#   benches/quality/analyzers.sh            (after languages.sh and faq.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

cargo build --release -p trawl-cli --bin trawl
out=bench-out/analyzers
mkdir -p "$out"

mixed=bench-out/packages-mixed
python3 - "$mixed" <<'EOF'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
(out / "qrels").mkdir(parents=True, exist_ok=True)
sets = {"en": "debian-packages", "de": "packages-de", "fr": "packages-fr",
        "ru": "packages-ru", "zh": "packages-zh_CN"}
with open(out / "corpus.jsonl", "w") as corpus, open(out / "queries.jsonl", "w") as queries, \
        open(out / "qrels" / "test.tsv", "w") as qrels:
    qrels.write("query-id\tcorpus-id\tscore\n")
    for lang, name in sets.items():
        src = Path("bench-out") / name
        for line in open(src / "corpus.jsonl"):
            doc = json.loads(line)
            doc["_id"] = f"{lang}:{doc['_id']}"
            corpus.write(json.dumps(doc, ensure_ascii=False) + "\n")
        for n, line in enumerate(open(src / "queries.jsonl")):
            if n >= 200:
                break
            query = json.loads(line)
            query["_id"] = f"{lang}:{query['_id']}"
            queries.write(json.dumps(query, ensure_ascii=False) + "\n")
        for line in list(open(src / "qrels" / "test.tsv"))[1:]:
            q, d, s = line.rstrip("\n").split("\t")
            qrels.write(f"{lang}:{q}\t{lang}:{d}\t{s}\n")
EOF

# set, its own analyzer ("-" for none)
runs=(
  "../shared/data/scifact -"
  "bench-out/debian-packages -"
  "bench-out/python-faq -"
  "bench-out/perl-faq -"
  "bench-out/man-pages -"
  "bench-out/packages-de german"
  "bench-out/packages-fr french"
  "bench-out/packages-es spanish"
  "bench-out/packages-ru russian"
  "bench-out/packages-uk russian"
  "bench-out/packages-ja plain"
  "bench-out/packages-zh_CN plain"
  "bench-out/packages-ko plain"
  "$mixed -"
)
printf '| set | english | auto | own language |\n|---|---|---|---|\n'
for run in "${runs[@]}"; do
  read -r set own <<<"$run"
  row="| $(basename "$set") |"
  for language in english auto "$own"; do
    if [ "$language" = "-" ]; then
      row="$row – |"
      continue
    fi
    ndcg=$(./target/release/trawl eval "$set" --split test --keyword-only --mode keyword \
      --language "$language" --json 2>/dev/null | python3 -c \
      'import json,sys; print("%.3f" % json.load(sys.stdin)["ndcg@10"])')
    row="$row $ndcg ($language) |"
  done
  echo "$row"
done | tee "$out/table.md"

#!/usr/bin/env bash
# Ingest time per language: the first 600 documents of each language's package set
# (benches/quality/languages.sh; English from debian-packages) and of quran-ar
# (benches/quality/rtl.sh), each ingested into a new index with default settings
# (chunking in model tokens, all-MiniLM-L6-v2, this CPU's default precision). Prints
# characters, chunks, seconds, and characters and chunks per second.
#
#   benches/quality/ingest_languages.sh     (after languages.sh and rtl.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release -p trawl-cli --bin trawl
out=bench-out/ingest-languages
rm -rf "$out"
sets=(debian-packages packages-de packages-fr packages-es packages-ru packages-uk
  packages-ja packages-zh_CN packages-ko quran-ar)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| set | documents | characters | chunks | characters per chunk | ingest s | characters/s | chunks/s |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for name in "${sets[@]}"; do
  sub="$out/$name"
  # A subset: the first 600 documents, and one query (eval needs one) on the first.
  python3 - "bench-out/$name/corpus.jsonl" "$sub" <<'EOF'
import json, sys
from pathlib import Path

source, out = Path(sys.argv[1]), Path(sys.argv[2])
(out / "qrels").mkdir(parents=True, exist_ok=True)
docs = [json.loads(line) for line, _ in zip(open(source, encoding="utf-8"), range(600))]
with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
    for d in docs:
        f.write(json.dumps(d, ensure_ascii=False) + "\n")
with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
    f.write(json.dumps({"_id": "q", "text": docs[0]["text"][:80]}, ensure_ascii=False) + "\n")
with open(out / "qrels" / "test.tsv", "w") as f:
    f.write(f"query-id\tcorpus-id\tscore\nq\t{docs[0]['_id']}\t1\n")
with open(out / "chars", "w") as f:
    f.write(str(sum(len(d.get("title", "")) + len(d["text"]) for d in docs)))
EOF
  secs=$(./target/release/trawl eval "$sub" --split test --index "$sub/index" --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["ingest_secs"])')
  chunks=$(./target/release/trawl stats --index "$sub/index" --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')
  chars=$(cat "$sub/chars")
  python3 -c "
c, n, s = $chars, $chunks, $secs
print(f'| $name | 600 | {c:,} | {n:,} | {c / n:,.0f} | {s:.1f} | {c / s:,.0f} | {n / s:,.0f} |')"
done

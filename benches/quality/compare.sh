# Sourced by the quality scripts: `compare_and_dump DIR SPLIT INDEX [EVAL_ARGS...]` runs
# `trawl eval --compare` with the caller's `fusions` at 300 candidates a list, then
# dumps the candidate lists to DIR/candidates-SPLIT.jsonl for fusion_study.py and
# learn_fusion.py. Needs the release `trawl` and `dump` binaries.
compare_and_dump() {
  local dir="$1" split="$2" index="$3"
  shift 3
  ./target/release/trawl eval "$dir" --split "$split" --index "$index" "$@" \
    --compare "${fusions[@]}" --candidates 300
  ./target/release/dump candidates "$dir" --split "$split" --index "$index" \
    --out "$dir/candidates-$split.jsonl"
}

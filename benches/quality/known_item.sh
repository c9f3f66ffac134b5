#!/usr/bin/env bash
# Does the default fusion hold beyond SciFact's claims? Derives known-item tasks from
# SciFact's corpus (benches/quality/derive_known_item.py) and runs dense, keyword and
# hybrid (adaptive, rrf, z:0.5) on each, printing one table per task; then the test
# claims put as questions ("Is it true that ...?", derive_claim_questions.py) over
# SciFact's own index, bench-out/scifact-idx (made here if run.sh has not made it).
#
#   benches/quality/known_item.sh [SCIFACT_DIR]
#
# Two ingests of the 5,183 abstracts (about 5 CPU-minutes each in bf16); everything is
# written under the git-ignored bench-out/known-item*.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source benches/quality/compare.sh

scifact="${1:-../shared/data/scifact}"
fusions=(--fusion adaptive --fusion adaptive:0.5:0.2:0 --fusion rrf --fusion z:0.5)

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli -p trawl-benches --bin trawl --bin dump
python3 benches/quality/derive_known_item.py "$scifact" bench-out/known-item
python3 benches/quality/derive_known_item.py "$scifact" bench-out/known-item-disjoint --disjoint
for task in title sentence disjoint; do
  case "$task" in
    disjoint) dir=bench-out/known-item-disjoint split=title ;;
    *) dir=bench-out/known-item split="$task" ;;
  esac
  echo "## $task"
  compare_and_dump "$dir" "$split" "$dir/index"
done
python3 benches/quality/derive_claim_questions.py "$scifact" bench-out/scifact-questions
echo "## questions"
compare_and_dump bench-out/scifact-questions test bench-out/scifact-idx \
  --model models/all-MiniLM-L6-v2

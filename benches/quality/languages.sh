#!/usr/bin/env bash
# Hybrid search beyond English: the `debian-packages` task (a package's one-line
# description finds the package among the others' long descriptions) in the languages
# Debian's translators write them in, from the archive's `Translation-XX` files
# (benches/quality/derive_debian_packages.py). Each set holds every package translated
# into its language, up to 15,000, and up to 600 queries. Runs dense, keyword and hybrid
# with the default model and the analyzer ANALYZER names (english unless set; auto is
# trawl's default) and dumps the candidate lists for benches/quality/fusion_study.py.
#
#   [ANALYZER=auto] benches/quality/languages.sh [LANG...]
#                                        (default: de fr es ru uk ja zh_CN ko)
#
# Needs Debian's archive once (kept under the git-ignored bench-out/entity-src).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fusions=(--fusion adaptive --fusion adaptive:0.5:0.2:0 --fusion rrf --fusion z:0.5)
src=bench-out/entity-src
dists=http://deb.debian.org/debian/dists/bookworm/main
languages=("$@")
[ ${#languages[@]} -gt 0 ] || languages=(de fr es ru uk ja zh_CN ko)

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli -p trawl-benches --bin trawl --bin dump
mkdir -p "$src"
if [ ! -f "$src/Packages" ]; then
  curl -fsS "$dists/binary-amd64/Packages.xz" | xz -d >"$src/Packages.part"
  mv "$src/Packages.part" "$src/Packages"
fi
for lang in "${languages[@]}"; do
  file="$src/Translation-$lang"
  if [ ! -f "$file" ]; then
    curl -fsS "$dists/i18n/Translation-$lang.bz2" | bzip2 -d >"$file.part"
    mv "$file.part" "$file"
  fi
  set="bench-out/packages-$lang"
  python3 benches/quality/derive_debian_packages.py "$src/Packages" "$file" "$set"
  echo "## packages-$lang"
  # An index keeps the analyzer it was made with: one folder per analyzer.
  analyzer="${ANALYZER:-english}"
  index="$set/index"
  dump="$set/candidates-test.jsonl"
  if [ "$analyzer" != english ]; then
    index="$set/index-$analyzer"
    dump="$set/candidates-test-$analyzer.jsonl"
  fi
  ./target/release/trawl eval "$set" --split test --index "$index" \
    --language "$analyzer" --compare "${fusions[@]}" --candidates 300
  ./target/release/dump candidates "$set" --split test --index "$index" --out "$dump"
done

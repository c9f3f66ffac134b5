#!/usr/bin/env bash
# Real questions over six more projects' manuals, none of them tuned on: derives
# BEIR-format sets from the FAQs that ship with the projects' documentation
# (benches/quality/derive_docs_faq.py) and runs dense, keyword and hybrid on each:
#
#   django-faq, sqlalchemy-faq, celery-faq, scrapy-faq: each project's FAQ against its
#               whole reStructuredText documentation, from its source distribution
#               on PyPI;
#   r-faq:      the R FAQ against R's manuals (Debian's r-doc-html);
#   sqlite-faq: SQLite's FAQ against SQLite's documentation (Debian's sqlite3-doc).
#
#   benches/quality/natural.sh
#
# Needs PyPI and Debian's archive once (the sources are kept under the git-ignored
# bench-out/natural-src); each ingest takes a few CPU-minutes in bf16.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fusions=(--fusion adaptive --fusion rrf --fusion z:0.5 --fusion z:0.2)
src=bench-out/natural-src
projects=(django sqlalchemy celery scrapy)

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli -p trawl-benches --bin trawl --bin dump
mkdir -p "$src/sdist"
for project in "${projects[@]}"; do
  if ! compgen -G "$src/sdist/$project-*/" >/dev/null; then
    url="$(curl -fsS "https://pypi.org/pypi/$project/json" | python3 -c '
import json, sys, urllib.parse
base = sys.argv[1]
urls = [u["url"] for u in json.load(sys.stdin)["urls"] if u["packagetype"] == "sdist"]
print(urllib.parse.urljoin(base, urls[0]))' "https://pypi.org/pypi/$project/json")"
    curl -fsS "$url" | tar xz -C "$src/sdist"
  fi
done
if [ ! -d "$src/x/usr/share/doc/sqlite3" ] || [ ! -d "$src/x/usr/share/doc/r-doc-html" ]; then
  (cd "$src" && apt-get download r-doc-html sqlite3-doc)
  for deb in "$src"/*.deb; do dpkg -x "$deb" "$src/x"; done
fi
docs_of() { # the documentation folder of an unpacked source distribution
  local root
  root="$(echo "$src/sdist/$1"-*/)"
  for sub in docs doc/build doc; do
    if [ -d "$root/$sub" ]; then echo "$root/$sub"; return; fi
  done
  echo "no documentation in $root" >&2
  exit 1
}
for project in "${projects[@]}"; do
  python3 benches/quality/derive_docs_faq.py rst "$(docs_of "$project")" "bench-out/$project-faq"
done
python3 benches/quality/derive_docs_faq.py texinfo "$src/x/usr/share/doc/r-doc-html/manual" \
  bench-out/r-faq
python3 benches/quality/derive_docs_faq.py sqlite "$src/x/usr/share/doc/sqlite3" \
  bench-out/sqlite-faq
for set in django-faq sqlalchemy-faq celery-faq scrapy-faq r-faq sqlite-faq; do
  echo "## $set"
  ./target/release/trawl eval "bench-out/$set" --split test --index "bench-out/$set/index" \
    --compare "${fusions[@]}" --candidates 300
  ./target/release/dump candidates "bench-out/$set" --split test --index "bench-out/$set/index" \
    --out "bench-out/$set/candidates-test.jsonl"
done

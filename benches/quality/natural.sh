#!/usr/bin/env bash
# Real questions over six projects' manuals: derives BEIR-format sets from the FAQs that
# ship with the projects' documentation (benches/quality/derive_docs_faq.py) and runs
# dense, keyword and hybrid on each:
#
#   django-faq, sqlalchemy-faq, celery-faq, scrapy-faq: each project's FAQ against its
#               whole reStructuredText documentation, from its source distribution
#               on PyPI (Django 6.1.3, SQLAlchemy 2.1.9, Celery 5.7.0, Scrapy 2.19.0);
#   r-faq:      the R FAQ against R's manuals (Debian bookworm's r-doc-html; 4.2.2 for
#               the published numbers);
#   sqlite-faq: SQLite's FAQ against SQLite's documentation (bookworm's sqlite3-doc;
#               3.40.1 for the published numbers).
#
#   benches/quality/natural.sh
#
# Needs PyPI and Debian's archive once (the sources are kept under the git-ignored
# bench-out/natural-src); each ingest takes a few CPU-minutes in bf16.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source benches/quality/compare.sh

fusions=(--fusion adaptive --fusion rrf --fusion z:0.5 --fusion z:0.2)
src=bench-out/natural-src
projects=(django==6.1.3 sqlalchemy==2.1.9 celery==5.7.0 scrapy==2.19.0)

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli -p trawl-benches --bin trawl --bin dump
mkdir -p "$src/sdist"
for pinned in "${projects[@]}"; do
  project="${pinned%%==*}" version="${pinned##*==}"
  if [ ! -d "$src/sdist/$project-$version" ]; then
    json="https://pypi.org/pypi/$project/$version/json"
    url="$(curl -fsS "$json" | python3 -c '
import json, sys, urllib.parse
urls = [u["url"] for u in json.load(sys.stdin)["urls"] if u["packagetype"] == "sdist"]
if not urls:
    sys.exit("no source distribution of " + sys.argv[1])
print(urllib.parse.urljoin(sys.argv[1], urls[0]))' "$json")"
    rm -rf "$src/sdist/part" && mkdir -p "$src/sdist/part"
    curl -fsS "$url" | tar xz -C "$src/sdist/part"
    mv "$src/sdist/part/$project-$version" "$src/sdist/" && rmdir "$src/sdist/part"
  fi
done
if [ ! -d "$src/x/usr/share/doc/sqlite3" ] || [ ! -d "$src/x/usr/share/doc/r-doc-html" ]; then
  rm -f "$src"/r-doc-html_*.deb "$src"/sqlite3-doc_*.deb
  (cd "$src" && apt-get download r-doc-html sqlite3-doc)
  for deb in "$src"/r-doc-html_*.deb "$src"/sqlite3-doc_*.deb; do dpkg -x "$deb" "$src/x"; done
fi
docs_of() { # the documentation folder of an unpacked source distribution
  local root="$src/sdist/$1" sub
  for sub in docs doc/build doc; do
    if [ -d "$root/$sub" ]; then echo "$root/$sub"; return; fi
  done
  echo "no documentation in $root" >&2
  return 1
}
for pinned in "${projects[@]}"; do
  project="${pinned%%==*}"
  docs="$(docs_of "$project-${pinned##*==}")"
  python3 benches/quality/derive_docs_faq.py rst "$docs" "bench-out/$project-faq"
done
python3 benches/quality/derive_docs_faq.py texinfo "$src/x/usr/share/doc/r-doc-html/manual" \
  bench-out/r-faq
python3 benches/quality/derive_docs_faq.py sqlite "$src/x/usr/share/doc/sqlite3" \
  bench-out/sqlite-faq
for set in django-faq sqlalchemy-faq celery-faq scrapy-faq r-faq sqlite-faq; do
  echo "## $set"
  compare_and_dump "bench-out/$set" test "bench-out/$set/index"
done

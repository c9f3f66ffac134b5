#!/usr/bin/env bash
# Does the default fusion hold on real questions over real documentation? Derives three
# BEIR-format sets from Debian's packages and runs dense, keyword and hybrid on each:
#
#   python-faq: the questions of Python's FAQ against Python's documentation
#               (benches/quality/derive_python_faq.py);
#   debian-faq: the questions of the Debian FAQ against the FAQ and the Debian
#               Reference (benches/quality/derive_debian_faq.py);
#   perl-faq:   the questions of the Perl FAQ against Perl's manuals
#               (benches/quality/derive_perl_faq.py);
#   python-known: known-item tasks over python-faq's corpus (a section's heading, or a
#               sentence held out of it, finds the section; derive_known_item.py);
#   python-index: the entries of the documentation's own index ("process id of
#               parent") against the same corpus and index, judged by the sections
#               they point into (derive_python_index.py).
#
#   benches/quality/faq.sh
#
# Needs `apt-get download` to reach Debian's archive once (the packages are kept under
# the git-ignored bench-out/faq-src); each ingest takes a few CPU-minutes in bf16.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source benches/quality/compare.sh

fusions=(--fusion adaptive --fusion adaptive:0.5:0.2:0 --fusion rrf --fusion z:0.5)
src=bench-out/faq-src

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli -p trawl-benches --bin trawl --bin dump
if [ ! -d "$src/x" ]; then
  mkdir -p "$src"
  (cd "$src" && apt-get download python3.11-doc debian-faq debian-reference-en)
  for deb in "$src"/*.deb; do dpkg -x "$deb" "$src/x"; done
fi
if ! compgen -G "$src/x/usr/share/perl/5.*/pod" >/dev/null; then
  (cd "$src" && apt-get download perl-doc)
  dpkg -x "$src"/perl-doc_*.deb "$src/x"
fi
python3 benches/quality/derive_python_faq.py \
  "$src/x/usr/share/doc/python3.11/html/_sources" bench-out/python-faq
python3 benches/quality/derive_debian_faq.py \
  "$src/x/usr/share/doc/debian/FAQ" "$src/x/usr/share/debian-reference" bench-out/debian-faq
python3 benches/quality/derive_perl_faq.py "$(echo "$src"/x/usr/share/perl/5.*/pod)" bench-out/perl-faq
python3 benches/quality/derive_known_item.py bench-out/python-faq bench-out/python-known
python3 benches/quality/derive_python_index.py \
  "$src/x/usr/share/doc/python3.11/html/_sources" bench-out/python-faq bench-out/python-index
for run in python-faq:test debian-faq:test perl-faq:test python-known:title python-known:sentence; do
  set="${run%%:*}" split="${run##*:}"
  echo "## $set ($split)"
  compare_and_dump "bench-out/$set" "$split" "bench-out/$set/index"
done
echo "## python-index (test)"
compare_and_dump bench-out/python-index test bench-out/python-faq/index

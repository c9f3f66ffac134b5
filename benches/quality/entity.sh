#!/usr/bin/env bash
# Does the default fusion hold when a short description must find the thing it
# describes? Derives six BEIR-format sets from Debian and runs dense, keyword and hybrid
# on each (nothing was tuned on them):
#
#   debian-packages: a package's one-line description finds the package (its name and
#                    long description); 600 queries, 15,000 packages
#                    (benches/quality/derive_debian_packages.py);
#   debian-libraries: the same, over only Debian's Python and Perl libraries (7,435),
#                    a topical collection: 78% of its documents and 67% of its queries
#                    say "Python", "Perl", "module" or "library", as TREC-COVID's say
#                    "COVID-19";
#   debian-packages-inverse: debian-packages the other way round, a long query
#                    (the long description, 62 words on average) finds the package by
#                    its name and one-line description;
#   debian-depends:  a package's one-line description finds the packages it depends on,
#                    a relatedness task like SciDocs (derive_debian_depends.py);
#   man-pages:       a manual page's NAME line ("open and possibly create a file") finds
#                    the page; 550 queries, 2,505 pages of Debian's manpages and
#                    manpages-dev (benches/quality/derive_man_pages.py, needs groff);
#   wordnet:         a reverse dictionary: a WordNet definition ("the formal act of
#                    approving") finds the word sense it defines, listed as a thesaurus
#                    would list it, without its definition; 600 queries, 20,000 senses
#                    (benches/quality/derive_wordnet.py, from Debian's wordnet-base).
#
#   benches/quality/entity.sh
#
# Needs Debian's mirror once (bookworm's package indexes, about 20 MB, and three .deb
# packages, kept under the git-ignored bench-out/entity-src); each ingest takes a few
# CPU-minutes in bf16. A later bookworm point release can change a few packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source benches/quality/compare.sh

fusions=(--fusion adaptive --fusion adaptive:0.5:0.2:0 --fusion rrf --fusion z:0.5)
src=bench-out/entity-src
dists=http://deb.debian.org/debian/dists/bookworm/main

models/fetch.sh >/dev/null
cargo build --release -p trawl-cli -p trawl-benches --bin trawl --bin dump
mkdir -p "$src"
for index in binary-amd64/Packages i18n/Translation-en; do
  file="$src/$(basename "$index")"
  if [ ! -f "$file" ]; then
    curl -fsS "$dists/$index.xz" | xz -d >"$file.part"
    mv "$file.part" "$file"
  fi
done
for package in manpages manpages-dev wordnet-base; do
  if [ ! -f "$src/$package.unpacked" ]; then
    (cd "$src" && apt-get download "$package")
    dpkg -x "$src/$package"_*.deb "$src/x"
    touch "$src/$package.unpacked"
  fi
done
python3 benches/quality/derive_debian_packages.py \
  "$src/Packages" "$src/Translation-en" bench-out/debian-packages
python3 benches/quality/derive_debian_packages.py \
  "$src/Packages" "$src/Translation-en" bench-out/debian-libraries --only 'python3-|lib.*-perl$'
python3 benches/quality/derive_debian_packages.py \
  "$src/Packages" "$src/Translation-en" bench-out/debian-packages-inverse --inverse
python3 benches/quality/derive_debian_depends.py \
  "$src/Packages" "$src/Translation-en" bench-out/debian-depends
python3 benches/quality/derive_man_pages.py "$src/x/usr/share/man" bench-out/man-pages
python3 benches/quality/derive_wordnet.py "$src/x/usr/share/wordnet" bench-out/wordnet
for set in debian-packages debian-libraries debian-packages-inverse debian-depends man-pages \
  wordnet; do
  echo "## $set"
  compare_and_dump "bench-out/$set" test "bench-out/$set/index"
done

#!/usr/bin/env bash
# Assembles a corpus of real PDFs for the extraction measurement: the test suites of
# three PDF libraries (PyPI source archives) and the manuals of six Debian packages.
#
#   benches/pdf/corpus.sh [DEST]        (default bench-out/pdf-corpus)
#
# Needs network access to PyPI and Debian's archive once; the files stay in DEST.
set -euo pipefail
dest=${1:-bench-out/pdf-corpus}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# name version: PDF libraries whose source archives carry their test files.
sdists="pypdf 7.1.1
pikepdf 10.18.0
PyMuPDF 2.1"
while read -r name version; do
  # PyPI's simple index (what pip reads) names every file with its address.
  url=$(curl -fsS --max-time 60 "https://pypi.org/simple/$name/" |
    grep -oi "href=\"[^\"]*/$name-$version.tar.gz" | head -1 | cut -d'"' -f2)
  curl -fsS --max-time 600 -o sdist.tar.gz "$url"
  mkdir -p "src/$name"
  tar xzf sdist.tar.gz -C "src/$name" --wildcards --no-anchored '*.pdf' '*.PDF' 2>/dev/null || true
  rm sdist.tar.gz
  find "src/$name" -type f -iname '*.pdf' | sort | while read -r f; do
    # The file's path inside the archive, flattened, keeps names unique.
    flat=$(echo "${f#src/$name/*/}" | tr '/' '_')
    cp "$f" "$dest/$name--$flat"
  done
done <<<"$sdists"

# Debian packages that ship their manuals as PDF (some gzipped).
debs="r-doc-pdf gnuplot-doc asymptote-doc avrdude-doc debian-reference-en octave-doc"
mkdir -p deb
(cd deb && apt-get download $debs >/dev/null 2>&1)
for deb in deb/*.deb; do
  pkg=$(basename "$deb" | cut -d_ -f1)
  mkdir -p "x/$pkg"
  dpkg-deb -x "$deb" "x/$pkg"
  find "x/$pkg" -type f \( -iname '*.pdf' -o -iname '*.pdf.gz' \) | sort | while read -r f; do
    base=$(basename "$f")
    case $base in
      *.gz) gunzip -c "$f" >"$dest/debian-$pkg--${base%.gz}" ;;
      *) cp "$f" "$dest/debian-$pkg--$base" ;;
    esac
  done
done
echo "$(find "$dest" -type f | wc -l) PDFs in $dest"

#!/usr/bin/env python3
"""How much of each PDF's text trawl reads, with poppler's pdftotext as the reference.

    python3 benches/pdf/recall.py FOLDER [--trawl target/release/trawl] [--out FILE.tsv]

Each file is read by `pdftotext -enc UTF-8` and by `trawl extract --json`. Both texts are
cut into words the same way: NFKC, lower case, a word broken by a hyphen at a line end
joined, then runs of letters and digits, every CJK character a word of its own. Per file:

- recall: the share of pdftotext's words (as a multiset) that trawl's text holds too;
- precision: the share of trawl's words that pdftotext's text holds (an invented or
  doubled word lowers it).

The summary pools the counts over all files (pooled recall = matched / pdftotext's words)
and lists the files pdftotext reads and trawl does not, and the worst recalls. The
per-file table goes to --out. No Python package beyond the standard library is needed.
"""

import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
WORD = re.compile(rf"[{CJK}]|[^\W_{CJK}]+")
HYPHENATED = re.compile(r"(\w)-\s*\n\s*(\w)")


def words(text):
    text = unicodedata.normalize("NFKC", text)
    text = HYPHENATED.sub(r"\1\2", text)
    return collections.Counter(WORD.findall(text.lower()))


def pdftotext(path):
    try:
        run = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", path, "-"],
            capture_output=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return ""
    return run.stdout.decode("utf-8", "replace")


def trawl_texts(binary, paths):
    """Texts trawl reads, by path, or the error it reports."""
    run = subprocess.run([binary, "extract", "--json", *paths], capture_output=True, timeout=3600)
    out = {}
    for entry in json.loads(run.stdout.decode("utf-8")):
        if "error" in entry:
            out[entry["path"]] = (None, entry["error"]["kind"] + ": " + entry["error"]["message"])
            continue
        text = "\n\n".join(
            s["text"] for d in entry["documents"] for s in d["sections"] if s.get("text")
        )
        out[entry["path"]] = (text, None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--trawl", default="target/release/trawl")
    ap.add_argument("--out", help="per-file table (TSV)")
    ap.add_argument(
        "--min-words",
        type=int,
        default=50,
        help="a file counts as a low-recall file only above this many reference words",
    )
    args = ap.parse_args()

    paths = sorted(
        os.path.join(args.folder, f)
        for f in os.listdir(args.folder)
        if f.lower().endswith(".pdf") and not f.startswith(".")
    )
    size = sum(os.path.getsize(p) for p in paths)
    start = time.perf_counter()
    refs = {p: words(pdftotext(p)) for p in paths}
    poppler_s = time.perf_counter() - start
    start = time.perf_counter()
    got = trawl_texts(args.trawl, paths)
    trawl_s = time.perf_counter() - start

    rows = []
    for p in paths:
        ref = refs[p]
        text, error = got.get(p, (None, "missing from trawl's output"))
        mine = words(text or "")
        matched = sum((ref & mine).values())
        n_ref, n_mine = sum(ref.values()), sum(mine.values())
        rows.append(
            {
                "file": os.path.basename(p),
                "ref_words": n_ref,
                "trawl_words": n_mine,
                "matched": matched,
                "recall": matched / n_ref if n_ref else None,
                "precision": matched / n_mine if n_mine else None,
                "error": error or "",
            }
        )

    if args.out:
        with open(args.out, "w") as f:
            cols = list(rows[0])
            f.write("\t".join(cols) + "\n")
            for r in rows:
                f.write(
                    "\t".join(
                        ""
                        if r[c] is None
                        else (f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]))
                        for c in cols
                    )
                    + "\n"
                )

    read = [r for r in rows if r["ref_words"] > 0]
    both = [r for r in read if r["trawl_words"] > 0]
    lost = [r for r in read if r["trawl_words"] == 0]
    matched = sum(r["matched"] for r in read)
    n_ref = sum(r["ref_words"] for r in read)
    n_mine = sum(r["trawl_words"] for r in rows)
    matched_all = sum(r["matched"] for r in rows)
    big = [r for r in read if r["ref_words"] > args.min_words]
    low = sorted((r for r in big if r["recall"] < 0.8), key=lambda r: r["recall"])
    print(f"files: {len(rows)} ({size / 1e6:.1f} MB)")
    print(
        f"pdftotext reads text from {len(read)}; trawl from {len(both)} of those, "
        f"and from {sum(1 for r in rows if r['ref_words'] == 0 and r['trawl_words'] > 0)} others"
    )
    print(
        f"pooled recall {matched / n_ref:.4f}, median per file "
        f"{statistics.median(r['recall'] for r in read):.4f}"
    )
    print(f"pooled precision {matched_all / n_mine:.4f}" if n_mine else "pooled precision -")
    print(
        f"files with > {args.min_words} reference words below recall 0.8: {len(low)} of {len(big)}"
    )
    print(
        f"time: pdftotext {poppler_s:.1f} s, trawl {trawl_s:.1f} s "
        f"({size / 1e6 / trawl_s:.2f} MB/s, one process for all files)"
    )
    if lost:
        print("\nread by pdftotext, not by trawl:")
        for r in sorted(lost, key=lambda r: -r["ref_words"]):
            print(f"  {r['file']}: {r['ref_words']} words; {r['error'] or 'no words'}")
    if low:
        print("\nlowest recall (files with text on both sides):")
        for r in [r for r in low if r["trawl_words"] > 0][:40]:
            print(
                f"  {r['recall']:.3f}  precision {r['precision']:.3f}  "
                f"{r['ref_words']:>7} words  {r['file']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

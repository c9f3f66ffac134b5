#!/usr/bin/env python3
"""Puts SciFact's claims as questions: a probe of the fusion's question factor where a
question's words are rare and BM25 is strong.

    python3 benches/quality/derive_claim_questions.py SCIFACT_DIR OUT_DIR

Each claim becomes "Is it true that <claim>?" (its first letter lowered, its final full
stop dropped); the corpus is SciFact's own (linked, not copied) and so are the qrels.
Pure standard library.
"""

import json
import shutil
import sys
from pathlib import Path


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.jsonl"
    if not corpus.exists():
        corpus.symlink_to((src / "corpus.jsonl").resolve())
    for qrels in (src / "qrels").glob("*.tsv"):
        shutil.copyfile(qrels, out / "qrels" / qrels.name)
    with open(src / "queries.jsonl") as f, open(out / "queries.jsonl", "w") as w:
        for line in f:
            q = json.loads(line)
            claim = q["text"].strip().rstrip(".")
            q["text"] = f"Is it true that {claim[:1].lower()}{claim[1:]}?"
            w.write(json.dumps(q) + "\n")


if __name__ == "__main__":
    main()

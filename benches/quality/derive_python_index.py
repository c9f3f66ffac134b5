#!/usr/bin/env python3
"""Derives a BEIR-format set from the index of Python's documentation: short keyword
queries written by the documentation's authors, judged by where they point.

    python3 benches/quality/derive_python_index.py RST_SOURCES PYTHON_FAQ_DIR OUT_DIR

RST_SOURCES is the `_sources` folder of Python's HTML documentation (as for
derive_python_faq.py) and PYTHON_FAQ_DIR the set that script writes: this set asks its
queries against the same corpus, so it can share that set's index. Each query is an
entry of the documentation's index (`.. index:: single: process; id of parent` gives
"process id of parent", `pair: for; statement` "for statement", `module: os` "os
module"), the keyword-style query of a back-of-the-book index; its relevant documents
are the sections the entry points into (an entry used in several sections has several).
Entries that point into more than five sections are left out (too general to judge
this way), and so are those of symbols ("# (hash) comment"); 600 queries are drawn
with a fixed seed. Pure standard library.
"""

import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from derive_python_faq import DISTRACTORS, sections  # same directory

KINDS = {
    "module": "{} module",
    "builtin": "{} built-in function",
    "statement": "{} statement",
    "keyword": "{} keyword",
    "object": "{} object",
    "operator": "{} operator",
    "exception": "{} exception",
}
MAX_RELEVANT = 5
QUERIES = 600


def entries(text):
    """The query texts of one index directive's argument."""
    out = []
    for part in re.split(r"\n|(?<=[^;]),(?=\s*(?:single|pair|triple|module|builtin|\w+:))", text):
        part = part.strip().lstrip("!").strip()
        if not part:
            continue
        kind, _, rest = part.partition(":")
        kind = kind.strip().lower()
        if kind in ("single", "pair", "triple"):
            words = [w.strip().lstrip("!") for w in rest.split(";")]
            words = [w for w in words if w]
        elif kind in KINDS and rest.strip():
            words = [KINDS[kind].format(rest.strip().lstrip("!"))]
        elif kind in ("see", "seealso"):
            continue
        elif ":" not in part:
            # A plain entry line lists entries by commas, sub-entries by semicolons.
            out.extend(" ".join(e.replace(";", " ").split()) for e in part.split(",") if e.strip())
            continue
        else:
            continue
        query = " ".join(" ".join(words).split())
        if query:
            out.append(query)
    return out


def indexed_sections(path):
    """{section number: [query]}, numbered as derive_python_faq.sections numbers them
    (which also says which section a directive belongs to)."""
    directives = {}
    sections(path, index=directives)
    return {n: [q for text in texts for q in entries(text)] for n, texts in directives.items()}


def main():
    src, faq, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    corpus_ids = {json.loads(line)["_id"] for line in open(faq / "corpus.jsonl")}
    relevant = defaultdict(set)
    for part in DISTRACTORS:
        for path in sorted((src / part).rglob("*.rst.txt")):
            rel = path.relative_to(src).as_posix().removesuffix(".rst.txt")
            for n, queries in indexed_sections(path).items():
                doc_id = f"{rel}-{n}"
                if doc_id in corpus_ids:
                    for q in queries:
                        relevant[q.lower()].add(doc_id)
    usable = sorted(
        q for q, docs in relevant.items() if len(docs) <= MAX_RELEVANT and q[:1].isalpha()
    )
    random.Random(7).shuffle(usable)
    chosen = sorted(usable[:QUERIES])
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.jsonl"
    if not corpus.exists():
        corpus.symlink_to((faq / "corpus.jsonl").resolve())
    with open(out / "queries.jsonl", "w") as f, open(out / "qrels" / "test.tsv", "w") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for n, query in enumerate(chosen):
            f.write(json.dumps({"_id": f"index-{n}", "text": query}) + "\n")
            for doc_id in sorted(relevant[query]):
                qrels.write(f"index-{n}\t{doc_id}\t1\n")
    print(
        f"{len(chosen)} queries of {len(relevant)} index entries, "
        f"{sum(len(relevant[q]) for q in chosen)} judgments -> {out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Derives a second BEIR-format benchmark from SciFact's corpus: known-item retrieval.

    python3 benches/quality/derive_known_item.py ../shared/data/scifact bench-out/known-item [--disjoint]
    trawl eval bench-out/known-item --split title --compare --fusion adaptive ...
    trawl eval bench-out/known-item --split sentence --compare --fusion adaptive ...

SciFact's claims are the only judged queries on this machine, so fusion defaults tuned
on them cannot be checked on other queries. This script writes two other tasks over
one corpus, both with exactly one relevant document per query:

- `title`: the query is a paper's title; the corpus holds the abstracts with every
  title removed. Queries and documents share some vocabulary, but titles are short and
  phrased unlike claims (and all-MiniLM-L6-v2 saw title/abstract pairs in training, so
  dense retrieval should do well here: a set where BM25 is not the stronger side).
- `sentence`: the query is one sentence from the middle of an abstract (an inverse
  cloze task), and that sentence is removed from the indexed abstract, so no exact
  copy of it is there to match.

With `--disjoint`, the `title` task becomes a vocabulary-mismatch task: every word of
a queried abstract that shares its first five letters (a crude stem) with a word of its
title is deleted, so the query and its answer share no keyword and BM25 can only find
it through other words. That is the regime where keyword retrieval loses to dense
retrieval and a fusion default is most at risk.

Each task samples 500 documents (seeded; different documents for the two tasks).
Pure standard library; the output is a few MiB under the git-ignored bench-out/.
"""

import json
import random
import re
import sys
from pathlib import Path

QUERIES_PER_TASK = 500
SEED = 9

# Sentence ends: ., ! or ? then space(s) and a capital letter, digit or bracket.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def sentences(text):
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


WORD = re.compile(r"[A-Za-z0-9]+")


def stem(word):
    return word.lower()[:5]


def without_title_words(text, title):
    stems = {stem(w) for w in WORD.findall(title)}
    kept = WORD.sub(lambda m: "" if stem(m.group(0)) in stems else m.group(0), text)
    return re.sub(r"\s+", " ", kept).strip()


def main():
    args = [a for a in sys.argv[1:] if a != "--disjoint"]
    disjoint = "--disjoint" in sys.argv[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    src, out = Path(args[0]), Path(args[1])
    corpus = [json.loads(line) for line in open(src / "corpus.jsonl") if line.strip()]
    corpus = [d for d in corpus if d.get("text", "").strip()]
    rng = random.Random(SEED)

    titled = [d for d in corpus if len(d.get("title", "").split()) >= 4]
    title_docs = rng.sample(titled, QUERIES_PER_TASK)
    taken = {d["_id"] for d in title_docs}
    # A held-out sentence needs an abstract of at least five sentences and a middle
    # sentence long enough to be a query.
    held_out = {}
    candidates = [d for d in corpus if d["_id"] not in taken]
    rng.shuffle(candidates)
    for d in candidates:
        parts = sentences(d["text"])
        if len(parts) < 5:
            continue
        middle = [i for i in range(1, len(parts) - 1) if len(parts[i].split()) >= 8]
        if not middle:
            continue
        i = rng.choice(middle)
        held_out[d["_id"]] = (parts[i], " ".join(parts[:i] + parts[i + 1 :]))
        if len(held_out) == QUERIES_PER_TASK:
            break

    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f:
        for d in corpus:
            text = held_out[d["_id"]][1] if d["_id"] in held_out else d["text"]
            if disjoint and d["_id"] in taken:
                text = without_title_words(text, d["title"])
            f.write(json.dumps({"_id": d["_id"], "title": "", "text": text}) + "\n")
    with (
        open(out / "queries.jsonl", "w") as q,
        open(out / "qrels/title.tsv", "w") as t,
        open(out / "qrels/sentence.tsv", "w") as s,
    ):
        t.write("query-id\tcorpus-id\tscore\n")
        s.write("query-id\tcorpus-id\tscore\n")
        for d in title_docs:
            q.write(json.dumps({"_id": f"t{d['_id']}", "text": d["title"].strip()}) + "\n")
            t.write(f"t{d['_id']}\t{d['_id']}\t1\n")
        for doc_id, (sentence, _) in held_out.items():
            q.write(json.dumps({"_id": f"s{doc_id}", "text": sentence}) + "\n")
            s.write(f"s{doc_id}\t{doc_id}\t1\n")
    print(
        f"{out}: {len(corpus)} documents, {len(title_docs)} title queries, "
        f"{len(held_out)} sentence queries"
    )


if __name__ == "__main__":
    main()

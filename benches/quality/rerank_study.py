#!/usr/bin/env python3
"""Tunes the sentence-window reranker offline on hits written by the `dump` tool.

    cargo run --release -p trawl-benches --bin dump -- windows BEIR_DIR --split train \
        --index IDX --out windows-train.jsonl
    python3 benches/quality/rerank_study.py windows-train.jsonl BEIR_DIR/qrels/train.tsv [SETTINGS]

Each dump line holds one query's first hybrid chunk hits (reranking off): document id,
first-stage (fused) score, the chunk's cosine to the query (null when the dense side
did not return it) and the best window cosine for windows of exactly 1, 2 and 3
sentences. This replays `SentenceWindows` (z-scored first-stage score and best window
over the first DEPTH hits, mixed with WEIGHT; hits past DEPTH keep their order below)
and a few alternative combinations, and prints nDCG@10 for each setting, best first.
With SETTINGS (for example `0.3:20:2`), it prints only that setting of the shipped
combination: the way to report a test split with knobs chosen on train.
Pure standard library.
"""

import json
import math
import sys
from collections import defaultdict

from fusion_study import ndcg10  # same directory: run as a script


def load(dump, qrels_path):
    qrels = defaultdict(dict)
    with open(qrels_path) as f:
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")[:3]
            if s.isdigit():
                qrels[q][d] = int(s)
    queries = []
    for line in open(dump):
        try:
            queries.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a dump still being written
            break
    return [q for q in queries if q["qid"] in qrels], qrels


def zscores(values):
    if not values:
        return []
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / sd if sd > 0 else 0.0 for v in values]


def docs(order, hits):
    seen, out = set(), []
    for i in order:
        d = hits[i][0]
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def window(hit, max_sentences):
    scores = hit[3][:max_sentences]
    return max(scores) if scores else None


def rerank(hits, weight, depth, max_sentences, how="convex"):
    """Order of hit indices after reranking the first `depth` hits."""
    n = min(depth, len(hits))
    first = zscores([h[1] for h in hits[:n]])
    if how == "convex":  # what SentenceWindows does
        best = [window(h, max_sentences) for h in hits[:n]]
    elif how == "max":  # window or whole chunk, whichever is closer
        best = [
            max(x for x in (window(h, max_sentences), h[2]) if x is not None)
            if (window(h, max_sentences) is not None or h[2] is not None)
            else None
            for h in hits[:n]
        ]
    else:
        raise ValueError(how)
    found = [b for b in best if b is not None]
    zf = dict(zip([i for i, b in enumerate(best) if b is not None], zscores(found)))
    floor = min(zf.values()) if zf else 0.0
    scores = [(1 - weight) * first[i] + weight * zf.get(i, floor) for i in range(n)]
    head = sorted(range(n), key=lambda i: (-scores[i], i))
    return head + list(range(n, len(hits)))


def rrf(hits, weight, depth, max_sentences, k=60):
    n = min(depth, len(hits))
    best = [window(h, max_sentences) or -1.0 for h in hits[:n]]
    wrank = {i: r for r, i in enumerate(sorted(range(n), key=lambda i: -best[i]))}
    scores = [(1 - weight) / (k + i + 1) + weight / (k + wrank[i] + 1) for i in range(n)]
    return sorted(range(n), key=lambda i: (-scores[i], i)) + list(range(n, len(hits)))


def mean_ndcg(queries, qrels, order_of):
    # A hit whose document id is its query's is dropped, as `trawl eval` and BEIR do.
    def ranked(q):
        return [d for d in docs(order_of(q["hits"]), q["hits"]) if d != q["qid"]]

    return sum(ndcg10(ranked(q), qrels[q["qid"]]) for q in queries) / len(queries)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    queries, qrels = load(sys.argv[1], sys.argv[2])
    base = mean_ndcg(queries, qrels, lambda h: list(range(len(h))))
    print(f"{len(queries)} queries; first stage (no rerank): nDCG@10 {base:.4f}")
    if len(sys.argv) == 4:
        w, d, m = sys.argv[3].split(":")
        got = mean_ndcg(queries, qrels, lambda h: rerank(h, float(w), int(d), int(m)))
        print(f"sentences:{sys.argv[3]}: nDCG@10 {got:.4f} ({got - base:+.4f})")
        return
    results = []
    for how in ("convex", "max", "rrf"):
        for m in (1, 2, 3):
            for d in (5, 10, 20, 30, 40):
                for w in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
                    if how == "rrf":
                        f = lambda h, w=w, d=d, m=m: rrf(h, w, d, m)  # noqa: E731
                    else:
                        f = lambda h, w=w, d=d, m=m, how=how: rerank(h, w, d, m, how)  # noqa: E731
                    results.append((mean_ndcg(queries, qrels, f), how, w, d, m))
    results.sort(reverse=True)
    print("nDCG@10  combination  weight  depth  max_sentences")
    for r in results[:25]:
        print(f"{r[0]:.4f}  {r[1]:<11}  {r[2]:<6}  {r[3]:<5}  {r[4]}")
    for how in ("convex", "max", "rrf"):
        best = max(r for r in results if r[1] == how)
        print(f"best {how}: {best[0]:.4f} at weight {best[2]}, depth {best[3]}, max {best[4]}")


if __name__ == "__main__":
    main()

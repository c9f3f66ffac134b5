#!/usr/bin/env python3
"""Does pseudo-relevance feedback on the dense side help the default fusion?

    .venv-bench/bin/python benches/quality/prf_study.py BEIR_DIR SPLIT DUMP [MODEL_DIR]

DUMP is `dump candidates BEIR_DIR --split SPLIT --index IDX --out DUMP` (the
benches' `dump` tool, `cargo run --release -p trawl-benches --bin dump -- ...`);
its keyword lists (collapsed to documents by their best chunk) and keyword signals are
used as they are. The dense side is recomputed exactly here, one embedding per document
(title and text, sentence-transformers, max_seq_length 256), so that the query vector
can be moved: Rocchio feedback, q' = q + beta * mean(top m), from either dense
retrieval's own top m (`dense-prf`) or the default fusion's top m (`hybrid-prf`, which
carries keyword evidence into the dense query). Each is fused again with the default's
keyword weight. Prints each variant's nDCG@10 and its paired difference from the
default (± standard error). Needs numpy and sentence-transformers (benches only);
embeddings are cached beside the dump.
"""

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from fusion_study import coverage_share, idf_share, ndcg10, paired  # same directory


def embed(beir, cache, model_dir):
    """Unit vectors of every document and query, cached in `cache` (an .npz)."""
    docs = [json.loads(line) for line in open(beir / "corpus.jsonl")]
    queries = [json.loads(line) for line in open(beir / "queries.jsonl")]
    if not cache.exists():
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir), device="cpu")
        model.max_seq_length = 256
        texts = [f"{d.get('title') or ''}\n{d.get('text') or ''}".strip() for d in docs]
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        asked = model.encode([q["text"] for q in queries], normalize_embeddings=True)
        np.savez(cache, docs=vectors, queries=asked)
    saved = np.load(cache)
    query_vectors = {str(q["_id"]): v for q, v in zip(queries, saved["queries"])}
    return [str(d["_id"]) for d in docs], saved["docs"], query_vectors


def z(scores):
    scores = np.asarray(scores, dtype=float)
    sd = scores.std()
    return (scores - scores.mean()) / sd if sd > 0 else scores * 0


def fuse(dense, keyword, w):
    """The default's convex combination of z-scores, on (document, score) lists."""
    out = defaultdict(float)
    for (d, _), s in zip(dense, z([s for _, s in dense])):
        out[d] += (1 - w) * s
    for (d, _), s in zip(keyword, z([s for _, s in keyword])):
        out[d] += w * s
    return sorted(out.items(), key=lambda x: -x[1])


def main():
    beir, split, dump = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    model_dir = Path(sys.argv[4]) if len(sys.argv) > 4 else Path("models/all-MiniLM-L6-v2")
    ids, vectors, query_vectors = embed(beir, dump.with_suffix(".vectors.npz"), model_dir)
    row = {d: i for i, d in enumerate(ids)}

    def search(v, n=300):
        s = vectors @ v
        top = np.argpartition(-s, n)[:n]
        return [(ids[i], float(s[i])) for i in top[np.argsort(-s[top])]]

    def moved(v, hits, m, beta):
        v = v + beta * np.mean([vectors[row[d]] for d, _ in hits[:m]], axis=0)
        return v / np.linalg.norm(v)

    qrels = defaultdict(dict)
    for line in open(beir / "qrels" / f"{split}.tsv"):
        q, d, s = line.rstrip("\n").split("\t")[:3]
        if s.isdigit():
            qrels[q][d] = int(s)
    runs = defaultdict(list)
    for line in open(dump):
        q = json.loads(line)
        if q["qid"] not in qrels:
            continue
        best = {}
        for _, d, s in q["keyword"]:
            best[d] = max(best.get(d, -math.inf), s)
        keyword = sorted(best.items(), key=lambda x: -x[1])
        w = 0.5 * coverage_share(q, 0.2) * idf_share(q, 4.0)
        v, judged = query_vectors[q["qid"]], qrels[q["qid"]]
        dense = search(v)
        default = fuse(dense, keyword, w)
        runs["dense"].append(ndcg10([d for d, _ in dense], judged))
        runs["default"].append(ndcg10([d for d, _ in default], judged))
        for m in (1, 3, 5):
            for beta in (0.25, 0.5, 1.0):
                for name, source in (("hybrid-prf", default), ("dense-prf", dense)):
                    fused = fuse(search(moved(v, source, m, beta)), keyword, w)
                    runs[f"{name} m{m} b{beta}"].append(ndcg10([d for d, _ in fused], judged))
    for name, scores in runs.items():
        diff, se = paired(scores, runs["default"])
        print(f"{name:22s} {np.mean(scores):.4f} {diff:+.4f} ± {se:.4f}")


if __name__ == "__main__":
    main()

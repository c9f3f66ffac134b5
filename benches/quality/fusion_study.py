#!/usr/bin/env python3
"""Studies fusion offline on candidate lists written by the `dump` tool.

    cargo run --release -p trawl-benches --bin dump -- candidates BEIR_DIR --split train \
        --index IDX --out cands-train.jsonl
    python3 benches/quality/fusion_study.py cands-train.jsonl BEIR_DIR/qrels/train.tsv

Each line of the dump holds one query's dense and keyword candidates (point id, document
id, raw score), the keyword signals the adaptive fusion uses (coverage, mean IDF) and
the query's analysed terms with their IDF and document frequency. Fusion runs on chunks,
as in trawl; documents are then ranked by their best chunk, as `trawl eval` does. Pure
standard library: no numpy needed.
"""

import json
import math
import sys
from collections import defaultdict


def load(dump, qrels_path):
    qrels = defaultdict(dict)
    with open(qrels_path) as f:
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")[:3]
            if s.isdigit():
                qrels[q][d] = int(s)
    queries = [json.loads(line) for line in open(dump)]
    return [q for q in queries if q["qid"] in qrels], qrels


def ndcg10(ranked, judged):
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def docs_of(fused, doc_of):
    seen, out = set(), []
    for pid, _ in fused:
        d = doc_of[pid]
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def norm(scores, how):
    if not scores:
        return []
    if how == "minmax":
        lo, hi = min(scores), max(scores)
        return [(s - lo) / (hi - lo) if hi > lo else 1.0 for s in scores]
    mean = sum(scores) / len(scores)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return [(s - mean) / sd if sd > 0 else 0.0 for s in scores]


def convex(dense, kw, w, how):
    dn, kn = norm([s for _, _, s in dense], how), norm([s for _, _, s in kw], how)
    dfloor, kfloor = (min(dn) if dn else 0.0), (min(kn) if kn else 0.0)
    ds = {p: s for (p, _, _), s in zip(dense, dn)}
    ks = {p: s for (p, _, _), s in zip(kw, kn)}
    ids = list(dict.fromkeys([p for p, _, _ in dense] + [p for p, _, _ in kw]))
    scored = [(p, w * ks.get(p, kfloor) + (1 - w) * ds.get(p, dfloor)) for p in ids]
    return sorted(scored, key=lambda x: -x[1])


def rrf(dense, kw, w=0.5, k=60):
    acc = defaultdict(float)
    for weight, lst in ((1 - w, dense), (w, kw)):
        for r, (p, _, _) in enumerate(lst):
            acc[p] += weight / (k + r + 1)
    return sorted(acc.items(), key=lambda x: -x[1])


def coverage_share(q, full):
    """The adaptive fusion's coverage factor: min(1, coverage / full)."""
    return min(1.0, q.get("coverage", 1.0) / full)


def idf_share(q, full):
    """The adaptive fusion's IDF factor: min(1, mean IDF of the query's terms / full)."""
    return min(1.0, q.get("mean_idf", full) / full) if full > 0 else 1.0


def idf_share_without_common(q, full, min_idf):
    """The IDF factor over only the query's terms with IDF >= min_idf (terms in fewer
    than about exp(-min_idf) of the chunks), all its present terms if none is: tried
    and not adopted. Needs a dump with "terms" (term, IDF, document frequency)."""
    present = [idf for _, idf, df in q["terms"] if df > 0]
    kept = [idf for idf in present if idf >= min_idf] or present
    return min(1.0, (sum(kept) / len(kept) if kept else 0.0) / full)


def dense_top_absent(q):
    """Whether the dense top-1 document is missing from the keyword candidates."""
    keyword = {d for _, d, _ in q["keyword"]}
    return bool(q["dense"]) and q["dense"][0][1] not in keyword


def agreement(q, n=10):
    """Share of the dense top-n documents that are also in the keyword top-n."""
    dense = {d for _, d, _ in q["dense"][:n]}
    keyword = {d for _, d, _ in q["keyword"][:n]}
    return len(dense & keyword) / n


def evaluate(queries, qrels, fuse):
    """Each query's nDCG@10 under `fuse`, in the order of `queries`."""
    out = []
    for q in queries:
        doc_of = {p: d for p, d, _ in q["dense"] + q["keyword"]}
        # A hit whose document id is its query's is dropped, as `trawl eval` and BEIR do.
        ranked = [d for d in docs_of(fuse(q), doc_of) if d != q["qid"]]
        out.append(ndcg10(ranked, qrels[q["qid"]]))
    return out


def paired(a, b):
    """Mean of a - b per query, and its standard error."""
    diffs = [x - y for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / max(1, len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs))


def main():
    queries, qrels = load(sys.argv[1], sys.argv[2])
    runs = {
        "dense": lambda q: [(p, s) for p, _, s in q["dense"]],
        "keyword": lambda q: [(p, s) for p, _, s in q["keyword"]],
        "rrf:60": lambda q: rrf(q["dense"], q["keyword"]),
    }
    for w in (0.2, 0.3, 0.4, 0.5, 0.6):
        runs[f"z:{w}"] = lambda q, w=w: convex(q["dense"], q["keyword"], w, "z")
        runs[f"minmax:{w}"] = lambda q, w=w: convex(q["dense"], q["keyword"], w, "minmax")
    for c in (0.1, 0.2, 0.3):
        runs[f"adaptive:0.5:{c}:0"] = lambda q, c=c: convex(
            q["dense"], q["keyword"], 0.5 * coverage_share(q, c), "z"
        )
    # The default's coverage and IDF factors (full weight from mean IDF `i` up; 0 turns
    # the IDF factor off), without its legibility, question and fade terms:
    # learn_fusion.py --table replays the library's default whole.
    for i in (2.5, 3.0, 3.5, 4.0, 4.5):
        runs[f"adaptive:0.5:0.2:{i}"] = lambda q, i=i: convex(
            q["dense"], q["keyword"], 0.5 * coverage_share(q, 0.2) * idf_share(q, i), "z"
        )
    # The default over only the first n candidates of each list, as a search with
    # `candidates` n fuses them (z-scores are taken over the list it has).
    for n in (50, 100, 200):
        runs[f"adaptive@{n}"] = lambda q, n=n: convex(
            q["dense"][:n],
            q["keyword"][:n],
            0.5 * coverage_share(q, 0.2) * idf_share(q, 4.0),
            "z",
        )
    # The IDF factor with the collection's most common terms (in more than about 20%,
    # 10%, 5% of chunks) left out of the mean: tried and not adopted.
    if all("terms" in q for q in queries):
        for m in (1.6, 2.3, 3.0):
            runs[f"adaptive-common:{m}"] = lambda q, m=m: convex(
                q["dense"],
                q["keyword"],
                0.5 * coverage_share(q, 0.2) * idf_share_without_common(q, 4.0, m),
                "z",
            )
    # No keyword weight (or half) when the dense top-1 document is not among the
    # keyword candidates at all: tried and not adopted.
    for name, f in (("off", 0.0), ("half", 0.5)):
        runs[f"adaptive+absent-top:{name}"] = lambda q, f=f: convex(
            q["dense"],
            q["keyword"],
            0.5 * coverage_share(q, 0.2) * idf_share(q, 4.0) * (f if dense_top_absent(q) else 1.0),
            "z",
        )
    # The adaptive weight further scaled by how much the two top-10 lists agree
    # (documents in both / 10, full weight from `a` up): tried and not adopted.
    for a in (0.1, 0.2, 0.4):
        runs[f"adaptive+agree:{a}"] = lambda q, a=a: convex(
            q["dense"],
            q["keyword"],
            0.5 * coverage_share(q, 0.2) * min(1.0, agreement(q) / a),
            "z",
        )
    scores = {}
    for name, fuse in runs.items():
        scores[name] = evaluate(queries, qrels, fuse)
        print(f"{name:22s} {sum(scores[name]) / len(queries):.4f}")
    # The coverage and IDF factors against the better single retriever, paired per query.
    best = max(("dense", "keyword"), key=lambda name: sum(scores[name]))
    diff, se = paired(scores["adaptive:0.5:0.2:4.0"], scores[best])
    print(f"adaptive:0.5:0.2:4.0 - {best}: {diff:+.4f} ± {se:.4f} (paired standard error)")


if __name__ == "__main__":
    main()

"""Shard sets on Ray, measured on BEIR SciFact: equivalence with one collection, ingest
throughput with one and two embedding workers, query latency of the set against one
collection of the same chunks, and a projection to 100M chunks.

    .venv/bin/python benches/shards/scifact.py [../shared/data/scifact] [--out DIR]

Everything runs in this process on a local Ray cluster of all the machine's cores. The
baseline (one collection, no Ray: ``Collection.add_text`` in batches through
``ShardWriter`` with one shard) runs in the same script. The projection at the end is
arithmetic on the measured per-chunk and per-query costs, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

import trawl
import trawl.ray

MODEL = Path(__file__).resolve().parents[2] / "models" / "all-MiniLM-L6-v2"


def load(beir: Path) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    rows = []
    with open(beir / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            rows.append({"id": d["_id"], "title": d.get("title") or None, "text": d["text"]})
    queries = {}
    with open(beir / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            queries[d["_id"]] = d["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(beir / "qrels" / "test.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, s = line.split("\t")
            qrels.setdefault(q, {})[d] = int(s)
    return rows, {q: queries[q] for q in qrels}, qrels


def ndcg10(ranked: list[str], rel: dict[str, int]) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def top_docs(hits: list[trawl.Hit]) -> list[str]:
    out: list[str] = []
    for h in hits:
        if h.doc_id not in out:
            out.append(h.doc_id)
    return out[:10]


def latency(s: trawl.ShardSet, queries: list[str], mode: str) -> tuple[float, float]:
    times = []
    for q in queries:
        t = time.perf_counter()
        s.search(q, k=10, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("beir", nargs="?", default="../shared/data/scifact")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows, queries, qrels = load(Path(args.beir))
    cpus = os.cpu_count() or 1
    out = Path(args.out or tempfile.mkdtemp(prefix="trawl-shards-"))
    print(f"CPU: {trawl.cpu_info()['cpu']} ({cpus} cores); kernels {trawl.cpu_info()['path']}")
    print(f"SciFact: {len(rows)} documents, {len(queries)} test queries; sets under {out}")

    # Baseline: one collection, no Ray: the abstracts as text files, through
    # Collection.add (the pipelined ingest of one process).
    reuse = (out / "plain").exists()
    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    for r in rows:
        (files / f"{r['id']}.txt").write_text(
            (r["title"] + "\n\n" if r["title"] else "") + r["text"], encoding="utf-8"
        )
    t = time.perf_counter()
    with trawl.Collection(out / "plain", model=MODEL) as plain:
        plain_report = plain.add(files)
    plain_s = time.perf_counter() - t

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    runs = {}
    for name, shards, embedders in [
        ("1 shard, 1 worker", 1, 1),
        ("4 shards, 1 worker", 4, 1),
        ("4 shards, 2 workers", 4, 2),
    ]:
        path = out / name.replace(" ", "").replace(",", "-")
        if path.exists():
            print(f"ingest {name}: reusing {path} (ingest times are of the run that made it)")
            runs[name] = (path, None)
            continue
        result = trawl.ray.ingest(
            path,
            rows,
            shards=shards,
            model=MODEL,
            embedders=embedders,
            embedder_cpus=cpus / embedders,
            docs_per_batch=64,
        )
        runs[name] = (path, result)
        print(
            f"ingest {name}: {result.seconds:.1f} s, {result.chunks} chunks, "
            f"{result.chunks / result.seconds:.1f} chunks/s"
        )
    ray.shutdown()
    if not reuse:
        print(
            f"ingest without Ray (Collection.add of the same texts as files): {plain_s:.1f} s, "
            f"{plain_report.chunks} chunks, {plain_report.chunks / plain_s:.1f} chunks/s"
        )

    one = trawl.ShardSet(runs["1 shard, 1 worker"][0])
    four = trawl.ShardSet(runs["4 shards, 2 workers"][0])
    # Top-10 chunk lists: identical; identical up to the order of equal scores; or,
    # where they differ otherwise, whether the set's scores are at least the single
    # collection's at every rank (the single graph's HNSW walk missed a neighbour).
    print("\nmode       identical  up to ties  set >= one  nDCG@10 1 shard  4 shards   diff")
    # The default HNSW candidate list, then one wide enough to make the graph walk
    # nearly exact at this size, so what remains is sharding's own difference.
    wide = {}
    for name, path in [
        ("one", runs["1 shard, 1 worker"][0]),
        ("four", runs["4 shards, 2 workers"][0]),
    ]:
        wide[name] = trawl.ShardSet(path)
        wide[name].set_ef_search(2000)
    runs_ef = [("default", None), ("ef=2000", 2000)]
    for (label, ef), mode in [(r, m) for r in runs_ef for m in ("keyword", "dense", "hybrid")]:
        if ef is not None and mode == "keyword":
            continue
        one, four = (one, four) if ef is None else (wide["one"], wide["four"])
        same = ties = better = 0
        n1, n4 = [], []
        for qid, q in queries.items():
            a, b = one.search(q, k=10, mode=mode), four.search(q, k=10, mode=mode)
            ids_a, ids_b = [h.chunk_id for h in a], [h.chunk_id for h in b]
            sa, sb = [h.score for h in a], [h.score for h in b]
            # Equal within float rounding (sums over shards add in another order).
            close = len(sa) == len(sb) and all(
                abs(x - y) <= 1e-4 * max(1.0, abs(x)) for x, y in zip(sa, sb)
            )
            same += ids_a == ids_b
            tied = ids_a == ids_b or (close and set(ids_a) == set(ids_b))
            ties += tied
            better += not tied and all(y >= x - 1e-4 * max(1.0, abs(x)) for x, y in zip(sa, sb))
            n1.append(ndcg10(top_docs(one.search(q, k=20, mode=mode)), qrels[qid]))
            n4.append(ndcg10(top_docs(four.search(q, k=20, mode=mode)), qrels[qid]))
        m1, m4, total = statistics.mean(n1), statistics.mean(n4), len(queries)
        name = mode if ef is None else f"{mode} {label}"
        print(
            f"{name:16} {same:>4}/{total}   {ties:>4}/{total}   {better:>4}"
            f"        {m1:.4f}          {m4:.4f}   {m4 - m1:+.4f}"
        )

    one = trawl.ShardSet(runs["1 shard, 1 worker"][0])
    four = trawl.ShardSet(runs["4 shards, 2 workers"][0])
    texts = list(queries.values())
    print("\nquery latency (ms, k=10), one process, same chunks")
    print("mode      1 collection p50/p95   4 shards p50/p95   ratio p50")
    for mode in ("keyword", "dense", "hybrid"):
        latency(one, texts[:20], mode)  # warm
        latency(four, texts[:20], mode)
        a, b = latency(one, texts, mode), latency(four, texts, mode)
        print(
            f"{mode:8}  {a[0]:6.2f} / {a[1]:6.2f}        {b[0]:6.2f} / {b[1]:6.2f}     "
            f"{b[0] / a[0]:.2f}x"
        )

    result = runs["4 shards, 2 workers"][1]
    if result is None:
        return
    chunk_s = cpus * result.seconds / result.chunks
    dense = latency(four, texts, "hybrid")[0]
    print("\nPROJECTION (arithmetic on the numbers above, not a measurement), at 100M chunks:")
    print(f"  measured ingest cost: {chunk_s * 1000:.2f} core-ms per chunk ({platform.machine()})")
    for machines, cores in [(10, 16), (50, 16), (100, 32)]:
        hours = 100e6 * chunk_s / (machines * cores) / 3600
        print(
            f"  {machines} machines x {cores} cores: ingest about {hours:.1f} h, "
            f"{100e6 / machines / 1e6:.0f}M chunks per machine"
        )
    print(
        f"  query: fan-out adds {dense - latency(one, texts, 'hybrid')[0]:+.2f} ms here "
        "(4 shards in one process); across machines add one network round trip, "
        "and each machine searches its own shards at their size (see the scale "
        "benchmark for latency against collection size)."
    )


if __name__ == "__main__":
    main()

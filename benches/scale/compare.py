#!/usr/bin/env python3
"""trawl vs hnswlib and LanceDB on the same vectors, texts and queries.

Reads what `scale` (benches/src/bin/scale.rs) wrote into its scratch dir: vectors.f32,
queries.f32, texts.jsonl, queries.jsonl, exact.json and results.json (trawl's numbers),
then builds hnswlib (ANN only) and LanceDB (embedded vectors + full-text search) on the
same data, picks for each the cheapest search setting whose recall@10 reaches trawl's,
and prints latency ratios (peer / trawl: above 1 means trawl is faster).

    python3 -m venv .venv-bench && .venv-bench/bin/pip install hnswlib lancedb numpy pyarrow
    .venv-bench/bin/python benches/scale/compare.py target/scale/100000

Latencies are per query, one query at a time from one Python thread (p50/p99 over all
queries, best of `--rounds` rounds by p50), plus QPS with two threads. Python call
overhead is included for the peers (a few microseconds for hnswlib; LanceDB builds a
query plan per call, which is part of its cost to a user).
"""

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# LanceDB logs a deprecation warning per query otherwise.
os.environ.setdefault("RUST_LOG", "error")

DIM = 384
K = 10


def load(d):
    vectors = np.fromfile(os.path.join(d, "vectors.f32"), dtype="<f4").reshape(-1, DIM)
    queries = np.fromfile(os.path.join(d, "queries.f32"), dtype="<f4").reshape(-1, DIM)
    with open(os.path.join(d, "queries.jsonl")) as f:
        qtexts = [json.loads(line)["text"] for line in f]
    with open(os.path.join(d, "exact.json")) as f:
        exact = json.load(f)
    with open(os.path.join(d, "results.json")) as f:
        trawl = json.load(f)
    return vectors, queries, qtexts, exact, trawl


def recall(found, exact):
    hit = sum(len(set(f) & set(e)) for f, e in zip(found, exact))
    return hit / max(1, sum(len(e) for e in exact))


def pct(samples, p):
    v = sorted(samples)
    return v[round((len(v) - 1) * p)] * 1e3


def timed(fn, n, rounds):
    """Best round by p50: (p50 ms, p95 ms, p99 ms, qps)."""
    best = None
    for _ in range(rounds):
        lat = []
        t0 = time.perf_counter()
        for j in range(n):
            s = time.perf_counter()
            fn(j)
            lat.append(time.perf_counter() - s)
        wall = time.perf_counter() - t0
        r = (pct(lat, 0.5), pct(lat, 0.95), pct(lat, 0.99), n / wall)
        if best is None or r[0] < best[0]:
            best = r
    return best


def qps_threads(fn, n, threads=2):
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(fn, range(n)))
    return n / (time.perf_counter() - t0)


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def run_hnswlib(vectors, queries, exact, target, m, efc, rounds):
    import hnswlib

    n = len(vectors)
    index = hnswlib.Index(space="ip", dim=DIM)
    t = time.perf_counter()
    index.init_index(max_elements=n, ef_construction=efc, M=m)
    index.add_items(vectors, np.arange(n), num_threads=2)
    build = time.perf_counter() - t
    index.set_num_threads(1)
    sweep = []
    chosen = None
    for ef in [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]:
        index.set_ef(max(ef, K))
        labels, _ = index.knn_query(queries, k=K, num_threads=1)
        r = recall(labels.tolist(), exact)
        sweep.append({"ef": ef, "recall": r})
        if r >= target:
            chosen = (ef, r)
            break
    if chosen is None:
        chosen = (sweep[-1]["ef"], sweep[-1]["recall"])
    index.set_ef(max(chosen[0], K))

    def one(j):
        return index.knn_query(queries[j : j + 1], k=K, num_threads=1)

    p50, p95, p99, qps = timed(one, len(queries), rounds)
    # Two threads: one batch call that hnswlib splits over its own threads (a Python
    # thread pool around single-query calls measures the GIL, not hnswlib).
    t = time.perf_counter()
    for _ in range(rounds):
        index.knn_query(queries, k=K, num_threads=2)
    qps2 = rounds * len(queries) / (time.perf_counter() - t)
    return {
        "build_seconds": build,
        "ef": chosen[0],
        "recall": chosen[1],
        "sweep": sweep,
        "dense": {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "qps": qps, "qps_2t": qps2},
    }


def run_lancedb(d, vectors, queries, qtexts, exact, target, m, efc, rounds):
    import lancedb
    import pyarrow as pa

    n = len(vectors)
    path = os.path.join(d, "lancedb")
    shutil.rmtree(path, ignore_errors=True)
    db = lancedb.connect(path)

    def batches(size=50_000):
        with open(os.path.join(d, "texts.jsonl")) as f:
            rows = []
            for line in f:
                rows.append(json.loads(line))
                if len(rows) == size:
                    yield rows
                    rows = []
            if rows:
                yield rows

    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("title", pa.string()),
            ("text", pa.string()),
            ("bucket", pa.int64()),
            ("group", pa.string()),
            ("vector", pa.list_(pa.float32(), DIM)),
        ]
    )
    t = time.perf_counter()
    table = None
    for rows in batches():
        ids = np.array([r["id"] for r in rows])
        vec = pa.FixedSizeListArray.from_arrays(pa.array(vectors[ids].reshape(-1)), DIM)
        batch = pa.Table.from_arrays(
            [
                pa.array(ids, pa.int64()),
                pa.array([r["title"] for r in rows]),
                pa.array([r["text"] for r in rows]),
                pa.array([r["bucket"] for r in rows], pa.int64()),
                pa.array([r["group"] for r in rows]),
                vec,
            ],
            schema=schema,
        )
        if table is None:
            table = db.create_table("chunks", batch)
        else:
            table.add(batch)
    load_seconds = time.perf_counter() - t
    t = time.perf_counter()
    partitions = max(1, n // 200_000)
    table.create_index(
        metric="dot",
        index_type="IVF_HNSW_SQ",
        num_partitions=partitions,
        m=m,
        ef_construction=efc,
    )
    vindex_seconds = time.perf_counter() - t
    t = time.perf_counter()
    table.create_fts_index("text")
    fts_seconds = time.perf_counter() - t

    def dense_ids(q, ef, refine, where=None):
        s = table.search(q).limit(K).nprobes(partitions).ef(ef).select(["id"])
        if refine:
            s = s.refine_factor(refine)
        if where:
            s = s.where(where, prefilter=True)
        return s.to_arrow()["id"].to_pylist()

    sweep = []
    chosen = None
    for ef, refine in [
        (16, 0),
        (32, 0),
        (64, 0),
        (96, 0),
        (128, 0),
        (64, 4),
        (128, 4),
        (256, 4),
        (512, 8),
    ]:
        found = [dense_ids(q, ef, refine) for q in queries]
        r = recall(found, exact["all"])
        sweep.append({"ef": ef, "refine_factor": refine, "recall": r})
        if r >= target:
            chosen = (ef, refine, r)
            break
    if chosen is None:
        best = max(sweep, key=lambda s: s["recall"])
        chosen = (best["ef"], best["refine_factor"], best["recall"])
    ef, refine, _ = chosen
    sel = [dense_ids(q, ef, refine, "bucket = 7") for q in queries]
    brd = [dense_ids(q, ef, refine, "`group` = 'a'") for q in queries]

    fts_errors = []

    def fts(j):
        try:
            return table.search(qtexts[j], query_type="fts").limit(K).select(["id"]).to_arrow()
        except Exception as e:
            fts_errors.append(str(e)[:120])
            return None

    def hybrid(j, where=None):
        s = (
            table.search(query_type="hybrid")
            .vector(queries[j])
            .text(qtexts[j])
            .limit(K)
            .nprobes(partitions)
            .ef(ef)
        )
        if refine:
            s = s.refine_factor(refine)
        if where:
            s = s.where(where, prefilter=True)
        try:
            return s.to_arrow()
        except Exception as e:
            fts_errors.append(str(e)[:120])
            return None

    nq = len(queries)
    out = {
        "load_seconds": load_seconds,
        "vector_index_seconds": vindex_seconds,
        "fts_index_seconds": fts_seconds,
        "disk_bytes": dir_size(path),
        "index": f"IVF_HNSW_SQ partitions={partitions} m={m} ef_construction={efc}",
        "ef": ef,
        "refine_factor": refine,
        "recall": chosen[2],
        "recall_selective": recall(sel, exact["selective"]),
        "recall_broad": recall(brd, exact["broad"]),
        "sweep": sweep,
    }
    for name, fn in [
        ("dense", lambda j: dense_ids(queries[j], ef, refine)),
        ("keyword", fts),
        ("hybrid", hybrid),
        ("dense_selective", lambda j: dense_ids(queries[j], ef, refine, "bucket = 7")),
        ("dense_broad", lambda j: dense_ids(queries[j], ef, refine, "`group` = 'a'")),
        ("hybrid_selective", lambda j: hybrid(j, "bucket = 7")),
    ]:
        fn(0)
        p50, p95, p99, qps = timed(fn, nq, rounds)
        out[name] = {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "qps": qps}
        if name in ("dense", "keyword", "hybrid"):
            out[name]["qps_2t"] = qps_threads(fn, nq)
    out["query_errors"] = len(fts_errors)
    out["query_error_examples"] = fts_errors[:3]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="the scale harness's scratch dir, e.g. target/scale/100000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-lancedb", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the LanceDB table")
    args = ap.parse_args()

    vectors, queries, qtexts, exact, trawl = load(args.dir)
    cfg, tserve = trawl["config"], trawl["serve"]
    lat = tserve["latency"]
    target = tserve["recall_at_10"]
    print(
        f"{len(vectors)} chunks, {len(queries)} queries; trawl recall@10 {target:.3f}",
        file=sys.stderr,
    )
    report = {"chunks": len(vectors), "queries": len(queries), "trawl_recall": target}

    h = run_hnswlib(
        vectors, queries, exact["all"], target, cfg["m"], cfg["ef_construction"], args.rounds
    )
    report["hnswlib"] = h
    print(f"hnswlib done: ef={h['ef']} recall={h['recall']:.3f}", file=sys.stderr)
    if not args.skip_lancedb:
        report["lancedb"] = run_lancedb(
            args.dir,
            vectors,
            queries,
            qtexts,
            exact,
            target,
            cfg["m"],
            cfg["ef_construction"],
            args.rounds,
        )
        if not args.keep:
            shutil.rmtree(os.path.join(args.dir, "lancedb"), ignore_errors=True)
    with open(os.path.join(args.dir, "compare.json"), "w") as f:
        json.dump(report, f, indent=2)

    tb = trawl["build"]
    rows = [
        "| system | setting | recall@10 | build s | dense p50 / p99 ms | keyword p50 / p99 ms | hybrid p50 / p99 ms | dense QPS 1t / 2t |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def lp(d):
        return f"{d['p50_ms']:.2f} / {d['p99_ms']:.2f}" if d else "-"

    rows.append(
        f"| trawl | M={cfg['m']} efc={cfg['ef_construction']} ef={cfg['ef_search']} | {target:.3f} | "
        f"{tb['seconds']:.0f} | {lp(lat['dense_1t'])} | {lp(lat['keyword_1t'])} | {lp(lat['hybrid_1t'])} | "
        f"{lat['dense_1t']['qps']:.0f} / {lat['dense_2t']['qps']:.0f} |"
    )
    rows.append(
        f"| hnswlib {__import__('hnswlib').__version__ if hasattr(__import__('hnswlib'), '__version__') else ''} | "
        f"M={cfg['m']} efc={cfg['ef_construction']} ef={h['ef']} | {h['recall']:.3f} | {h['build_seconds']:.0f} | "
        f"{lp(h['dense'])} | - | - | {h['dense']['qps']:.0f} / {h['dense']['qps_2t']:.0f} |"
    )
    ratios = [
        f"hnswlib dense p50 / trawl dense p50 = {h['dense']['p50_ms'] / lat['dense_1t']['p50_ms']:.2f}"
    ]
    if "lancedb" in report:
        lb = report["lancedb"]
        import lancedb

        rows.append(
            f"| LanceDB {lancedb.__version__} | {lb['index']} ef={lb['ef']} refine={lb['refine_factor']} | "
            f"{lb['recall']:.3f} | {lb['load_seconds'] + lb['vector_index_seconds'] + lb['fts_index_seconds']:.0f} | "
            f"{lp(lb['dense'])} | {lp(lb['keyword'])} | {lp(lb['hybrid'])} | "
            f"{lb['dense']['qps']:.0f} / {lb['dense']['qps_2t']:.0f} |"
        )
        for name, tname in [
            ("dense", "dense_1t"),
            ("keyword", "keyword_1t"),
            ("hybrid", "hybrid_1t"),
            ("dense_selective", "dense_selective_1t"),
            ("dense_broad", "dense_broad_1t"),
            ("hybrid_selective", "hybrid_selective_1t"),
        ]:
            ratios.append(
                f"LanceDB {name} p50 / trawl = {lb[name]['p50_ms'] / lat[tname]['p50_ms']:.2f} "
                f"(p99 {lb[name]['p99_ms'] / lat[tname]['p99_ms']:.2f})"
            )
        ratios.append(
            f"LanceDB filtered recall@10 selective {lb['recall_selective']:.3f} (trawl "
            f"{tserve['recall_at_10_selective']:.3f}), broad {lb['recall_broad']:.3f} (trawl {tserve['recall_at_10_broad']:.3f})"
        )
        ratios.append(
            f"LanceDB on disk {lb['disk_bytes'] / 2**20:.0f} MiB (trawl {tb['disk_bytes'] / 2**20:.0f} MiB)"
        )
        if lb["query_errors"]:
            ratios.append(
                f"LanceDB query errors: {lb['query_errors']} e.g. {lb['query_error_examples'][:1]}"
            )
    table = (
        "\n".join(rows)
        + "\n\nRatios (peer / trawl; above 1 = trawl faster):\n"
        + "\n".join(f"- {r}" for r in ratios)
    )
    with open(os.path.join(args.dir, "compare.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Graph against graph: trawl's HNSW graph and hnswlib's, searched by one beam search.

`compare.py` compares two systems end to end, so a gap in recall at a given ef may come
from either graph or either search. This script separates them. It reads the graph file
trawl saved in a `scale` scratch dir (DIR/index/hnsw/*.trawl-graph: each point's vid,
level and lists), builds hnswlib with the same M and ef_construction on the same
vectors (or loads one built before), and walks both graphs with the same reference
search written here (greedy descent through the upper levels, then a beam of ef on
level 0, on the full-precision vectors): any recall gap left is the graph's. It also
runs hnswlib's own search (which the reference search must match on hnswlib's graph)
and prints each graph's level-0 degrees and the points no level-0 list names.

    .venv-bench/bin/python benches/scale/graph_recall.py DIR [--ef 96 128 160]
        [--m 16] [--ef-construction 64] [--hnswlib PATH]

Trawl's own search on its graph is in DIR/results.json (`scale --remeasure
--ef-search EF`); the reference search here reads full vectors at every step, as
trawl's walk on int8 codes approximates.
"""

import argparse
import glob
import heapq
import json
import os
import struct
import time

import numpy as np

DIM = 384
K = 10


def load_trawl(path):
    """(vids by slot, level-0 lists, upper lists per level, entry slot, top level,
    level-0 list bound)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"TRWLHNSW":
        raise SystemExit(f"{path}: not a trawl graph file")
    version, dim, m, n, entry = struct.unpack_from("<5I", b, 8)
    if version != 2:
        raise SystemExit(f"{path}: graph format {version}; this script reads format 2")
    top, flags = b[28], b[29]
    off = 30 + (1 + dim * 8 if flags & 1 else 0)  # the quantizer: tag, lo, step
    vids = np.zeros(n, np.int64)
    level0 = [None] * n
    upper = [dict() for _ in range(top + 1)]
    for slot in range(n):
        vids[slot] = struct.unpack_from("<Q", b, off)[0]
        level = b[off + 8]
        off += 9
        for lev in range(level + 1):
            count = struct.unpack_from("<I", b, off)[0]
            off += 4
            ids = np.frombuffer(b, dtype="<u4", count=count, offset=off).astype(np.int64)
            off += 4 * count
            if lev == 0:
                level0[slot] = ids
            else:
                upper[lev][slot] = ids
    return vids, level0, upper, entry, top, 2 * m


def load_hnswlib(path):
    """The same from hnswlib's saved index (its format as of hnswlib 0.8)."""
    with open(path, "rb") as f:
        head = f.read(96)
        _off0, _max, n, size, label_off, _data_off = struct.unpack_from("<6Q", head, 0)
        top, entry = struct.unpack_from("<iI", head, 48)
        max_m, max_m0, _m = struct.unpack_from("<3Q", head, 56)
        rows = np.frombuffer(f.read(n * size), dtype=np.uint8).reshape(n, size)
        counts = rows[:, 0:4].copy().view("<u4")[:, 0] & 0xFFFF
        ids = rows[:, 4 : 4 + 4 * max_m0].copy().view("<u4").reshape(n, max_m0)
        labels = rows[:, label_off : label_off + 8].copy().view("<u8")[:, 0].astype(np.int64)
        level0 = [ids[i, : counts[i]].astype(np.int64) for i in range(n)]
        upper = [dict() for _ in range(top + 1)]
        per = max_m + 1
        for i in range(n):
            size_i = struct.unpack("<I", f.read(4))[0]
            if size_i:
                data = np.frombuffer(f.read(size_i), dtype="<u4")
                for lev in range(1, size_i // (4 * per) + 1):
                    block = data[(lev - 1) * per : lev * per]
                    upper[lev][i] = block[1 : 1 + (block[0] & 0xFFFF)].astype(np.int64)
    return labels, level0, upper, entry, top, max_m0


def search(vectors, level0, upper, entry, top, q, ef):
    """Greedy descent, then a beam of `ef` on level 0; the K nearest slots."""
    cur, cur_d = entry, 1.0 - float(vectors[entry] @ q)
    for lev in range(top, 0, -1):
        moved = True
        while moved:
            moved = False
            around = upper[lev].get(cur)
            if around is None or len(around) == 0:
                continue
            d = 1.0 - vectors[around] @ q
            j = int(np.argmin(d))
            if d[j] < cur_d:
                cur, cur_d, moved = int(around[j]), float(d[j]), True
    visited = {cur}
    candidates = [(cur_d, cur)]
    results = [(-cur_d, cur)]
    while candidates:
        d, s = heapq.heappop(candidates)
        if len(results) >= ef and d > -results[0][0]:
            break
        fresh = [x for x in level0[s].tolist() if x not in visited]
        if not fresh:
            continue
        visited.update(fresh)
        dists = 1.0 - vectors[fresh] @ q
        for x, dx in zip(fresh, dists.tolist()):
            if len(results) < ef or dx < -results[0][0]:
                heapq.heappush(candidates, (dx, x))
                heapq.heappush(results, (-dx, x))
                if len(results) > ef:
                    heapq.heappop(results)
    return [s for _, s in sorted((-a, s) for a, s in results)[:K]]


def recall(found, exact):
    hits = sum(len(set(f) & set(e[:K])) for f, e in zip(found, exact))
    return hits / (K * len(exact))


def degrees(level0, cap):
    out = np.array([len(ids) for ids in level0])
    named = np.zeros(len(level0), np.int64)
    for ids in level0:
        named[ids] += 1
    return (
        f"level-0 degree mean {out.mean():.2f}, median {np.median(out):.0f}, "
        f"full lists {np.mean(out == cap):.3f}; points no list names: "
        f"{int(np.sum(named == 0))}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--ef", type=int, nargs="+", default=[96, 128, 160])
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=64)
    ap.add_argument("--hnswlib", help="hnswlib index file: loaded if it exists, else built")
    args = ap.parse_args()
    import hnswlib

    vectors = np.fromfile(os.path.join(args.dir, "vectors.f32"), dtype="<f4").reshape(-1, DIM)
    queries = np.fromfile(os.path.join(args.dir, "queries.f32"), dtype="<f4").reshape(-1, DIM)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    with open(os.path.join(args.dir, "exact.json")) as f:
        exact = json.load(f)["all"]
    graph_files = glob.glob(os.path.join(args.dir, "index", "hnsw", "*.trawl-graph"))
    if len(graph_files) != 1:
        raise SystemExit(f"expected one trawl graph file under {args.dir}/index/hnsw")
    trawl = load_trawl(graph_files[0])

    path = args.hnswlib or os.path.join(args.dir, "hnswlib.bin")
    if not os.path.exists(path):
        index = hnswlib.Index(space="ip", dim=DIM)
        index.init_index(max_elements=len(vectors), ef_construction=args.ef_construction, M=args.m)
        t = time.time()
        index.add_items(vectors, np.arange(len(vectors)), num_threads=2)
        print(f"hnswlib built in {time.time() - t:.1f} s (2 threads)")
        index.save_index(path)
    index = hnswlib.Index(space="ip", dim=DIM)
    index.load_index(path)
    index.set_num_threads(1)
    theirs = load_hnswlib(path)

    print(f"trawl:   {degrees(trawl[1], trawl[5])}")
    print(f"hnswlib: {degrees(theirs[1], theirs[5])}")
    # Each graph's vectors in its slot order, copied once.
    graphs = [(vectors[g[0]], *g[1:5]) for g in (trawl, theirs)]
    print("| ef | trawl's graph | hnswlib's graph | gap | hnswlib's own search |")
    print("|---|---|---|---|---|")
    for ef in args.ef:
        row = []
        for (by_slot, level0, upper, entry, top), ids in zip(graphs, (trawl[0], theirs[0])):
            found = [ids[search(by_slot, level0, upper, entry, top, q, ef)] for q in queries]
            row.append(recall([f.tolist() for f in found], exact))
        index.set_ef(ef)
        labels, _ = index.knn_query(queries, k=K)
        own = recall(labels.tolist(), exact)
        print(f"| {ef} | {row[0]:.4f} | {row[1]:.4f} | {row[0] - row[1]:+.4f} | {own:.4f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Turns `trawl eval --compare --json` lines on stdin into Markdown table rows."""

import json
import sys

split = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    cells = [split, r["mode"], r.get("fusion", "-")]
    cells += [f"{r[k]:.3f}" for k in ("ndcg@10", "recall@100", "mrr@10")]
    cells += [f"{r[k]:.1f}" for k in ("query_p50_ms", "query_p99_ms")]
    print("| " + " | ".join(cells) + " |")

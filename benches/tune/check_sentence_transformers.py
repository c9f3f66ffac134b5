#!/usr/bin/env python3
"""A model written by `trawl tune` loads in sentence-transformers with trawl's vectors.

Embeds passages (SciFact abstracts) and queries with sentence-transformers (PyTorch,
fp32) and with trawl (f32, through a throw-away collection opened with the model), and
prints the lowest and mean cosine between the two engines' vectors of each text, for
the tuned model and, as the yardstick, its base.

    PYTHONPATH=bindings/python/python .venv-bench/bin/python \\
        benches/tune/check_sentence_transformers.py TUNED_DIR [--base DIR] [--texts 200]

Needs `torch` and `sentence-transformers` beside trawl's built Python package (never a
test dependency):
    python3 -m venv .venv-bench && .venv-bench/bin/pip install torch sentence-transformers
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def texts(corpus: Path, queries: Path, n: int) -> tuple[list[str], list[str]]:
    passages = []
    with open(corpus) as f:
        for line in f:
            d = json.loads(line)
            passages.append((d["title"] + "\n\n" + d["text"]).strip())
            if len(passages) == n:
                break
    qs = []
    with open(queries) as f:
        for line in f:
            qs.append(json.loads(line)["text"])
            if len(qs) == n:
                break
    return passages, qs


def compare(model_dir: Path, passages: list[str], queries: list[str]) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    import trawl

    st = SentenceTransformer(str(model_dir), device="cpu")
    with torch.inference_mode():
        st_p = st.encode(passages, batch_size=32, normalize_embeddings=True)
        st_q = st.encode(queries, batch_size=32, normalize_embeddings=True)
    with tempfile.TemporaryDirectory() as tmp:
        col = trawl.Collection(Path(tmp) / "c", model=model_dir, precision="f32")
        tr_p = col.embed(passages)
        # all-MiniLM-L6-v2 and models tuned from it have no query prompt: a query is
        # embedded as a passage is.
        tr_q = col.embed(queries)
        col.close()
    cos = np.concatenate([(st_p * tr_p).sum(1), (st_q * tr_q).sum(1)])
    return {
        "model": str(model_dir),
        "texts": len(cos),
        "min": float(cos.min()),
        "mean": float(cos.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tuned", type=Path)
    parser.add_argument("--base", type=Path, default=ROOT / "models/all-MiniLM-L6-v2")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/scifact")
    parser.add_argument("--texts", type=int, default=200)
    args = parser.parse_args()
    passages, queries = texts(args.data / "corpus.jsonl", args.data / "queries.jsonl", args.texts)
    for model_dir in (args.base, args.tuned):
        print(json.dumps(compare(model_dir, passages, queries)))


if __name__ == "__main__":
    main()

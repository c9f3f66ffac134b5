"""Index the example corpus and ask it a few questions, from Python.

pip install ./bindings/python
models/fetch.sh
python examples/python/quickstart.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import trawl

REPO = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("TRAWL_MODEL", REPO / "models" / "all-MiniLM-L6-v2"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        with trawl.Collection(Path(tmp) / "index", model=MODEL) as col:
            report = col.add(REPO / "examples" / "corpus")
            print(f"indexed {report.added} documents ({report.chunks} chunks)")
            for failure in report.failures:
                print(f"  failed: {failure.path}: {failure.error}", file=sys.stderr)

        col = trawl.Collection(Path(tmp) / "index")
        for question in ["how did keepers keep the lamp lit", "why does dough rise"]:
            print(f"\n{question}")
            for hit in col.search(question, k=3):
                where = " > ".join(hit.heading_path) or hit.title
                line = hit.location.line
                print(f"  {hit.score:6.3f}  {Path(hit.source or hit.doc_id).name}:{line}  {where}")
        vectors = col.embed(["a lighthouse", "a loaf of bread"])
        print(f"\nembeddings: {vectors.shape} {vectors.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

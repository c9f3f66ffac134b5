"""Every keyword argument, at its extremes and with hostile values, returns results or
raises a trawl exception (or the TypeError/OverflowError Python raises for a value
of the wrong type or size); none crashes the interpreter or allocates by the argument.
And `check()` reports what `trawl check` does."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest

import trawl

SIZES = [0, 1, 2, 10**9, 2**31, 2**63 - 1, 2**64 - 1, 2**64, -1, -(2**63)]
TEXTS = [
    "",
    "\x00",
    "a\x1fb",
    "\"quoted\" 'single' `back`",
    "title:x AND (y OR NOT z) ~2 ^3",
    "x" * 10_000,
    "火山 الحمم",
]
FILTERS: list[object] = [
    "year >= 2020",
    "= =",
    "(" * 5_000,
    {"year": 2021},
    {"a\x1fb": "x", "`": 1, "": None},
    {"k": float("nan")},
    {"k": [1, "a", None]},
]

# What a bad argument may raise: trawl's own errors and Python's for a value of the
# wrong type or size (an int that does not fit a machine word).
ALLOWED = (trawl.TrawlError, TypeError, OverflowError, ValueError)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> trawl.Collection:
    col = trawl.Collection(tmp_path_factory.mktemp("args") / "idx", dimension=4)
    rng = np.random.default_rng(7)
    for i in range(3):
        col.add_vectors(f"doc{i}", [f"kettle text {i}"], rng.random((1, 4)), {"year": 2020 + i})
    col.add_vectors("doc0", ["other tenant kettle"], rng.random((1, 4)), tenant="t2")
    col.commit()
    return col


def test_search_and_context_survive_every_argument(small: trawl.Collection) -> None:
    rng = random.Random(11)
    cases = list(itertools.product(SIZES, ["dense", "keyword", "hybrid"]))
    outcomes = {"results": 0, "errors": 0}
    for k, mode in cases:
        for _ in range(3):
            kwargs = dict(
                k=k,
                candidates=rng.choice(SIZES),
                rerank_depth=rng.choice(SIZES),
                filter=rng.choice([None, *FILTERS]),
                tenant=rng.choice([None, *TEXTS]),
                expand=rng.choice([None, "parent"]),
            )
            query = rng.choice(TEXTS)
            vector = np.ones(4, dtype=np.float32) if mode == "dense" else None
            try:
                hits = small.search(query, mode=mode, vector=vector, **kwargs)  # type: ignore[arg-type]
            except ALLOWED:
                outcomes["errors"] += 1
            else:
                outcomes["results"] += 1
                assert len(hits) <= 4
                if kwargs["tenant"] is not None:
                    assert all(h.tenant == kwargs["tenant"] for h in hits)
            try:
                small.context(
                    query,
                    budget=rng.choice(SIZES),
                    k=k,
                    mode=mode,
                    filter=kwargs["filter"],  # type: ignore[arg-type]
                    tenant=kwargs["tenant"],  # type: ignore[arg-type]
                )
            except ALLOWED:
                outcomes["errors"] += 1
            else:
                outcomes["results"] += 1
    assert outcomes["results"] > 0 and outcomes["errors"] > 0, outcomes


def test_document_arguments_are_stored_or_refused(tmp_path: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", dimension=4)
    for i, (doc_id, tenant) in enumerate(itertools.product(TEXTS, TEXTS)):
        meta = {"n": i, "f": 0.5, "flag": True, "tags": ["a", "b"], "s": doc_id}
        try:
            col.add_vectors(doc_id, ["t"], np.ones((1, 4)), meta, tenant=tenant)
        except ALLOWED as e:
            assert "\x1f" in tenant, e
            continue
        col.delete(doc_id, tenant=tenant)
    col.commit()
    assert col.documents() == []
    # A float metadata value JSON cannot hold is refused by name, as a ValueError.
    with pytest.raises(trawl.InvalidArgumentError, match="finite, not inf"):
        col.add_vectors("x", ["t"], np.ones((1, 4)), {"f": float("inf")})
    # So is a value of a type metadata does not hold, naming its key.
    with pytest.raises(trawl.InvalidArgumentError, match=r'metadata "nested".*not'):
        col.add_vectors("x", ["t"], np.ones((1, 4)), {"nested": {"a": 1}})


def test_check_reports_a_healthy_collection(corpus: trawl.Collection) -> None:
    report = corpus.check()
    assert report["healthy"] is True
    assert report["problems"] == []
    assert report["chunks"] > 0 and report["documents"] == 6
    assert report["missing_from_graph"] == {"count": 0, "examples": []}
    repaired = corpus.check(repair=True)
    assert repaired["healthy"] and repaired["repaired"] == []

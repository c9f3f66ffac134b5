"""Bring your own embeddings: a collection with no model, fed numpy vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import trawl


def test_vectors_in_nearest_vector_out(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    col = trawl.Collection(tmp_path / "idx", dimension=16)
    for i in range(0, 200, 20):
        texts = [f"item {j}" for j in range(i, i + 20)]
        assert col.add_vectors(f"doc-{i}", texts, vectors[i : i + 20], {"batch": i})
    col.commit()
    assert col.model is None and col.dimension == 16
    # Exact cosine ranking as the reference.
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for q in (3, 77, 150):
        query = vectors[q] + rng.normal(scale=0.05, size=16).astype(np.float32)
        hits = col.search(vector=query, k=5, mode="dense")
        expected = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:5]
        assert [h.text for h in hits] == [f"item {j}" for j in expected]
        assert hits[0].metadata == {"batch": q // 20 * 20}
    # Hybrid with text: the keyword side sees the chunk texts.
    assert col.search("item 42", vector=vectors[42], k=1)[0].text == "item 42"
    # Reopened, it is still a bring-your-own collection of the same dimension.
    again = trawl.Collection(tmp_path / "idx")
    assert again.dimension == 16
    assert again.search(vector=vectors[5], k=1, mode="dense")[0].text == "item 5"


def test_wrong_dimension_is_a_dimension_error(tmp_path: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", dimension=8)
    with pytest.raises(trawl.DimensionError):
        col.add_vectors("d", ["x"], np.ones((1, 9), dtype=np.float32))
    with pytest.raises(trawl.DimensionError):
        col.add_vectors("d", ["x", "y"], np.ones((1, 8), dtype=np.float32))
    with pytest.raises(trawl.DimensionError):
        col.search(vector=np.ones(5), mode="dense")


def test_text_search_without_a_model_is_a_model_error(tmp_path: Path) -> None:
    col = trawl.Collection(tmp_path / "idx", dimension=8)
    with pytest.raises(trawl.ModelError):
        col.search("anything", mode="dense")
    with pytest.raises(trawl.ModelError):
        col.embed(["anything"])


def test_int8_quantization_is_recorded_and_hits_are_scored_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    # More vectors than a quantized graph holds before it trains its quantizer.
    vectors = rng.normal(size=(9000, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    col = trawl.Collection(tmp_path / "idx", dimension=8, quantization="int8")
    assert col.quantization == "int8"
    col.add_vectors("doc", [f"point {i}" for i in range(len(vectors))], vectors)
    col.commit()
    del col
    reopened = trawl.Collection(tmp_path / "idx")
    assert reopened.quantization == "int8", "the quantization is recorded with the collection"
    stats = reopened.stats()
    assert 0 <= stats.graph_vectors_in_memory <= stats.graph_points
    for i in (0, 4321, 8999):
        hit = reopened.search(vector=vectors[i], k=1, mode="dense")[0]
        assert hit.text == f"point {i}"
        assert hit.score == pytest.approx(1.0, abs=1e-5)
    assert trawl.Collection(tmp_path / "default", dimension=8).quantization == "int8"
    plain = trawl.Collection(tmp_path / "plain", dimension=8, quantization="none")
    assert plain.quantization == "none"
    bits = trawl.Collection(tmp_path / "bits", dimension=8, quantization="binary")
    assert bits.quantization == "binary"
    with pytest.raises(trawl.InvalidArgumentError, match="int8"):
        trawl.Collection(tmp_path / "bad", dimension=8, quantization="int4")

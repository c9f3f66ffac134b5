"""Shard sets from Python: written with ShardWriter, searched with ShardSet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trawl

from conftest import CORPUS


def test_a_shard_set_searches_as_the_collection_of_the_same_files(
    tmp_path: Path, model_dir: Path, corpus: trawl.Collection
) -> None:
    with trawl.ShardWriter(tmp_path / "set", shards=3, model=model_dir) as writer:
        report = writer.add(CORPUS)
        assert report.failures == []
    shards = trawl.ShardSet(tmp_path / "set")
    assert (shards.shard_count, shards.generation) == (3, 2)
    assert shards.stats().chunks == corpus.stats().chunks
    for query in ["lighthouse lens", "how do I bake bread", "quarterly revenue"]:
        for mode in ("keyword", "dense", "hybrid"):
            got = shards.search(query, k=5, mode=mode)
            want = corpus.search(query, k=5, mode=mode)
            assert [h.chunk_id for h in got] == [h.chunk_id for h in want], (query, mode)
            assert [round(h.score, 4) for h in got] == [round(h.score, 4) for h in want]
    # A wider graph walk finds the same nearest chunks of this small set.
    before = [h.chunk_id for h in shards.search("lighthouse lens", k=5, mode="dense")]
    shards.set_ef_search(500)
    corpus.set_ef_search(500)
    assert [h.chunk_id for h in shards.search("lighthouse lens", k=5, mode="dense")] == before
    context = shards.context("lighthouse keepers", budget=300)
    assert context.citations and "[1]" in str(context)
    manifest = shards.manifest()
    assert [s["path"] for s in manifest["shards"]] == ["shard-000", "shard-001", "shard-002"]
    assert json.loads((tmp_path / "set" / "shards.json").read_text()) == manifest


def test_documents_are_routed_and_readers_see_published_generations(
    tmp_path: Path, model_dir: Path
) -> None:
    writer = trawl.ShardWriter(tmp_path / "set", shards=4, model=model_dir)
    for i in range(20):
        writer.add_text(f"doc-{i}", f"Note {i} about the red kettle.", {"n": i}, tenant="a")
    writer.commit()
    reader = trawl.ShardSet(tmp_path / "set")
    assert len(reader.documents()) == 20
    for doc in reader.documents():
        shard = trawl.shard_of("a", doc["doc_id"], 4)
        shard_docs = trawl.Collection(writer.shard_paths()[shard]).documents()
        assert doc["doc_id"] in {d["doc_id"] for d in shard_docs}
    writer.delete("doc-0", "doc-1", tenant="a")
    writer.add_text("doc-2", "Replaced: a blue teapot.", tenant="a")
    assert writer.commit() == 3
    # The reader stays at generation 2 until it reloads.
    assert len(reader.documents()) == 20
    assert reader.reload() is True
    assert len(reader.documents()) == 18
    hits = reader.search("teapot", k=3, mode="keyword", filter={"tenant": "a"})
    assert [h.doc_id for h in hits] == ["doc-2"]
    filtered = reader.search("kettle", k=5, filter={"n": {"$gte": 15}})
    assert len(filtered) == 5 and all(h.metadata["n"] >= 15 for h in filtered)


def test_a_shard_opens_alone_and_at_its_published_commit(tmp_path: Path, model_dir: Path) -> None:
    writer = trawl.ShardWriter(tmp_path / "set", shards=2, model=model_dir)
    writer.add_text("x", "The first version.")
    writer.commit()
    manifest = trawl.ShardSet(tmp_path / "set").manifest()
    shard = trawl.shard_of("", "x", 2)
    entry = manifest["shards"][shard]
    old = trawl.Collection(tmp_path / "set" / entry["path"], at_commit=entry["commit"])
    writer.add_text("x", "The second version.")
    writer.commit()
    # A handle open at a published commit stays there; the commit's pin is released
    # once a newer generation is published.
    assert "first" in old.search("version", k=1)[0].text
    with pytest.raises(trawl.StorageError):
        old.add_text("y", "read-only")
    with pytest.raises(trawl.StorageError, match="no pinned commit"):
        trawl.Collection(tmp_path / "set" / entry["path"], at_commit=entry["commit"])
    assert "second" in trawl.Collection(tmp_path / "set" / entry["path"]).search("version")[0].text


def test_bad_shard_arguments_are_typed_errors(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.ShardWriter(tmp_path / "none", model=model_dir)
    with pytest.raises(trawl.InvalidArgumentError):
        trawl.ShardWriter(tmp_path / "zero", shards=0, model=model_dir)
    with pytest.raises(FileNotFoundError):
        trawl.ShardSet(tmp_path / "missing")

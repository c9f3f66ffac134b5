"""A LlamaIndex retriever over a trawl collection (``pip install trawl[llama-index]``).

>>> from trawl.llama_index import TrawlRetriever
>>> nodes = TrawlRetriever(col, k=4).retrieve("how do lighthouses work")
"""

from __future__ import annotations

from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from trawl import Collection
from trawl._metadata import hit_metadata

__all__ = ["TrawlRetriever"]


class TrawlRetriever(BaseRetriever):
    """Returns trawl hits as LlamaIndex ``NodeWithScore``; each node's metadata carries
    the source, location, heading path and the document's own metadata."""

    def __init__(self, collection: Collection, k: int = 4, **search_kwargs: Any) -> None:
        super().__init__()
        self._collection = collection
        self._k = k
        self._search_kwargs = search_kwargs

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._collection.search(query_bundle.query_str, self._k, **self._search_kwargs)
        return [
            NodeWithScore(
                node=TextNode(text=hit.text, id_=hit.chunk_id, metadata=hit_metadata(hit)),
                score=hit.score,
            )
            for hit in hits
        ]

"""A LangChain retriever over a trawl collection (``pip install trawl[langchain]``).

>>> from trawl.langchain import TrawlRetriever
>>> retriever = TrawlRetriever(collection=col, k=4)
>>> docs = retriever.invoke("how do lighthouses work")
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from trawl import Collection
from trawl._metadata import hit_metadata

__all__ = ["TrawlRetriever"]


class TrawlRetriever(BaseRetriever):
    """Returns trawl hits as LangChain documents; ``metadata`` carries the source,
    location (page, slide, sheet, rows, line), heading path, score and the document's
    own metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: Collection
    """The collection to search."""
    k: int = 4
    """Documents to return."""
    search_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further arguments for :meth:`trawl.Collection.search` (mode, fusion...)."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.collection.search(query, self.k, **self.search_kwargs)
        return [
            Document(page_content=hit.text, metadata=hit_metadata(hit), id=hit.chunk_id)
            for hit in hits
        ]

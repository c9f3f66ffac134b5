"""LangChain and LlamaIndex retrievers; run when those packages are installed."""

from __future__ import annotations

import pytest

import trawl


def test_langchain_retriever(corpus: trawl.Collection) -> None:
    pytest.importorskip("langchain_core")
    from trawl.langchain import TrawlRetriever

    retriever = TrawlRetriever(collection=corpus, k=2, search_kwargs={"mode": "hybrid"})
    docs = retriever.invoke("lighthouse lens")
    assert len(docs) == 2
    top = docs[0]
    assert "lighthouse" in top.page_content.lower()
    assert top.metadata["doc_id"].endswith("lighthouse-keepers.md")
    assert top.metadata["line"] >= 1
    assert "Lighthouse" in top.metadata["heading_path"]
    assert top.id == top.metadata["chunk_id"]


def test_llama_index_retriever(corpus: trawl.Collection) -> None:
    pytest.importorskip("llama_index.core")
    from trawl.llama_index import TrawlRetriever

    nodes = TrawlRetriever(corpus, k=3, mode="keyword").retrieve("sourdough starter")
    assert len(nodes) == 3
    assert nodes[0].node.metadata["doc_id"].endswith("sourdough-bread.md")
    assert nodes[0].score is not None and nodes[0].score >= nodes[1].score  # type: ignore[operator]
    assert nodes[0].node.get_content().strip()

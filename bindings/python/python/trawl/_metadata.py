"""Flat metadata for framework documents: trawl's source location plus the document's
own metadata, in the plain types LangChain and LlamaIndex expect."""

from __future__ import annotations

from typing import Any

from trawl._trawl import Hit


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """Everything a framework document should carry about where a hit came from."""
    meta: dict[str, Any] = dict(hit.metadata)
    meta.update(
        {
            "doc_id": hit.doc_id,
            "chunk_id": hit.chunk_id,
            "score": hit.score,
            "title": hit.title,
            "format": hit.format,
        }
    )
    if hit.source is not None:
        meta["source"] = hit.source
    if hit.heading_path:
        meta["heading_path"] = " > ".join(hit.heading_path)
    for key, value in hit.location.to_dict().items():
        meta[key] = list(value) if isinstance(value, (list, tuple)) else value
    return meta

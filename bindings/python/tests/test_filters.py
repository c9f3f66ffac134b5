"""Dict filters become trawl's filter syntax."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

import trawl
from trawl._filters import to_expression


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ('format = "pdf"', 'format = "pdf"'),
        ({"format": "pdf"}, '`format` = "pdf"'),
        ({"year": {"$gte": 2020, "$lt": 2024}}, "`year` >= 2020 AND `year` < 2024"),
        ({"format": "pdf", "draft": False}, '(`format` = "pdf") AND (`draft` = false)'),
        ({"lang": {"$in": ["en", "de"]}}, '`lang` IN ("en", "de")'),
        ({"lang": {"$nin": ["fr"]}}, 'NOT (`lang` IN ("fr"))'),
        ({"tags": {"$contains": "rust"}}, '`tags` CONTAINS "rust"'),
        ({"score": {"$ne": 0.5}}, "`score` != 0.5"),
        (
            {"$or": [{"a": 1}, {"b": {"$gt": 2}}]},
            "(`a` = 1) OR (`b` > 2)",
        ),
        ({"$not": {"draft": True}}, "NOT (`draft` = true)"),
        ({"published": {"$gte": datetime.date(2021, 3, 4)}}, "`published` >= 2021-03-04"),
        (
            {"at": {"$lt": datetime.datetime(2021, 3, 4, 10, 0, 0)}},
            "`at` < 2021-03-04T10:00:00+00:00",
        ),
        ({"title": 'say "hi" \\ bye'}, '`title` = "say \\"hi\\" \\\\ bye"'),
    ],
)
def test_dicts_become_the_filter_syntax(spec: Any, expected: str) -> None:
    assert to_expression(spec) == expected


def test_a_dict_key_cannot_change_the_filter(tmp_path: Any) -> None:
    col = _tagged(tmp_path)
    # Spliced bare, this key would read `year = 2003 OR lang = "x"`: every 2003 document.
    spliced = {"year = 2003 OR lang": "x"}
    assert to_expression(spliced) == '`year = 2003 OR lang` = "x"'
    assert col.search("tide pool crabs", k=10, filter=spliced) == []
    odd = trawl.Collection(tmp_path / "odd", keyword_only=True)
    odd.add_text("a", "tide pool crabs", {"created by": "ann", "a`b": 1})
    odd.commit()
    assert [h.doc_id for h in odd.search("crabs", filter={"created by": "ann"})] == ["a"]
    assert [h.doc_id for h in odd.search("crabs", filter={"a`b": 1})] == ["a"]
    with pytest.raises(trawl.InvalidArgumentError, match="key"):
        to_expression({1: "x"})


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"$or": []},
        {"$xor": [{"a": 1}]},
        {"a": {"$like": "x"}},
        {"a": {"$in": "not-a-list"}},
        {"a": object()},
        ["a = 1"],
    ],
)
def test_bad_filters_are_invalid_argument(spec: Any) -> None:
    with pytest.raises(trawl.InvalidArgumentError):
        to_expression(spec)


def _tagged(tmp_path: Any) -> trawl.Collection:
    col = trawl.Collection(tmp_path / "idx", keyword_only=True)
    for i in range(200):
        meta = {"year": 2000 + i % 25, "lang": ["en", "de", "fr"][i % 3], "tags": [f"t{i % 7}"]}
        col.add_text(f"doc-{i}", f"tide pool note number {i} about crabs", meta)
    col.commit()
    return col


def test_a_selective_filter_still_returns_k_hits(tmp_path: Any) -> None:
    col = _tagged(tmp_path)
    spec = {"year": 2003, "lang": "en"}  # i % 25 == 3 and i % 3 == 0: 3 of 200
    hits = col.search("tide pool crabs", k=3, filter=spec)
    assert len(hits) == 3
    assert all(h.metadata["year"] == 2003 and h.metadata["lang"] == "en" for h in hits)
    same = col.search("tide pool crabs", k=3, filter='year = 2003 AND lang = "en"')
    assert [h.doc_id for h in same] == [h.doc_id for h in hits]
    tagged = col.search("crabs", k=50, filter={"tags": {"$contains": "t3"}, "year": {"$lt": 2010}})
    assert tagged and all("t3" in h.metadata["tags"] for h in tagged)
    assert all(h.metadata["year"] < 2010 for h in tagged)


def test_bad_filter_strings_raise_filter_error(tmp_path: Any) -> None:
    col = _tagged(tmp_path)
    with pytest.raises(trawl.FilterError):
        col.search("crabs", filter="year >= ")
    assert issubclass(trawl.FilterError, trawl.InvalidArgumentError)


def test_tenants_never_see_each_other(tmp_path: Any) -> None:
    path = tmp_path / "idx"
    col = trawl.Collection(path, keyword_only=True)
    col.add_text("shared-id", "acme quarterly revenue report", tenant="acme")
    col.add_text("shared-id", "globex quarterly revenue report", tenant="globex")
    col.commit()
    acme = col.search("quarterly revenue", k=10, tenant="acme")
    assert [h.text for h in acme] == ["acme quarterly revenue report"]
    assert len(col.search("quarterly revenue", k=10)) == 2
    # A tenant-scoped handle: a filter naming another tenant cannot widen it.
    del col
    scoped = trawl.Collection(path, tenant="globex")
    hits = scoped.search("quarterly revenue", k=10, filter={"tenant": "acme"})
    assert hits == []
    assert {d["tenant"] for d in scoped.documents()} == {"acme", "globex"}
    assert [d["tenant"] for d in scoped.documents("globex")] == ["globex"]
    scoped.delete("shared-id")
    scoped.commit()
    assert scoped.search("quarterly revenue", k=10, tenant="acme")[0].text.startswith("acme")
    assert scoped.stats().tenants["acme"]["documents"] == 1


def test_add_paths_into_a_tenant_per_call(tmp_path: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "memo.md").write_text("# Memo\n\nharbour dredging plan")
    col = trawl.Collection(tmp_path / "idx", keyword_only=True, tenant="acme")
    report = col.add(docs, tenant="globex")
    assert report.added == 1
    col.commit()
    assert col.search("harbour dredging", k=5) == []
    hits = col.search("harbour dredging", k=5, tenant="globex")
    assert [h.tenant for h in hits] == ["globex"]
    assert [d["tenant"] for d in col.documents()] == ["globex"]

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
        ({"format": "pdf"}, 'format = "pdf"'),
        ({"year": {"$gte": 2020, "$lt": 2024}}, "year >= 2020 AND year < 2024"),
        ({"format": "pdf", "draft": False}, '(format = "pdf") AND (draft = false)'),
        ({"lang": {"$in": ["en", "de"]}}, 'lang IN ("en", "de")'),
        ({"lang": {"$nin": ["fr"]}}, 'NOT (lang IN ("fr"))'),
        ({"tags": {"$contains": "rust"}}, 'tags CONTAINS "rust"'),
        ({"score": {"$ne": 0.5}}, "score != 0.5"),
        (
            {"$or": [{"a": 1}, {"b": {"$gt": 2}}]},
            "(a = 1) OR (b > 2)",
        ),
        ({"$not": {"draft": True}}, "NOT (draft = true)"),
        ({"published": {"$gte": datetime.date(2021, 3, 4)}}, "published >= 2021-03-04"),
        (
            {"at": {"$lt": datetime.datetime(2021, 3, 4, 10, 0, 0)}},
            "at < 2021-03-04T10:00:00+00:00",
        ),
        ({"title": 'say "hi" \\ bye'}, 'title = "say \\"hi\\" \\\\ bye"'),
    ],
)
def test_dicts_become_the_filter_syntax(spec: Any, expected: str) -> None:
    assert to_expression(spec) == expected


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

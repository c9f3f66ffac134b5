"""Filters written as Python dicts, turned into trawl's filter syntax.

The string syntax (``format = "pdf" AND year >= 2020``) is passed through as is. A dict
reads like the ones Chroma and MongoDB take::

    {"format": "pdf", "year": {"$gte": 2020}}
    {"$or": [{"lang": {"$in": ["en", "de"]}}, {"tags": {"$contains": "rust"}}]}
    {"$not": {"draft": True}, "published": {"$gte": datetime.date(2021, 1, 1)}}

Keys at one level are AND-ed. Operators: ``$eq``, ``$ne``, ``$lt``, ``$lte``, ``$gt``,
``$gte``, ``$in``, ``$nin``, ``$contains``; combinators ``$and``, ``$or``, ``$not``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Union

from trawl._trawl import InvalidArgumentError

FilterSpec = Union[str, Mapping[str, Any]]

_COMPARISONS = {"$eq": "=", "$ne": "!=", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}


def to_expression(spec: FilterSpec) -> str:
    """The filter syntax for ``spec`` (a string is returned unchanged)."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidArgumentError(f"a filter is a str or a dict, not {type(spec).__name__}")
    return _conjunction(spec)


def _conjunction(spec: Mapping[str, Any]) -> str:
    parts = [_clause(key, value) for key, value in spec.items()]
    if not parts:
        raise InvalidArgumentError("an empty filter dict matches nothing useful")
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)


def _field(key: Any) -> str:
    """A dict key as a field name, backquoted so that no key can change the filter."""
    if not isinstance(key, str):
        raise InvalidArgumentError(f"a filter key is a str, not {type(key).__name__}")
    return "`" + key.replace("`", "``") + "`"


def _clause(key: str, value: Any) -> str:
    field = _field(key)
    if key in ("$and", "$or"):
        if not isinstance(value, (list, tuple)) or not value:
            raise InvalidArgumentError(f"{key} takes a non-empty list of filters")
        joiner = " AND " if key == "$and" else " OR "
        return joiner.join(f"({to_expression(v)})" for v in value)
    if key == "$not":
        return f"NOT ({to_expression(value)})"
    if key.startswith("$"):
        raise InvalidArgumentError(f"unknown filter combinator {key!r}")
    if not isinstance(value, Mapping):
        return f"{field} = {_literal(value)}"
    parts = []
    for op, operand in value.items():
        if op in _COMPARISONS:
            parts.append(f"{field} {_COMPARISONS[op]} {_literal(operand)}")
        elif op in ("$in", "$nin"):
            if not isinstance(operand, (list, tuple, set, frozenset)):
                raise InvalidArgumentError(f"{op} takes a list, not {type(operand).__name__}")
            items = ", ".join(_literal(v) for v in operand)
            clause = f"{field} IN ({items})"
            parts.append(clause if op == "$in" else f"NOT ({clause})")
        elif op == "$contains":
            parts.append(f"{field} CONTAINS {_literal(operand)}")
        else:
            raise InvalidArgumentError(f"unknown filter operator {op!r} on {key!r}")
    if not parts:
        raise InvalidArgumentError(f"no condition on {key!r}")
    return parts[0] if len(parts) == 1 else " AND ".join(parts)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, datetime.datetime):
        moment: datetime.datetime = value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise InvalidArgumentError(f"cannot filter on a {type(value).__name__} value")

"""The PostgreSQL dialect of the store's SQL.

The store's operations are written once, in the SQL both backends share; what SQLite spells
its own way is rewritten here, once per distinct statement (cached): placeholders (``?``,
``?1``) become psycopg's, and SQLite's JSON and string functions become the ``wfe_*``
functions the PostgreSQL schema defines with SQLite's meaning. Statements no rewrite can
carry (SQLite's pragmas) have their PostgreSQL meaning given whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import TransactionStatus

# What a pragma means on a server that vacuums itself: nothing to give back.
_WHOLE = {
    "PRAGMA freelist_count": "SELECT 0",
    "PRAGMA incremental_vacuum(1)": "SELECT 0",
    "BEGIN IMMEDIATE": "BEGIN ISOLATION LEVEL REPEATABLE READ",
}
_REWRITES = [
    # An index SQLite is told to use; PostgreSQL's planner chooses its own.
    (re.compile(r"\s+INDEXED BY \w+"), ""),
    # An empty list: SQLite allows `x IN ()`, PostgreSQL has no such syntax.
    (re.compile(r"[\w.]+\s+NOT\s+IN\s*\(\s*\)"), "TRUE"),
    (re.compile(r"[\w.]+\s+IN\s*\(\s*\)"), "FALSE"),
    (re.compile(r"\bjson_each\("), "wfe_json_each("),
    (re.compile(r"\bjson_extract\("), "wfe_json_extract("),
    (re.compile(r"\bjson_quote\("), "wfe_json_quote("),
    (re.compile(r"\bjson_object\("), "json_build_object("),
    (re.compile(r"\bjson_group_array\("), "wfe_json_group_array("),
    (re.compile(r"\bjson\("), "wfe_json("),
    (re.compile(r"\bgroup_concat\("), "string_agg("),
    (re.compile(r"\binstr\("), "strpos("),
]
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_PLACEHOLDER = re.compile(r"\?(\d*)")


@lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str, tuple[int, ...] | None]:
    """PostgreSQL's text for ``sql``, and which given parameter each placeholder takes
    (None: each its own, in order)."""
    sql = _WHOLE.get(sql.strip(), sql)
    order: list[int] = []
    numbered = False
    parts = _LITERAL.split(sql)
    for i, part in enumerate(parts):
        if i % 2:  # inside a quoted literal: only psycopg's own escape applies
            parts[i] = part.replace("%", "%%")
            continue
        part = part.replace("%", "%%")
        for pattern, repl in _REWRITES:
            part = pattern.sub(repl, part)

        def placeholder(m: re.Match) -> str:
            nonlocal numbered
            if m.group(1):
                numbered = True
                order.append(int(m.group(1)) - 1)
            else:
                order.append(len(order))
            return "%s"

        parts[i] = _PLACEHOLDER.sub(placeholder, part)
    return "".join(parts), tuple(order) if numbered else None


class Row(tuple):
    """A row as sqlite3.Row reads: by position, by column name, and ``dict(row)``."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor):
    desc = cursor.description
    if desc is None:
        return tuple
    cls = _row_class(tuple(c.name for c in desc))
    return lambda values: tuple.__new__(cls, values)


class _Numeric(Loader):
    """SUM and AVG answer ``numeric``: an int when whole, as SQLite answers."""

    def load(self, data) -> Any:
        text = bytes(data).decode()
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


class _BoolAsInt(Dumper):
    """SQLite has no booleans: the store writes 0/1 into integer columns."""

    oid = 20  # int8

    def dump(self, obj) -> bytes:
        return b"1" if obj else b"0"


class Connection:
    """A psycopg connection with the face of a sqlite3 one, for the store's operations."""

    dialect = "postgres"

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw
        # Lease holders the writer read FOR SHARE at its transaction's start (lease.fenced).
        self.fences: dict[str, str | None] | None = None

    @classmethod
    def open(cls, url: str, **kwargs) -> Connection:
        raw = psycopg.connect(url, autocommit=True,
                              row_factory=_row_factory, **kwargs)
        raw.adapters.register_loader("numeric", _Numeric)
        raw.adapters.register_dumper(bool, _BoolAsInt)
        return cls(raw)

    def execute(self, sql: str, params: Sequence[Any] = ()):
        text, order = translate(sql)
        if order is not None:
            params = [params[i] for i in order]
        return self.raw.execute(text, params)

    def executemany(self, sql: str, seq) -> None:
        text, order = translate(sql)
        rows = seq if order is None else [[p[i] for i in order] for p in seq]
        with self.raw.cursor() as cur:
            cur.executemany(text, rows)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

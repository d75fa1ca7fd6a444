"""The test's database, opened beside the daemon, on whichever backend the test runs.

Some tests look into the database (to see what was committed) or tamper with it (as
someone with write access to it could); they do it through these helpers, so that the
same test runs over the SQLite file and over PostgreSQL (see conftest.py ``database``).
``open_db`` speaks the store's SQLite-flavoured SQL on both: on PostgreSQL through the
store's own dialect (``?`` placeholders; rows read by name, by position, and ``dict(row)``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from wfe.config import paths

# What a statement the database refuses raises, on either backend (for pytest.raises).
DB_ERRORS = (sqlite3.DatabaseError, psycopg.Error)

_PG_SCHEMES = ("postgresql://", "postgres://")


def database_url(daemon=None) -> str:
    """The database_url of this test: a daemon process's (its env), else this process's."""
    env = os.environ if daemon is None else daemon.env
    return env.get("WFE_DATABASE_URL", "")


def on_postgres(daemon=None) -> bool:
    return database_url(daemon).startswith(_PG_SCHEMES)


def is_postgres(conn) -> bool:
    return getattr(conn, "dialect", "") == "postgres"


def sqlite_file(daemon=None) -> Path:
    """The SQLite file of the test (when it is not on PostgreSQL)."""
    url = database_url(daemon)
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).expanduser()
    return paths(None if daemon is None else daemon.env).db


def open_db(daemon=None) -> Any:
    """A connection to the test's database, in autocommit; the caller closes it.

    ``daemon``: a conftest ``Daemon`` (its home and env); without one, the in-process
    daemon of this test (``paths()`` and os.environ, as the ``home`` fixture set them)."""
    url = database_url(daemon)
    if url.startswith(_PG_SCHEMES):
        from wfe.daemon.store.pg.dialect import Connection

        return Connection.open(url)
    conn = sqlite3.connect(sqlite_file(daemon), timeout=10, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def db(daemon=None) -> Iterator[Any]:
    """``open_db`` as a context manager: the connection is closed on the way out."""
    conn = open_db(daemon)
    try:
        yield conn
    finally:
        conn.close()


def query(sql: str, params: tuple = (), daemon=None) -> list[tuple]:
    """Every row of one query, as plain tuples (sqlite3.Row does not compare to tuples)."""
    with db(daemon) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def drop_guards(conn, *triggers: str) -> None:
    """Take away the triggers that keep the audit record append-only, as someone with
    write access to the database could: DROP TRIGGER on SQLite; on PostgreSQL, where a
    trigger is bound to its table, ALTER TABLE ... DISABLE TRIGGER (which also lasts)."""
    for name in triggers:
        if not is_postgres(conn):
            conn.execute(f"DROP TRIGGER {name}")
            continue
        row = conn.execute("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = ?"
                           " AND NOT tgisinternal", (name,)).fetchone()
        if row is None:
            raise LookupError(f"no trigger {name!r} in the database")
        conn.execute(f"ALTER TABLE {row[0]} DISABLE TRIGGER {name}")


def table_columns(conn) -> dict[str, set[str]]:
    """The columns of each table of the store (not its views)."""
    if is_postgres(conn):
        rows = conn.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema"
            " AND t.table_name = c.table_name WHERE c.table_schema = current_schema()"
            " AND t.table_type = 'BASE TABLE'").fetchall()
        out: dict[str, set[str]] = {}
        for table, column in rows:
            out.setdefault(table, set()).add(column)
        return out
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: {c[1] for c in conn.execute(f"PRAGMA table_info({t})")} for t in tables}


def stored_bytes(daemon=None) -> bytes:
    """What the database holds, to look for something that must not be in it: on SQLite
    the bytes of its files (free pages and the WAL included); on PostgreSQL, whose files
    are the server's, every value of every row of every table, as stored (not quoted)."""
    if not on_postgres(daemon):
        file = sqlite_file(daemon)
        return b"".join(p.read_bytes() for p in sorted(file.parent.glob(file.name + "*"))
                        if p.is_file())
    chunks: list[bytes] = []
    with db(daemon) as conn:
        for table in sorted(table_columns(conn)):
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                chunks.extend(v if isinstance(v, bytes) else str(v).encode()
                              for v in row if v is not None)
    return b"\n".join(chunks)

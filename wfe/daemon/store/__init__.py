"""The daemon's SQLite store: one writer thread for every change; reads on the event loop."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from wfe.daemon.store import event_queries
from wfe.daemon.store.checkpoint import Checkpointer
from wfe.daemon.store.schema import migrate
from wfe.daemon.store.writer import Writer, connect, ensure_incremental_vacuum

T = TypeVar("T")


class Store:
    """Reads come in two kinds.

    Point reads (a run, a page of a list) run right on the event loop, on a connection only
    the loop uses: in WAL mode a reader never waits for the writer, and such a read takes
    tens of microseconds, less than one hop to a thread and back. Reads whose cost grows
    without bound (the audit of every event a user has) go to the aiosqlite thread
    (``all_bg``), so they never stall the loop.
    """

    # One writer: ids are drawn in commit order, so a user's stream follows them.
    event_queries = event_queries

    def __init__(self, path: Path, synchronous: str = "NORMAL", retry_after: int = 1,
                 before_commit: Callable[[], None] | None = None) -> None:
        self.path = path
        self.synchronous = synchronous
        self._writer_args = (retry_after, before_commit)
        self.write: Writer
        self.reader: aiosqlite.Connection
        self._conn: sqlite3.Connection
        self._bg_lock = asyncio.Lock()

    async def open(self) -> None:
        fresh = not self.path.exists()
        if fresh:  # create it private before SQLite does, so it is never world-readable
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = connect(str(self.path), self.synchronous)
        migrate(conn)
        ensure_incremental_vacuum(conn)
        checkpointer = Checkpointer(str(self.path))
        checkpointer.start()
        self.write = Writer(conn, checkpointer, *self._writer_args)
        self.write.start()
        self._conn = sqlite3.connect(str(self.path), isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        # A WAL reader is refused only in rare moments (a WAL reset); keep the loop's wait short.
        self._conn.execute("PRAGMA busy_timeout=1000")
        self._conn.execute("PRAGMA query_only=ON")
        self.reader = await aiosqlite.connect(str(self.path), isolation_level=None)
        self.reader.row_factory = aiosqlite.Row
        await self.reader.execute("PRAGMA busy_timeout=5000")
        await self.reader.execute("PRAGMA query_only=ON")

    async def close(self) -> None:
        self._conn.close()
        await self.reader.close()
        await self.write.close()

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in one read transaction: all its queries see one snapshot."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            return fn(conn, *args)
        finally:
            if conn.in_transaction:  # an error may have ended it already
                conn.execute("COMMIT")

    async def all(self, sql: str, params: tuple = ()) -> list[dict]:
        return [dict(r) for r in self._conn.execute(sql, params).fetchall()]

    async def one(self, sql: str, params: tuple = ()) -> dict | None:
        rows = self._conn.execute(sql, params).fetchall()  # drained: no statement left open
        return dict(rows[0]) if rows else None

    async def scalar(self, sql: str, params: tuple = ()):
        rows = self._conn.execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    async def all_bg(self, *queries: tuple[str, tuple]) -> list[list[dict]]:
        """Each query's rows, all read in one transaction on the reader's thread."""
        async with self._bg_lock:  # one transaction at a time on the one connection
            await self.reader.execute("BEGIN")
            try:
                return [[dict(r) for r in await self.reader.execute_fetchall(sql, params)]
                        for sql, params in queries]
            finally:
                await self.reader.execute("COMMIT")

"""The daemon's SQLite store: one writer thread for every change, one reader for queries."""

from __future__ import annotations

import os
from pathlib import Path

import aiosqlite

from wfe.daemon.store.schema import migrate
from wfe.daemon.store.writer import Writer, connect


class Store:
    def __init__(self, path: Path, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self.write: Writer
        self.reader: aiosqlite.Connection

    async def open(self) -> None:
        fresh = not self.path.exists()
        if fresh:  # create it private before SQLite does, so it is never world-readable
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = connect(str(self.path), self.synchronous)
        migrate(conn)
        self.write = Writer(conn)
        self.write.start()
        self.reader = await aiosqlite.connect(str(self.path), isolation_level=None)
        self.reader.row_factory = aiosqlite.Row
        await self.reader.execute("PRAGMA busy_timeout=5000")
        await self.reader.execute("PRAGMA query_only=ON")

    async def close(self) -> None:
        await self.reader.close()
        await self.write.close()

    # Each read runs to completion in one call on the reader's thread. Two cursors stepped
    # in turn would share one read transaction, and the later one would miss commits.
    async def all(self, sql: str, params: tuple = ()) -> list[dict]:
        rows = await self.reader.execute_fetchall(sql, params)
        return [dict(r) for r in rows]

    async def one(self, sql: str, params: tuple = ()) -> dict | None:
        rows = await self.reader.execute_fetchall(sql, params)
        return dict(rows[0]) if rows else None

    async def scalar(self, sql: str, params: tuple = ()):
        rows = await self.reader.execute_fetchall(sql, params)
        return rows[0][0] if rows else None

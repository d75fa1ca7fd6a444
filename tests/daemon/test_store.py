"""The store's threads against a real SQLite file: group commit, checkpoints, reads."""

from __future__ import annotations

import shutil
import sqlite3

from tests.conftest import async_wait_until
from wfe.daemon.store import Store


def _put(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))


async def test_commits_reach_the_database_file_without_the_writer_checkpointing(tmp_path):
    store = Store(tmp_path / "wfe.db")
    await store.open()
    try:
        await store.write(_put, "probe", "1")
        # The WAL holds the commit at once; the checkpointer thread, not the writer, then
        # moves it into the main file: a copy of that file alone (no WAL) must have it.
        def in_main_file() -> bool:
            copy = tmp_path / "copy.db"
            shutil.copyfile(tmp_path / "wfe.db", copy)
            c = sqlite3.connect(copy)
            try:
                rows = c.execute("SELECT value FROM meta WHERE key = 'probe'").fetchall()
            except sqlite3.OperationalError:  # not even the schema is there yet
                return False
            finally:
                c.close()
            return rows == [("1",)]

        async def moved() -> bool:
            return in_main_file()

        await async_wait_until(moved, timeout=10, message="the checkpoint")
        assert store.write._checkpointer.runs >= 1  # its work, not a writer's auto-checkpoint
        assert await store.one("SELECT value FROM meta WHERE key = 'probe'") == {"value": "1"}
    finally:
        await store.close()

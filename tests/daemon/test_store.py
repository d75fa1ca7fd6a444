"""The store's threads against a real SQLite file: group commit, checkpoints, reads."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3

import pytest

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

        async def counted() -> bool:  # its work, not a writer's auto-checkpoint; the thread
            return store.write._checkpointer.runs >= 1  # counts just after the checkpoint

        await async_wait_until(counted, timeout=10, message="the checkpointer's count")
        assert await store.one("SELECT value FROM meta WHERE key = 'probe'") == {"value": "1"}
    finally:
        await store.close()


def test_run_counts_are_backfilled_and_kept_by_every_kind_of_write(tmp_path):
    from wfe.daemon.store import schema

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    for number, script in enumerate(schema.MIGRATIONS[:5], start=1):  # a database from before
        for statement in schema._statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO templates (id, name, version, status, description, spec, owner,"
                 " created_at) VALUES ('t', 't', 1, 'published', '', '{}', 'ada', 'now')")

    def add(run_id: str, owner: str, status: str) -> None:
        conn.execute("INSERT INTO runs (id, owner, template_id, status, input, trigger_type,"
                     " created_at, updated_at) VALUES (?, ?, 't', ?, '{}', 'api', 'now', 'now')",
                     (run_id, owner, status))

    for i, status in enumerate(["completed", "completed", "failed", "running"]):
        add(f"a{i}", "ada", status)
    add("b0", "bob", "pending")
    schema.migrate(conn)

    def counts() -> dict:
        return {(o, s): n for o, s, n in conn.execute("SELECT * FROM run_counts") if n}

    def truth() -> dict:
        return {(o, s): n for o, s, n in conn.execute(
            "SELECT owner, status, COUNT(*) FROM runs GROUP BY owner, status")}

    assert counts() == truth() == {("ada", "completed"): 2, ("ada", "failed"): 1,
                                   ("ada", "running"): 1, ("bob", "pending"): 1}
    add("a9", "ada", "pending")
    conn.execute("UPDATE runs SET status = 'running' WHERE id IN ('a9', 'b0')")
    conn.execute("UPDATE runs SET status = 'running', updated_at = 'later' WHERE id = 'a3'")
    conn.execute("UPDATE runs SET updated_at = 'later' WHERE id = 'a0'")  # no status change
    conn.execute("UPDATE runs SET status = 'cancelled' WHERE owner = 'ada' AND status = 'running'")
    conn.execute("DELETE FROM runs WHERE id = 'a2'")
    assert counts() == truth()
    conn.close()


async def test_a_cancel_landing_as_a_commit_wakes_the_waiter_is_not_lost(tmp_path):
    """The webhook and timer loops wait for commits; at shutdown they are cancelled. A
    cancel that lands just as a commit wakes the wait must still end the waiter (asyncio
    3.11's wait_for returned the result instead, and the daemon's stop hung on that loop)."""
    store = Store(tmp_path / "wfe.db")
    await store.open()
    try:
        waiter = asyncio.create_task(store.write.wait_commit(30))
        await asyncio.sleep(0)  # let it start waiting
        store.write._notify()  # a commit wakes it...
        waiter.cancel()  # ...and the cancel lands in the same turn of the loop
        with pytest.raises(asyncio.CancelledError):
            await waiter
    finally:
        await store.close()

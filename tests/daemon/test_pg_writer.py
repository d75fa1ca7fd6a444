"""The PostgreSQL writer when its connection goes: what was not committed runs again on a
new connection, and a session silent inside a transaction gives its locks up."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from wfe.daemon.store.pg.store import PgStore

pytestmark = pytest.mark.postgres_only("a test of the PostgreSQL writer")


@pytest.fixture
def url(pg_server):
    made = pg_server.create()
    yield made
    pg_server.drop(made)


def _put(conn, key: str, value: str) -> str:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
    return key


def _meta(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())  # type: ignore[arg-type]


def _end_writer_session(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname ="
            " current_database() AND pid <> pg_backend_pid()").fetchall())


async def test_writes_go_on_after_the_server_ends_the_writers_session(url):
    store = PgStore(url, "n1")
    await store.open()
    try:
        assert await store.write(_put, "before", "1") == "before"
        assert _end_writer_session(url) >= 1
        # One op alone, then a batch of several: each is retried on a new connection.
        assert await store.write(_put, "alone", "1") == "alone"
        _end_writer_session(url)
        keys = await asyncio.gather(*(store.write(_put, f"k{i}", "1") for i in range(10)))
        assert keys == [f"k{i}" for i in range(10)]
    finally:
        await store.close()
    meta = _meta(url)
    assert {"before", "alone", *(f"k{i}" for i in range(10))} <= set(meta)


async def test_a_transaction_silent_past_the_lease_loses_its_locks_and_runs_again(url):
    """The server ends the writer's session once it has said nothing inside a transaction
    for ``idle_timeout`` seconds: another session waiting on its row lock goes on, and the
    writer's op runs again, whole, on a new connection."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('row', 'initial')")
    store = PgStore(url, "n1", lease_seconds=0.5)
    await store.open()
    locked, release = threading.Event(), threading.Event()
    calls = []

    def hold(conn):
        calls.append(1)
        conn.execute("UPDATE meta SET value = 'writer' WHERE key = 'row'")
        if len(calls) == 1:  # the first time only: a node paused with the lock held
            locked.set()
            release.wait(60)
        return len(calls)

    try:
        task = asyncio.ensure_future(store.write(hold))
        assert await asyncio.to_thread(locked.wait, 30)

        def other_session() -> None:  # waits for the row lock, then takes it
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE meta SET value = 'other' WHERE key = 'row'")

        await asyncio.to_thread(other_session)
        assert not release.is_set()  # the lock went while the writer still sat on it
        release.set()
        assert await asyncio.wait_for(task, 60) == 2  # its op ran again, whole
    finally:
        release.set()
        await store.close()
    assert _meta(url)["row"] == "writer"


async def test_an_op_that_fails_in_a_batch_undoes_only_itself(url):
    """A batch runs without savepoints until one of its ops fails: then it runs again, each
    op in its own savepoint, and only the failing op's writes are undone."""
    store = PgStore(url, "n1")
    await store.open()
    entered, release = threading.Event(), threading.Event()

    def gate(conn):
        entered.set()
        release.wait(30)
        return _put(conn, "gate", "1")

    def half_then_fail(conn):
        _put(conn, "half", "1")
        raise ValueError("refused")

    try:
        first = asyncio.ensure_future(store.write(gate))
        assert await asyncio.to_thread(entered.wait, 30)
        # Queued while the writer is busy: the next batch holds all three.
        queued = [asyncio.ensure_future(store.write(_put, "a", "1")),
                  asyncio.ensure_future(store.write(half_then_fail)),
                  asyncio.ensure_future(store.write(_put, "b", "1"))]
        await asyncio.sleep(0.05)
        release.set()
        assert await first == "gate"
        a, failed, b = await asyncio.gather(*queued, return_exceptions=True)
    finally:
        release.set()
        await store.close()
    assert (a, b) == ("a", "b")
    assert isinstance(failed, ValueError)
    assert set(_meta(url)) == {"gate", "a", "b"}

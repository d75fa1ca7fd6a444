"""The lease fence when the writer reads a batch's lease holders at once (with BEGIN): an op
of a run whose lease another node holds, or that an earlier op of the same batch gave up,
still commits nothing."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from wfe.daemon.store.pg import lease
from wfe.daemon.store.pg.store import PgStore

pytestmark = pytest.mark.postgres_only("a test of the PostgreSQL lease fence")


@pytest.fixture
def url(pg_server):
    made = pg_server.create()
    yield made
    pg_server.drop(made)


def _seed(url: str, holders: dict[str, str | None]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO templates (id, name, version, status, spec, owner, created_at)"
                     " VALUES ('t', 't', 1, 'published', '{}', 'u', 'now')")
        for run_id, node in holders.items():
            conn.execute("INSERT INTO runs (id, owner, template_id, status, input, trigger_type,"
                         " created_at, updated_at, lease_node)"
                         " VALUES (%s, 'u', 't', 'running', '{}', 'api', 'now', 'now', %s)",
                         (run_id, node))


def _written(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM runs WHERE reason = 'written'")}


def _write(conn, run_id: str) -> str:
    conn.execute("UPDATE runs SET reason = 'written' WHERE id = ?", (run_id,))
    return run_id


async def test_a_batch_of_fenced_ops_commits_only_the_runs_this_node_holds(url):
    store = PgStore(url, "n1")
    await store.open()
    _seed(url, {"mine": "n1", "theirs": "n2", "released": "n1"})
    entered, release = threading.Event(), threading.Event()

    def gate(conn):
        entered.set()
        release.wait(30)

    try:
        first = asyncio.ensure_future(store.write(gate))
        assert await asyncio.to_thread(entered.wait, 30)
        # One batch: the holders are read at its start, "released" is given up within it.
        queued = [store.write(lease.fenced, "n1", "mine", _write, "mine"),
                  store.write(lease.fenced, "n1", "theirs", _write, "theirs"),
                  store.write(lease.release, "n1", "released"),
                  store.write(lease.fenced, "n1", "released", _write, "released")]
        tasks = [asyncio.ensure_future(q) for q in queued]
        await asyncio.sleep(0.05)
        release.set()
        await first
        mine, theirs, _, released = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        release.set()
        await store.close()
    assert mine == "mine"
    assert isinstance(theirs, lease.Fenced)
    assert isinstance(released, lease.Fenced)
    assert _written(url) == {"mine"}

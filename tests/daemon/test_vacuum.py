"""Deleted runs give their pages back: auto_vacuum=INCREMENTAL on every database, old ones
included, and an incremental vacuum after each deletion."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from bench.churn import _finished_runs, _template
from tests.daemon.test_old_database import V1_DB
from tests.data.make_v1_db import COMPLETED_RUN
from wfe.daemon.store import Store, ops_delete


def pages(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out = tuple(conn.execute(f"PRAGMA {p}").fetchone()[0]
                for p in ("auto_vacuum", "page_count", "freelist_count"))
    conn.close()
    return out  # type: ignore[return-value]


async def test_deleted_runs_pages_go_back_to_the_file_system(tmp_path):
    path = tmp_path / "wfe.db"
    store = Store(path)
    await store.open()
    try:
        template = await store.write(_template)
        ids = await store.write(_finished_runs, template, 400)
        mode, full, _ = pages(path)
        assert mode == 2  # incremental, from the first table on
        deleted = []
        for i in range(0, 380, 100):
            deleted += await store.write(ops_delete.delete_expired, ids[i:min(i + 100, 380)])
        assert len(deleted) == 380
        while await store.write(ops_delete.vacuum, 64):  # bounded steps, to the end
            pass
    finally:
        await store.close()
    mode, after, free = pages(path)
    assert free == 0 and after < full / 2, (full, after)


async def test_an_old_database_is_made_incremental_and_keeps_its_runs(tmp_path):
    path = tmp_path / "wfe.db"
    shutil.copyfile(V1_DB, path)
    assert sqlite3.connect(path).execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    store = Store(path)
    await store.open()
    try:
        status = await store.scalar("SELECT status FROM runs WHERE id = ?", (COMPLETED_RUN,))
    finally:
        await store.close()
    assert status == "completed"
    assert pages(path)[0] == 2

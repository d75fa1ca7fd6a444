"""A database written by the first release opens, migrates and serves.

tests/data/wfe-v1.db was written by wfe's first release (schema version 1): its daemon was
driven through its own API, and tests/data/make_v1_db.py rebuilds the same file from that
release's migration 1 and the rows it wrote, both embedded in the script (see its
docstring for what is in it). Keep the file: every later version must open it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import async_wait_until
from tests.data.make_v1_db import ADA_TOKEN, COMPLETED_RUN, PAUSED_RUN, ROOT_TOKEN, ROWS, build
from tests.support import api_client
from wfe.config import paths
from wfe.daemon.store.schema import MIGRATIONS

V1_DB = Path(__file__).parent.parent / "data" / "wfe-v1.db"
UPGRADE = ("an upgrade of the first release's SQLite file (wfe-v1.db, its PRAGMA user_version):"
           " PostgreSQL came later and has no first-release database to upgrade")


def install_v1(home: Path) -> Path:
    """The home an upgrade finds: the old database and the admin's token file, both 0600."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = paths().db
    shutil.copyfile(V1_DB, db)
    db.chmod(0o600)
    paths().token_file.write_text(ROOT_TOKEN + "\n")
    paths().token_file.chmod(0o600)
    return db


def schema_of(db: Path) -> tuple[int, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()
    return version, objects


@pytest.mark.sqlite_only(UPGRADE)
async def test_the_first_release_database_migrates_and_serves(home, settings):
    db = install_v1(home)
    assert schema_of(db)[0] == 1
    async with api_client(settings) as api:
        _, me = await api.get("/api/v1/me", token=ADA_TOKEN, expect=200)
        assert (me["name"], me["is_admin"]) == ("ada", False)
        _, root = await api.get("/api/v1/me", expect=200)  # the old token file still works
        assert (root["name"], root["is_admin"]) == ("root", True)

        run = await api.run(COMPLETED_RUN, token=ADA_TOKEN)
        assert (run["status"], run["owner"], run["trigger_type"]) == ("completed", "ada", "cli")
        assert (run["template"]["name"], run["template"]["version"]) == ("deploy", 1)
        assert run["input"] == {"env": "prod", "replicas": 2}
        steps = {s["name"]: s for s in run["steps"]}
        assert [s["status"] for s in run["steps"]] == ["succeeded"] * 3
        assert steps["build"]["output"] == {"artifact": "app-prod.tar"}
        assert (steps["push"]["attempt"], steps["push"]["log_tail"]) == (2, "pushed\n")
        assert steps["report"]["output"] == {"summary": "app-prod.tar x2"}
        assert [e["seq"] for e in run["events"]] == list(range(1, 13))
        kinds = [e["type"] for e in run["events"]]
        assert kinds[:2] == ["run.created", "run.started"] and kinds[-1] == "run.completed"
        failed = run["events"][kinds.index("step.attempt_failed")]
        assert (failed["actor"], failed["data"]["exit_code"]) == ("system", 3)
        # Ada's old run is no one else's business, and her paused run stays put.
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        await api.get(f"/api/v1/workflows/{COMPLETED_RUN}", token=bob["token"], expect=404)
        assert (await api.run(PAUSED_RUN, token=ADA_TOKEN))["status"] == "paused"

        _, audit = await api.get(f"/api/v1/workflows/{COMPLETED_RUN}/audit", token=ADA_TOKEN,
                                 expect=200)
        assert (audit["ok"], audit["events"], audit["first_bad"]) == (True, 12, None)
        _, whole = await api.get("/api/v1/audit", token=ADA_TOKEN, expect=200)
        assert (whole["ok"], whole["runs"], whole["events"]) == (True, 2, 16)

        # The first release accepted an approval step but had no gates; its template now runs
        # one, and the gate's owner approves it.
        started = await api.start("gate", token=ADA_TOKEN)
        waiting = await async_wait_until(
            lambda: _status_is(api, started["id"], "waiting_approval"), message="the gate")
        [gate] = waiting["approvals"]
        await api.post(f"/api/v1/workflows/{started['id']}/approvals/{gate['id']}/approve",
                       token=ADA_TOKEN, json={}, expect=200)
        await async_wait_until(lambda: _status_is(api, started["id"], "completed"),
                               message="the approved run to complete")
    assert schema_of(db)[0] == len(MIGRATIONS)


@pytest.mark.sqlite_only(UPGRADE)
async def test_migrating_the_first_release_database_twice_changes_nothing(home, settings):
    db = install_v1(home)
    async with api_client(settings):
        pass
    once = schema_of(db)
    assert once[0] == len(MIGRATIONS)
    async with api_client(settings) as api:
        run = await api.run(COMPLETED_RUN, token=ADA_TOKEN)
        _, audit = await api.get("/api/v1/audit", token=ADA_TOKEN, expect=200)
    assert schema_of(db) == once
    assert run["status"] == "completed" and len(run["events"]) == 12
    assert (audit["ok"], audit["events"]) == (True, 16)


async def _status_is(api, run_id: str, status: str) -> dict | None:
    run = await api.run(run_id, token=ADA_TOKEN)
    return run if run["status"] == status else None


def test_the_checked_in_file_is_what_the_script_builds(tmp_path):
    rebuilt = tmp_path / "v1.db"
    build(rebuilt)
    assert schema_of(rebuilt) == schema_of(V1_DB)
    for db in (rebuilt, V1_DB):
        conn = sqlite3.connect(db)
        try:
            got = [(t, c, conn.execute(f"SELECT {','.join(c)} FROM {t}").fetchall())
                   for t, c, _ in ROWS]
        finally:
            conn.close()
        assert got == [(t, c, [tuple(r) for r in rows]) for t, c, rows in ROWS]

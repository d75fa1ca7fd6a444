"""Deleting runs (DELETE /workflows/{id}): everything of the run goes, on the audit record."""

from __future__ import annotations

import pytest

from tests.dbutil import DB_ERRORS, db, table_columns
from tests.support import api_client
from wfe.config import paths

V = "/api/v1"
WORK = {"name": "work", "steps": [{"name": "a", "run": "echo hello from a"},
                                  {"name": "b", "set": {"x": 1}},
                                  {"name": "c", "foreach": "${{ [1, 2] }}", "run": "echo item"}]}
GATE = {"name": "gate", "steps": [{"name": "g", "approval": {"message": "go?"}}]}
CHILD = {"name": "child", "steps": [{"name": "c", "run": "echo child"}]}
PARENT = {"name": "parent", "steps": [{"name": "sub", "workflow": {"template": "child"}}]}


def rows_of(run_id: str) -> dict[str, int]:
    """Rows keyed by the run in every table that has a run_id column, and in runs."""
    with db() as conn:
        out = {}
        for table, cols in table_columns(conn).items():
            if "run_id" in cols and table != "global_events":
                out[table] = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?",
                                          (run_id,)).fetchone()[0]
        out["runs"] = conn.execute("SELECT COUNT(*) FROM runs WHERE id = ?",
                                   (run_id,)).fetchone()[0]
    return out


def deliveries_of(run_id: str) -> int:
    with db() as conn:
        return conn.execute("SELECT COUNT(*) FROM deliveries d JOIN events e ON"
                            " e.id = d.event_id WHERE e.run_id = ?", (run_id,)).fetchone()[0]


async def test_delete_removes_every_row_and_log_of_the_run(settings):
    async with api_client(settings) as api:
        # Deliveries to a port nobody listens on stay pending: they must go too.
        await api.post(f"{V}/webhooks", json={"url": "http://127.0.0.1:9/x"}, expect=201)
        await api.template(WORK)
        run = await api.start("work")
        await api.wait_status(run["id"], "completed")
        kept = await api.start("work")
        await api.wait_status(kept["id"], "completed")
        before = rows_of(run["id"])
        assert before["events"] and before["steps"] and before["step_attempts"]
        assert before["snapshots"] and before["step_items"] and before["item_attempts"]
        assert deliveries_of(run["id"]) > 0
        logs = paths().logs_dir / run["id"]
        assert any(logs.rglob("*")), "the run wrote log files"
        _, audit = await api.get(f"{V}/workflows/{run['id']}/audit", expect=200)

        _, gone = await api.call("DELETE", f"{V}/workflows/{run['id']}", expect=200)
        assert gone == {"run_id": run["id"], "deleted": [run["id"]],
                        "events": audit["events"], "head": audit["head"]}
        assert set(rows_of(run["id"]).values()) == {0}
        assert deliveries_of(run["id"]) == 0
        assert not logs.exists()
        status, body = await api.get(f"{V}/workflows/{run['id']}")
        assert status == 404 and body["error"]["code"] == "not_found"
        status, _ = await api.call("DELETE", f"{V}/workflows/{run['id']}")
        assert status == 404
        # The other run is untouched, its logs too.
        assert rows_of(kept["id"])["events"] > 0
        assert (paths().logs_dir / kept["id"]).exists()
        _, listed = await api.get(f"{V}/workflows", expect=200)
        assert [r["id"] for r in listed["items"]] == [kept["id"]] and listed["total"] == 1


async def test_a_run_that_has_not_ended_is_409_and_kept(settings):
    async with api_client(settings) as api:
        await api.template(GATE)
        run = await api.start("gate")
        await api.wait_status(run["id"], "waiting_approval")
        status, body = await api.call("DELETE", f"{V}/workflows/{run['id']}")
        assert status == 409, body
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == "invalid_transition"
        assert body["error"]["details"]["status"] == "waiting_approval"
        assert (await api.run(run["id"]))["status"] == "waiting_approval"
        await api.post(f"{V}/workflows/{run['id']}/cancel", expect=200)
        await api.call("DELETE", f"{V}/workflows/{run['id']}", expect=200)


async def test_another_users_run_is_404_and_an_admin_deletes_any(settings):
    async with api_client(settings) as api:
        _, me = await api.get(f"{V}/me", expect=200)
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        _, eve = await api.post(f"{V}/users", json={"name": "eve"}, expect=201)
        await api.template(GATE)
        runs = []
        for _ in range(2):
            run = await api.start("gate", token=bob["token"])
            await api.post(f"{V}/workflows/{run['id']}/cancel", token=bob["token"], expect=200)
            runs.append(run["id"])
        admins = await api.start("gate")
        await api.post(f"{V}/workflows/{admins['id']}/cancel", expect=200)
        for run_id, token in ((runs[0], eve["token"]), (admins["id"], bob["token"])):
            status, body = await api.call("DELETE", f"{V}/workflows/{run_id}", token=token)
            assert status == 404 and body["error"]["code"] == "not_found", body
        await api.call("DELETE", f"{V}/workflows/{runs[0]}", expect=200)  # the admin
        await api.call("DELETE", f"{V}/workflows/{runs[1]}", token=bob["token"], expect=200)
        # Each deletion is in the global audit log: bob sees those of his runs.
        _, seen = await api.get(f"{V}/audit/events", token=bob["token"], expect=200)
        deleted = [e for e in seen["items"] if e["type"] == "run.deleted"]
        assert {(e["data"]["run_id"], e["actor"]) for e in deleted} == {
            (runs[0], me["name"]), (runs[1], "bob")}
        for e in deleted:
            assert e["data"]["owner"] == "bob" and e["data"]["template"]["name"] == "gate"
            assert len(e["data"]["head"]) == 64 and e["data"]["events"] >= 2
        _, eves = await api.get(f"{V}/audit/events", token=eve["token"], expect=200)
        assert not [e for e in eves["items"] if e["type"] == "run.deleted"]


async def test_child_runs_go_with_their_parent(settings):
    async with api_client(settings) as api:
        await api.template(CHILD)
        await api.template(PARENT)
        parent = await api.start("parent")
        done = await api.wait_status(parent["id"], "completed")
        child = done["steps"][0]["child_run_id"]
        assert (await api.run(child))["status"] == "completed"
        _, gone = await api.call("DELETE", f"{V}/workflows/{parent['id']}", expect=200)
        assert gone["deleted"] == [parent["id"], child]
        for run_id in gone["deleted"]:
            assert set(rows_of(run_id).values()) == {0}
            assert not (paths().logs_dir / run_id).exists()
        _, seen = await api.get(f"{V}/audit/events", expect=200)
        assert {e["data"]["run_id"] for e in seen["items"] if e["type"] == "run.deleted"} == \
            {parent["id"], child}


async def test_the_database_allows_deleting_events_only_of_a_deleted_run(settings):
    async with api_client(settings) as api:
        await api.template(GATE)
        run = await api.start("gate")
        await api.post(f"{V}/workflows/{run['id']}/cancel", expect=200)
        with db() as conn:
            with pytest.raises(DB_ERRORS, match="append-only"):
                conn.execute("DELETE FROM events WHERE run_id = ?", (run["id"],))
            for bad in ('{"events": 1, "head": "x"}', '{"events": 0, "head": ""}'):
                with pytest.raises(DB_ERRORS, match="head"):
                    conn.execute("INSERT INTO global_events (type, actor, data, created_at,"
                                 " run_id) VALUES ('run.deleted', 'x', ?, 'now', ?)",
                                 (bad, run["id"]))
        await api.call("DELETE", f"{V}/workflows/{run['id']}", expect=200)
        with db() as conn:
            for sql in ("DELETE FROM global_events WHERE type = 'run.deleted'",
                        "UPDATE global_events SET data = '{}' WHERE type = 'run.deleted'"):
                with pytest.raises(DB_ERRORS, match="append-only"):
                    conn.execute(sql)

"""The audit log in the database: append-only, gap-free, hash-chained, and verifiable."""

from __future__ import annotations

import pytest

from tests.dbutil import DB_ERRORS, db, drop_guards
from tests.support import api_client
from wfe.engine.audit import GENESIS, event_hash

V = "/api/v1"
SPEC = {"name": "aud", "steps": [{"name": "a", "run": "echo hi"}, {"name": "b", "set": {"x": 1}},
                                 {"name": "c", "run": "exit 0"}]}


async def finished_runs(api, n: int = 2) -> list[dict]:
    await api.template(SPEC)
    runs = [await api.start("aud") for _ in range(n)]
    return [await api.wait_status(r["id"], "completed") for r in runs]


async def test_the_database_refuses_to_rewrite_events(settings):
    async with api_client(settings) as api:
        [run] = await finished_runs(api, 1)
        with db() as conn:
            for sql in ("UPDATE events SET data = '{}' WHERE run_id = ?",
                        "DELETE FROM events WHERE run_id = ?"):
                with pytest.raises(DB_ERRORS, match="append-only"):
                    conn.execute(sql, (run["id"],))
            count = conn.execute("SELECT COUNT(*) FROM events WHERE run_id = ?",
                                 (run["id"],)).fetchone()[0]
        assert count == len(run["events"])


async def test_sequences_have_no_gaps_and_hashes_chain(settings):
    async with api_client(settings) as api:
        runs = await finished_runs(api, 3)
        with db() as conn:
            for run in runs:
                rows = conn.execute("SELECT * FROM events WHERE run_id = ? ORDER BY seq",
                                    (run["id"],)).fetchall()
                assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
                prev = GENESIS
                for r in rows:
                    assert r["hash"] == event_hash(prev, run["id"], r["seq"], r["type"],
                                                   r["actor"], r["at"], r["data"])
                    prev = r["hash"]
                head = conn.execute("SELECT last_seq, last_hash FROM runs WHERE id = ?",
                                    (run["id"],)).fetchone()
                assert (head["last_seq"], head["last_hash"]) == (len(rows), prev)


async def test_verify_an_intact_run_and_all_runs(settings):
    async with api_client(settings) as api:
        runs = await finished_runs(api)
        _, report = await api.get(f"{V}/workflows/{runs[0]['id']}/audit", expect=200)
        assert report["ok"] and report["first_bad"] is None
        assert report["events"] == len(runs[0]["events"]) and len(report["head"]) == 64
        _, summary = await api.get(f"{V}/audit", expect=200)
        assert summary == {"ok": True, "runs": 2, "failures": [], "deleted": [],
                           "events": sum(len(r["events"]) for r in runs)}


def tamper(sql: str, params: tuple) -> None:
    """What someone with write access to the database could do: drop the guard, then
    rewrite."""
    with db() as conn:
        drop_guards(conn, "events_no_update", "events_no_delete")
        conn.execute(sql, params)


async def test_a_rewritten_event_is_reported_first(settings):
    async with api_client(settings) as api:
        good, bad = await finished_runs(api)
        tamper("UPDATE events SET actor = 'mallory' WHERE run_id = ? AND seq = 4", (bad["id"],))
        _, report = await api.get(f"{V}/workflows/{bad['id']}/audit", expect=200)
        assert not report["ok"] and report["first_bad"]["seq"] == 4 and report["events"] == 3
        _, summary = await api.get(f"{V}/audit", expect=200)
        assert not summary["ok"] and [f["run_id"] for f in summary["failures"]] == [bad["id"]]
        _, fine = await api.get(f"{V}/workflows/{good['id']}/audit", expect=200)
        assert fine["ok"]


async def test_a_deleted_event_is_reported(settings):
    async with api_client(settings) as api:
        [run] = await finished_runs(api, 1)
        last = len(run["events"])
        tamper("DELETE FROM events WHERE run_id = ? AND seq = ?", (run["id"], last))
        _, report = await api.get(f"{V}/workflows/{run['id']}/audit", expect=200)
        assert report["first_bad"]["seq"] == last and "missing" in report["first_bad"]["reason"]
        tamper_middle = "DELETE FROM events WHERE run_id = ? AND seq = 2"
        with db() as conn:
            conn.execute(tamper_middle, (run["id"],))
        _, report = await api.get(f"{V}/workflows/{run['id']}/audit", expect=200)
        assert report["first_bad"] == {"seq": 2, "reason": "event 2 is missing"}


async def test_audit_is_owner_scoped(settings):
    async with api_client(settings) as api:
        [run] = await finished_runs(api, 1)
        _, bob = await api.post(f"{V}/users", json={"name": "bob"}, expect=201)
        status, _ = await api.get(f"{V}/workflows/{run['id']}/audit", token=bob["token"])
        assert status == 404
        _, summary = await api.get(f"{V}/audit", token=bob["token"], expect=200)
        assert summary == {"ok": True, "runs": 0, "events": 0, "failures": [], "deleted": []}

"""The audit log after deletions: deleted runs are on record, the rest still verify, and a
run gone without a record (or a rewritten event) is still caught."""

from __future__ import annotations

from tests.api.test_audit_log import db, finished_runs, tamper
from tests.support import api_client

V = "/api/v1"


async def test_deleted_runs_are_accounted_for_and_the_rest_verify(settings):
    async with api_client(settings) as api:
        _, me = await api.get(f"{V}/me", expect=200)
        gone, kept, _ = await finished_runs(api, 3)
        _, before = await api.get(f"{V}/workflows/{gone['id']}/audit", expect=200)
        await api.call("DELETE", f"{V}/workflows/{gone['id']}", expect=200)

        _, summary = await api.get(f"{V}/audit", expect=200)
        assert summary["ok"] and summary["runs"] == 2 and summary["failures"] == []
        [record] = summary["deleted"]
        assert record["run_id"] == gone["id"] and record["deleted_by"] == me["name"]
        assert (record["events"], record["head"]) == (before["events"], before["head"])
        assert record["template"]["name"] == "aud"
        _, one = await api.get(f"{V}/workflows/{gone['id']}/audit", expect=200)
        assert one["ok"] and one["head"] == before["head"] and one["deleted"] == record

        # Tampering with a remaining run is still found, beside the deleted run's record.
        tamper("UPDATE events SET actor = 'mallory' WHERE run_id = ? AND seq = 2", (kept["id"],))
        _, summary = await api.get(f"{V}/audit", expect=200)
        assert not summary["ok"]
        assert [f["run_id"] for f in summary["failures"]] == [kept["id"]]
        assert [d["run_id"] for d in summary["deleted"]] == [gone["id"]]


async def test_a_run_deleted_behind_wfes_back_is_reported(settings):
    async with api_client(settings) as api:
        intact, removed = await finished_runs(api, 2)
        with db() as conn:  # the run row goes; its events cannot, with no record
            for table in ("steps", "step_attempts", "snapshots", "runs"):
                key = "id" if table == "runs" else "run_id"
                conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (removed["id"],))
        _, summary = await api.get(f"{V}/audit", expect=200)
        assert not summary["ok"] and summary["runs"] == 1 and summary["deleted"] == []
        [failure] = summary["failures"]
        assert failure["run_id"] == removed["id"]
        assert "no record of a deletion" in failure["first_bad"]["reason"]
        _, fine = await api.get(f"{V}/workflows/{intact['id']}/audit", expect=200)
        assert fine["ok"]

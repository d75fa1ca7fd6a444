"""Retries with backoff, timeouts, conditions, attempts and logs, snapshots and rollback."""

from __future__ import annotations

import os
from datetime import datetime

from tests.conftest import async_wait_until
from tests.support import api_client


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_flaky_step_succeeds_on_third_attempt_honouring_backoff(settings, tmp_path):
    counter = tmp_path / "count"
    spec = {"name": "flaky", "steps": [{
        "name": "try", "retry": {"max_attempts": 3, "initial_delay": "200ms", "multiplier": 2},
        "run": f'echo x >> {counter}; echo "attempt $WFE_ATTEMPT";'
               f' [ $(wc -l < {counter}) -ge 3 ]'}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("flaky")
        done = await api.wait_status(run["id"], "completed")
    step = done["steps"][0]
    assert step["attempt"] == 3
    attempts = step["attempts"]
    assert [a["status"] for a in attempts] == ["failed", "failed", "succeeded"]
    assert [a["exit_code"] for a in attempts] == [1, 1, 0]
    assert "attempt 2" in attempts[1]["log_tail"]
    gap1 = ts(attempts[1]["started_at"]) - ts(attempts[0]["finished_at"])
    gap2 = ts(attempts[2]["started_at"]) - ts(attempts[1]["finished_at"])
    assert gap1 >= 0.2 and gap2 >= 0.4, (gap1, gap2)
    types = [e["type"] for e in done["events"]]
    assert types.count("step.attempt_failed") == 2 and types.count("step.retry_scheduled") == 2
    sched = [e for e in done["events"] if e["type"] == "step.retry_scheduled"]
    assert sched[0]["data"]["next_attempt"] == 2 and sched[0]["data"]["at"]


async def test_defaults_and_exit_code_filters(settings):
    spec = {"name": "d", "defaults": {"retry": {"max_attempts": 3, "initial_delay": "10ms",
                                                "no_retry_on_exit_codes": [2]}},
            "steps": [{"name": "fatal", "run": "exit 2"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        done = await api.wait_status((await api.start("d"))["id"], "failed")
    assert done["steps"][0]["attempt"] == 1


async def test_step_timeout_kills_grandchildren_and_retries(settings, tmp_path):
    pids = tmp_path / "pids"
    spec = {"name": "slow", "steps": [{
        "name": "hang", "timeout": "300ms", "retry": {"max_attempts": 2, "initial_delay": "10ms"},
        "run": f"sh -c 'sleep 60 & echo $! >> {pids}; wait' & wait"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        done = await api.wait_status((await api.start("slow"))["id"], "failed", timeout=30)
    step = done["steps"][0]
    assert [a["status"] for a in step["attempts"]] == ["timed_out", "timed_out"]
    assert "timed out" in step["error"]
    for pid in map(int, pids.read_text().split()):
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:  # noqa: ASYNC230 -- a /proc read never blocks
                assert f.read().split(") ")[1].startswith("Z"), f"{pid} still runs"
        except (ProcessLookupError, FileNotFoundError):
            pass


async def test_run_timeout(settings):
    spec = {"name": "rt", "timeout": "300ms", "steps": [{"name": "long", "run": "sleep 30"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        done = await api.wait_status((await api.start("rt"))["id"], "failed")
        assert done["reason"] == "run_timeout"
        await async_wait_until(lambda: _step_done(api, done["id"]))


async def _step_done(api, run_id):
    return (await api.run(run_id))["steps"][0]["status"] in ("cancelled", "failed")


async def test_if_skips(settings):
    spec = {"name": "cond", "variables": {"go": {"type": "boolean", "default": False}},
            "steps": [{"name": "maybe", "if": "${{ input.go }}", "run": "echo ran"},
                      {"name": "always", "if": "${{ not input.go }}", "set": {"ok": True}}]}
    async with api_client(settings) as api:
        await api.template(spec)
        done = await api.wait_status((await api.start("cond"))["id"], "completed")
        assert [s["status"] for s in done["steps"]] == ["skipped", "succeeded"]
        assert "step.skipped" in [e["type"] for e in done["events"]]
        done = await api.wait_status((await api.start("cond", go=True))["id"], "completed")
        assert [s["status"] for s in done["steps"]] == ["succeeded", "skipped"]


async def test_step_log_endpoint(settings):
    spec = {"name": "logs", "steps": [{"name": "talk", "retry": {"max_attempts": 2,
            "initial_delay": "10ms"}, "run": 'seq 1 3000; echo "try $WFE_ATTEMPT"; '
            '[ "$WFE_ATTEMPT" = 2 ]'}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.wait_status((await api.start("logs"))["id"], "completed")
        base = f"/api/v1/workflows/{run['id']}/steps/talk/log"
        resp = await api.client.get(base + "?attempt=1", headers=api.headers())
        text = await resp.text()
        assert resp.status == 200 and text.startswith("1\n2\n") and text.endswith("try 1\n")
        resp = await api.client.get(base, headers=api.headers())
        assert (await resp.text()).endswith("try 2\n")
        for bad, code in (("?attempt=9", 404), ("?attempt=0", 422), ("x", 404)):
            path = base + bad if bad != "x" else base.replace("talk", "nope")
            resp = await api.client.get(path, headers=api.headers())
            assert resp.status == code, bad


ROLL = {"name": "roll", "steps": [
    {"name": "a", "run": 'echo "n=$WFE_ATTEMPT" > $WFE_OUTPUT'},
    {"name": "b", "run": 'echo "n=$WFE_ATTEMPT" > $WFE_OUTPUT'},
    {"name": "c", "run": 'echo "n=$WFE_ATTEMPT" > $WFE_OUTPUT'}]}


async def test_snapshots_and_rollback(settings):
    async with api_client(settings) as api:
        await api.template(ROLL)
        run = await api.wait_status((await api.start("roll"))["id"], "completed")
        base = f"/api/v1/workflows/{run['id']}"
        _, snaps = await api.get(base + "/snapshots", expect=200)
        assert [s["step"] for s in snaps["items"]] == ["a", "b", "c"]
        assert snaps["items"][1]["state"]["outputs"] == {"a": {"n": "1"}, "b": {"n": "1"}}
        assert snaps["items"][1]["state"]["position"] == 2
        _, dry = await api.post(base + "/rollback", json={"step": "a", "dry_run": True},
                                expect=200)
        assert dry["rerun_steps"] == ["b", "c"] and dry["run"]["status"] == "completed"
        _, res = await api.post(base + "/rollback",
                                json={"snapshot_id": snaps["items"][0]["id"]}, expect=200)
        assert res["rerun_steps"] == ["b", "c"] and not res["dry_run"]
        done = await api.wait_status(run["id"], "completed")
        outs = {s["name"]: s["output"] for s in done["steps"]}
        assert outs == {"a": {"n": "1"}, "b": {"n": "2"}, "c": {"n": "2"}}
        assert [s["attempt"] for s in done["steps"]] == [1, 2, 2]
        assert len(done["steps"][1]["attempts"]) == 2  # the old attempt stays in history
        ev = next(e for e in done["events"] if e["type"] == "run.rolled_back")
        assert ev["data"]["step"] == "a" and ev["data"]["rerun"] == ["b", "c"] and ev["actor"]
        for body, code in (({}, 422), ({"step": "nope"}, 404),
                           ({"snapshot_id": "x", "step": "a"}, 422)):
            status, _ = await api.post(base + "/rollback", json=body)
            assert status == code, body


async def test_rollback_not_allowed_while_running(settings):
    async with api_client(settings) as api:
        await api.template({"name": "nap", "steps": [{"name": "n", "sleep": "1h"}]})
        run = await api.start("nap")
        await api.wait_status(run["id"], "running")
        status, err = await api.post(f"/api/v1/workflows/{run['id']}/rollback",
                                     json={"step": "n"})
        assert status == 409 and "rollback" in err["error"]["message"]

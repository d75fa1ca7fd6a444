"""Pause, resume, cancel and retry through the API, and hibernating Runners."""

from __future__ import annotations

import os

import pytest

from tests.conftest import async_wait_until
from tests.support import api_client


def live(api) -> int:
    from wfe.daemon import keys

    return len(api.app[keys.SUPERVISOR].live)


async def test_pause_lets_the_step_finish_then_resume(settings, tmp_path):
    gate = tmp_path / "go"
    spec = {"name": "p", "steps": [
        {"name": "wait", "run": f"while [ ! -e {gate} ]; do sleep 0.01; done"},
        {"name": "after", "run": "echo after"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("p")
        await api.wait_status(run["id"], "running")
        await async_wait_until(lambda: _step_status(api, run["id"], 0, "running"))
        _, paused = await api.post(f"/api/v1/workflows/{run['id']}/pause", expect=200)
        assert paused["status"] == "paused"
        gate.touch()
        # The executing step finishes and is recorded; no new step starts.
        await async_wait_until(lambda: _step_status(api, run["id"], 0, "succeeded"))
        await async_wait_until(lambda: _no_runner(api, run["id"]))
        current = await api.run(run["id"])
        assert current["status"] == "paused" and current["steps"][1]["status"] == "pending"
        status, _ = await api.post(f"/api/v1/workflows/{run['id']}/pause")
        assert status == 409
        _, resumed = await api.post(f"/api/v1/workflows/{run['id']}/resume", expect=200)
        assert resumed["status"] == "running"
        done = await api.wait_status(run["id"], "completed")
        types = [e["type"] for e in done["events"]]
        assert "run.paused" in types and "run.resumed" in types


async def _step_status(api, run_id, idx, status):
    return (await api.run(run_id))["steps"][idx]["status"] == status


async def _no_runner(api, run_id):
    from wfe.daemon import keys

    return run_id not in api.app[keys.SUPERVISOR].live


async def test_cancel_kills_the_process_group(settings, tmp_path):
    pids = tmp_path / "pids"
    spec = {"name": "c", "steps": [
        {"name": "tree", "run": f"sleep 60 & echo $! >> {pids};"
                                f" sh -c 'sleep 60 & echo $! >> {pids}; wait' & wait"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("c")
        await async_wait_until(lambda: _lines(pids, 2))
        _, cancelled = await api.post(f"/api/v1/workflows/{run['id']}/cancel",
                                      json={"reason": "changed my mind"}, expect=200)
        assert cancelled["status"] == "cancelled" and cancelled["reason"] == "changed my mind"
        await async_wait_until(lambda: _step_status(api, run["id"], 0, "cancelled"))
        for pid in map(int, pids.read_text().split()):
            await async_wait_until(lambda pid=pid: _gone(pid), message=f"pid {pid} gone")
        done = await api.run(run["id"])
        ev = next(e for e in done["events"] if e["type"] == "run.cancelled")
        assert ev["data"]["reason"] == "changed my mind" and ev["actor"]
        status, err = await api.post(f"/api/v1/workflows/{run['id']}/cancel")
        assert status == 409 and err["error"]["details"]["allowed_actions"] == ["retry", "rollback"]


async def _lines(path, n):
    return path.exists() and len(path.read_text().split()) >= n


async def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone for our purposes: it no longer runs.
    try:
        with open(f"/proc/{pid}/stat") as f:  # noqa: ASYNC230 -- a /proc read never blocks
            return f.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


async def test_cancel_default_reason_names_actor(settings):
    async with api_client(settings) as api:
        await api.template({"name": "z", "steps": [{"name": "nap", "sleep": "1h"}]})
        run = await api.start("z")
        await async_wait_until(lambda: _step_status(api, run["id"], 0, "waiting"))
        _, done = await api.post(f"/api/v1/workflows/{run['id']}/cancel", expect=200)
        assert done["reason"].startswith("cancelled by ")
        assert done["steps"][0]["status"] == "cancelled"


async def test_retry_resumes_from_failed_step(settings, tmp_path):
    flag = tmp_path / "fixed"
    ledger = tmp_path / "ledger"
    spec = {"name": "r", "steps": [
        {"name": "one", "run": f"echo one >> {ledger}; echo v=1 > $WFE_OUTPUT"},
        {"name": "two", "run": f"echo two >> {ledger}; test -e {flag}"},
        {"name": "three", "run": f"echo three-${{{{ steps.one.output.v }}}} >> {ledger}"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("r")
        failed = await api.wait_status(run["id"], "failed")
        assert failed["steps"][1]["status"] == "failed"
        flag.touch()
        _, again = await api.post(f"/api/v1/workflows/{run['id']}/retry", expect=200)
        assert again["status"] == "running" and again["id"] == run["id"]
        done = await api.wait_status(run["id"], "completed")
        assert ledger.read_text().split() == ["one", "two", "two", "three-1"]
        assert done["steps"][1]["attempt"] == 2
        retried = next(e for e in done["events"] if e["type"] == "run.retried")
        assert retried["data"]["step"] == "two" and retried["actor"]
        status, err = await api.post(f"/api/v1/workflows/{run['id']}/retry")
        assert status == 409 and err["error"]["details"]["status"] == "completed"


async def test_a_manual_retry_gives_the_step_a_fresh_retry_budget(settings, tmp_path):
    ledger = tmp_path / "ledger"
    spec = {"name": "f3", "steps": [{
        "name": "flaky", "retry": {"max_attempts": 3, "initial_delay": "10ms"},
        "run": f'echo "$WFE_ATTEMPT" >> {ledger}; exit 1'}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("f3")
        failed = await api.wait_status(run["id"], "failed")
        assert [a["attempt"] for a in failed["steps"][0]["attempts"]] == [1, 2, 3]
        await api.post(f"/api/v1/workflows/{run['id']}/retry", expect=200)
        await async_wait_until(lambda: _lines(ledger, 6), message="three more attempts")
        again = await api.wait_status(run["id"], "failed")
        assert [a["attempt"] for a in again["steps"][0]["attempts"]] == [1, 2, 3, 4, 5, 6]
        assert all(a["status"] == "failed" for a in again["steps"][0]["attempts"])
        assert ledger.read_text().split() == ["1", "2", "3", "4", "5", "6"]


async def test_paused_and_sleeping_runs_hold_no_runner(settings):
    async with api_client(settings) as api:
        await api.template({"name": "idle", "steps": [{"name": "nap", "sleep": "1h"}]})
        runs = [await api.start("idle") for _ in range(50)]
        for r in runs:
            await async_wait_until(lambda r=r: _step_status(api, r["id"], 0, "waiting"))
        await async_wait_until(lambda: _zero_live(api))
        for r in runs[:25]:
            await api.post(f"/api/v1/workflows/{r['id']}/pause", expect=200)
        _, health = await api.get("/api/v1/health", expect=200)
        assert health["live_runners"] == 0
        # Resumed, a sleeping run wakes, sees its timer still running, and sleeps again.
        await api.post(f"/api/v1/workflows/{runs[0]['id']}/resume", expect=200)
        await async_wait_until(lambda: _zero_live(api))
        assert (await api.run(runs[0]["id"]))["steps"][0]["status"] == "waiting"


async def _zero_live(api):
    return live(api) == 0


async def test_sleep_wakes_up_on_time(settings):
    async with api_client(settings) as api:
        await api.template({"name": "s", "steps": [{"name": "nap", "sleep": "300ms"},
                                                   {"name": "after", "set": {"ok": True}}]})
        run = await api.start("s")
        done = await api.wait_status(run["id"], "completed")
        from datetime import datetime

        nap = done["steps"][0]
        t0 = datetime.fromisoformat(nap["started_at"].replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(nap["finished_at"].replace("Z", "+00:00"))
        assert (t1 - t0).total_seconds() >= 0.3


async def test_concurrency_limit_keeps_runs_pending(tmp_path, home):
    from wfe.config import Settings, paths

    settings = Settings.load(paths(), port=0, max_concurrent_steps=2, timer_max_sleep=0.05)
    async with api_client(settings) as api:
        await api.template({"name": "slow", "steps": [{"name": "s", "run": "sleep 0.3"}]})
        runs = [await api.start("slow") for _ in range(5)]
        await async_wait_until(lambda: _count_status(api, "running", 2))
        assert live(api) <= 2
        _, page = await api.get("/api/v1/workflows?status=pending", expect=200)
        assert page["total"] == 3
        for r in runs:
            await api.wait_status(r["id"], "completed")
        started = [(await api.run(r["id"]))["started_at"] for r in runs]
        assert started[2] <= started[3] <= started[4]  # in order


async def _count_status(api, status, n):
    _, page = await api.get(f"/api/v1/workflows?status={status}", expect=200)
    return page["total"] == n



# A thousand runs started and parked one request at a time: on PostgreSQL under a
# loaded CI machine that alone has taken a minute.
@pytest.mark.timeout(300)
async def test_a_thousand_paused_runs_hold_no_runner(home):
    from wfe.config import Settings, paths

    settings = Settings.load(paths(), port=0, max_concurrent_steps=8, timer_max_sleep=0.05)
    async with api_client(settings) as api:
        await api.template({"name": "nap", "steps": [{"name": "n", "sleep": "1h"}]})
        ids = [(await api.start("nap"))["id"] for _ in range(1000)]
        for run_id in ids:
            await api.post(f"/api/v1/workflows/{run_id}/pause", expect=200)
        await async_wait_until(lambda: _zero_live(api), message="no live runners")
        _, health = await api.get("/api/v1/health", expect=200)
        assert health["live_runners"] == 0
        _, page = await api.get("/api/v1/workflows?status=paused&limit=1", expect=200)
        assert page["total"] == 1000

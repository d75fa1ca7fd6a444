"""Schedules through the API, on a real daemon in-process with one-second intervals."""

from __future__ import annotations

from tests.conftest import async_wait_until
from tests.support import api_client

V = "/api/v1"


def gated(name: str, gate) -> dict:
    return {"name": name, "steps": [
        {"name": "wait", "run": f"while [ ! -e {gate} ]; do sleep 0.02; done"}]}


async def make(api, **body) -> dict:
    _, sched = await api.post(f"{V}/schedules", json=body, expect=201)
    return sched


async def runs_of(api, sched_id: str) -> list[dict]:
    _, page = await api.get(f"{V}/workflows?schedule={sched_id}", expect=200)
    return page["items"]


async def skips(api, sched_id: str, reason: str) -> list[dict]:
    _, sched = await api.get(f"{V}/schedules/{sched_id}", expect=200)
    return [e for e in sched["events"] if e["data"]["reason"] == reason]


async def test_fires_on_its_interval_as_its_owner(settings):
    async with api_client(settings) as api:
        await api.template({"name": "tick", "variables": {"who": {"type": "string"}},
                            "steps": [{"name": "a", "run": "echo ${{ input.who }}"}]})
        sched = await make(api, template="tick", every="1s", input={"who": "cron"})
        assert sched["every"] == 1.0 and sched["next_fire_at"] and not sched["paused"]
        await async_wait_until(lambda: _at_least(api, sched["id"], 2), timeout=20)
        run = await api.wait_status((await runs_of(api, sched["id"]))[-1]["id"], "completed")
        assert run["trigger_type"] == "schedule" and run["schedule_id"] == sched["id"]
        assert run["scheduled_for"] and run["input"] == {"who": "cron"}
        assert [e["type"] for e in run["events"]][:2] == ["run.created", "schedule.fired"]
        # both written in one batch with the run: numbered from 1 and hash-chained as ever
        assert [e["seq"] for e in run["events"]][:2] == [1, 2]
        _, audit = await api.get(f"{V}/workflows/{run['id']}/audit", expect=200)
        assert audit["ok"] and audit["events"] == len(run["events"])
        _, listed = await api.get(f"{V}/schedules", expect=200)
        assert listed["items"][0]["last_run_id"] and listed["total"] == 1
        _, manual = await api.post(f"{V}/schedules/{sched['id']}/trigger", expect=201)
        assert manual["schedule_id"] == sched["id"] and manual["trigger_type"] == "schedule"


async def _at_least(api, sched_id, n):
    return len(await runs_of(api, sched_id)) >= n


async def test_overlap_skip_waits_for_the_long_run(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated("slow", tmp_path / "go"))
        sched = await make(api, template="slow", every="1s")
        await async_wait_until(lambda: skips(api, sched["id"], "overlap"), timeout=20)
        assert len(await runs_of(api, sched["id"])) == 1
        (tmp_path / "go").touch()
        await async_wait_until(lambda: _at_least(api, sched["id"], 2), timeout=20)


async def test_overlap_allow_runs_side_by_side(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated("wide", tmp_path / "go"))
        sched = await make(api, template="wide", every="1s", overlap="allow")
        await async_wait_until(lambda: _running(api, sched["id"], 2), timeout=20)
        (tmp_path / "go").touch()


async def _running(api, sched_id, n):
    return sum(r["status"] in ("pending", "running") for r in await runs_of(api, sched_id)) >= n


async def test_buffer_one_starts_one_when_the_previous_ends(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated("buf", tmp_path / "go"))
        sched = await make(api, template="buf", every="1s", overlap="buffer_one")
        await async_wait_until(lambda: skips(api, sched["id"], "overlap"), timeout=20)
        _, now = await api.get(f"{V}/schedules/{sched['id']}", expect=200)
        assert now["buffered_for"] and len(await runs_of(api, sched["id"])) == 1
        (tmp_path / "go").touch()
        await async_wait_until(lambda: _at_least(api, sched["id"], 2), timeout=20)
        await api.post(f"{V}/schedules/{sched['id']}/pause", expect=200)
        second = sorted(await runs_of(api, sched["id"]), key=lambda r: r["created_at"])[1]
        assert second["scheduled_for"] == now["buffered_for"]


async def test_cancel_previous(settings):
    async with api_client(settings) as api:
        await api.template({"name": "long", "steps": [{"name": "a", "run": "sleep 60"}]})
        sched = await make(api, template="long", every="1s", overlap="cancel_previous")
        await async_wait_until(lambda: _cancelled(api, sched["id"]), timeout=20)
        await api.post(f"{V}/schedules/{sched['id']}/pause", expect=200)


async def _cancelled(api, sched_id):
    runs = await runs_of(api, sched_id)
    return any(r["status"] == "cancelled" and "schedule" in r["reason"] for r in runs) \
        and len(runs) >= 2


async def test_pause_and_resume(settings):
    async with api_client(settings) as api:
        await api.template({"name": "pr", "steps": [{"name": "a", "set": {"x": 1}}]})
        paused = await make(api, template="pr", every="1s", paused=True)
        assert paused["paused"] and paused["next_fire_at"] is None
        witness = await make(api, template="pr", every="1s")
        await async_wait_until(lambda: _at_least(api, witness["id"], 3), timeout=20)
        assert await runs_of(api, paused["id"]) == []
        _, resumed = await api.post(f"{V}/schedules/{paused['id']}/resume", expect=200)
        assert not resumed["paused"] and await skips(api, paused["id"], "paused")
        await async_wait_until(lambda: _at_least(api, paused["id"], 1), timeout=20)


async def test_bad_requests(settings):
    async with api_client(settings) as api:
        await api.template({"name": "v", "variables": {"n": {"type": "integer",
                                                             "required": True}},
                            "steps": [{"name": "a", "set": {"x": 1}}]})
        for body, status in [({"template": "v", "cron": "61 * * * *", "input": {"n": 1}}, 422),
                             ({"template": "v", "cron": "@daily", "tz": "Nowhere/X",
                               "input": {"n": 1}}, 422),
                             ({"template": "v", "every": "0.1s", "input": {"n": 1}}, 422),
                             ({"template": "v", "every": "1m"}, 422),
                             ({"template": "nope", "every": "1m"}, 404),
                             ({"template": "v"}, 422)]:
            status_got, err = await api.post(f"{V}/schedules", json=body)
            assert status_got == status and err["error"]["code"], (body, err)
        sched = await make(api, template="v@1", cron="0 3 * * *", tz="Europe/Paris",
                           input={"n": 1})
        assert sched["version"] == 1 and sched["tz"] == "Europe/Paris"
        _, changed = await api.call("PATCH", f"{V}/schedules/{sched['id']}",
                                    json={"cron": "@hourly", "overlap": "allow"}, expect=200)
        assert changed["cron"] == "@hourly" and changed["overlap"] == "allow"
        await api.call("DELETE", f"{V}/schedules/{sched['id']}", expect=204)
        await api.get(f"{V}/schedules/{sched['id']}", expect=404)

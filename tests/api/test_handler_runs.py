"""Failure handlers on a real daemon: undo in reverse completion order, on_failure, finally.

Order is proven by a ledger file each handler appends to, and by event sequence numbers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import async_wait_until
from tests.support import api_client

V = "/api/v1"


def ledger(path: Path, word: str) -> str:
    return f"echo {word} >> {path}"


async def handlers_done(api, run_id: str, timeout: float = 30) -> dict:
    async def done():
        run = await api.run(run_id)
        h = run["handlers"]
        return run if h is not None and h["status"] == "done" else None
    return await async_wait_until(done, timeout=timeout)


def present(path: Path):
    async def check() -> bool:
        return await asyncio.to_thread(path.exists)
    return check


def events(run: dict, kind: str) -> list[dict]:
    return [e for e in run["events"] if e["type"] == kind]


async def test_undos_run_in_reverse_completion_order_then_on_failure_then_finally(
        settings, tmp_path):
    led = tmp_path / "ledger"
    b_ok = tmp_path / "b.ok"
    spec = {"name": "saga", "steps": [
        # a and b run side by side; b completes first, so a's undo runs first
        {"name": "a", "needs": [], "run": f"while [ ! -e {b_ok} ]; do sleep 0.05; done",
         "undo": {"run": ledger(led, "undo-a")}},
        {"name": "b", "needs": [], "run": f"touch {b_ok}", "undo": {"run": ledger(led, "undo-b")}},
        {"name": "c", "needs": ["a", "b"], "run": "echo boom >&2; exit 4",
         "undo": {"run": ledger(led, "undo-c")}},
    ], "on_failure": [
        {"name": "alert", "run": ledger(led, "${{ run.status }}:${{ run.reason }}:"
                                             "${{ run.failed_step }}")},
        {"name": "note", "set": {"error": "${{ run.error }}", "a": "${{ steps.a.status }}"}},
    ], "finally": [{"name": "cleanup", "run": ledger(led, "finally-${{ run.status }}")}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("saga")
        ended = await api.wait_status(run["id"], "failed", timeout=30)
        assert ended["status"] == "failed"  # terminal at once; handlers follow
        done = await handlers_done(api, run["id"])
    assert led.read_text().split() == [
        "undo-a", "undo-b", "failed:step_failed:c", "finally-failed"]
    h = done["handlers"]
    assert done["status"] == "failed" and h["failed"] == []
    by_name = {s["name"]: s for s in h["steps"]}
    assert by_name["c.undo"]["status"] == "skipped"  # c never succeeded
    assert by_name["a.undo"]["role"] == "undo" and by_name["a.undo"]["target"] == "a"
    assert by_name["note"]["output"]["a"] == "succeeded"
    c = next(s for s in done["steps"] if s["name"] == "c")
    assert c["error"] and by_name["note"]["output"]["error"] == c["error"]
    assert [s["name"] for s in h["steps"] if s["status"] == "succeeded"] == [
        "a.undo", "b.undo", "alert", "note", "cleanup"]
    started = [e["data"]["step"] for e in events(done, "handler.started")]
    assert started == ["a.undo", "b.undo", "alert", "note", "cleanup"]
    # the handlers run after the run ended, and are each recorded once
    failed_at = events(done, "run.failed")[0]["seq"]
    assert min(e["seq"] for e in events(done, "handler.started")) > failed_at
    assert events(done, "run.handlers_done")[0]["data"] == {"failed": []}


async def test_finally_runs_after_a_completed_run_and_undos_do_not(settings, tmp_path):
    led = tmp_path / "ledger"
    spec = {"name": "fine", "steps": [
        {"name": "a", "run": "true", "undo": {"run": ledger(led, "undo-a")}},
    ], "on_failure": [{"name": "alert", "run": ledger(led, "alert")}],
        "finally": [{"name": "cleanup", "run": ledger(led, "finally-${{ run.status }}")}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("fine")
        await api.wait_status(run["id"], "completed", timeout=30)
        done = await handlers_done(api, run["id"])
    assert led.read_text().split() == ["finally-completed"]
    assert done["status"] == "completed"
    statuses = {s["name"]: s["status"] for s in done["handlers"]["steps"]}
    assert statuses == {"a.undo": "skipped", "alert": "skipped", "cleanup": "succeeded"}


async def test_a_failing_handler_is_reported_and_the_status_stays(settings, tmp_path):
    led = tmp_path / "ledger"
    spec = {"name": "bad-handler", "steps": [{"name": "a", "run": "true"}],
            "finally": [{"name": "oops", "run": "exit 7"},
                        {"name": "after", "run": ledger(led, "after")}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("bad-handler")
        done = await handlers_done(api, run["id"])
    assert done["status"] == "completed"
    assert done["handlers"]["failed"] == ["oops"]
    assert led.read_text().split() == ["after"]  # a failed handler does not stop the next
    failed = events(done, "handler.failed")
    assert failed[0]["data"]["step"] == "oops" and failed[0]["data"]["exit_code"] == 7
    assert events(done, "run.handlers_done")[0]["data"] == {"failed": ["oops"]}
    assert not events(done, "run.completed")[1:]  # the run ended once


async def test_cancel_kills_the_steps_then_runs_the_undos_and_finally(settings, tmp_path):
    led, started = tmp_path / "ledger", tmp_path / "slow.started"
    spec = {"name": "cancel-me", "steps": [
        {"name": "a", "run": "true", "undo": {"run": ledger(led, "undo-a")}},
        {"name": "slow", "run": f"touch {started}; sleep 60",
         "undo": {"run": ledger(led, "undo-slow")}},
    ], "on_failure": [{"name": "alert", "run": ledger(led, "alert")}],
        "finally": [{"name": "cleanup", "run": ledger(led, "finally-${{ run.status }}")}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("cancel-me")
        await async_wait_until(present(started), timeout=30)
        await api.post(f"{V}/workflows/{run['id']}/cancel", json={}, expect=200)
        done = await handlers_done(api, run["id"])
    assert done["status"] == "cancelled"
    steps = {s["name"]: s["status"] for s in done["steps"]}
    assert steps == {"a": "succeeded", "slow": "cancelled"}
    assert led.read_text().split() == ["undo-a", "finally-cancelled"]
    assert events(done, "step.cancelled")[0]["seq"] < events(done, "handler.started")[0]["seq"]


async def test_a_second_cancel_stops_the_handlers(settings, tmp_path):
    started = tmp_path / "handler.started"
    spec = {"name": "stuck-handler", "steps": [{"name": "a", "run": "true"}],
            "finally": [{"name": "hang", "run": f"touch {started}; sleep 60"},
                        {"name": "never", "run": "true"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("stuck-handler")
        await async_wait_until(present(started), timeout=30)
        await api.post(f"{V}/workflows/{run['id']}/cancel", json={}, expect=200)
        done = await handlers_done(api, run["id"])
        await async_wait_until(lambda: _status_of(api, run["id"], "hang"), timeout=30)
        done = await api.run(run["id"])
        await api.post(f"{V}/workflows/{run['id']}/cancel", json={}, expect=409)
    assert done["status"] == "completed"  # still what it was
    statuses = {s["name"]: s["status"] for s in done["handlers"]["steps"]}
    assert statuses == {"hang": "cancelled", "never": "cancelled"}


async def _status_of(api, run_id: str, name: str) -> bool:
    run = await api.run(run_id)
    return any(s["name"] == name and s["status"] == "cancelled"
               for s in run["handlers"]["steps"])


async def test_a_run_without_handlers_has_none(settings):
    async with api_client(settings) as api:
        await api.template({"name": "plain", "steps": [{"name": "a", "run": "true"}]})
        run = await api.start("plain")
        done = await api.wait_status(run["id"], "completed", timeout=30)
    assert done["handlers"] is None


async def test_bad_handlers_are_refused_at_creation(settings):
    spec = {"name": "bad", "steps": [
        {"name": "a", "set": {}, "undo": {"run": "true"}},
        {"name": "b", "run": "true", "undo": {"approval": {}}},
    ], "on_failure": [{"name": "a", "needs": ["b"], "run": "echo ${{ run.failed_step }}"}],
        "finally": [{"name": "f", "run": "echo ${{ steps.b.output.x }} ${{ run.nope }}"}]}
    async with api_client(settings) as api:
        _, body = await api.post(f"{V}/templates", json=spec, expect=422)
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"steps[0].undo", "steps[1].undo", "on_failure[0].name", "on_failure[0].needs",
            "finally[0].run"} <= paths
    messages = " ".join(d["message"] for d in body["error"]["details"])
    assert "run.nope" in messages and "steps.b" not in messages  # any main step is readable

"""Runs as graphs: branches side by side, joins, fail fast, gates beside work, retry.

Parallelism is proven by steps that can only finish if another is running at the same
time (each waits for the other's start marker), and order by event sequence numbers.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import async_wait_until
from tests.support import api_client

V = "/api/v1"


def wait_for(path: Path, then: str = "true") -> str:
    """A command that waits (up to 30 s) for a file, then runs ``then``."""
    return (f"i=0; while [ ! -e {path} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done;"
            f" [ -e {path} ] && {then}")


def seqs(run: dict, kind: str) -> dict[str, int]:
    return {e["data"]["step"]: e["seq"] for e in run["events"] if e["type"] == kind}


async def test_independent_branches_run_at_once_and_a_join_waits_for_both(settings, tmp_path):
    a, b = tmp_path / "a.started", tmp_path / "b.started"
    spec = {"name": "diamond", "steps": [
        {"name": "a", "needs": [], "run": f"touch {a}; " + wait_for(b)},
        {"name": "b", "needs": [], "run": f"touch {b}; " + wait_for(a)},
        {"name": "join", "needs": ["a", "b"], "run": "echo joined"},
        {"name": "after", "run": "true"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("diamond")
        done = await api.wait_status(run["id"], "completed", "failed", timeout=40)
    assert done["status"] == "completed", done
    started, succeeded = seqs(done, "step.started"), seqs(done, "step.succeeded")
    # each of a and b started before the other ended: they ran side by side
    assert started["a"] < succeeded["b"] and started["b"] < succeeded["a"]
    assert started["join"] > max(succeeded["a"], succeeded["b"])
    assert started["after"] > succeeded["join"]
    assert [s["needs"] for s in done["steps"]] == [[], [], ["a", "b"], ["join"]]
    assert done["current_step"] == 4 and done["current_steps"] == []


async def test_a_failed_branch_fails_the_run_and_stops_the_branch_beside_it(settings, tmp_path):
    started = tmp_path / "slow.started"
    spec = {"name": "fast-fail", "steps": [
        {"name": "slow", "needs": [], "run": f"touch {started}; sleep 60"},
        {"name": "bad", "needs": [], "run": wait_for(started, "exit 3")},
        {"name": "never", "needs": ["slow", "bad"], "run": "true"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("fast-fail")
        await api.wait_status(run["id"], "failed", timeout=30)

        async def settled():
            r = await api.run(run["id"])
            return r if r["steps"][0]["status"] != "running" else None

        done = await async_wait_until(settled, timeout=30)
    assert done["reason"] == "step_failed"
    by_name = {s["name"]: s["status"] for s in done["steps"]}
    assert by_name == {"slow": "cancelled", "bad": "failed", "never": "pending"}
    failed = next(e for e in done["events"] if e["type"] == "run.failed")
    assert failed["data"]["step"] == "bad"


async def test_two_gates_open_at_once_each_decided_alone(settings):
    spec = {"name": "gates", "steps": [
        {"name": "legal", "needs": [], "approval": {"message": "legal ok?"}},
        {"name": "ops", "needs": [], "approval": {"message": "ops ok?"}},
        {"name": "ship", "needs": ["legal", "ops"], "set": {"shipped": True}},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("gates")

        async def both_open():
            r = await api.run(run["id"])
            return r if r["status"] == "waiting_approval" and len(r["approvals"]) == 2 else None

        parked = await async_wait_until(both_open)
        assert sorted(parked["current_steps"]) == [0, 1]
        _, inbox = await api.get(f"{V}/approvals?status=pending", expect=200)
        assert {a["step"] for a in inbox["items"]} == {"legal", "ops"}
        legal = next(a for a in parked["approvals"] if a["step"] == "legal")
        await api.post(f"{V}/workflows/{run['id']}/approvals/{legal['id']}/approve", expect=200)
        again = await api.wait_status(run["id"], "waiting_approval")
        assert [s["status"] for s in again["steps"]] == ["succeeded", "waiting", "pending"]
        ops = next(a for a in parked["approvals"] if a["step"] == "ops")
        await api.post(f"{V}/workflows/{run['id']}/approvals/{ops['id']}/approve", expect=200)
        done = await api.wait_status(run["id"], "completed")
    assert done["steps"][2]["output"] == {"shipped": True}


async def test_a_gate_beside_running_work_keeps_the_run_running(settings, tmp_path):
    go = tmp_path / "go"
    spec = {"name": "beside", "steps": [
        {"name": "gate", "needs": [], "approval": {}},
        {"name": "work", "needs": [], "run": wait_for(go)},
        {"name": "end", "needs": ["gate", "work"], "run": "true"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("beside")

        async def gate_open():
            r = await api.run(run["id"])
            return r if r["approvals"] and r["steps"][1]["status"] == "running" else None

        seen = await async_wait_until(gate_open)
        assert seen["status"] == "running"  # work executes: the run is running, gate or not
        gate = seen["approvals"][0]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve", expect=200)

        async def gate_done():
            r = await api.run(run["id"])
            return r if r["steps"][0]["status"] == "succeeded" else None

        mid = await async_wait_until(gate_done)
        assert mid["status"] == "running" and mid["steps"][1]["status"] == "running"
        go.touch()
        done = await api.wait_status(run["id"], "completed", "failed")
    assert done["status"] == "completed"


async def test_a_rejected_gate_stops_the_work_beside_it(settings, tmp_path):
    spec = {"name": "reject-beside", "steps": [
        {"name": "gate", "needs": [], "approval": {}},
        {"name": "work", "needs": [], "run": "sleep 60"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("reject-beside")

        async def gate_open():
            r = await api.run(run["id"])
            return r if r["approvals"] and r["steps"][1]["status"] == "running" else None

        gate = (await async_wait_until(gate_open))["approvals"][0]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/reject", expect=200)

        async def settled():
            r = await api.run(run["id"])
            return r if r["steps"][1]["status"] != "running" else None

        done = await async_wait_until(settled, timeout=30)
    assert done["status"] == "failed" and done["reason"] == "approval_rejected"
    assert done["steps"][1]["status"] == "cancelled"


async def test_retry_runs_only_what_did_not_get_done(settings, tmp_path):
    ledger, fixed = tmp_path / "ledger", tmp_path / "fixed"
    # b starts only once the gate is approved, which the test does after a is committed:
    # a's success is certain before b fails.
    spec = {"name": "retry-graph", "steps": [
        {"name": "a", "needs": [], "run": f"echo a >> {ledger}"},
        {"name": "gate", "needs": [], "approval": {}},
        {"name": "b", "needs": ["gate"], "run": f"echo b >> {ledger}; [ -e {fixed} ]"},
        {"name": "c", "needs": ["a", "b"], "run": f"echo c >> {ledger}"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("retry-graph")

        async def a_done():
            r = await api.run(run["id"])
            return r if r["steps"][0]["status"] == "succeeded" and r["approvals"] else None

        seen = await async_wait_until(a_done)
        gate = seen["approvals"][0]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve", expect=200)
        failed = await api.wait_status(run["id"], "failed")
        assert [s["status"] for s in failed["steps"]] == [
            "succeeded", "succeeded", "failed", "pending"]
        fixed.touch()
        await api.post(f"{V}/workflows/{run['id']}/retry", expect=200)
        done = await api.wait_status(run["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert ledger.read_text().split() == ["a", "b", "b", "c"]  # a and the gate ran once


async def test_a_sleep_beside_work_finishes_while_the_work_runs(settings, tmp_path):
    go = tmp_path / "go"
    spec = {"name": "nap", "steps": [
        {"name": "nap", "needs": [], "sleep": "0.2s"},
        {"name": "work", "needs": [], "run": wait_for(go)},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("nap")

        async def napped():
            r = await api.run(run["id"])
            return r if r["steps"][0]["status"] == "succeeded" else None

        mid = await async_wait_until(napped)
        assert mid["steps"][1]["status"] == "running" and mid["status"] == "running"
        go.touch()
        done = await api.wait_status(run["id"], "completed", "failed")
    assert done["status"] == "completed"


async def test_templates_with_bad_needs_are_refused_naming_the_step(settings):
    spec = {"name": "loop", "steps": [
        {"name": "a", "needs": ["b"], "run": "true"},
        {"name": "b", "needs": ["a"], "run": "true"},
        {"name": "c", "needs": ["zz"], "run": "true"},
    ]}
    async with api_client(settings) as api:
        _, body = await api.post(f"{V}/templates", json=spec, expect=422)
    details = {(d["path"], d["message"]) for d in body["error"]["details"]}
    assert ("steps[0].needs", "the steps' needs form a cycle: a -> b -> a") in details
    assert ("steps[2].needs", "step 'c' needs 'zz', which is not a step") in details


async def test_a_sleep_beside_an_open_gate_finishes_while_the_gate_waits(settings):
    spec = {"name": "nap-gate", "steps": [
        {"name": "gate", "needs": [], "approval": {}},
        {"name": "nap", "needs": [], "sleep": "0.5s"},
        {"name": "end", "needs": ["gate", "nap"], "set": {"done": True}},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("nap-gate")

        async def napped():
            r = await api.run(run["id"])
            return r if r["steps"][1]["status"] == "succeeded" else None

        mid = await async_wait_until(napped)
        assert mid["steps"][0]["status"] == "waiting"  # the gate is still open
        parked = await api.wait_status(run["id"], "waiting_approval")
        types = [e["type"] for e in parked["events"]]
        assert "run.running" in types  # the timer woke it out of waiting_approval
        gate = parked["approvals"][0]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate['id']}/approve", expect=200)
        done = await api.wait_status(run["id"], "completed")
    assert done["steps"][2]["output"] == {"done": True}


async def test_cancel_makes_never_run_steps_cancelled_and_retry_runs_them(settings, tmp_path):
    ledger = tmp_path / "ledger"
    spec = {"name": "cancel-graph", "steps": [
        {"name": "gate", "approval": {}},
        {"name": "after", "run": f"echo after >> {ledger}"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("cancel-graph")
        await api.wait_status(run["id"], "waiting_approval")
        await api.post(f"{V}/workflows/{run['id']}/cancel", expect=200)
        done = await api.wait_status(run["id"], "cancelled")
        assert [s["status"] for s in done["steps"]] == ["cancelled", "cancelled"]
        await api.post(f"{V}/workflows/{run['id']}/retry", expect=200)
        again = await api.wait_status(run["id"], "waiting_approval")
        assert [s["status"] for s in again["steps"]] == ["waiting", "pending"]

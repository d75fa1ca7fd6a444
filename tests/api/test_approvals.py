"""Approval gates through the API: decide, double decide, pause, cancel, timeout, who may."""

from __future__ import annotations

import pytest

from tests.conftest import async_wait_until
from tests.support import api_client


def gate_spec(name="gated", **gate):
    return {"name": name, "variables": {"env": {"type": "string", "default": "prod"}},
            "steps": [{"name": "build", "run": "echo v=42 > $WFE_OUTPUT"},
                      {"name": "ship", "approval": {"message": "Ship v${{ steps.build.output.v }}"
                                                               " to ${{ input.env }}?", **gate}},
                      {"name": "deploy", "set": {"by": "${{ steps.ship.output.decided_by }}"}}]}


async def parked(api, name="gated", token=None):
    run = await api.start(name, token=token)
    return await api.wait_status(run["id"], "waiting_approval")


async def test_approve_end_to_end(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec())
        run = await parked(api)
        [gate] = run["approvals"]
        assert gate["status"] == "pending" and gate["message"] == "Ship v42 to prod?"
        assert run["steps"][1]["status"] == "waiting"
        from wfe.daemon import keys

        async def hibernated() -> bool:  # the Runner exits once the run rests at its gate
            return run["id"] not in api.app[keys.SUPERVISOR].live

        await async_wait_until(hibernated, message="the Runner to exit")
        await api.post(f"/api/v1/workflows/{run['id']}/approvals/{gate['id']}/approve",
                       json={"comment": "lgtm"}, expect=200)
        done = await api.wait_status(run["id"], "completed")
        [gate] = done["approvals"]
        me = (await api.get("/api/v1/me"))[1]["name"]
        assert (gate["status"], gate["decided_by"], gate["comment"]) == ("approved", me, "lgtm")
        assert gate["decided_at"]
        assert done["steps"][2]["output"] == {"by": me}
        types = [e["type"] for e in done["events"]]
        assert types.index("approval.requested") < types.index("approval.approved")


async def test_reject_fails_the_run(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec())
        run = await parked(api)
        gate = run["approvals"][0]
        _, after = await api.post(f"/api/v1/workflows/{run['id']}/approvals/{gate['id']}/reject",
                                  json={"comment": "not today"}, expect=200)
        assert after["status"] == "failed" and after["reason"] == "approval_rejected"
        assert after["approvals"][0]["comment"] == "not today"
        assert after["steps"][2]["status"] == "pending"


async def test_second_decision_is_409_naming_the_first(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec())
        run = await parked(api)
        url = f"/api/v1/workflows/{run['id']}/approvals/{run['approvals'][0]['id']}"
        await api.post(url + "/approve", expect=200)
        status, err = await api.post(url + "/reject")
        assert status == 409
        assert err["error"]["details"]["status"] == "approved"
        assert err["error"]["details"]["decided_by"] in err["error"]["message"]


async def test_decision_while_paused_takes_effect_on_resume(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec())
        run = await parked(api)
        base = f"/api/v1/workflows/{run['id']}"
        _, paused = await api.post(base + "/pause", expect=200)
        assert paused["status"] == "paused" and paused["approvals"][0]["status"] == "pending"
        _, still = await api.post(f"{base}/approvals/{run['approvals'][0]['id']}/approve",
                                  expect=200)
        assert still["status"] == "paused" and still["approvals"][0]["status"] == "approved"
        await api.post(base + "/resume", expect=200)
        await api.wait_status(run["id"], "completed")


async def test_pause_and_resume_keep_the_gate_open(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec())
        run = await parked(api)
        base = f"/api/v1/workflows/{run['id']}"
        await api.post(base + "/pause", expect=200)
        _, resumed = await api.post(base + "/resume", expect=200)
        assert resumed["status"] == "waiting_approval"
        assert resumed["approvals"][0]["status"] == "pending"


async def test_cancel_closes_the_gate(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec())
        run = await parked(api)
        _, done = await api.post(f"/api/v1/workflows/{run['id']}/cancel", expect=200)
        assert done["status"] == "cancelled"
        assert done["approvals"][0]["status"] == "cancelled"
        status, _ = await api.post(
            f"/api/v1/workflows/{run['id']}/approvals/{run['approvals'][0]['id']}/approve")
        assert status == 409


async def test_timeout_rejects_or_approves(settings):
    async with api_client(settings) as api:
        await api.template(gate_spec("strict", timeout="200ms"))
        await api.template(gate_spec("lenient", timeout="200ms", on_timeout="approve"))
        strict = await api.start("strict")
        lenient = await api.start("lenient")
        failed = await api.wait_status(strict["id"], "failed")
        assert failed["reason"] == "approval_timeout"
        assert failed["approvals"][0]["status"] == "expired"
        done = await api.wait_status(lenient["id"], "completed")
        assert done["approvals"][0]["decided_by"] == "system"


async def test_who_may_decide_and_the_inbox(settings):
    async with api_client(settings) as api:
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        _, carol = await api.post("/api/v1/users", json={"name": "carol"}, expect=201)
        await api.template(gate_spec("for-bob", approvers=["bob"]))
        await api.template(gate_spec())
        run = await parked(api, "for-bob")
        mine = await parked(api)
        gate = run["approvals"][0]
        url = f"/api/v1/workflows/{run['id']}/approvals/{gate['id']}"
        # carol is neither owner nor approver: the run does not exist for her
        status, _ = await api.post(url + "/approve", token=carol["token"])
        assert status == 404
        status, _ = await api.get(f"/api/v1/workflows/{run['id']}", token=carol["token"])
        assert status == 404
        _, inbox = await api.get("/api/v1/approvals?status=pending", token=carol["token"],
                                 expect=200)
        assert inbox["items"] == [] and inbox["total"] == 0
        # bob sees only the gate naming him, and may read that run and decide it
        _, inbox = await api.get("/api/v1/approvals?status=pending", token=bob["token"],
                                 expect=200)
        assert [a["id"] for a in inbox["items"]] == [gate["id"]]
        item = inbox["items"][0]
        assert item["template"]["name"] == "for-bob" and item["step"] == "ship"
        assert item["run_id"] == run["id"] and item["age_seconds"] >= 0
        await api.get(f"/api/v1/workflows/{run['id']}", token=bob["token"], expect=200)
        status, _ = await api.post(f"/api/v1/workflows/{run['id']}/pause", token=bob["token"])
        assert status == 404  # reading is all an approver may do besides deciding
        await api.post(url + "/approve", token=bob["token"], expect=200)
        # the owner's inbox has both gates
        _, inbox = await api.get("/api/v1/approvals", expect=200)
        assert {a["run_id"] for a in inbox["items"]} == {run["id"], mine["id"]}
        done = await api.wait_status(run["id"], "completed")
        assert done["approvals"][0]["decided_by"] == "bob"


# A thousand runs started and parked one request at a time: on PostgreSQL under a
# loaded CI machine that alone has taken a minute.
@pytest.mark.timeout(300)
async def test_a_thousand_parked_runs_hold_no_runner(home):
    from wfe.config import Settings, paths
    from wfe.daemon import keys

    settings = Settings.load(paths(), port=0, timer_max_sleep=0.05)
    async with api_client(settings) as api:
        await api.template({"name": "gate", "steps": [{"name": "g", "approval": {}}]})
        ids = [(await api.start("gate"))["id"] for _ in range(1000)]

        async def all_parked():
            _, page = await api.get("/api/v1/workflows?status=waiting_approval&limit=1")
            return page["total"] == 1000 and not api.app[keys.SUPERVISOR].live

        await async_wait_until(all_parked, timeout=60, message="1000 runs parked")
        _, health = await api.get("/api/v1/health", expect=200)
        assert health["live_runners"] == 0
        _, inbox = await api.get("/api/v1/approvals?status=pending&limit=1", expect=200)
        assert inbox["total"] == 1000
        assert ids

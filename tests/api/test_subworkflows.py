"""Sub-workflows: a `workflow` step starts a child run and waits for it with no Runner."""

from __future__ import annotations

from tests.conftest import async_wait_until
from tests.support import api_client
from wfe.daemon import keys

V = "/api/v1"

CHILD = {"name": "child", "variables": {"who": {}, "n": {"type": "integer", "default": 1}},
         "steps": [
             {"name": "gate", "approval": {"message": "go?"}},
             {"name": "greet", "set": {"text": "hello ${{ input.who }}", "n": "${{ input.n }}"}},
         ]}
PARENT = {"name": "parent", "variables": {"who": {}}, "steps": [
    {"name": "sub", "workflow": {"template": "child", "input": {"who": "${{ input.who }}-x",
                                                                "n": 3}}},
    {"name": "after", "set": {"got": "${{ steps.sub.output.greet.text }}"}},
]}


async def child_of(api, run_id: str, step: str = "sub") -> str:
    async def linked():
        run = await api.run(run_id)
        got = next(s for s in run["steps"] if s["name"] == step)
        return got["child_run_id"] if got["status"] == "waiting" else None

    return await async_wait_until(linked, timeout=20)


async def test_parent_waits_with_no_runner_and_completes_with_the_childs_outputs(settings):
    async with api_client(settings) as api:
        await api.template(CHILD)
        await api.template(PARENT)
        parents = [(await api.start("parent", who=f"w{i}"))["id"] for i in range(100)]
        children = [await child_of(api, p) for p in parents]
        for c in children:
            await api.wait_status(c, "waiting_approval")
        sup = api.app[keys.SUPERVISOR]

        async def no_runner():
            return not sup.live

        await async_wait_until(no_runner, timeout=20)  # nobody holds a Runner
        _, health = await api.get(f"{V}/health", expect=200)
        assert health["live_runners"] == 0
        child = await api.run(children[0])
        parent = await api.run(parents[0])
        assert child["trigger_type"] == "workflow" and child["owner"] == parent["owner"]
        assert child["parent_run_id"] == parents[0] and child["parent_step"] == "sub"
        assert child["input"] == {"who": "w0-x", "n": 3}
        assert parent["status"] == "running" and parent["steps"][0]["status"] == "waiting"
        for c in children:
            gate = (await api.run(c))["approvals"][0]["id"]
            await api.post(f"{V}/workflows/{c}/approvals/{gate}/approve", json={}, expect=200)
        for p in parents:
            await api.wait_status(p, "completed", "failed", timeout=30)
        done = await api.run(parents[0])
    assert done["status"] == "completed", done
    sub = done["steps"][0]
    assert sub["status"] == "succeeded" and sub["child_run_id"] == children[0]
    assert set(sub["output"]) == {"gate", "greet"}  # {child step: its output}
    assert sub["output"]["greet"] == {"text": "hello w0-x", "n": 3}
    assert done["steps"][1]["output"] == {"got": "hello w0-x"}
    started = next(e for e in done["events"] if e["type"] == "step.child_started")
    assert started["data"]["child_run_id"] == children[0]


async def test_a_failing_child_fails_the_step_and_a_retry_starts_a_new_child(settings):
    child = {"name": "flaky", "steps": [{"name": "boom", "run": "echo no >&2; exit 4"}]}
    parent = {"name": "calls-flaky", "steps": [
        {"name": "sub", "workflow": {"template": "flaky"},
         "retry": {"max_attempts": 2, "initial_delay": "10ms"}}]}
    async with api_client(settings) as api:
        await api.template(child)
        await api.template(parent)
        run = await api.start("calls-flaky")
        done = await api.wait_status(run["id"], "completed", "failed", timeout=30)
        _, listed = await api.get(f"{V}/workflows?template=flaky", expect=200)
    assert done["status"] == "failed" and done["reason"] == "step_failed"
    sub = done["steps"][0]
    assert sub["status"] == "failed" and sub["attempt"] == 2
    assert sub["error"].startswith(f"child run {sub['child_run_id']} failed: step_failed")
    assert "step 'boom'" in sub["error"]
    kids = listed["items"]
    assert len(kids) == 2  # one child per attempt, each linked to the parent
    assert {k["parent_run_id"] for k in kids} == {run["id"]}
    assert {k["status"] for k in kids} == {"failed"}
    assert sub["child_run_id"] in {k["id"] for k in kids}


async def test_cancelling_the_parent_cancels_its_children_recursively(settings, tmp_path):
    marker = tmp_path / "leaf.started"
    leaf = {"name": "leaf", "steps": [{"name": "long", "run": f"touch {marker}; sleep 60"}]}
    mid = {"name": "mid", "steps": [{"name": "down", "workflow": {"template": "leaf"}}]}
    top = {"name": "top", "steps": [{"name": "down", "workflow": {"template": "mid"}}]}
    async with api_client(settings) as api:
        for spec in (leaf, mid, top):
            await api.template(spec)
        run = await api.start("top")
        mid_id = await child_of(api, run["id"], "down")
        leaf_id = await child_of(api, mid_id, "down")

        async def leaf_started():
            return marker.exists()

        await async_wait_until(leaf_started, timeout=20)
        await api.post(f"{V}/workflows/{run['id']}/cancel", json={"reason": "stop"}, expect=200)
        top_run = await api.wait_status(run["id"], "cancelled")
        mid_run = await api.wait_status(mid_id, "cancelled")
        leaf_run = await api.wait_status(leaf_id, "cancelled")

        async def leaf_step_closed():
            r = await api.run(leaf_id)
            return r["steps"][0]["status"] == "cancelled"

        await async_wait_until(leaf_step_closed, timeout=20)  # its process was killed
    assert top_run["steps"][0]["status"] == "cancelled"
    assert "parent run" in mid_run["reason"] and "parent run" in leaf_run["reason"]


async def test_a_self_starting_template_stops_at_the_depth_cap(settings):
    spec = {"name": "forever", "steps": [{"name": "again", "workflow": {"template": "forever"}}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("forever")
        done = await api.wait_status(run["id"], "failed", "completed", timeout=60)
        _, listed = await api.get(f"{V}/workflows?template=forever&limit=100", expect=200)
        errors = [(await api.run(r["id"]))["steps"][0]["error"] for r in listed["items"]]
    assert done["status"] == "failed"
    runs = listed["items"]
    assert len(runs) == settings.max_workflow_depth + 1 == 9  # depths 0 to 8
    assert {r["status"] for r in runs} == {"failed"}  # nothing left running
    capped = [e for e in errors if e.startswith("workflow depth cap")]
    assert capped == ["workflow depth cap: this run is at depth 8 and may not start another"
                      " (max_workflow_depth = 8); does a template start itself?"]
    # each parent failed with its child, the cause named all the way up
    assert done["steps"][0]["error"].startswith("child run ")
    assert "max_workflow_depth = 8" in done["steps"][0]["error"]


async def test_an_unknown_template_fails_the_step_at_run_time(settings):
    spec = {"name": "calls-later", "steps": [
        {"name": "sub", "workflow": {"template": "not-yet@2", "input": {"a": 1}}}]}
    async with api_client(settings) as api:
        await api.template(spec)  # may name a template that does not exist yet
        run = await api.start("calls-later")
        done = await api.wait_status(run["id"], "failed", timeout=20)
    assert done["steps"][0]["error"] == (
        "no published template not-yet@2 (unknown, or not published yet)")


async def test_bad_child_inputs_fail_the_step_naming_the_variable(settings):
    async with api_client(settings) as api:
        await api.template(CHILD)
        await api.template({"name": "bad-in", "steps": [
            {"name": "sub", "workflow": {"template": "child", "input": {"n": "many"}}}]})
        run = await api.start("bad-in")
        done = await api.wait_status(run["id"], "failed", timeout=20)
    error = done["steps"][0]["error"]
    assert "who" in error and "n" in error, error


async def test_a_workflow_step_is_checked_at_creation(settings):
    async with api_client(settings) as api:
        status, body = await api.post(f"{V}/templates", json={"name": "bad", "steps": [
            {"name": "sub", "workflow": {"template": "No Such", "input": ["x"]}}]})
    assert status == 422
    paths = {d["path"] for d in body["error"]["details"]}
    assert paths == {"steps[0].workflow.template", "steps[0].workflow.input"}

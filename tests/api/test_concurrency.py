"""Concurrency limits of templates, on a real daemon in-process: queueing, cancel_oldest,
reject, keys, and the ways a run is started (request, schedule, workflow step).

Each step waits for a gate file the test opens, so which run executes when is decided by
the test; order is proven by the recorded step times and the runs' own events."""

from __future__ import annotations

from tests.conftest import async_wait_until
from tests.support import api_client

V = "/api/v1"


def gated(tmp_path, name: str, **concurrency) -> dict:
    """Each run waits for the file named by its `tag` input; it writes started-<tag> first."""
    return {"name": name, "concurrency": concurrency,
            "variables": {"tag": {"type": "string"}, "env": {"type": "string", "default": "x"}},
            "steps": [{"name": "work", "env": {"TAG": "${{ input.tag }}"},
                       "run": f'touch {tmp_path}/started-"$TAG";'
                              f' while [ ! -e {tmp_path}/go-"$TAG" ]; do sleep 0.01; done'}]}


async def started(tmp_path, *tags: str) -> bool:
    return all((tmp_path / f"started-{t}").exists() for t in tags)


def go(tmp_path, tag: str) -> None:
    (tmp_path / f"go-{tag}").touch()


def events(run: dict, type_: str) -> list[dict]:
    return [e for e in run["events"] if e["type"] == type_]


async def test_limit_one_queues_the_second_run_until_the_first_ends(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "one", limit=1))
        a = await api.start("one", tag="a")
        await async_wait_until(lambda: started(tmp_path, "a"))
        b = await api.start("one", tag="b")
        assert b["status"] == "pending"
        assert b["queued_behind"] == {"key": None, "limit": 1, "position": 1,
                                      "running": [a["id"]]}
        c = await api.start("one", tag="c")
        assert c["queued_behind"]["position"] == 2
        # B waits while A's step runs: it is still queued, and its step never started.
        b_now = await api.run(b["id"])
        assert b_now["status"] == "pending" and b_now["steps"][0]["status"] == "pending"
        assert not (tmp_path / "started-b").exists()
        _, page = await api.get(f"{V}/workflows?template=one", expect=200)
        listed = {r["id"]: r["queued_behind"] for r in page["items"]}
        assert listed[a["id"]] is None and listed[c["id"]]["position"] == 2

        go(tmp_path, "a")
        done_a = await api.wait_status(a["id"], "completed")
        await async_wait_until(lambda: started(tmp_path, "b"))
        running_b = await api.run(b["id"])
        assert running_b["status"] == "running" and running_b["queued_behind"] is None
        assert (await api.run(c["id"]))["queued_behind"] == {
            "key": None, "limit": 1, "position": 1, "running": [b["id"]]}
        go(tmp_path, "b")
        done_b = await api.wait_status(b["id"], "completed")

    step_a, step_b = done_a["steps"][0], done_b["steps"][0]
    assert step_a["finished_at"] <= step_b["started_at"]  # no overlap (same ISO format)
    queued, begun = events(done_b, "run.queued")[0], events(done_b, "run.started")[0]
    assert queued["seq"] < begun["seq"] < events(done_b, "run.completed")[0]["seq"]
    assert queued["data"]["running"] == [a["id"]]
    assert begun["data"] == {"slot_freed_by": a["id"]}
    assert events(done_a, "run.completed")[0]["at"] <= begun["at"]


async def test_a_queued_run_can_be_cancelled_and_never_runs(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "cq", limit=1))
        a = await api.start("cq", tag="a")
        b = await api.start("cq", tag="b")
        c = await api.start("cq", tag="c")
        _, cancelled = await api.post(f"{V}/workflows/{b['id']}/cancel",
                                      json={"reason": "not needed"}, expect=200)
        assert cancelled["status"] == "cancelled" and cancelled["queued_behind"] is None
        assert (await api.run(c["id"]))["queued_behind"]["position"] == 1
        go(tmp_path, "a")
        await api.wait_status(a["id"], "completed")
        await async_wait_until(lambda: started(tmp_path, "c"))  # C, not the cancelled B
        go(tmp_path, "c")
        await api.wait_status(c["id"], "completed")
        done_b = await api.run(b["id"])
    assert done_b["status"] == "cancelled" and done_b["started_at"] is None
    assert done_b["steps"][0]["status"] == "cancelled"
    assert not (tmp_path / "started-b").exists()


async def test_reject_answers_409_with_the_error_shape(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "rj", limit=1, on_conflict="reject"))
        a = await api.start("rj", tag="a")
        status, err = await api.post(f"{V}/workflows", json={"template": "rj",
                                                              "input": {"tag": "b"}})
        assert status == 409
        assert set(err) == {"error"} and set(err["error"]) == {"code", "message", "details"}
        assert err["error"]["code"] == "concurrency_limit"
        assert err["error"]["details"] == {"template": "rj", "key": None, "limit": 1,
                                           "running": [a["id"]]}
        _, page = await api.get(f"{V}/workflows?template=rj", expect=200)
        assert [r["id"] for r in page["items"]] == [a["id"]]  # nothing was created
        go(tmp_path, "a")
        await api.wait_status(a["id"], "completed")
        b = await api.start("rj", tag="b")  # the slot is free again
        go(tmp_path, "b")
        await api.wait_status(b["id"], "completed")


async def test_cancel_oldest_cancels_the_oldest_run_to_make_room(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "co", limit=2, on_conflict="cancel_oldest"))
        a = await api.start("co", tag="a")
        await async_wait_until(lambda: started(tmp_path, "a"))
        b = await api.start("co", tag="b")
        c = await api.start("co", tag="c")
        assert c["queued_behind"] is None
        done_a = await api.wait_status(a["id"], "cancelled")
        # A's process was stopped: its step is closed as cancelled, not left running.
        await async_wait_until(lambda: _step_is(api, a["id"], "cancelled"))
        await async_wait_until(lambda: started(tmp_path, "b", "c"))
        assert (await api.run(b["id"]))["status"] == "running"
        for tag in ("b", "c"):
            go(tmp_path, tag)
        await api.wait_status(b["id"], "completed")
        await api.wait_status(c["id"], "completed")
    assert c["id"] in done_a["reason"] and "cancel_oldest" in done_a["reason"]
    assert events(done_a, "run.cancelled")[0]["data"]["reason"] == done_a["reason"]


async def _step_is(api, run_id: str, status: str) -> bool:
    return (await api.run(run_id))["steps"][0]["status"] == status


async def test_different_keys_run_in_parallel(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "keyed", limit=1, key="${{ input.env }}"))
        prod = await api.start("keyed", tag="p", env="prod")
        dev = await api.start("keyed", tag="d", env="dev")
        prod2 = await api.start("keyed", tag="p2", env="prod")
        assert prod2["queued_behind"] == {"key": "prod", "limit": 1, "position": 1,
                                          "running": [prod["id"]]}
        assert dev["queued_behind"] is None
        await async_wait_until(lambda: started(tmp_path, "p", "d"))  # both at once
        go(tmp_path, "p")
        go(tmp_path, "d")
        runs = [await api.wait_status(r["id"], "completed") for r in (prod, dev)]
        go(tmp_path, "p2")
        await api.wait_status(prod2["id"], "completed")
    p, d = runs[0]["steps"][0], runs[1]["steps"][0]
    assert p["started_at"] < d["finished_at"] and d["started_at"] < p["finished_at"]


async def test_retry_needs_a_free_slot(settings, tmp_path):
    spec = gated(tmp_path, "rt", limit=1)
    async with api_client(settings) as api:
        await api.template(spec)
        a = await api.start("rt", tag="a")
        await api.post(f"{V}/workflows/{a['id']}/cancel", expect=200)
        b = await api.start("rt", tag="b")
        await async_wait_until(lambda: started(tmp_path, "b"))
        status, err = await api.post(f"{V}/workflows/{a['id']}/retry")
        assert status == 409 and err["error"]["code"] == "concurrency_limit"
        assert err["error"]["details"]["running"] == [b["id"]]
        go(tmp_path, "b")
        await api.wait_status(b["id"], "completed")
        await api.post(f"{V}/workflows/{a['id']}/retry", expect=200)
        go(tmp_path, "a")
        await api.wait_status(a["id"], "completed")


async def test_schedule_and_workflow_step_runs_wait_for_the_slot(settings, tmp_path):
    parent = {"name": "parent", "steps": [
        {"name": "sub", "workflow": {"template": "sw", "input": {"tag": "child"}}}]}
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "sw", limit=1))
        await api.template(parent)
        a = await api.start("sw", tag="a")
        _, sched = await api.post(f"{V}/schedules", json={
            "template": "sw", "every": "1h", "input": {"tag": "sched"}}, expect=201)
        _, fired = await api.post(f"{V}/schedules/{sched['id']}/trigger", expect=201)
        assert fired["queued_behind"]["running"] == [a["id"]]
        mom = await api.start("parent")
        child_id = await async_wait_until(lambda: _child(api, mom["id"]))
        child = await api.run(child_id)
        assert child["queued_behind"] == {"key": None, "limit": 1, "position": 2,
                                          "running": [a["id"]]}
        for tag in ("a", "sched", "child"):
            go(tmp_path, tag)
        done = await api.wait_status(mom["id"], "completed")
        runs = [await api.wait_status(i, "completed") for i in (a["id"], fired["id"], child_id)]
    assert done["steps"][0]["status"] == "succeeded"
    times = [(r["steps"][0]["started_at"], r["steps"][0]["finished_at"]) for r in runs]
    assert times[0][1] <= times[1][0] and times[1][1] <= times[2][0]  # one at a time, in order


async def _child(api, run_id: str) -> str | None:
    return (await api.run(run_id))["steps"][0].get("child_run_id")


async def test_a_paused_run_keeps_its_slot(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "ps", limit=1))
        a = await api.start("ps", tag="a")
        await async_wait_until(lambda: started(tmp_path, "a"))
        await api.post(f"{V}/workflows/{a['id']}/pause", expect=200)
        go(tmp_path, "a")  # A's step finishes; A stays paused, holding the slot
        await async_wait_until(lambda: _step_is(api, a["id"], "succeeded"))
        b = await api.start("ps", tag="b")
        assert b["queued_behind"]["running"] == [a["id"]]
        await api.post(f"{V}/workflows/{a['id']}/resume", expect=200)
        await api.wait_status(a["id"], "completed")
        go(tmp_path, "b")
        done_b = await api.wait_status(b["id"], "completed")
    assert events(done_b, "run.started")[0]["data"] == {"slot_freed_by": a["id"]}


async def test_template_validation_names_each_bad_field(settings):
    base = {"name": "bad", "variables": {"env": {}, "pw": {"secret": True}},
            "steps": [{"name": "a", "run": "true"}]}
    cases = [
        ({"limit": 0, "on_conflict": "later"},
         {"concurrency.limit", "concurrency.on_conflict"}),
        ({"limit": "2"}, {"concurrency.limit"}),
        ({"key": "${{ input.nope }}"}, {"concurrency.key"}),
        ({"key": "${{ steps.a.output.x }}"}, {"concurrency.key"}),
        ({"key": "${{ input.pw }}"}, {"concurrency.key"}),
        ({"key": "${{ input.env "}, {"concurrency.key"}),
        ({"limt": 2}, {"concurrency.limt"}),
        ("one", {"concurrency"}),
    ]
    async with api_client(settings) as api:
        for block, paths in cases:
            status, err = await api.post(f"{V}/templates", json={**base, "concurrency": block})
            assert status == 422, (block, err)
            assert err["error"]["code"] == "validation_failed"
            assert {d["path"] for d in err["error"]["details"]} == paths, (block, err)
        good = {**base, "concurrency": {"limit": 3, "key": "${{ input.env }}-${{ run.owner }}",
                                        "on_conflict": "reject"}}
        _, tpl = await api.post(f"{V}/templates", json=good, expect=201)
        assert tpl["concurrency"] == good["concurrency"]


async def test_a_key_that_does_not_render_is_a_422_at_start(settings):
    spec = {"name": "kr", "variables": {"host": {"type": "string", "default": "h"}},
            "concurrency": {"key": "${{ input.host.name.first }}"},
            "steps": [{"name": "a", "run": "true"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        status, err = await api.post(f"{V}/workflows", json={"template": "kr", "input": {}})
        assert status == 422 and err["error"]["code"] == "validation_failed"
        assert err["error"]["details"][0]["path"] == "concurrency.key"
        _, page = await api.get(f"{V}/workflows?template=kr", expect=200)
        assert page["total"] == 0


async def test_concurrent_starts_never_share_the_last_slot(settings, tmp_path):
    import asyncio

    async with api_client(settings) as api:
        await api.template(gated(tmp_path, "race", limit=2))
        await api.template(gated(tmp_path, "race-rj", limit=1, on_conflict="reject"))
        body = [{"template": "race", "input": {"tag": f"q{i}"}} for i in range(6)]
        answers = await asyncio.gather(*(api.post(f"{V}/workflows", json=b) for b in body))
        assert [s for s, _ in answers] == [201] * 6
        admitted = [r for _, r in answers if r["queued_behind"] is None]
        queued = sorted(r["queued_behind"]["position"] for _, r in answers
                        if r["queued_behind"] is not None)
        assert len(admitted) == 2 and queued == [1, 2, 3, 4]
        rejects = await asyncio.gather(*(api.post(f"{V}/workflows", json={
            "template": "race-rj", "input": {"tag": f"r{i}"}}) for i in range(6)))
        assert sorted(s for s, _ in rejects) == [201] + [409] * 5
        for i in range(6):
            go(tmp_path, f"q{i}")
            go(tmp_path, f"r{i}")
        for _, r in [*answers, *[a for a in rejects if a[0] == 201]]:
            await api.wait_status(r["id"], "completed")

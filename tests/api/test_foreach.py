"""foreach: a step runs once per item, at most `concurrency` at once, with fail fast or not,
per-item retries, outputs in item order, the items API and each item's log.

Overlap is proven by items that each wait for another item's start marker, and bounded by
the start/end times the items record themselves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.support import api_client

V = "/api/v1"
HOSTS = {"hosts": {"type": "array"}}


def barrier(d: Path, n: int) -> str:
    """A command that records its start, waits (up to 30 s) until ``n`` items started, and
    records its end: items that pass it together overlapped."""
    return (f"date +%s.%N > {d}/start.$WFE_ITEM_INDEX; i=0;"
            f" while [ $(ls {d} | grep -c start) -lt {n} ] && [ $i -lt 600 ];"
            f" do sleep 0.05; i=$((i+1)); done; date +%s.%N > {d}/end.$WFE_ITEM_INDEX")


def max_overlap(d: Path, count: int) -> int:
    spans = [(float((d / f"start.{i}").read_text()), float((d / f"end.{i}").read_text()))
             for i in range(count)]
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


async def items(api, run_id: str, step: str, **query) -> dict:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    status, body = await api.get(f"{V}/workflows/{run_id}/steps/{step}/items?{q}")
    assert status == 200, body
    return body


async def test_items_run_concurrently_up_to_the_limit_with_outputs_in_order(settings, tmp_path):
    spec = {"name": "fan", "variables": HOSTS, "steps": [
        {"name": "deploy", "foreach": "${{ input.hosts }}", "concurrency": 2,
         "env": {"HOST": "${{ item }}"},
         "run": barrier(tmp_path, 2) + "; echo \"{\\\"host\\\": \\\"$HOST\\\","
                " \\\"i\\\": ${{ index }}}\" > $WFE_OUTPUT"},
        {"name": "after", "set": {"all": "${{ steps.deploy.outputs }}",
                                  "n": "${{ steps.deploy.output['items'] }}"}},
    ]}
    hosts = ["a", "b", "c", "d", "e"]
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("fan", hosts=hosts)
        done = await api.wait_status(run["id"], "completed", "failed", timeout=40)
        page = await items(api, run["id"], "deploy", limit=2, offset=1)
    assert done["status"] == "completed", done
    outputs = [{"host": h, "i": i} for i, h in enumerate(hosts)]
    deploy, after = done["steps"]
    assert deploy["output"] == {"items": 5, "outputs": outputs}
    assert after["output"] == {"all": outputs, "n": 5}
    assert deploy["items"] == {"total": 5, "succeeded": 5, "failed": 0, "running": 0}
    assert after["items"] is None
    # the first two waited for each other: they overlapped; never more than two at once
    assert max_overlap(tmp_path, 5) == 2
    assert page["total"] == 5 and [i["index"] for i in page["items"]] == [1, 2]
    assert page["items"][0]["item"] == "b" and page["items"][0]["status"] == "succeeded"
    assert page["items"][0]["output"] == {"host": "b", "i": 1}
    assert page["items"][0]["attempt"] == 1 and page["items"][0]["started_at"]


async def test_item_env_is_json_for_non_strings_and_set_steps_fan_out(settings):
    spec = {"name": "kinds", "steps": [
        {"name": "env", "foreach": [{"a": 1}, "x", 3],
         "run": "printf '%s|%s' \"$WFE_ITEM\" \"$WFE_ITEM_INDEX\" > $WFE_OUTPUT.raw;"
                " echo \"v=$(cat $WFE_OUTPUT.raw)\" > $WFE_OUTPUT"},
        {"name": "pure", "foreach": "${{ steps.env.outputs }}",
         "set": {"got": "${{ item.v }}", "at": "${{ index }}"}},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("kinds")
        done = await api.wait_status(run["id"], "completed", "failed", timeout=30)
    assert done["status"] == "completed", done
    got = [o["v"] for o in done["steps"][0]["output"]["outputs"]]
    assert got == ['{"a": 1}|0', "x|1", "3|2"]
    assert done["steps"][1]["output"]["outputs"] == [
        {"got": v, "at": i} for i, v in enumerate(got)]


async def test_fail_fast_cancels_the_rest(settings, tmp_path):
    started = tmp_path / "slow.started"
    spec = {"name": "ff", "steps": [
        {"name": "fan", "foreach": [0, 1, 2, 3, 4], "concurrency": 2,
         "run": f"if [ $WFE_ITEM = 0 ]; then i=0; while [ ! -e {started} ] && [ $i -lt 600 ];"
                f" do sleep 0.05; i=$((i+1)); done; exit 3; fi;"
                f" touch {started}; echo ran >> {tmp_path}/ran.$WFE_ITEM; sleep 60"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("ff")
        done = await api.wait_status(run["id"], "failed", timeout=30)
        page = await items(api, run["id"], "fan")
    assert [i["status"] for i in page["items"]] == ["failed"] + ["cancelled"] * 4
    assert [i["attempt"] for i in page["items"]] == [1, 1, 0, 0, 0]
    assert not any((tmp_path / f"ran.{i}").exists() for i in (2, 3, 4))
    step = done["steps"][0]
    assert step["status"] == "failed" and "item 0" in step["error"], step
    assert step["items"] == {"total": 5, "succeeded": 0, "failed": 1, "running": 0}


async def test_without_fail_fast_every_item_runs_and_the_step_fails(settings):
    spec = {"name": "all", "steps": [
        {"name": "fan", "foreach": [0, 1, 2, 3], "fail_fast": False, "concurrency": 1,
         "run": "[ $((WFE_ITEM % 2)) = 0 ] || exit 1"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("all")
        done = await api.wait_status(run["id"], "failed", timeout=30)
        page = await items(api, run["id"], "fan")
    assert [i["status"] for i in page["items"]] == ["succeeded", "failed"] * 2
    assert [i["exit_code"] for i in page["items"]] == [0, 1, 0, 1]
    assert done["steps"][0]["error"].startswith("2 of 4 items failed; item 1")


async def test_each_item_has_its_own_retries_and_a_run_retry_reruns_only_failed_items(
        settings, tmp_path):
    # item 1 fails its first attempt (then retries and succeeds); item 2 fails until a
    # marker exists, past its retries: the run fails, and its retry reruns item 2 alone
    ok = tmp_path / "ok"
    spec = {"name": "retries", "steps": [
        {"name": "fan", "foreach": [0, 1, 2], "fail_fast": False,
         "retry": {"max_attempts": 2, "initial_delay": "10ms", "jitter": "none"},
         "run": f"echo x >> {tmp_path}/runs.$WFE_ITEM;"
                f" if [ $WFE_ITEM = 1 ] && [ $WFE_ATTEMPT = 1 ]; then exit 1; fi;"
                f" if [ $WFE_ITEM = 2 ] && [ ! -e {ok} ]; then exit 2; fi"},
    ]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("retries")
        await api.wait_status(run["id"], "failed", timeout=30)
        first = await items(api, run["id"], "fan")
        ok.touch()
        status, body = await api.post(f"{V}/workflows/{run['id']}/retry")
        assert status == 200, body
        done = await api.wait_status(run["id"], "completed", "failed", timeout=30)
        page = await items(api, run["id"], "fan")
    assert [(i["status"], i["attempt"]) for i in first["items"]] == [
        ("succeeded", 1), ("succeeded", 2), ("failed", 2)]
    assert done["status"] == "completed", done
    assert [(i["status"], i["attempt"]) for i in page["items"]] == [
        ("succeeded", 1), ("succeeded", 2), ("succeeded", 3)]
    runs = [len((tmp_path / f"runs.{i}").read_text().split()) for i in range(3)]
    assert runs == [1, 2, 3]


async def test_an_empty_list_succeeds_with_no_outputs(settings):
    spec = {"name": "empty", "variables": HOSTS, "steps": [
        {"name": "fan", "foreach": "${{ input.hosts }}", "run": "exit 1"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("empty", hosts=[])
        done = await api.wait_status(run["id"], "completed", "failed", timeout=30)
    assert done["status"] == "completed", done
    assert done["steps"][0]["output"] == {"items": 0, "outputs": []}
    assert done["steps"][0]["items"] == {"total": 0, "succeeded": 0, "failed": 0, "running": 0}


async def test_too_many_items_fail_the_step_naming_count_and_limit(settings):
    spec = {"name": "cap", "variables": HOSTS, "steps": [
        {"name": "fan", "foreach": "${{ input.hosts }}", "run": "true"}]}
    async with api_client(dataclasses.replace(settings, max_foreach_items=3)) as api:
        await api.template(spec)
        run = await api.start("cap", hosts=[1, 2, 3, 4, 5])
        done = await api.wait_status(run["id"], "failed", timeout=30)
        page = await items(api, run["id"], "fan")
    error = done["steps"][0]["error"]
    assert "5 items" in error and "limit of 3" in error and "max_foreach_items" in error
    assert page["total"] == 0


async def test_a_list_that_is_not_a_list_fails_the_step(settings):
    spec = {"name": "notlist", "variables": {"n": {"type": "integer"}}, "steps": [
        {"name": "fan", "foreach": "${{ input.n }}", "run": "true"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("notlist", n=3)
        done = await api.wait_status(run["id"], "failed", timeout=30)
    assert "must be a list, got int" in done["steps"][0]["error"]


async def test_template_errors_name_the_step(settings):
    bad = [
        ({"name": "s", "foreach": [1], "concurrency": 0, "run": "true"},
         "steps[0].concurrency", "step 's': concurrency must be at least 1"),
        ({"name": "s", "run": "echo ${{ item }}"}, "steps[0].run",
         "'item' is only defined in a step with foreach"),
        ({"name": "s", "run": "echo", "env": {"I": "${{ index }}"}}, "steps[0].env.I",
         "'index' is only defined in a step with foreach"),
        ({"name": "s", "foreach": [1], "approval": {}}, "steps[0].foreach",
         "foreach is only for run, http, set steps"),
    ]
    async with api_client(settings) as api:
        for step, path, message in bad:
            status, body = await api.post(f"{V}/templates",
                                          json={"name": "bad", "steps": [step]})
            assert status == 422, body
            details = {d["path"]: d["message"] for d in body["error"]["details"]}
            assert message in details.get(path, ""), body


async def test_an_items_log_by_item_and_unknown_step(settings):
    spec = {"name": "logs", "steps": [
        {"name": "fan", "foreach": ["a", "b"], "run": "echo hello $WFE_ITEM"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("logs")
        await api.wait_status(run["id"], "completed", timeout=30)
        base = f"{V}/workflows/{run['id']}/steps"
        logs = [await api.client.get(f"{base}/fan/log?item={i}", headers=api.headers())
                for i in (0, 1)]
        texts = [await r.text() for r in logs]
        status, body = await api.get(f"{base}/fan/log?item=x")
        missing, _ = await api.get(f"{base}/nope/items")
    assert texts == ["hello a\n", "hello b\n"]
    assert status == 422 and body["error"]["details"][0]["path"] == "item"
    assert missing == 404

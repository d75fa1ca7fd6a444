"""Runs end to end through the in-process app: start, steps, outputs, events."""

from __future__ import annotations

import json
import os

import pytest

from tests.support import api_client

HELLO = {
    "name": "hello",
    "variables": {"who": {"type": "string", "default": "world"},
                  "n": {"type": "integer", "default": 2}},
    "steps": [
        {"name": "greet", "run": 'echo "greeting=hello, ${{ input.who }}" >> "$WFE_OUTPUT"'},
        {"name": "shout", "run": ["sh", "-c", 'printf "loud=%s\\n" "$(echo "$1" | tr a-z A-Z)"'
                                  ' >> "$WFE_OUTPUT"', "sh", "${{ steps.greet.output.greeting }}"]},
        {"name": "nap", "sleep": "50ms"},
        {"name": "sum", "set": {"text": "${{ steps.shout.output.loud }}", "n": "${{ input.n }}"}},
    ],
}


async def test_run_completes_with_outputs_and_events(settings):
    async with api_client(settings) as api:
        await api.template(HELLO)
        run = await api.start("hello", who="ada")
        assert run["status"] == "pending" and run["trigger_type"] == "api"
        assert run["input"] == {"who": "ada", "n": 2}
        done = await api.wait_status(run["id"], "completed", "failed")
        assert done["status"] == "completed", done
        steps = {s["name"]: s for s in done["steps"]}
        assert steps["greet"]["output"] == {"greeting": "hello, ada"}
        assert steps["shout"]["output"] == {"loud": "HELLO, ADA"}
        assert steps["sum"]["output"] == {"text": "HELLO, ADA", "n": 2}
        assert all(s["status"] == "succeeded" and s["attempt"] == 1 for s in done["steps"])
        types = [e["type"] for e in done["events"]]
        assert types[:2] == ["run.created", "run.started"]
        assert types[-1] == "run.completed"
        assert types.count("step.started") == 4 and types.count("step.succeeded") == 4
        assert [e["seq"] for e in done["events"]] == list(range(1, len(types) + 1))
        assert done["started_at"] and done["finished_at"]


async def test_step_environment(settings, tmp_path):
    spec = {"name": "envy", "variables": {"who": {"type": "string"}},
            "steps": [{"name": "probe", "run": "env | grep ^WFE_ | grep -v WFE_OUTPUT > "
                       + str(tmp_path / "env.txt")}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("envy", who="x y")
        await api.wait_status(run["id"], "completed")
    env = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines())
    assert env["WFE_RUN_ID"] == run["id"]
    assert env["WFE_STEP"] == "probe" and env["WFE_ATTEMPT"] == "1"
    assert env["WFE_IDEMPOTENCY_KEY"] == f"{run['id']}:probe"
    assert env["WFE_INPUT_WHO"] == "x y"
    assert "WFE_TOKEN" not in env


async def test_a_step_gets_a_clean_environment_not_the_daemons(home, monkeypatch):
    """The daemon's environment (here the test process's) holds its home, a URL, a token
    and whatever else; a step sees the documented base, the passed names and its own."""
    from tests.conftest import FAST
    from wfe.config import Settings, paths

    for name, value in (("WFE_URL", "http://127.0.0.1:1"), ("WFE_TOKEN", "wfe_daemons"),
                        ("WFE_CANARY_SECRET", "tweet"), ("KEEP_ME", "kept"),
                        ("LANG", "C.UTF-8"), ("TZ", "UTC")):
        monkeypatch.setenv(name, value)
    settings = Settings.load(paths(), {"WFE_STEP_ENV_PASSTHROUGH": "KEEP_ME, ALSO_UNSET"},
                             port=0, **FAST)
    spec = {"name": "env", "steps": [{"name": "probe", "run": "env", "env": {"MINE": "m"}}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("env")
        await api.wait_status(run["id"], "completed")
        resp = await api.client.get(f"/api/v1/workflows/{run['id']}/steps/probe/log",
                                    headers=api.headers())
        assert resp.status == 200
        log = await resp.text()
    env = dict(line.split("=", 1) for line in log.splitlines() if "=" in line)
    for name in ("WFE_HOME", "WFE_URL", "WFE_TOKEN", "WFE_CANARY_SECRET", "WFE_NO_AUTOSTART"):
        assert name not in env, name
    assert env["KEEP_ME"] == "kept" and "ALSO_UNSET" not in env
    assert env["MINE"] == "m" and env["WFE_RUN_ID"] == run["id"]
    assert env["LANG"] == "C.UTF-8" and env["TZ"] == "UTC" and env["PATH"]
    allowed = {"PATH", "HOME", "LANG", "TZ", "USER", "SHELL", "TMPDIR", "KEEP_ME", "MINE",
               "PWD", "SHLVL", "_"}  # the last three /bin/sh sets itself
    assert set(env) - allowed <= {n for n in env if n.startswith("WFE_")}
    assert {n for n in env if n.startswith("WFE_")} == {
        "WFE_RUN_ID", "WFE_STEP", "WFE_ATTEMPT", "WFE_IDEMPOTENCY_KEY", "WFE_OUTPUT"}


async def test_an_authors_step_cannot_follow_wfe_home_to_the_admin_token(settings, home):
    """The exploit: a non-admin writes a step that reads the token via $WFE_HOME."""
    steal = {"name": "steal", "steps": [
        {"name": "grab", "run": 'echo "home=[$WFE_HOME]"; cat "$WFE_HOME/token" || true'}]}
    async with api_client(settings) as api:
        _, bob = await api.post("/api/v1/users", json={"name": "bob", "role": "author"},
                                expect=201)
        _, tpl = await api.post("/api/v1/templates", json=steal, token=bob["token"], expect=201)
        await api.post(f"/api/v1/templates/{tpl['id']}/publish", token=bob["token"], expect=200)
        run = await api.start("steal", token=bob["token"])
        done = await api.wait_status(run["id"], "completed", token=bob["token"])
    admin_token = (home / "token").read_text().strip()
    tail = done["steps"][0]["log_tail"]
    assert "home=[]" in tail and admin_token not in tail


async def test_failing_step_fails_run_with_log_tail(settings):
    spec = {"name": "boom", "steps": [
        {"name": "ok", "run": "echo fine"},
        {"name": "bad", "run": "echo oh no >&2; exit 3"},
        {"name": "never", "run": "echo unreachable"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("boom")
        done = await api.wait_status(run["id"], "failed")
        assert done["reason"] == "step_failed"
        bad = done["steps"][1]
        assert bad["status"] == "failed" and bad["exit_code"] == 3
        assert "oh no" in bad["log_tail"] and "exited with 3" in bad["error"]
        assert done["steps"][2]["status"] == "pending"
        assert [e["type"] for e in done["events"]][-2:] == ["step.failed", "run.failed"]


async def test_json_output_and_bad_output(settings):
    spec = {"name": "outs", "steps": [
        {"name": "j", "run": """echo '{"a": [1, 2], "b": {"c": true}}' > "$WFE_OUTPUT" """},
        {"name": "bad", "run": """echo 'not a pair' > "$WFE_OUTPUT" """}]}
    async with api_client(settings) as api:
        await api.template(spec)
        done = await api.wait_status((await api.start("outs"))["id"], "failed")
        assert done["steps"][0]["output"] == {"a": [1, 2], "b": {"c": True}}
        assert "not key=value" in done["steps"][1]["error"]


async def test_http_step(settings):
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def echo(request):
        body = await request.json()
        return web.json_response({"got": body, "key": request.headers.get("Idempotency-Key")})

    async def fail(request):
        return web.Response(status=503, text="down")

    target = web.Application()
    target.router.add_post("/echo", echo)
    target.router.add_get("/fail", fail)
    async with TestServer(target, host="127.0.0.1") as server:
        base = str(server.make_url(""))
        spec = {"name": "web", "variables": {"x": {"type": "integer"}}, "steps": [
            {"name": "call", "http": {"method": "POST", "url": base + "/echo",
                                      "json": {"x": "${{ input.x }}"}}},
            {"name": "down", "http": {"url": base + "/fail"}}]}
        async with api_client(settings) as api:
            await api.template(spec)
            run = await api.start("web", x=7)
            done = await api.wait_status(run["id"], "failed")
    call, down = done["steps"]
    assert call["output"] == {"got": {"x": 7}, "key": f"{run['id']}:call"}
    assert down["status"] == "failed" and "HTTP 503" in down["error"]


async def test_list_is_owner_scoped_and_paged(settings):
    async with api_client(settings) as api:
        await api.template({"name": "t", "steps": [{"name": "s", "set": {"a": 1}}]})
        ids = [(await api.start("t"))["id"] for _ in range(3)]
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        bob_run = await api.start("t", token=bob["token"])
        _, page = await api.get("/api/v1/workflows?limit=2", expect=200)
        assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
        assert [r["id"] for r in page["items"]] == ids[::-1][:2]
        _, page2 = await api.get("/api/v1/workflows?limit=2&offset=2", expect=200)
        assert [r["id"] for r in page2["items"]] == [ids[0]]
        _, theirs = await api.get("/api/v1/workflows", token=bob["token"], expect=200)
        assert [r["id"] for r in theirs["items"]] == [bob_run["id"]]
        status, err = await api.get(f"/api/v1/workflows/{bob_run['id']}")
        status2, err2 = await api.get("/api/v1/workflows/00000000-0000-4000-8000-000000000000")
        assert status == status2 == 404
        assert err["error"]["code"] == err2["error"]["code"] == "not_found"
        for bad in ("limit=0", "limit=501", "offset=-1", "limit=x", "status=nope"):
            status, err = await api.get(f"/api/v1/workflows?{bad}")
            assert status == 422 and err["error"]["code"] == "validation_failed", bad


async def test_list_items_are_the_run_model_exactly(settings):
    """The list is built as JSON by SQLite; each item must be what the Run model makes of
    the same run (read through GET), whatever its input holds, sealed secrets included."""
    from wfe.models import Page, Run

    spec = {"name": "shapes", "variables": {
        "text": {"type": "string"}, "n": {"type": "number", "default": 1.5}},
        "steps": [{"name": "wait", "approval": {}}]}
    secret = {"name": "secret", "variables": {"pw": {"type": "string", "secret": True}},
              "steps": [{"name": "s", "set": {"a": 1}}]}
    odd = 'quote " back \\ nl \n tab \t ctl \x01 \u2028 ünï 😀 </script>'
    async with api_client(settings) as api:
        await api.template(spec)
        await api.template(secret)
        plain = await api.start("shapes", text=odd, n=-0.000001)
        sealed = await api.start("secret", pw="hunter2-sealed")
        cancelled = await api.start("shapes", text="y")
        await api.wait_status(cancelled["id"], "waiting_approval")
        await api.post(f"/api/v1/workflows/{cancelled['id']}/cancel",
                       json={"reason": odd}, expect=200)
        _, page = await api.get("/api/v1/workflows", expect=200)
        assert Page[Run].model_validate(page).model_dump(mode="json") == page
        assert page["total"] == 3
        for item in page["items"]:
            _, one = await api.get(f"/api/v1/workflows/{item['id']}", expect=200)
            one.update(steps=None, events=None, approvals=None, current_steps=None)
            assert item == one
        by_id = {r["id"]: r for r in page["items"]}
        assert by_id[plain["id"]]["input"] == {"text": odd, "n": -0.000001}
        assert by_id[sealed["id"]]["input"] == {"pw": "***"}
        assert by_id[cancelled["id"]]["reason"] == odd
        _, done = await api.get("/api/v1/workflows?status=cancelled", expect=200)
        assert [r["id"] for r in done["items"]] == [cancelled["id"]] and done["total"] == 1


async def test_list_by_id_prefix_is_owner_scoped(settings):
    async with api_client(settings) as api:
        await api.template({"name": "t", "steps": [{"name": "s", "set": {"a": 1}}]})
        ids = [(await api.start("t"))["id"] for _ in range(3)]
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        theirs = (await api.start("t", token=bob["token"]))["id"]
        for run_id in ids:
            _, page = await api.get(f"/api/v1/workflows?id_prefix={run_id[:8]}", expect=200)
            assert [r["id"] for r in page["items"]] == [run_id] and page["total"] == 1
        _, page = await api.get(f"/api/v1/workflows?id_prefix={theirs[:8]}", expect=200)
        assert page["items"] == [] and page["total"] == 0
        for whole in (ids[0], ids[0].upper()):
            _, page = await api.get(f"/api/v1/workflows?id_prefix={whole}", expect=200)
            assert [r["id"] for r in page["items"]] == [ids[0]]
        for bad in ("XYZ", "", "a" * 37, "1a%20"):
            status, err = await api.get(f"/api/v1/workflows?id_prefix={bad}")
            assert status == 422 and err["error"]["code"] == "validation_failed", bad


async def test_list_totals_follow_every_status_change(settings):
    """Totals come from counts kept by triggers, not COUNT(*): they must agree with the
    runs themselves after runs are created, finished, failed, retried, paused, cancelled."""
    from wfe.engine.states import RunStatus

    async with api_client(settings) as api:
        await api.template({"name": "ok", "steps": [{"name": "s", "set": {"a": 1}}]})
        await api.template({"name": "bad", "steps": [{"name": "s", "run": "exit 3"}]})
        await api.template({"name": "gate", "steps": [{"name": "g", "approval": {}}]})
        done = [await api.start("ok") for _ in range(3)]
        failed = await api.start("bad")
        gates = [await api.start("gate") for _ in range(3)]
        for run in done:
            await api.wait_status(run["id"], "completed")
        await api.wait_status(failed["id"], "failed")
        await api.post(f"/api/v1/workflows/{failed['id']}/retry", expect=200)
        await api.wait_status(failed["id"], "failed")
        for run in gates:
            await api.wait_status(run["id"], "waiting_approval")
        await api.post(f"/api/v1/workflows/{gates[0]['id']}/cancel", expect=200)
        await api.post(f"/api/v1/workflows/{gates[1]['id']}/pause", expect=200)
        _, everything = await api.get("/api/v1/workflows?limit=500", expect=200)
        assert everything["total"] == len(everything["items"]) == 7
        seen = {}
        for status in RunStatus:
            _, page = await api.get(f"/api/v1/workflows?status={status.value}", expect=200)
            assert page["total"] == len(page["items"]), status
            seen[status.value] = page["total"]
        assert seen == {**{s.value: 0 for s in RunStatus}, "completed": 3, "failed": 1,
                        "cancelled": 1, "paused": 1, "waiting_approval": 1}


async def test_a_run_answer_is_the_run_model_exactly(settings):
    """GET /workflows/{id} splices the events as SQLite joins them; the answer must be what
    the Run model makes of the same run read field by field."""
    from wfe.daemon import keys
    from wfe.daemon.store import queries
    from wfe.models import Run

    odd = 'quote " back \\ nl \n ctl \x01 \u2028 ünï 😀'
    spec = {"name": "shapes", "variables": {"text": {"type": "string"},
                                            "pw": {"type": "string", "secret": True}},
            "steps": [
                {"name": "say", "run": 'echo "said=${{ input.text | length }}" >> "$WFE_OUTPUT";'
                                       ' echo "$WFE_INPUT_PW"'},
                {"name": "flaky", "run": "exit 3",
                 "retry": {"max_attempts": 2, "initial_delay": "10ms"}},
            ]}
    gate = {"name": "gate", "steps": [{"name": "g", "approval": {
        "message": "ok? ${{ input.text }}", "approvers": ["bob"]}}],
        "variables": {"text": {"type": "string"}}}
    async with api_client(settings) as api:
        await api.template(spec)
        await api.template(gate)
        failed = await api.start("shapes", text=odd, pw="hunter2-secret")
        waiting = await api.start("gate", text=odd)
        await api.wait_status(failed["id"], "failed")
        await api.wait_status(waiting["id"], "waiting_approval")
        cancelled = await api.start("gate", text="x")
        await api.wait_status(cancelled["id"], "waiting_approval")
        await api.post(f"/api/v1/workflows/{cancelled['id']}/cancel", json={"reason": odd},
                       expect=200)
        store = api.app[keys.STORE]
        for run in (failed, waiting, cancelled):
            _, answer = await api.get(f"/api/v1/workflows/{run['id']}", expect=200)
            model = Run.model_validate(await queries.get_run(store, run["id"], run["owner"]))
            assert answer == model.model_dump(mode="json")
            assert answer["events"] and "hunter2" not in json.dumps(answer)
        _, empty = await api.get(f"/api/v1/workflows/{failed['id']}", expect=200)
        assert [a["attempt"] for a in empty["steps"][1]["attempts"]] == [1, 2], empty["steps"]


async def test_list_pages_by_cursor(settings):
    async with api_client(settings) as api:
        await api.template({"name": "t", "steps": [{"name": "s", "set": {"a": 1}}]})
        ids = [(await api.start("t"))["id"] for _ in range(7)][::-1]  # newest first
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        theirs = (await api.start("t", token=bob["token"]))["id"]
        seen, cursor = [], None
        while True:
            query = "limit=3" + (f"&before={cursor}" if cursor else "")
            _, page = await api.get(f"/api/v1/workflows?{query}", expect=200)
            assert page["total"] == 7  # the filter's total, wherever the page starts
            if not page["items"]:
                break
            seen += [r["id"] for r in page["items"]]
            cursor = page["items"][-1]["id"]
        assert seen == ids
        _, page = await api.get(f"/api/v1/workflows?before={ids[1].upper()}&status=pending"
                                "&limit=500", expect=200)
        assert all(r["id"] in ids[2:] for r in page["items"])
        for unknown in (theirs, "00000000-0000-4000-8000-000000000000"):
            status, err = await api.get(f"/api/v1/workflows?before={unknown}")
            assert status == 404 and err["error"]["code"] == "not_found", unknown
        status, err = await api.get("/api/v1/workflows?before=nope")
        assert status == 422 and err["error"]["details"][0]["path"] == "before"


async def test_input_validation(settings):
    spec = {"name": "typed", "variables": {
        "name": {"type": "string"}, "count": {"type": "integer", "default": 1},
        "mode": {"type": "enum", "values": ["a", "b"], "default": "a"}},
        "steps": [{"name": "s", "set": {"x": "${{ input.count }}"}}]}
    async with api_client(settings) as api:
        await api.template(spec)
        status, err = await api.post("/api/v1/workflows", json={
            "template": "typed", "input": {"count": "many", "mode": "c", "extra": 1}})
        assert status == 422
        paths = {d["path"] for d in err["error"]["details"]}
        assert {"input.name", "input.count", "input.mode", "input.extra"} <= paths
        run = await api.start("typed", name="x", count="3")
        assert run["input"] == {"name": "x", "count": 3, "mode": "a"}


async def test_start_needs_a_published_template(settings):
    async with api_client(settings) as api:
        draft = await api.template({"name": "d", "steps": [{"name": "s", "set": {}}]},
                                   publish=False)
        status, err = await api.post("/api/v1/workflows", json={"template_id": draft["id"]})
        assert status == 409 and "publish" in err["error"]["message"]
        status, err = await api.post("/api/v1/workflows", json={"template": "nope"})
        assert status == 404
        status, err = await api.post("/api/v1/workflows", json={"template_id": "not-a-uuid"})
        assert status == 404
        status, err = await api.post("/api/v1/workflows", json={})
        assert status == 422


@pytest.mark.parametrize("trigger", ["api", "cli"])
async def test_trigger_type(settings, trigger):
    async with api_client(settings) as api:
        await api.template({"name": "t", "steps": [{"name": "s", "set": {}}]})
        _, run = await api.post("/api/v1/workflows", json={"template": "t",
                                                           "trigger_type": trigger}, expect=201)
        assert run["trigger_type"] == trigger


def test_files_are_private(settings, home):
    import asyncio

    async def go():
        async with api_client(settings) as api:
            await api.template({"name": "t", "steps": [{"name": "s", "run": "echo hi"}]})
            await api.wait_status((await api.start("t"))["id"], "completed")

    asyncio.run(go())
    for path in home.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, (path, oct(mode))
    assert json.loads(json.dumps(os.listdir(home)))


async def test_fused_set_steps_keep_the_audit_chain(settings):
    spec = {"name": "chain", "steps": [{"name": f"s{i}", "set": {"i": i}} for i in range(5)]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.wait_status((await api.start("chain"))["id"], "completed")
        _, report = await api.get(f"/api/v1/workflows/{run['id']}/audit", expect=200)
    assert report["ok"] is True, report
    assert [e["seq"] for e in run["events"]] == list(range(1, len(run["events"]) + 1))
    assert [s["attempts"][0]["status"] for s in run["steps"]] == ["succeeded"] * 5


async def test_list_by_template_and_since(settings):
    async with api_client(settings) as api:
        await api.template({"name": "alpha", "steps": [{"name": "first", "approval": {}}]})
        await api.template({"name": "beta", "steps": [{"name": "s", "set": {"a": 1}}]})
        old = await api.start("alpha")
        betas = [(await api.start("beta"))["id"] for _ in range(2)]
        _, page = await api.get("/api/v1/workflows?template=beta&limit=1", expect=200)
        assert page["total"] == 2 and [r["id"] for r in page["items"]] == betas[-1:]
        _, page = await api.get("/api/v1/workflows?template=alpha", expect=200)
        assert [r["id"] for r in page["items"]] == [old["id"]] and page["total"] == 1
        # Published again, version 2's runs count too: a name means every version.
        await api.template({"name": "alpha", "steps": [{"name": "x", "set": {"a": 1}}]})
        new = await api.start("alpha")
        _, page = await api.get("/api/v1/workflows?template=alpha", expect=200)
        assert [r["id"] for r in page["items"]] == [new["id"], old["id"]]
        # since: the boundary run's own created_at is included, earlier ones are not
        since = (await api.run(betas[0]))["created_at"]
        _, page = await api.get("/api/v1/workflows", params={"since": since}, expect=200)
        assert [r["id"] for r in page["items"]] == [new["id"], betas[1], betas[0]]
        assert page["total"] == 3
        _, page = await api.get("/api/v1/workflows", expect=200, params={
            "since": since.replace("Z", "+02:00"), "template": "alpha"})  # 2 h earlier
        assert page["total"] == 2
        _, page = await api.get("/api/v1/workflows?since=2999-01-01T00:00:00", expect=200)
        assert page == {"items": [], "total": 0, "limit": 50, "offset": 0}
        _, page = await api.get("/api/v1/workflows?template=nobody", expect=200)
        assert page["total"] == 0
        for bad in ("since=yesterday", "since=2025-13-01", "template=Bad%20Name", "template="):
            status, err = await api.get(f"/api/v1/workflows?{bad}")
            assert status == 422 and err["error"]["details"][0]["path"] == bad.split("=")[0]


async def test_a_list_item_names_its_current_step(settings):
    async with api_client(settings) as api:
        await api.template({"name": "gate", "steps": [{"name": "build", "set": {"a": 1}},
                                                      {"name": "ship-it", "approval": {}}]})
        run = await api.start("gate")
        await api.wait_status(run["id"], "waiting_approval")
        _, page = await api.get("/api/v1/workflows", expect=200)
        [item] = page["items"]
        assert (item["current_step"], item["current_step_name"]) == (1, "ship-it")
        assert (await api.run(run["id"]))["current_step_name"] == "ship-it"


async def test_a_run_string_runs_under_the_shell_named(settings):
    hostile = "it's $(echo pwned) `id` \"q\" \\ ${HOME}"
    spec = {"name": "shells", "defaults": {"shell": "bash"},
            "variables": {"x": {"type": "string"}},
            "steps": [
                # $0 is the shell's argv[0]; [[ ]] is bash's (dash, a common sh, fails it).
                {"name": "by-default", "run": 'if [[ "$0" == */bash ]]; then'
                                              ' echo "x=${{ input.x }}" >> "$WFE_OUTPUT"; fi'},
                {"name": "posix", "shell": "sh", "run": 'echo "shell=$0" >> "$WFE_OUTPUT"'},
                {"name": "by-path", "shell": "/bin/sh", "run": "echo y=${{ input.x }}"
                                                                 ' >> "$WFE_OUTPUT"'}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("shells", x=hostile)
        done = await api.wait_status(run["id"], "completed", "failed")
    assert done["status"] == "completed", done["steps"]
    outputs = [s["output"] for s in done["steps"]]
    assert outputs == [{"x": hostile}, {"shell": "/bin/sh"}, {"y": hostile}]  # byte for byte

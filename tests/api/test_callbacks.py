"""Inbound callbacks: the URL in expressions, early arrival, failure, timeout, single use."""

from __future__ import annotations

from tests.conftest import async_wait_until
from tests.support import api_client


def spec(tmp_path, **cb):
    return {"name": "cb", "steps": [
        {"name": "hand_out", "run": f"echo '${{{{ steps.ci.callback_url }}}}' > {tmp_path}/url"},
        {"name": "ci", "callback": {"timeout": "1h", **cb}},
        {"name": "after", "set": {"sha": "${{ steps.ci.output.sha }}"}}]}


async def post_raw(api, url: str, payload):
    path = url.split("://", 1)[1].split("/", 1)[1]
    resp = await api.client.post("/" + path, json=payload)
    return resp.status, await resp.json()


async def waiting(api, run_id, idx=1):
    async def check():
        run = await api.run(run_id)
        return run["steps"][idx]["status"] == "waiting" and run
    return await async_wait_until(check, message="step waiting")


async def test_callback_completes_the_step(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(spec(tmp_path))
        run = await api.start("cb")
        await waiting(api, run["id"])
        url = (tmp_path / "url").read_text().strip()
        assert url.startswith(str(api.client.make_url("/api/v1/callbacks/wfc_")))
        from wfe.daemon import keys

        async def hibernated() -> bool:  # no Runner while it waits
            return run["id"] not in api.app[keys.SUPERVISOR].live

        await async_wait_until(hibernated, message="the Runner to exit")
        status, body = await post_raw(api, url, {"sha": "abc123"})
        assert status == 202 and body["consumed"] is True
        done = await api.wait_status(run["id"], "completed")
        assert done["steps"][1]["output"] == {"sha": "abc123"}
        assert done["steps"][2]["output"] == {"sha": "abc123"}
        status, err = await post_raw(api, url, {"sha": "again"})
        assert status == 409 and err["error"]["code"] == "conflict"


async def test_unknown_token_is_404_without_auth(settings):
    async with api_client(settings) as api:
        for token in ("wfc_nope", "nope", "wfc_" + "A" * 43):
            resp = await api.client.post(f"/api/v1/callbacks/{token}", json={})
            assert resp.status == 404, token


async def test_early_callback_is_kept_until_the_step(settings, tmp_path):
    gate = tmp_path / "go"
    s = spec(tmp_path)
    s["steps"].insert(1, {"name": "hold", "run": f"while [ ! -e {gate} ]; do sleep 0.01; done"})
    async with api_client(settings) as api:
        await api.template(s)
        run = await api.start("cb")
        await async_wait_until(lambda: _exists(tmp_path / "url"))
        url = (tmp_path / "url").read_text().strip()
        status, body = await post_raw(api, url, {"sha": "early"})
        assert status == 202 and body["consumed"] is False
        gate.touch()
        done = await api.wait_status(run["id"], "completed")
        assert done["steps"][3]["output"] == {"sha": "early"}


async def _exists(path):
    return path.exists() and path.read_text().strip()


async def test_failure_payload_fails_the_step_and_retry_rearms(settings, tmp_path):
    async with api_client(settings) as api:
        s = spec(tmp_path)
        s["steps"][1]["retry"] = {"max_attempts": 2, "initial_delay": "10ms"}
        await api.template(s)
        run = await api.start("cb")
        await waiting(api, run["id"])
        url = (tmp_path / "url").read_text().strip()
        status, _ = await post_raw(api, url, {"status": "failure", "error": "tests failed"})
        assert status == 202

        async def second_attempt_waiting():
            r = await api.run(run["id"])
            return r["steps"][1]["attempt"] == 2 and r["steps"][1]["status"] == "waiting"

        await async_wait_until(second_attempt_waiting, message="re-armed")
        status, _ = await post_raw(api, url, {"status": "failure", "error": "still red"})
        assert status == 202
        done = await api.wait_status(run["id"], "failed")
        assert done["steps"][1]["error"] == "still red"
        assert [a["status"] for a in done["steps"][1]["attempts"]] == ["failed", "failed"]


async def test_callback_timeout(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(spec(tmp_path, timeout="200ms"))
        done = await api.wait_status((await api.start("cb"))["id"], "failed")
        assert "callback_timeout" in done["steps"][1]["error"]


async def test_owner_posts_through_the_run(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(spec(tmp_path))
        run = await api.start("cb")
        await waiting(api, run["id"])
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        path = f"/api/v1/workflows/{run['id']}/steps/ci/callback"
        status, _ = await api.post(path, json={"sha": "x"}, token=bob["token"])
        assert status == 404
        status, _ = await api.post(f"/api/v1/workflows/{run['id']}/steps/after/callback", json={})
        assert status == 404
        await api.post(path, json={"sha": "by-owner"}, expect=202)
        done = await api.wait_status(run["id"], "completed")
        assert done["steps"][2]["output"] == {"sha": "by-owner"}


async def test_payload_limits(settings, tmp_path):
    async with api_client(settings) as api:
        await api.template(spec(tmp_path))
        run = await api.start("cb")
        await waiting(api, run["id"])
        path = f"/api/v1/workflows/{run['id']}/steps/ci/callback"
        status, _ = await api.post(path, json={"x": "y" * 70000})
        assert status == 413
        status, _ = await api.post(path, data="{", headers={"Content-Type": "application/json"})
        assert status == 400
        status, _ = await api.post(path, data="x", headers={"Content-Type": "text/plain"})
        assert status == 415
        assert (await api.run(run["id"]))["steps"][1]["status"] == "waiting"


async def test_a_callback_step_needs_a_timeout(settings):
    async with api_client(settings) as api:
        status, err = await api.post("/api/v1/templates", json={
            "name": "x", "steps": [{"name": "c", "callback": {}}]})
        assert status == 422
        assert "steps[0].callback.timeout" in [d["path"] for d in err["error"]["details"]]

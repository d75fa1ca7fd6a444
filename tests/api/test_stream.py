"""Live streams (SSE): a run's events, resumption without loss, the caller's events, logs."""

from __future__ import annotations

import asyncio
import json

from tests.support import api_client
from wfe.daemon.api import stream

STEPS = [{"name": f"s{i}", "run": "sleep 0.05"} for i in range(4)]


async def read_events(resp, limit: int | None = None) -> list[dict]:
    """Parse SSE from an aiohttp response: until it ends, or ``limit`` events."""
    out, cur = [], {}
    while limit is None or len(out) < limit:
        raw = await resp.content.readline()
        if not raw:
            break
        line = raw.decode().rstrip("\n")
        if line == "":
            if cur:
                out.append(cur)
            cur = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            if field == "data":
                cur["data"] = cur["data"] + "\n" + value if "data" in cur else value
            else:
                cur[field] = value
    return out


async def open_stream(api, path: str, **headers):
    resp = await api.client.get(path, headers=api.headers(**headers))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert resp.headers["Cache-Control"] == "no-cache"
    return resp


async def test_run_stream_sends_every_event_then_closes(settings):
    async with api_client(settings) as api:
        await api.template({"name": "four", "steps": STEPS})
        run = await api.start("four")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/events/stream")
        got = await read_events(resp)  # returns only because the server closed the stream
        done = await api.run(run["id"])
    assert [int(e["id"]) for e in got] == [e["seq"] for e in done["events"]]
    assert [e["event"] for e in got] == [e["type"] for e in done["events"]]
    assert got[-1]["event"] == "run.completed"
    first = json.loads(got[0]["data"])
    assert first["type"] == "run.created" and first["run_id"] == run["id"] and first["seq"] == 1


async def test_resuming_with_last_event_id_loses_nothing(settings):
    async with api_client(settings) as api:
        await api.template({"name": "four", "steps": STEPS})
        run = await api.start("four")
        path = f"/api/v1/workflows/{run['id']}/events/stream"
        seen: list[int] = []
        # Drop the connection after every two events, as a flaky network would, and resume
        # from the last id received, alternately by header and by query.
        while True:
            last = str(seen[-1]) if seen else None
            if last is None:
                resp = await open_stream(api, path)
            elif len(seen) % 4 == 0:
                resp = await open_stream(api, path, **{"Last-Event-ID": last})
            else:
                resp = await open_stream(api, f"{path}?after={last}")
            batch = await read_events(resp, limit=2)
            resp.close()
            seen += [int(e["id"]) for e in batch]
            if not batch or batch[-1]["event"] == "run.completed":
                break
        done = await api.run(run["id"])
    assert seen == [e["seq"] for e in done["events"]]


async def test_resuming_past_the_end_closes_at_once(settings):
    async with api_client(settings) as api:
        await api.template({"name": "one", "steps": STEPS[:1]})
        run = await api.start("one")
        done = await api.wait_status(run["id"], "completed")
        last = str(done["events"][-1]["seq"])
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/events/stream",
                                 **{"Last-Event-ID": last})
        assert await asyncio.wait_for(read_events(resp), 5) == []
        # From just before the end: the terminal event, then the end.
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/events/stream"
                                      f"?after={int(last) - 1}")
        assert [e["event"] for e in await read_events(resp)] == ["run.completed"]


async def test_a_retried_run_streams_on_past_its_first_failure(settings, tmp_path):
    flag = tmp_path / "ok"
    spec = {"name": "flaky", "steps": [{"name": "try", "run": f"test -e {flag}"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("flaky")
        await api.wait_status(run["id"], "failed")
        flag.touch()
        await api.post(f"/api/v1/workflows/{run['id']}/retry", expect=200)
        await api.wait_status(run["id"], "completed")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/events/stream")
        types = [e["event"] for e in await read_events(resp)]
    assert "run.failed" in types and "run.retried" in types and types[-1] == "run.completed"


async def test_stream_errors(settings):
    async with api_client(settings) as api:
        status, body = await api.get(
            "/api/v1/workflows/00000000-0000-4000-8000-000000000000/events/stream")
        assert status == 404 and body["error"]["code"] == "not_found"
        await api.template({"name": "one", "steps": STEPS[:1]})
        run = await api.start("one")
        status, body = await api.get(f"/api/v1/workflows/{run['id']}/events/stream",
                                     headers={"Last-Event-ID": "x"})
        assert status == 422 and body["error"]["details"][0]["path"] == "Last-Event-ID"
        status, _ = await api.get(f"/api/v1/workflows/{run['id']}/steps/nope/log/stream")
        assert status == 404
        status, _ = await api.get(f"/api/v1/workflows/{run['id']}/steps/s0/log/stream?attempt=0")
        assert status == 422
        for bad in ("x", "1:", ":3", "end", "1:2:3", "-1"):
            status, body = await api.get(f"/api/v1/workflows/{run['id']}/steps/s0/log/stream",
                                         headers={"Last-Event-ID": bad})
            assert status == 400, (bad, body)
            assert body["error"]["details"][0]["path"] == "Last-Event-ID"
        status, body = await api.get(f"/api/v1/workflows/{run['id']}/steps/s0/log/stream"
                                     "?after=x")
        assert status == 400 and body["error"]["details"][0]["path"] == "after"
        status, _ = await api.get(f"/api/v1/workflows/{run['id']}/events/stream", token="bad")
        assert status == 401
        # Another user's run is as unknown as a missing one.
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        status, _ = await api.get(f"/api/v1/workflows/{run['id']}/events/stream",
                                  token=bob["token"])
        assert status == 404


async def test_all_events_of_the_caller_only(settings):
    async with api_client(settings) as api:
        await api.template({"name": "one", "steps": STEPS[:1]})
        _, bob = await api.post("/api/v1/users", json={"name": "bob"}, expect=201)
        await api.template({"name": "one", "steps": STEPS[:1]})  # bob may start it too
        before = await api.start("one")
        await api.wait_status(before["id"], "completed")
        resp = await open_stream(api, "/api/v1/events/stream")  # from now on
        theirs = await api.start("one", token=bob["token"])
        mine = await api.start("one")
        got = []
        while not any(e.get("event") == "run.completed" for e in got):
            got += await read_events(resp, limit=1)
        resp.close()
        runs = {json.loads(e["data"])["run_id"] for e in got}
        assert runs == {mine["id"]}, (runs, theirs["id"])
        ids = [int(e["id"]) for e in got]
        assert ids == sorted(ids)
        # The whole history from a global id, and resuming from the middle of it.
        resp = await open_stream(api, "/api/v1/events/stream?after=0")
        history = await read_events(resp, limit=3)
        resp.close()
        assert json.loads(history[0]["data"])["run_id"] == before["id"]
        resp = await open_stream(api, "/api/v1/events/stream",
                                 **{"Last-Event-ID": history[1]["id"]})
        again = await read_events(resp, limit=1)
        resp.close()
        assert again[0]["id"] == history[2]["id"]


async def test_keepalive_comment_on_a_quiet_stream(settings, monkeypatch):
    monkeypatch.setattr(stream, "KEEPALIVE", 0.2)
    monkeypatch.setattr(stream, "LIVENESS", 0.05)
    async with api_client(settings) as api:
        await api.template({"name": "gate", "steps": [{"name": "nap", "sleep": "30s"}]})
        run = await api.start("gate")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/events/stream")
        lines = []
        while b": keepalive\n" not in lines:
            lines.append(await asyncio.wait_for(resp.content.readline(), 5))
        resp.close()
        await api.post(f"/api/v1/workflows/{run['id']}/cancel", expect=200)


LINES = "for i in 1 2 3 4; do echo line$i; sleep 0.15; done; printf 'last'"


async def test_log_stream_follows_a_running_step_and_resumes(settings):
    async with api_client(settings) as api:
        await api.template({"name": "talk", "steps": [{"name": "say", "run": LINES}]})
        run = await api.start("talk")
        path = f"/api/v1/workflows/{run['id']}/steps/say/log/stream"
        resp = await open_stream(api, path)
        first = await read_events(resp, limit=2)
        resp.close()
        assert (first[0]["event"], json.loads(first[0]["data"])) == ("attempt", {"attempt": 1})
        assert (first[1]["id"], first[1]["data"]) == ("1:1", "line1")
        resp = await open_stream(api, path, **{"Last-Event-ID": "1:1"})
        rest = (await read_events(resp))[1:]
    assert [e["data"] for e in rest[:-1]] == ["line2", "line3", "line4", "last"]
    assert [e["id"] for e in rest[:-1]] == ["1:2", "1:3", "1:4", "1:5"]
    end = rest[-1]
    assert end["event"] == "end" and json.loads(end["data"])["status"] == "succeeded"
    assert end["id"] == "1:end"


async def test_log_stream_of_a_finished_attempt_and_of_a_pending_step(settings):
    spec = {"name": "two", "steps": [{"name": "a", "run": "echo one; echo two"},
                                     {"name": "b", "run": "exit 3"},
                                     {"name": "c", "run": "echo never"}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("two")
        await api.wait_status(run["id"], "failed")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/steps/a/log/stream"
                                      "?attempt=1")
        got = await read_events(resp)
        assert [e["data"] for e in got[1:-1]] == ["one", "two"]
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/steps/b/log/stream")
        assert json.loads((await read_events(resp))[-1]["data"])["status"] == "failed"
        # c never ran, and the run is over: the stream says so and ends.
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/steps/c/log/stream")
        got = await read_events(resp)
        assert [e["event"] for e in got] == ["end"]
        assert json.loads(got[0]["data"]) == {"attempt": None, "status": None}


async def test_log_stream_masks_secret_inputs_while_the_step_runs(settings):
    spec = {"name": "sec", "variables": {"pw": {"type": "string", "secret": True}},
            "steps": [{"name": "leak", "run": 'echo "pw=$WFE_INPUT_PW"; sleep 0.3'}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("sec", pw="hunter2-very-secret")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/steps/leak/log/stream")
        got = await read_events(resp)
    assert got[1]["data"] == "pw=***"
    assert "hunter2" not in json.dumps(got)


async def test_shutdown_closes_open_streams(settings):
    async with api_client(settings) as api:
        await api.template({"name": "gate", "steps": [{"name": "nap", "sleep": "30s"}]})
        run = await api.start("gate")
        resp = await open_stream(api, f"/api/v1/workflows/{run['id']}/events/stream")
        await read_events(resp, limit=1)
        await api.app.shutdown()  # what the server's graceful stop runs first
        rest = await asyncio.wait_for(read_events(resp), 5)  # ends: the server closed it
        kinds = [e["event"] for e in rest]
        assert kinds[-1] == "closing" and "run.completed" not in kinds  # come back later
        await api.post(f"/api/v1/workflows/{run['id']}/cancel", expect=200)


async def test_the_callers_stream_ends_with_a_response_at_shutdown(settings, caplog):
    # An ended stream handler must return its response: aiohttp logs a handler that
    # returns None as an error ("Missing return statement") and answers it with a 500.
    async with api_client(settings) as api:
        resp = await open_stream(api, "/api/v1/events/stream")
        await api.app.shutdown()
        rest = await asyncio.wait_for(read_events(resp), 5)
        assert [e["event"] for e in rest][-1:] == ["closing"]
    assert "Missing return statement" not in caplog.text


def test_a_client_leaving_the_event_stream_logs_no_error(daemon):
    """The real daemon, its real log: a client that goes is routine, not a traceback."""
    import http.client
    from urllib.parse import urlsplit

    from tests.conftest import wait_until

    url = urlsplit(daemon.url)
    for _ in range(2):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        conn.request("GET", "/api/v1/events/stream",
                     headers={"Authorization": f"Bearer {daemon.token}"})
        assert conn.getresponse().status == 200
        conn.close()
    # A stream notices its client left within a second (stream.LIVENESS); a run started
    # meanwhile shows that the daemon is serving on. Then stopping waits for every handler.
    c = daemon.client()
    c.publish_template(c.create_template({"name": "t", "steps": [
        {"name": "s", "sleep": f"{stream.LIVENESS * 2}s"}]})["id"])
    run = c.start_run("t")
    wait_until(lambda: c.get_run(run["id"])["status"] == "completed", message="the run")
    assert daemon.stop() == 0
    log = daemon.log()
    assert "Traceback" not in log and "ERROR" not in log, log

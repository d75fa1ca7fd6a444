"""The live log stream across attempts: ids that span retries, resuming after a retry,
and a foreach item's log."""

from __future__ import annotations

import json

from tests.api.test_stream import open_stream, read_events
from tests.support import api_client

RETRY = {"max_attempts": 2, "initial_delay": "10ms", "jitter": "none"}
# Attempt 1 says three lines and fails; attempt 2 says three others and succeeds.
TWICE = ('if [ "$WFE_ATTEMPT" = 1 ]; then echo one-a; echo one-b; echo one-c; exit 1; fi;'
         " echo two-a; echo two-b; echo two-c")


def lines(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["id"], e["data"]) for e in events if "event" not in e]


def kinds(events: list[dict]) -> list[str]:
    return [e.get("event", "line") for e in events]


async def test_resuming_after_a_retry_gets_the_rest_then_the_new_attempt(settings):
    async with api_client(settings) as api:
        await api.template({"name": "twice", "steps": [
            {"name": "say", "run": TWICE, "retry": RETRY}]})
        run = await api.start("twice")
        path = f"/api/v1/workflows/{run['id']}/steps/say/log/stream"
        resp = await open_stream(api, path)
        first = await read_events(resp, limit=2)  # attempt 1, its first line; then gone
        resp.close()
        await api.wait_status(run["id"], "completed")  # the retry ran meanwhile
        resp = await open_stream(api, path, **{"Last-Event-ID": first[-1]["id"]})
        rest = await read_events(resp)  # to the end: the stream closes when the step is done
        resp = await open_stream(api, path, **{"Last-Event-ID": "1:end"})
        after_end = await read_events(resp)
        resp = await open_stream(api, f"{path}?after=2:1")
        after_two = await read_events(resp)
        resp = await open_stream(api, path)  # a new client: the latest attempt, whole
        fresh = await read_events(resp)
    assert lines(first) == [("1:1", "one-a")]
    assert kinds(rest) == ["attempt", "line", "line", "end", "attempt", "line", "line",
                           "line", "end"]
    assert lines(rest) == [("1:2", "one-b"), ("1:3", "one-c"),
                           ("2:1", "two-a"), ("2:2", "two-b"), ("2:3", "two-c")]
    ends = [(e["id"], json.loads(e["data"])) for e in rest if e.get("event") == "end"]
    assert ends == [("1:end", {"attempt": 1, "status": "failed", "lines": 3}),
                    ("2:end", {"attempt": 2, "status": "succeeded", "lines": 3})]
    assert [json.loads(e["data"]) for e in rest if e.get("event") == "attempt"] == [
        {"attempt": 1}, {"attempt": 2}]
    assert lines(after_end) == lines(rest)[2:]
    assert lines(after_two) == [("2:2", "two-b"), ("2:3", "two-c")]
    assert lines(fresh) == lines(rest)[2:]


async def test_a_live_stream_goes_on_through_a_retry(settings, tmp_path):
    """Attempt 1 fails while the client watches; the stream goes on into attempt 2 from its
    first line, and a reconnect in the middle of attempt 2 misses nothing."""
    go = tmp_path / "go"
    script = ('if [ "$WFE_ATTEMPT" = 1 ]; then echo one-a; exit 1; fi;'
              f" echo two-a; while [ ! -e {go} ]; do sleep 0.02; done; echo two-b")
    async with api_client(settings) as api:
        await api.template({"name": "live", "steps": [
            {"name": "say", "run": script, "retry": RETRY}]})
        run = await api.start("live")
        path = f"/api/v1/workflows/{run['id']}/steps/say/log/stream"
        resp = await open_stream(api, path + "?after=0")
        got = []
        while ("2:1", "two-a") not in lines(got):
            got += await read_events(resp, limit=1)
        resp.close()
        go.touch()
        resp = await open_stream(api, path, **{"Last-Event-ID": "2:1"})
        rest = await read_events(resp)
    assert lines(got)[-2:] == [("1:1", "one-a"), ("2:1", "two-a")]
    assert kinds(rest) == ["attempt", "line", "end"]
    assert lines(rest) == [("2:2", "two-b")]


async def test_an_attempt_named_is_followed_alone(settings):
    async with api_client(settings) as api:
        await api.template({"name": "twice", "steps": [
            {"name": "say", "run": TWICE, "retry": RETRY}]})
        run = await api.start("twice")
        await api.wait_status(run["id"], "completed")
        path = f"/api/v1/workflows/{run['id']}/steps/say/log/stream?attempt=1"
        resp = await open_stream(api, path)
        one = await read_events(resp)
        resp = await open_stream(api, path, **{"Last-Event-ID": "2:1"})  # past it: nothing
        past = await read_events(resp)
    assert kinds(one) == ["attempt", "line", "line", "line", "end"]
    assert [d for _, d in lines(one)] == ["one-a", "one-b", "one-c"]
    assert past == []


FAN = ('echo "item $WFE_ITEM_INDEX attempt $WFE_ATTEMPT";'
       ' if [ "$WFE_ITEM_INDEX" = 1 ] && [ "$WFE_ATTEMPT" = 1 ]; then exit 1; fi; echo done')


async def test_a_foreach_items_log_streams_through_its_retries(settings):
    async with api_client(settings) as api:
        await api.template({"name": "fan", "steps": [
            {"name": "fan", "foreach": [10, 20, 30], "run": FAN, "retry": RETRY}]})
        run = await api.start("fan")
        path = f"/api/v1/workflows/{run['id']}/steps/fan/log/stream"
        resp = await open_stream(api, f"{path}?item=1&after=0")  # may open before it starts
        got = await read_events(resp)
        resp = await open_stream(api, f"{path}?item=1", **{"Last-Event-ID": "1:end"})
        again = await read_events(resp)
        resp = await open_stream(api, f"{path}?item=2&attempt=1")
        other = await read_events(resp)
        status, body = await api.get(f"{path}?item=2&attempt=2")
        assert status == 404, body
        status, body = await api.get(f"{path}?item=x")
        assert status == 422 and body["error"]["details"][0]["path"] == "item"
    assert lines(got) == [("1:1", "item 1 attempt 1"),
                          ("2:1", "item 1 attempt 2"), ("2:2", "done")]
    assert [json.loads(e["data"])["status"] for e in got if e.get("event") == "end"] == [
        "failed", "succeeded"]
    assert lines(again) == lines(got)[1:]
    assert lines(other) == [("1:1", "item 2 attempt 1"), ("1:2", "done")]

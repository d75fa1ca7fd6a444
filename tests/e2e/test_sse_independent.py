"""The step-log stream resumed by an SSE client library nobody here wrote (httpx-sse), as
a browser's EventSource or an integrator's client does: reconnect with Last-Event-ID after
a retry and get exactly what was not received, then the new attempt from its first line."""

from __future__ import annotations

import httpx
from httpx_sse import connect_sse

from tests.conftest import wait_until

# Attempt 1 says three lines, waits for the test's go, and fails; attempt 2 says three
# others and succeeds.
TWICE = ('if [ "$WFE_ATTEMPT" = 1 ]; then echo one-a; echo one-b; echo one-c;'
         ' while [ ! -e "$GO" ]; do sleep 0.02; done; exit 1; fi;'
         " echo two-a; echo two-b; echo two-c")
RETRY = {"max_attempts": 2, "initial_delay": "10ms", "jitter": "none"}


def read(client: httpx.Client, path: str, last_id: str | None = None,
         limit: int | None = None) -> list[tuple[str, str, str]]:
    """(id, event, data) of each event, until the server ends the stream or ``limit``."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    got: list[tuple[str, str, str]] = []
    with connect_sse(client, "GET", path, headers=headers) as source:
        source.response.raise_for_status()
        for sse in source.iter_sse():
            got.append((sse.id, sse.event, sse.data))
            if limit is not None and len(got) >= limit:
                break
    return got


def test_httpx_sse_resumes_a_log_stream_across_a_retry(daemon, tmp_path):
    go = tmp_path / "go"
    c = daemon.client()
    c.publish_template(c.create_template({"name": "twice", "steps": [
        {"name": "say", "run": TWICE, "retry": RETRY, "env": {"GO": str(go)}}]})["id"])
    run_id = c.start_run("twice")["id"]
    path = f"/api/v1/workflows/{run_id}/steps/say/log/stream"
    headers = {"Authorization": f"Bearer {daemon.token}"}
    with httpx.Client(base_url=daemon.url, headers=headers, timeout=30) as client:
        first = read(client, path, limit=2)  # attempt 1 begins, its first line; then gone
        go.touch()
        wait_until(lambda: c.get_run(run_id)["status"] == "completed", timeout=30,
                   message="the retry to run while no one listened")
        rest = read(client, path, last_id=first[-1][0])
    lines = [(i, d) for i, e, d in first + rest if e == "message"]
    assert lines == [("1:1", "one-a"), ("1:2", "one-b"), ("1:3", "one-c"),
                     ("2:1", "two-a"), ("2:2", "two-b"), ("2:3", "two-c")]
    assert [(i, e) for i, e, _ in rest if e == "end"] == [("1:end", "end"), ("2:end", "end")]

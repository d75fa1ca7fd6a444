"""Any node answers for any run: its state, live events, approvals, logs, cancel, and the
cluster's own view (GET /api/v1/cluster, `wfe cluster`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from tests.cluster.test_cluster_nodes import ledger_lines, publish
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def executor(marks, daemons):
    """The daemon whose child wrote the first mark ($PPID), and the other one."""
    pid = int(ledger_lines(marks)[0][-1])
    [mine] = [d for d in daemons if d.proc.pid == pid]
    return mine, next(d for d in daemons if d is not mine)


def test_another_node_streams_approves_serves_logs_and_cancels(nodes, tmp_path):
    marks = tmp_path / "marks"
    a, b = nodes.start(2)
    publish(a.client(), {"name": "multi", "steps": [
        {"name": "hello", "run": f'echo "hello from $PPID"; echo "hello $PPID" >> {marks}'},
        {"name": "gate", "approval": {"message": "go on?"}},
        {"name": "long", "run": f'echo "long $PPID" >> {marks}; sleep 120'}]})
    run_id = a.client().start_run("multi")["id"]
    wait_until(lambda: ledger_lines(marks), message="the first step ran")
    runner, other = executor(marks, [a, b])
    c = other.client()
    seen: list[str] = []

    def follow() -> None:  # the run's live events, from the node that does not execute it
        stream = c.run_events_stream(run_id)
        try:
            for ev in stream:
                seen.append(ev.event)
                if ev.event in ("run.cancelled", "run.completed", "run.failed"):
                    return
        finally:
            stream.close()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    wait_until(lambda: c.get_run(run_id)["status"] == "waiting_approval", message="the gate")
    log = c.step_log(run_id, "hello").decode()
    assert f"hello from {runner.proc.pid}" in log  # a log written by the other node
    [gate] = c.list_approvals()["items"]
    c.decide(run_id, gate["id"], "approve")
    wait_until(lambda: len(ledger_lines(marks)) >= 2, message="the step after the gate")
    c.cancel_run(run_id, "enough")
    wait_until(lambda: c.get_run(run_id)["status"] == "cancelled", message="cancelled")
    long_pid = int(ledger_lines(marks)[1][-1])
    assert long_pid in {a.proc.pid, b.proc.pid}

    def long_status() -> str:
        return next(s["status"] for s in c.get_run(run_id)["steps"] if s["name"] == "long")

    # The node executing the step is told, and kills it.
    wait_until(lambda: long_status() == "cancelled", message="the step killed")
    t.join(30)
    assert "step.succeeded" in seen and "run.cancelled" in seen
    assert seen[-1] == "run.cancelled"
    assert c.verify_audit(run_id)["ok"]


def test_cluster_view_lists_every_node_and_its_running_steps(nodes, tmp_path):
    marks = tmp_path / "marks"
    a, b, c3 = nodes.start(3)
    client = a.client()
    publish(client, {"name": "sleepy", "steps": [
        {"name": "zz", "run": f'echo "$PPID" >> {marks}; sleep 60'}]})
    run_id = client.start_run("sleepy")["id"]
    wait_until(lambda: ledger_lines(marks), message="the step started")
    pid = int(ledger_lines(marks)[0][0])
    view = b.client().cluster()
    assert view["backend"] == "postgres" and view["this_node"] == "n2"
    assert [n["id"] for n in view["nodes"]] == ["n1", "n2", "n3"]
    assert {n["state"] for n in view["nodes"]} == {"up"}
    [holder] = [n for n in view["nodes"] if n["pid"] == pid]
    assert [s["run_id"] for s in holder["running_steps"]] == [run_id]
    assert [le["run_id"] for le in holder["leases"]] == [run_id]
    env = {**b.env, "WFE_URL": b.url, "WFE_TOKEN": b.token, "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "wfe", "cluster", "--json"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    assert [n["id"] for n in json.loads(out.stdout)["nodes"]] == ["n1", "n2", "n3"]
    table = subprocess.run([sys.executable, "-m", "wfe", "cluster"], env=env,
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "n1" in table and "n3" in table and run_id in table
    c3.stop()
    wait_until(lambda: [n["state"] for n in a.client().cluster()["nodes"]][2] == "stopped",
               message="a stopped node shows as stopped")
    client.cancel_run(run_id)


def test_a_node_given_another_secret_key_refuses_to_start(nodes, tmp_path):
    nodes.start(1)
    other_key = tmp_path / "other.key"
    other_key.write_text("ab" * 32 + "\n")
    other_key.chmod(0o600)
    home = tmp_path / "odd" / "home"
    home.parent.mkdir()
    from tests.conftest import daemon_env

    env = daemon_env(home, WFE_DATABASE_URL=nodes.url, WFE_SECRET_KEY_FILE=str(other_key))
    proc = subprocess.run([sys.executable, "-m", "wfe.daemon", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("wfe:")]
    assert len(lines) == 1 and "secret key differs" in lines[0], proc.stderr[-2000:]


def test_a_users_stream_on_one_node_misses_no_event_committed_on_others(nodes, tmp_path):
    a, b, _ = nodes.start(3)
    client = a.client()
    publish(client, {"name": "quick", "steps": [
        {"name": f"s{i}", "run": "true"} for i in range(4)]})
    got: list[tuple[str, int, int]] = []  # (run, seq, stream id)
    stream = client.events_stream()  # a live tail of every event of the user's runs

    def follow() -> None:
        try:
            for ev in stream:
                body = json.loads(ev.data)
                got.append((body["run_id"], body["seq"], int(ev.id or 0)))
        except Exception:  # the test closes the stream under the reading thread
            return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    from tests.cluster.test_cluster_nodes import ended, start_many

    ids = start_many(b.client(), "quick", 60)  # started on another node, run on all three
    wait_until(lambda: ended(client, ids), timeout=120, message="every run completed")
    want = {i: client.get_run(i)["events"][-1]["seq"] for i in ids}
    wait_until(lambda: len(got) >= sum(want.values()), timeout=60, message="every event streamed")
    stream.close()
    t.join(10)
    ids_seen = [g[2] for g in got]
    assert ids_seen == sorted(ids_seen) and len(set(ids_seen)) == len(ids_seen)
    for run_id, last in want.items():
        assert [s for r, s, _ in got if r == run_id] == list(range(1, last + 1))


def test_a_running_steps_live_log_streams_from_a_node_that_does_not_run_it(nodes, tmp_path):
    """The file grows on the executing node's disk; the other node relays that node's
    stream (while the step runs: its path is in the database only once it ends)."""
    marks, go = tmp_path / "marks", tmp_path / "go"
    a, b = nodes.start(2)
    publish(a.client(), {"name": "chatty", "steps": [
        {"name": "talk", "run": f'echo "talk $PPID" >> {marks}; for i in 1 2 3; do'
                                f' echo "line $i"; done; while [ ! -e {go} ]; do sleep 0.05;'
                                ' done; echo last'}]})
    run_id = a.client().start_run("chatty")["id"]
    wait_until(lambda: ledger_lines(marks), message="the step started")
    _, other = executor(marks, [a, b])
    c = other.client()
    lines: list[str] = []
    stream = c.log_stream(run_id, "talk")
    try:
        for ev in stream:
            if ev.event == "message":
                lines.append(ev.data)
            if lines == ["line 1", "line 2", "line 3"]:
                break  # read while the step still runs: it waits for the go file
        assert c.get_run(run_id)["steps"][0]["status"] == "running"
        go.touch()
        for ev in stream:
            if ev.event == "message":
                lines.append(ev.data)
            if ev.event == "end":
                assert json.loads(ev.data)["status"] == "succeeded"
                break
    finally:
        stream.close()
    assert lines == ["line 1", "line 2", "line 3", "last"]
    # The recorded log reads the same from either node once the step has ended.
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="completed")
    assert c.step_log(run_id, "talk").decode().splitlines() == lines

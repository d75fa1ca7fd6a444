"""kill -9 the daemon at awkward moments: nothing acknowledged is lost, nothing committed reruns."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.conftest import wait_until
from tests.dbutil import db, is_postgres, query
from wfe.errors import DaemonUnreachable

pytestmark = pytest.mark.slow


def publish(client, spec: dict) -> None:
    tpl = client.create_template(spec, "application/json")
    client.publish_template(tpl["id"])


def committed_steps(daemon) -> set[tuple[str, str]]:
    return set(query("SELECT run_id, name FROM steps WHERE status = 'succeeded'",
                     daemon=daemon))


def all_done(client, ids, status="completed"):
    return all(client.get_run(i)["status"] == status for i in ids)


def test_kill9_mid_steps_then_restart(daemon_factory, tmp_path):
    ledger = tmp_path / "ledger"
    step = f'echo "$WFE_RUN_ID $WFE_STEP $WFE_ATTEMPT" >> {ledger}; sleep 0.05'
    spec = {"name": "many", "steps": [{"name": f"s{i}", "run": step} for i in range(6)]}
    d = daemon_factory().start()
    c = d.client()
    publish(c, spec)
    ids = [c.start_run("many")["id"] for _ in range(20)]
    wait_until(lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 40,
               message="steps under way")
    d.kill9()
    before = committed_steps(d)
    assert before, "some steps had completed before the kill"
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, ids), timeout=60, message="all runs completed")
    runs_started = Counter(tuple(line.split()[:2]) for line in ledger.read_text().splitlines())
    for key in before:
        assert runs_started[key] == 1, f"{key} completed before the kill but ran again"
    for run_id in ids:
        for s in c.get_run(run_id)["steps"]:
            assert runs_started[(run_id, s["name"])] >= 1


def test_recovery_kills_leftover_process_group(daemon_factory, tmp_path):
    pidfile = tmp_path / "pids"
    spec = {"name": "slow", "steps": [{"name": "long", "run":
            f'echo "$$ $WFE_ATTEMPT $WFE_IDEMPOTENCY_KEY" >> {pidfile}; '
            f'if [ "$WFE_ATTEMPT" = 1 ]; then sleep 60 & wait; fi'}]}
    d = daemon_factory().start()
    c = d.client()
    publish(c, spec)
    run_id = c.start_run("slow")["id"]
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), message="step started")
    old_pid = int(pidfile.read_text().split()[0])
    d.kill9()
    os.kill(old_pid, 0)  # the step outlived its daemon
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, [run_id]), timeout=30, message="run completed")
    wait_until(lambda: not _alive(old_pid), message="old process group killed")
    lines = [line.split() for line in pidfile.read_text().splitlines()]
    assert [fields[1] for fields in lines] == ["1", "2"]
    assert lines[0][2] == lines[1][2] == f"{run_id}:long"  # same idempotency key
    run = c.get_run(run_id)
    types = [e["type"] for e in run["events"]]
    assert "step.interrupted" in types and "run.recovered" in types
    assert run["steps"][0]["attempt"] == 2


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().split(") ")[1].startswith("Z")
    except OSError:
        return False


@pytest.mark.parametrize("point", ["step_started", "before_step_commit", "after_step_commit"])
def test_fault_points(daemon_factory, tmp_path, point):
    ledger = tmp_path / "ledger"
    spec = {"name": "f", "steps": [
        {"name": f"s{i}", "run": f'echo "$WFE_STEP" >> {ledger}'} for i in range(4)]}
    d = daemon_factory(WFE_FAULT=f"{point}:kill:3").start()
    c = d.client()
    publish(c, spec)
    run_id = c.start_run("f")["id"]
    d.proc.wait(20)  # the fault kills the daemon at the third pass
    with pytest.raises(DaemonUnreachable):
        c.get_run(run_id)
    before = committed_steps(d)
    d.env.pop("WFE_FAULT")
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, [run_id]), timeout=30, message="run completed")
    counts = Counter(ledger.read_text().split())
    for _, name in before:
        assert counts[name] == 1
    assert set(counts) == {"s0", "s1", "s2", "s3"}


def test_pause_survives_restart(daemon_factory):
    spec = {"name": "p", "steps": [{"name": "nap", "sleep": "200ms"}, {"name": "x", "set": {}}]}
    d = daemon_factory().start()
    c = d.client()
    publish(c, spec)
    run_id = c.start_run("p")["id"]
    c.pause_run(run_id)
    d.stop()
    d.start()
    c = d.client()
    assert c.get_run(run_id)["status"] == "paused"
    assert c.health()["live_runners"] == 0
    c.resume_run(run_id)
    wait_until(lambda: all_done(c, [run_id]), message="run completed after resume")


def test_acknowledged_runs_survive_kill9(daemon_factory):
    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "n", "steps": [{"name": "nap", "sleep": "100ms"}]})
    ids = [c.start_run("n")["id"] for _ in range(30)]
    d.kill9()
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, ids), timeout=30, message="every acknowledged run completes")
    assert c.list_runs(limit=100)["total"] == 30


def test_kill9_under_load_leaves_a_sound_database(daemon_factory):
    """Killed while the writer commits groups and the checkpointer copies WAL pages: the
    restarted daemon finishes every acknowledged run, and the database, the counts and the
    hash chains are intact."""
    n = 300
    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "many", "steps": [{"name": f"s{i}", "set": {"i": i}} for i in range(30)]})
    ids = [c.start_run("many")["id"] for _ in range(n)]
    done = wait_until(lambda: c.list_runs(status="completed", limit=1)["total"], timeout=30,
                      message="the first run done, the rest in flight")
    d.kill9()
    assert done < n  # the kill landed mid-load, not after it
    d.start()
    c = d.client()
    wait_until(lambda: c.list_runs(status="completed", limit=1)["total"] == n, timeout=60,
               message="every acknowledged run completes")
    assert c.list_runs(limit=1)["total"] == n
    assert all(c.get_run(i)["status"] == "completed" for i in ids)
    audit = c.verify_audit()
    assert audit["ok"] and audit["runs"] == n, audit
    d.stop()
    with db(d) as conn:
        if not is_postgres(conn):  # the file's pages; a server's are its own to check
            assert [tuple(r) for r in conn.execute("PRAGMA integrity_check")] == [("ok",)]
        assert conn.execute("SELECT SUM(n) FROM run_counts WHERE status = 'completed'"
                            ).fetchone()[0] == n


def test_run_that_keeps_crashing_the_daemon_fails(daemon_factory, tmp_path):
    d = daemon_factory(WFE_FAULT="step_started:kill", WFE_MAX_RECOVERIES="2").start()
    c = d.client()
    publish(c, {"name": "doom", "steps": [{"name": "s", "run": "true"}]})
    run_id = c.start_run("doom")["id"]
    for _ in range(3):  # each start re-runs the step, and the fault kills the daemon again
        d.proc.wait(20)
        d.start(wait=False)
        try:
            d.wait_ready()
        except AssertionError:
            continue  # died during start-up recovery of the run: that counts too
    d.env.pop("WFE_FAULT")
    if d.proc.poll() is None:
        d.stop()
    d.start()
    run = d.client().get_run(run_id)
    assert run["status"] == "failed" and run["reason"] == "recovery_limit", run
    assert run["steps"][0]["status"] == "pending"


def test_io_error_in_a_runner_is_recovered(daemon_factory, tmp_path):
    ledger = tmp_path / "ledger"
    d = daemon_factory(WFE_FAULT="before_step_commit:ioerror:1").start()
    c = d.client()
    publish(c, {"name": "io", "steps": [{"name": "a", "run": f"echo a >> {ledger}"},
                                        {"name": "b", "run": f"echo b >> {ledger}"}]})
    run_id = c.start_run("io")["id"]
    wait_until(lambda: all_done(c, [run_id]), timeout=30, message="run completed")
    run = c.get_run(run_id)
    assert ledger.read_text().split() == ["a", "a", "b"]  # a's result was lost, so a ran again
    assert run["steps"][0]["attempt"] == 2
    assert "step.interrupted" in [e["type"] for e in run["events"]]


def test_cancel_through_the_cli_kills_grandchildren(daemon, tmp_path):
    import subprocess
    import sys

    pids = tmp_path / "pids"
    c = daemon.client()
    publish(c, {"name": "tree", "steps": [{"name": "t", "run":
            f"sh -c 'sleep 60 & echo $! >> {pids}; wait' & echo $! >> {pids}; wait"}]})
    run_id = c.start_run("tree")["id"]
    wait_until(lambda: pids.exists() and len(pids.read_text().split()) >= 2, message="tree")
    out = subprocess.run([sys.executable, "-m", "wfe", "cancel", run_id, "--reason", "stop"],
                         env=daemon.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for pid in map(int, pids.read_text().split()):
        wait_until(lambda pid=pid: not _alive(pid), message=f"{pid} killed")
    wait_until(lambda: c.get_run(run_id)["steps"][0]["status"] == "cancelled", message="step")
    assert c.get_run(run_id)["reason"] == "stop"


def test_approval_timeout_fires_across_a_restart(daemon_factory):
    import time

    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "g", "steps": [{"name": "gate", "approval": {"timeout": "1s"}}]})
    run_id = c.start_run("g")["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "waiting_approval", message="parked")
    deadline = time.time() + 1.2
    d.stop()
    wait_until(lambda: time.time() > deadline, timeout=5, message="deadline passed offline")
    d.start()
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] == "failed", message="timed out")
    run = c.get_run(run_id)
    assert run["reason"] == "approval_timeout"


def test_decision_is_durable_before_the_run_wakes(daemon_factory, tmp_path):
    ledger = tmp_path / "ledger"
    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "g2", "steps": [{"name": "gate", "approval": {}},
                                        {"name": "after", "run": f"echo ran >> {ledger}"}]})
    run_id = c.start_run("g2")["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "waiting_approval", message="parked")
    approval = c.get_run(run_id)["approvals"][0]["id"]
    c.request("POST", f"/api/v1/workflows/{run_id}/approvals/{approval}/approve", {})
    d.kill9()
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, [run_id]), message="run completed after restart")
    # The step after the gate may run twice if the kill caught it mid-flight (at-least-once).
    assert set(ledger.read_text().split()) == {"ran"}
    assert c.get_run(run_id)["approvals"][0]["status"] == "approved"


def test_backoff_survives_a_restart(daemon_factory, tmp_path):
    from datetime import datetime

    marks = tmp_path / "marks"
    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "b", "steps": [{"name": "s", "retry": {
        "max_attempts": 3, "initial_delay": "1s", "backoff": "fixed"},
        "run": f'echo "$WFE_ATTEMPT" >> {marks}; [ "$WFE_ATTEMPT" = 2 ]'}]})
    run_id = c.start_run("b")["id"]
    wait_until(lambda: any(e["type"] == "step.retry_scheduled"
                           for e in c.get_run(run_id)["events"]), message="retry scheduled")
    sched = next(e for e in c.get_run(run_id)["events"] if e["type"] == "step.retry_scheduled")
    due = datetime.fromisoformat(sched["data"]["at"].replace("Z", "+00:00")).timestamp()
    d.stop()
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, [run_id]), message="completed after restart")
    step = c.get_run(run_id)["steps"][0]
    assert marks.read_text().split() == ["1", "2"]
    second = datetime.fromisoformat(step["attempts"][1]["started_at"].replace("Z", "+00:00"))
    assert second.timestamp() >= due - 0.01


def test_kill9_with_branches_in_flight_loses_nothing(daemon_factory, tmp_path):
    """50 branches side by side, killed mid-way: each completed branch never runs again,
    every other one runs, and the join runs once after all of them."""
    ledger = tmp_path / "ledger"
    # Each branch sleeps a little longer than the one before: they end one after another.
    branches = [{"name": f"b{i}", "needs": [], "run": f'echo "$WFE_RUN_ID $WFE_STEP'
                 f' $WFE_ATTEMPT" >> {ledger}; sleep {0.1 + i * 0.05:.2f}'} for i in range(50)]
    join = {"name": "join", "needs": [b["name"] for b in branches],
            "run": f'echo "$WFE_RUN_ID $WFE_STEP $WFE_ATTEMPT" >> {ledger}'}
    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "fan", "steps": [*branches, join]})
    run_id = c.start_run("fan")["id"]
    wait_until(lambda: len(committed_steps(d)) >= 5, message="some branches committed")
    d.kill9()
    before = committed_steps(d)
    assert len(before) < 51, "the kill came before the run ended"
    d.start()
    c = d.client()
    wait_until(lambda: all_done(c, [run_id]), timeout=90, message="the run completed")
    started = Counter(tuple(line.split()[:2]) for line in ledger.read_text().splitlines())
    for key in before:
        assert started[key] == 1, f"{key} completed before the kill but ran again"
    assert all(started[(run_id, f"b{i}")] >= 1 for i in range(50))
    assert started[(run_id, "join")] == 1
    run = c.get_run(run_id)
    assert all(s["status"] == "succeeded" for s in run["steps"])
    seqs = {e["data"].get("step"): e["seq"] for e in run["events"] if e["type"] == "step.succeeded"}
    join_start = max(e["seq"] for e in run["events"]
                     if e["type"] == "step.started" and e["data"]["step"] == "join")
    assert join_start > max(seqs[f"b{i}"] for i in range(50))

"""Three daemons on one PostgreSQL database: the work is shared, a node's death loses
nothing, a paused node is fenced, and a timer fires on exactly one node."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.cluster.conftest import LEASE
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def publish(client, spec: dict) -> None:
    client.publish_template(client.create_template(spec, "application/json")["id"])


def ledger_lines(path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def execute(url: str, sql: str, params: tuple = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, params)  # type: ignore[arg-type]


def start_many(client, template: str, n: int) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: client.start_run(template)["id"], range(n)))


def ended(client, ids: list[str]) -> bool:
    page = client.list_runs(status="completed", limit=1)
    return page["total"] >= len(ids)


@pytest.mark.timeout(600)
def test_three_nodes_share_runs_and_lose_nothing_when_one_is_killed(nodes, tmp_path):
    ledger = tmp_path / "ledger"
    # $PPID: the daemon that executed the step (steps are its children).
    step = f'echo "$WFE_RUN_ID $WFE_STEP $WFE_ATTEMPT $PPID" >> {ledger}; sleep 0.05'
    a, b, c = nodes.start(3)
    client = a.client()
    publish(client, {"name": "work", "steps": [{"name": f"s{i}", "run": step} for i in range(3)]})
    ids = start_many(client, "work", 300)
    pids = {str(d.proc.pid) for d in (a, b, c)}
    wait_until(lambda: pids <= {f[3] for f in ledger_lines(ledger)}, timeout=60,
               message="steps executed by all three nodes")
    victim = c if len(ledger_lines(ledger)) < 600 else b
    victim.kill9()
    killed_at = time.monotonic()
    done_before = set(query(nodes.url, "SELECT run_id, name FROM steps WHERE status = 'succeeded'"))
    wait_until(lambda: ended(client, ids), timeout=120, message="all 300 runs completed")
    took = time.monotonic() - killed_at
    lines = ledger_lines(ledger)
    runs_of = Counter((f[0], f[1]) for f in lines)
    attempts_of = Counter((f[0], f[1], f[2]) for f in lines)
    assert all(n == 1 for n in attempts_of.values()), "an attempt ran twice"
    for key in done_before:
        assert runs_of[key] == 1, f"{key} had completed before the kill but ran again"
    for run_id in ids:
        run = client.get_run(run_id)
        assert run["status"] == "completed"
        seqs = [e["seq"] for e in run["events"]]
        assert seqs == list(range(1, len(seqs) + 1)), "events have a gap"
        for s in run["steps"]:  # an attempt cut short may have died before its echo
            assert 1 <= runs_of[(run_id, s["name"])] <= s["attempt"]
    assert client.verify_audit()["ok"]
    print(f"300 runs completed {took:.1f}s after the kill (lease {LEASE}s)")


def test_a_paused_node_loses_its_run_and_commits_nothing_for_it(nodes, tmp_path):
    marks = tmp_path / "marks"
    a, b = nodes.start(2)
    client = a.client()
    publish(client, {"name": "long", "steps": [
        {"name": "slow", "run": f'echo "$WFE_ATTEMPT $PPID" >> {marks}; sleep 3'},
        {"name": "after", "run": "true"}]})
    run_id = client.start_run("long")["id"]
    wait_until(lambda: ledger_lines(marks), message="the step started")
    holder_pid = int(ledger_lines(marks)[0][1])
    holder, other = (a, b) if holder_pid == a.proc.pid else (b, a)
    os.kill(holder.proc.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: len(ledger_lines(marks)) >= 2, timeout=60,
                   message="the other node took the run over")
    finally:
        os.kill(holder.proc.pid, signal.SIGCONT)
    assert ledger_lines(marks)[1] == ["2", str(other.proc.pid)]
    wait_until(lambda: "fenced" in holder.log(), timeout=30, message="the node logs it was fenced")
    c2 = other.client()
    wait_until(lambda: c2.get_run(run_id)["status"] == "completed", timeout=60,
               message="run completed")
    rows = query(nodes.url, "SELECT a.attempt, a.status FROM step_attempts a JOIN steps s"
                 " ON s.run_id = a.run_id AND s.idx = a.idx WHERE a.run_id = %s AND s.name = 'slow'"
                 " ORDER BY a.attempt", (run_id,))
    assert rows == [(1, "interrupted"), (2, "succeeded")]  # attempt 1 never committed
    assert c2.verify_audit(run_id)["ok"]


@pytest.mark.timeout(900)
def test_a_thousand_timers_due_at_once_fire_once_each(nodes, tmp_path):
    ledger = tmp_path / "fired"
    daemons = nodes.start(3)
    client = daemons[0].client()
    publish(client, {"name": "timer", "steps": [
        {"name": "nap", "sleep": "1h"},
        {"name": "fire", "run": f'echo "$WFE_RUN_ID $PPID" >> {ledger}'}]})
    ids = start_many(client, "timer", 1000)
    wait_until(lambda: query(nodes.url, "SELECT COUNT(*) FROM steps WHERE name = 'nap'"
                             " AND status = 'waiting'")[0][0] == 1000, timeout=300,
               message="every run asleep")
    wait_until(lambda: query(nodes.url, "SELECT COUNT(*) FROM runs WHERE lease_node IS NOT NULL"
                             )[0][0] == 0, timeout=60, message="every Runner gone")
    for d in daemons:  # while nobody can look, every timer is set to the same instant...
        os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        (now,) = query(nodes.url, "SELECT extract(epoch from now())::float8")[0]
        execute(nodes.url, "UPDATE steps SET wake_at = %s WHERE name = 'nap'", (now,))
        execute(nodes.url, "UPDATE runs SET wake_at = %s", (now,))
    finally:
        for d in daemons:  # ...then three nodes find the same thousand due at once
            os.kill(d.proc.pid, signal.SIGCONT)
    wait_until(lambda: ended(client, ids), timeout=300, message="all 1000 runs completed")
    fired = Counter(f[0] for f in ledger_lines(ledger))
    assert set(fired) == set(ids) and set(fired.values()) == {1}
    assert len({f[1] for f in ledger_lines(ledger)}) > 1, "only one node fired timers"


def test_a_schedule_fires_once_per_second_across_three_nodes(nodes):
    daemons = nodes.start(3)
    client = daemons[1].client()
    publish(client, {"name": "tick", "steps": [{"name": "t", "run": "true"}]})
    sched = client.create_schedule({"template": "tick", "every": "1s", "overlap": "allow"})

    def fires() -> list[str]:
        return [r[0] for r in query(nodes.url, "SELECT scheduled_for FROM runs"
                                    " WHERE schedule_id = %s ORDER BY scheduled_for",
                                    (sched["id"],))]

    wait_until(lambda: len(fires()) >= 8, timeout=60, message="eight fires")
    client.schedule_action(sched["id"], "pause")
    times = fires()
    assert len(times) == len(set(times)), f"a fire was doubled: {times}"


def test_each_webhook_delivery_is_sent_by_one_node(nodes):
    from tests.webhook_receiver import Receiver

    daemons = nodes.start(3)
    client = daemons[0].client()
    publish(client, {"name": "hooked", "steps": [{"name": "t", "run": "true"}]})
    with Receiver() as receiver:
        hook = client.create_webhook(receiver.url(), ["run.*"])
        receiver.secrets.append(hook["secret"])
        ids = start_many(client, "hooked", 30)
        wait_until(lambda: ended(client, ids), timeout=120, message="runs completed")
        want = 3 * len(ids)  # run.created, run.started, run.completed
        wait_until(lambda: len(receiver.hits) >= want, timeout=60, message="every delivery")
        seen = Counter(h.headers["webhook-id"] for h in receiver.hits)
        assert len(seen) == want and set(seen.values()) == {1}, seen.most_common(3)
        assert all(h.verified for h in receiver.hits)

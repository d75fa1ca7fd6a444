"""A node stopped in the middle of a transaction: the locks it holds must not stall the
node that takes its runs over (the server ends the silent session after a lease)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.cluster.test_cluster_nodes import ledger_lines, publish, query
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def stopped(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def test_a_node_stopped_holding_row_locks_is_taken_over(nodes, tmp_path):
    marks = tmp_path / "marks"
    # The first step's success is written, not committed, when the node stops itself:
    # the run's rows stay locked by a session that says nothing more.
    (a,) = nodes.start(1, WFE_FAULT="step_commit:stop")
    publish(a.client(), {"name": "two", "steps": [
        {"name": "first", "run": f'echo "$WFE_ATTEMPT $PPID" >> {marks}'},
        {"name": "second", "run": "true"}]})
    run_id = a.client().start_run("two")["id"]
    wait_until(lambda: stopped(a.proc.pid), timeout=60, message="the node stopped itself")
    try:
        (b,) = nodes.start(1)
        wait_until(lambda: len(ledger_lines(marks)) >= 2, timeout=90,
                   message="the other node took the run over")
        c2 = b.client()
        wait_until(lambda: c2.get_run(run_id)["status"] == "completed", timeout=60,
                   message="run completed")
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    assert ledger_lines(marks) == [["1", str(a.proc.pid)], ["2", str(b.proc.pid)]]
    # Back, the stopped node finds its session gone; what it retries is fenced off.
    wait_until(lambda: "fenced" in a.log(), timeout=30, message="the node logs it was fenced")
    rows = query(nodes.url, "SELECT a.attempt, a.status FROM step_attempts a JOIN steps s"
                 " ON s.run_id = a.run_id AND s.idx = a.idx"
                 " WHERE a.run_id = %s AND s.name = 'first' ORDER BY a.attempt", (run_id,))
    assert rows == [(1, "interrupted"), (2, "succeeded")]
    assert c2.get_run(run_id)["status"] == "completed"
    assert c2.verify_audit(run_id)["ok"]

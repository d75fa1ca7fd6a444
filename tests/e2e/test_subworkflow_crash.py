"""kill -9 the daemon right after a workflow step committed its child run."""

from __future__ import annotations

import pytest

from tests.conftest import wait_until
from tests.dbutil import query
from tests.e2e.test_crash import publish
from wfe.errors import DaemonUnreachable

pytestmark = pytest.mark.slow


def links(daemon) -> list[tuple]:
    return query(
        "SELECT s.run_id, s.status, s.child_run_id, r.parent_run_id, r.status FROM steps s"
        " JOIN runs r ON r.id = s.child_run_id WHERE s.kind = 'workflow'", daemon=daemon)


def test_kill9_after_a_child_started_then_both_finish(daemon_factory, tmp_path):
    ledger = tmp_path / "ledger"
    child = {"name": "kid", "variables": {"n": {"type": "integer"}}, "steps": [
        {"name": "work", "run": f'echo "$WFE_RUN_ID" >> {ledger};'
                                ' echo "{\\"twice\\": $((2 * $N))}" > "$WFE_OUTPUT"',
         "env": {"N": "${{ input.n }}"}}]}
    parent = {"name": "mom", "steps": [
        {"name": "sub", "workflow": {"template": "kid", "input": {"n": 21}}},
        {"name": "after", "set": {"got": "${{ steps.sub.output.work.twice }}"}}]}
    d = daemon_factory(WFE_FAULT="child_started:kill").start()
    c = d.client()
    publish(c, child)
    publish(c, parent)
    run_id = c.start_run("mom")["id"]
    d.proc.wait(20)  # the fault kills the daemon as soon as the child is committed
    with pytest.raises(DaemonUnreachable):
        c.get_run(run_id)
    [(parent_id, step_status, child_id, linked_parent, child_status)] = links(d)
    # one transaction: the parent waits for a child that exists and names it
    assert (parent_id, step_status, linked_parent, child_status) == (
        run_id, "waiting", run_id, "pending")
    d.env.pop("WFE_FAULT")
    d.start()
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] in ("completed", "failed"), timeout=60,
               message="the parent finished")
    run, kid = c.get_run(run_id), c.get_run(child_id)
    assert run["status"] == "completed" and kid["status"] == "completed", (run, kid)
    assert run["steps"][0]["output"] == {"work": {"twice": 42}}
    assert run["steps"][1]["output"] == {"got": 42}
    assert ledger.read_text().split() == [child_id]  # exactly one child, run once

"""kill -9 the daemon while a failure handler runs: after the restart the handlers finish,
and none that completed runs again."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import wait_until
from tests.dbutil import query

pytestmark = pytest.mark.slow


def handler_rows(daemon) -> dict[str, str]:
    return dict(query("SELECT name, status FROM handler_steps", daemon=daemon))


def test_kill9_while_a_handler_runs_finishes_the_rest_once(daemon_factory, tmp_path):
    ledger, started = tmp_path / "ledger", tmp_path / "undo-b.started"
    note = f'echo "$WFE_STEP $WFE_ATTEMPT" >> {ledger}'
    # b's undo hangs on its first attempt, until the daemon is killed under it.
    hang = f'{note}; if [ "$WFE_ATTEMPT" = 1 ]; then touch {started}; sleep 60 & wait; fi'
    spec = {"name": "saga", "steps": [
        {"name": "a", "run": "true", "undo": {"run": note}},
        {"name": "b", "run": "true", "undo": {"run": hang}},
        {"name": "c", "run": "true", "undo": {"run": note}},
        {"name": "d", "run": "exit 3"},
    ], "on_failure": [{"name": "alert", "run": note}], "finally": [{"name": "fin", "run": note}]}
    d = daemon_factory().start()
    c = d.client()
    tpl = c.create_template(spec, "application/json")
    c.publish_template(tpl["id"])
    run_id = c.start_run("saga")["id"]
    wait_until(started.exists, timeout=30, message="b's undo started")
    d.kill9()
    before = handler_rows(d)
    assert before["c.undo"] == "succeeded" and before["b.undo"] == "running"
    d.start()
    c = d.client()

    def done():
        run = c.get_run(run_id)
        return run if run["handlers"]["status"] == "done" else None

    wait_until(done, timeout=60, message="the handlers finished")
    run = c.get_run(run_id)
    assert run["status"] == "failed"
    lines = [line.split() for line in ledger.read_text().splitlines()]
    ran = Counter(name for name, _ in lines)
    # c.undo completed before the kill: never again; b.undo was cut short: it ran again
    assert ran == {"c.undo": 1, "b.undo": 2, "a.undo": 1, "alert": 1, "fin": 1}
    assert [name for name, _ in lines] == ["c.undo", "b.undo", "b.undo", "a.undo", "alert",
                                           "fin"]
    assert run["handlers"]["failed"] == []
    types = [e["type"] for e in run["events"]]
    assert types.count("run.handlers_started") == 1 and "handler.interrupted" in types

"""kill -9 the daemon in the middle of a foreach step: items whose result was committed never
run again, the ones in flight are recorded as interrupted and run again, and the run ends."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import wait_until
from tests.dbutil import query

pytestmark = pytest.mark.slow


def item_rows(daemon, status: str) -> set[int]:
    return {item for (item,) in query("SELECT item FROM step_items WHERE status = ?",
                                      (status,), daemon=daemon)}


def test_kill9_mid_fan_out_reruns_only_unfinished_items(daemon_factory, tmp_path):
    ledger = tmp_path / "ledger"
    n = 30
    spec = {"name": "fan", "variables": {"hosts": {"type": "array"}}, "steps": [
        {"name": "fan", "foreach": "${{ input.hosts }}", "concurrency": 4,
         "run": f'echo "$WFE_ITEM_INDEX $WFE_ATTEMPT" >> {ledger};'
                ' sleep 0.$((WFE_ITEM_INDEX % 4 + 1)); echo "n=$WFE_ITEM" > $WFE_OUTPUT'},
        {"name": "after", "set": {"count": "${{ steps.fan.outputs | length }}"}},
    ]}
    d = daemon_factory().start()
    c = d.client()
    tpl = c.create_template(spec, "application/json")
    c.publish_template(tpl["id"])
    run_id = c.start_run("fan", {"hosts": list(range(n))})["id"]
    wait_until(lambda: len(item_rows(d, "succeeded")) >= 6, timeout=60,
               message="some items committed")
    d.kill9()
    before = item_rows(d, "succeeded")
    in_flight = item_rows(d, "running")
    assert len(before) < n, "the kill came before the step ended"
    d.start()
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] in ("completed", "failed"), timeout=120,
               message="the run ended")
    run = c.get_run(run_id)
    why = (run["reason"], [(s["name"], s["status"], s["error"]) for s in run["steps"]],
           [e for e in run["events"] if "fail" in e["type"] or "interrupt" in e["type"]][:6])
    assert run["status"] == "completed", why
    started = Counter(int(line.split()[0]) for line in ledger.read_text().splitlines())
    for i in before:
        assert started[i] == 1, f"item {i} completed before the kill but ran again"
    assert set(started) == set(range(n))
    fan, after = run["steps"]
    assert fan["output"]["outputs"] == [{"n": str(i)} for i in range(n)]
    assert after["output"] == {"count": n}
    assert fan["items"] == {"total": n, "succeeded": n, "failed": 0, "running": 0}
    # the list was evaluated once; the attempts cut short were recorded as interrupted
    assert sum(1 for e in run["events"] if e["type"] == "step.items") == 1
    interrupted = {item for (item,) in query(
        "SELECT item FROM item_attempts WHERE status = 'interrupted'", daemon=d)}
    assert interrupted == in_flight

"""kill -9 the daemon while a run holds its group's only slot and another waits for it:
after the restart the waiting run is still queued, and starts once the slot frees."""

from __future__ import annotations

import pytest

from tests.api.test_concurrency import gated, go
from tests.conftest import wait_until
from tests.e2e.test_crash import publish

pytestmark = pytest.mark.slow


def test_a_queued_run_survives_kill9_and_starts_when_the_slot_frees(daemon_factory, tmp_path):
    d = daemon_factory().start()
    c = d.client()
    publish(c, gated(tmp_path, "deploy", limit=1, key="${{ input.env }}"))
    a = c.start_run("deploy", {"tag": "a", "env": "prod"})
    wait_until(lambda: (tmp_path / "started-a").exists(), message="A's step started")
    b = c.start_run("deploy", {"tag": "b", "env": "prod"})
    assert b["queued_behind"] == {"key": "prod", "limit": 1, "position": 1,
                                  "running": [a["id"]]}
    d.kill9()
    (tmp_path / "started-a").unlink()

    d.start()
    c = d.client()
    # A's interrupted step runs again (its attempt 2); B still waits behind it.
    wait_until(lambda: (tmp_path / "started-a").exists(), timeout=30,
               message="A's step ran again after the restart")
    waiting = c.get_run(b["id"])
    assert waiting["status"] == "pending" and waiting["queued_behind"]["running"] == [a["id"]]
    assert not (tmp_path / "started-b").exists()
    late = c.start_run("deploy", {"tag": "c", "env": "prod"})
    assert late["queued_behind"]["position"] == 2

    go(tmp_path, "a")
    wait_until(lambda: (tmp_path / "started-b").exists(), timeout=30,
               message="B started once A ended")
    go(tmp_path, "b")
    go(tmp_path, "c")
    wait_until(lambda: c.get_run(late["id"])["status"] == "completed", timeout=30,
               message="C completed")
    runs = [c.get_run(r["id"]) for r in (a, b, late)]
    assert [r["status"] for r in runs] == ["completed"] * 3
    assert runs[0]["steps"][0]["attempt"] == 2  # interrupted by the kill, run again
    spans = [(r["steps"][0]["started_at"], r["steps"][0]["finished_at"]) for r in runs]
    assert spans[0][1] <= spans[1][0] and spans[1][1] <= spans[2][0]  # one at a time, FIFO
    started_b = next(e for e in runs[1]["events"] if e["type"] == "run.started")
    assert started_b["data"] == {"slot_freed_by": a["id"]}

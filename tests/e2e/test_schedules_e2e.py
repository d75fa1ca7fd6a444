"""Schedules across a stop and a kill -9 of the daemon: catch-up, and exactly-once fires."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.conftest import wait_until
from tests.dbutil import query

pytestmark = pytest.mark.slow
QUICK = {"name": "q", "steps": [{"name": "a", "set": {"x": 1}}]}


def publish(client) -> None:
    client.publish_template(client.create_template(QUICK, "application/json")["id"])


def fires(daemon, sched_id: str) -> list[str]:
    return [at for (at,) in query(
        "SELECT scheduled_for FROM runs WHERE schedule_id = ? ORDER BY scheduled_for",
        (sched_id,), daemon=daemon)]


def down_for(d, seconds: float) -> None:
    """Stop the daemon and keep it down while ``seconds`` of fires come due."""
    d.stop()
    until = time.time() + seconds
    wait_until(lambda: time.time() >= until, timeout=seconds + 5, interval=0.2,
               message="the downtime")


@pytest.mark.parametrize("catchup, low, high", [
    ("none", 0, 1),  # at most the latest, when the restart was within the grace
    ("latest", 1, 1),
    ("all", 3, 3),  # about six were missed; capped at WFE_MAX_CATCHUP_RUNS=3
])
def test_catchup_after_a_stop(daemon_factory, catchup, low, high):
    from wfe.daemon.store.util import now_iso

    d = daemon_factory(WFE_SCHEDULE_GRACE="0.3", WFE_MAX_CATCHUP_RUNS="3").start()
    c = d.client()
    publish(c)
    sched = c.create_schedule({"template": "q", "every": "1s", "catchup": catchup,
                               "overlap": "allow"})
    wait_until(lambda: len(fires(d, sched["id"])) >= 1, message="a first fire")
    down_for(d, 6)
    before = fires(d, sched["id"])
    d.start()
    restart = now_iso()  # the first pass of the timer, with the catch-up, is done by now
    c = d.client()
    wait_until(lambda: fires(d, sched["id"])[-1] > restart, timeout=20,
               message="a fire after the restart")
    caught_up = [t for t in fires(d, sched["id"]) if before[-1] < t <= restart]
    assert low <= len(caught_up) <= high, (catchup, before, caught_up, restart)
    reasons = [e["data"]["reason"] for e in c.get_schedule(sched["id"])["events"]]
    assert "missed" in reasons  # none skips them all, latest all but one, all the capped
    d.stop()


@pytest.mark.parametrize("point", ["schedule_fire", "schedule_fired"])
def test_kill9_around_a_fire_neither_loses_nor_doubles_it(daemon_factory, point):
    d = daemon_factory(WFE_FAULT=f"{point}:kill:3").start()
    c = d.client()
    publish(c)
    # catchup all: a restart slower than the interval starts what came due meanwhile too.
    sched = c.create_schedule({"template": "q", "every": "1s", "overlap": "allow",
                               "catchup": "all"})
    d.proc.wait(30)  # the third fire kills the daemon
    before = fires(d, sched["id"])
    d.env.pop("WFE_FAULT")
    d.start()
    c = d.client()
    wait_until(lambda: len(fires(d, sched["id"])) >= len(before) + 3, timeout=30,
               message="fires after the restart")
    times = fires(d, sched["id"])
    assert len(times) == len(set(times)), f"a fire was doubled: {times}"
    # Every second from the first fire on has its run: none was lost to the kill.
    secs = [int(t[17:19]) for t in times]
    assert all((b - a) % 60 == 1 for a, b in itertools.pairwise(secs)), times
    wait_until(lambda: all(r["status"] == "completed" for r in c.list_runs(
        schedule=sched["id"], limit=500)["items"][3:]), timeout=30, message="runs complete")
    d.stop()

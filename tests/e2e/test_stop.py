"""A graceful stop drains: running steps finish and are committed, no new step starts."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def _two_steps(client, ledger, marker) -> str:
    record = f'echo "$WFE_STEP $WFE_ATTEMPT" >> {ledger}'
    tpl = client.create_template({"name": "two", "steps": [
        {"name": "first", "run": f"{record}; while [ ! -e {marker} ]; do sleep 0.02; done"},
        {"name": "second", "run": record}]}, "application/json")
    client.publish_template(tpl["id"])
    run_id = client.start_run("two")["id"]
    wait_until(lambda: ledger.exists() and ledger.read_text(), message="the first step runs")
    return run_id


def _stop(d, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wfe", "daemon", "stop", *flags],
                            env=d.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _finish_stop(d, stopper: subprocess.Popen) -> None:
    _, err = stopper.communicate(timeout=60)
    assert stopper.returncode == 0, err
    assert d.proc.wait(30) == 0, d.log()


def test_stop_lets_the_running_step_finish_and_starts_no_new_one(daemon_factory, tmp_path):
    ledger, marker = tmp_path / "ledger", tmp_path / "go"
    d = daemon_factory(WFE_STOP_GRACE="60").start()
    run_id = _two_steps(d.client(), ledger, marker)
    stopper = _stop(d)
    wait_until(lambda: d.client().health().get("stopping"), message="the daemon drains")
    marker.touch()
    _finish_stop(d, stopper)
    assert ledger.read_text().splitlines() == ["first 1"]  # the second did not start
    d.start()
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="run completed")
    first, second = c.get_run(run_id)["steps"]
    assert [(a["attempt"], a["status"]) for a in first["attempts"]] == [(1, "succeeded")]
    assert [a["attempt"] for a in second["attempts"]] == [1]
    assert ledger.read_text().splitlines() == ["first 1", "second 1"]  # each ran once
    assert "step.interrupted" not in [e["type"] for e in c.get_run(run_id)["events"]]


@pytest.mark.parametrize("how", ["--now", "a second SIGTERM"])
def test_stop_now_interrupts_the_running_step(daemon_factory, tmp_path, how):
    ledger, marker = tmp_path / "ledger", tmp_path / "go"
    d = daemon_factory(WFE_STOP_GRACE="60").start()
    run_id = _two_steps(d.client(), ledger, marker)
    if how == "--now":
        _finish_stop(d, _stop(d, "--now"))
    else:
        d.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: d.client().health().get("stopping"), message="the daemon drains")
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(30) == 0, d.log()
    marker.touch()
    d.start()
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="run completed")
    first = c.get_run(run_id)["steps"][0]
    assert [(a["attempt"], a["status"]) for a in first["attempts"]] == [
        (1, "interrupted"), (2, "succeeded")]
    assert ledger.read_text().splitlines() == ["first 1", "first 2", "second 1"]

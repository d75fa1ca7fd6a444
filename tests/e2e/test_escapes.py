"""Processes that leave the step's session (setsid, double forks, daemons) die with the step."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conftest import wait_until
from tests.dbutil import query

pytestmark = pytest.mark.slow

# Forks twice and leaves the session; the grandchild also drops its environment, so only
# the process tree tells whose it is.
DOUBLE_FORK = """
import os, shutil, sys
sleep = shutil.which("sleep")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(sys.argv[1], "w") as f:
            f.write(str(os.getpid()))
        os.execve(sleep, ["sleep", "1000"], {})
    os._exit(0)
os.wait()
"""


def escaping_step(d, then: str) -> str:
    """A shell step that starts three escapees, waits until each wrote its pid, then ``then``."""
    files = [d / "setsid.pid", d / "fork.pid", d / "daemon.pid"]
    script = d / "double_fork.py"
    script.write_text(DOUBLE_FORK)
    wait_all = " || ".join(f"[ ! -s {f} ]" for f in files)
    return (f"setsid sleep 1000 & echo $! > {files[0]}; "
            f"( sleep 1000 & echo $! > {files[1]} ) & "
            f"{sys.executable} {script} {files[2]}; "
            f"while {wait_all}; do sleep 0.01; done; {then}")


def escapee_pids(d) -> list[int]:
    return [int((d / name).read_text()) for name in ("setsid.pid", "fork.pid", "daemon.pid")]


def gone(pid: int) -> bool:
    """Exited and reaped: not even a zombie is left."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def not_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def publish(client, step: dict) -> None:
    tpl = client.create_template({"name": "esc", "steps": [step]}, "application/json")
    client.publish_template(tpl["id"])


@pytest.mark.parametrize("then,timeout,want", [
    ("exit 0", None, "succeeded"),
    ("exit 3", None, "failed"),
    ("sleep 1000", "2s", "failed"),  # timed out
    ("sleep 1000", None, "cancelled"),
])
def test_escaped_processes_die_with_the_step(daemon, tmp_path, then, timeout, want):
    c = daemon.client()
    step = {"name": "s", "run": escaping_step(tmp_path, then)}
    if timeout:
        step["timeout"] = timeout
    publish(c, step)
    run_id = c.start_run("esc")["id"]
    wait_until(lambda: all((tmp_path / n).exists() and (tmp_path / n).read_text()
                           for n in ("setsid.pid", "fork.pid", "daemon.pid")), message="escapees")
    pids = escapee_pids(tmp_path)
    if want == "cancelled":
        c.request("POST", f"/api/v1/workflows/{run_id}/cancel", {})
    wait_until(lambda: c.get_run(run_id)["steps"][0]["status"] == want, timeout=30,
               message=f"step {want}")
    for pid in pids:
        wait_until(lambda pid=pid: gone(pid), message=f"escapee {pid} killed and reaped")


def test_a_step_may_keep_its_background_processes(daemon, tmp_path):
    c = daemon.client()
    publish(c, {"name": "s", "keep_background": True, "run": escaping_step(tmp_path, "true")})
    run_id = c.start_run("esc")["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="run completed")
    pids = escapee_pids(tmp_path)
    try:
        assert not any(not_running(pid) for pid in pids)
    finally:
        for pid in pids:
            os.kill(pid, 9)
    for pid in pids:  # the daemon reaps what it kept, once it exits
        wait_until(lambda pid=pid: gone(pid), message=f"kept {pid} reaped")


def recorded_procs(daemon) -> set[int]:
    rows = query("SELECT procs FROM step_attempts WHERE procs IS NOT NULL", daemon=daemon)
    return {pid for (procs,) in rows for pid, _ in json.loads(procs)}


def test_recovery_kills_what_escaped_the_step(daemon_factory, tmp_path):
    d = daemon_factory().start()
    c = d.client()
    publish(c, {"name": "s", "run": escaping_step(tmp_path, 'if [ "$WFE_ATTEMPT" = 1 ];'
                                                  " then sleep 1000; fi")})
    run_id = c.start_run("esc")["id"]
    wait_until(lambda: (tmp_path / "daemon.pid").exists() and (tmp_path / "daemon.pid")
               .read_text() and (tmp_path / "fork.pid").exists(), message="escapees")
    pids = escapee_pids(tmp_path)
    wait_until(lambda: set(pids) <= recorded_procs(d), message="escapees recorded")
    d.kill9()
    assert not any(not_running(pid) for pid in pids)  # they outlived their daemon
    for name in ("setsid.pid", "fork.pid", "daemon.pid"):
        (tmp_path / name).unlink()
    d.start()
    for pid in pids:
        wait_until(lambda pid=pid: not_running(pid), message=f"escapee {pid} killed at recovery")
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="run completed")
    for pid in escapee_pids(tmp_path):  # the second attempt's, killed as it succeeded
        wait_until(lambda pid=pid: gone(pid), message=f"escapee {pid} of attempt 2")

"""`wfe logs RUN STEP --item N`: a foreach item's log, against a real daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.conftest import LEAKY
from tests.conftest import wait_until
from wfe import errors

pytestmark = pytest.mark.slow

SPEC = {"name": "fan", "steps": [
    {"name": "greet", "foreach": ["ann", "bob"], "run": "echo hi $WFE_ITEM"}]}


def test_logs_of_one_item(cli, daemon):
    env, c = dict(daemon.env), daemon.client()
    c.publish_template(c.create_template(SPEC)["id"])
    run_id = c.start_run("fan", {})["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", timeout=30,
               message="the run completed")
    r = cli(env, "logs", run_id, "greet", "--item", "1")
    assert r.exit_code == 0, r.output
    assert r.stdout == "hi bob\n"
    r = cli(env, "logs", run_id, "greet", "--item", "0", "--json")
    assert [json.loads(x) for x in r.stdout.splitlines()] == [
        {"step": "greet", "item": 0, "attempt": None, "line": "hi ann"}]
    assert cli(env, "logs", run_id, "greet", "--item", "5").exit_code == errors.EXIT_NOT_FOUND
    r = cli(env, "logs", run_id, "--item", "1")
    assert r.exit_code == errors.EXIT_USAGE and "need a STEP" in r.stderr
    assert c.step_items(run_id, "greet")["total"] == 2


def retried(go) -> dict:
    """Item 1 ("bob") fails its first attempt once ``go`` exists; its retry succeeds."""
    return {"name": "fan2", "steps": [
        {"name": "greet", "foreach": ["ann", "bob"],
         "retry": {"max_attempts": 2, "initial_delay": "10ms", "jitter": "none"},
         "run": 'echo "hi $WFE_ITEM ($WFE_ATTEMPT)";'
                ' if [ "$WFE_ITEM" = bob ] && [ "$WFE_ATTEMPT" = 1 ]; then'
                f' while [ ! -e {go} ]; do sleep 0.02; done; exit 1; fi'}]}


def test_logs_follow_one_item_through_its_retries(cli, daemon, tmp_path):
    env, c = dict(daemon.env), daemon.client()
    go = tmp_path / "go"
    c.publish_template(c.create_template(retried(go))["id"])
    run_id = c.start_run("fan2", {})["id"]
    wait_until(lambda: c.step_items(run_id, "greet")["items"][1:2]
               and c.step_items(run_id, "greet")["items"][1]["status"] == "running",
               timeout=30, message="item 1 started")
    full = {k: v for k, v in os.environ.items() if k not in LEAKY} | {"NO_COLOR": "1"} | env
    proc = subprocess.Popen([sys.executable, "-m", "wfe", "logs", run_id, "greet", "--item",
                             "1", "-f", "--json"], env=full, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # it follows item 1's first attempt, live
        go.touch()
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert [json.loads(x) for x in (first + rest).splitlines()] == [
        {"step": "greet", "item": 1, "attempt": 1, "line": "hi bob (1)"},
        {"step": "greet", "item": 1, "attempt": 2, "line": "hi bob (2)"}]
    r = cli(env, "logs", run_id, "greet", "--item", "0", "-f")
    assert r.exit_code == 0 and r.stdout == "hi ann (1)\n", r.output

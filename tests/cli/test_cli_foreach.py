"""`wfe logs RUN STEP --item N`: a foreach item's log, against a real daemon."""

from __future__ import annotations

import json

import pytest

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

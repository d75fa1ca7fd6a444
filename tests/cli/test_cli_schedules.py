"""wfe schedule ...: add, ls, show, pause, resume, trigger, rm, and wfe ls --schedule."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.slow


def run_json(cli, env, *args, code: int = 0):
    r = cli(env, *args)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def test_schedule_commands(cli, daemon, tmp_path):
    env = dict(daemon.env)
    c = daemon.client()
    tpl = c.create_template({"name": "nightly", "variables": {"n": {"type": "integer"}},
                             "steps": [{"name": "a", "set": {"x": 1}}]}, "application/json")
    c.publish_template(tpl["id"])
    sched = run_json(cli, env, "schedule", "add", "nightly", "--cron", "0 3 * * *", "--tz",
                     "Europe/Paris", "-i", "n=5", "--name", "n3", "--json")
    assert sched["input"] == {"n": 5} and sched["tz"] == "Europe/Paris"
    assert cli(env, "schedule", "ls", "-q").stdout.split() == [sched["id"]]
    assert "n3" in cli(env, "schedule", "ls").stdout
    assert run_json(cli, env, "schedule", "pause", sched["id"], "--json")["paused"]
    assert not run_json(cli, env, "schedule", "resume", sched["id"], "--json")["paused"]
    run = run_json(cli, env, "schedule", "trigger", sched["id"], "--json")
    listed = run_json(cli, env, "ls", "--schedule", sched["id"], "--json")
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    wait_until(lambda: run_json(cli, env, "schedule", "show", sched["id"], "--json")
               ["last_run_status"] == "completed")
    bad = cli(env, "schedule", "add", "nightly", "--every", "0.1s")
    assert bad.exit_code != 0 and bad.output.count("error:") == 1
    assert run_json(cli, env, "schedule", "rm", sched["id"], "--json") == {"deleted": sched["id"]}

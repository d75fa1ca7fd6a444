"""-o/--output json|jsonl|yaml|wide|id and --field NAME on list and show commands, beside
the older --json and -q."""

from __future__ import annotations

import json

import pytest
import yaml

from wfe import errors
from wfe.cli.output import Output, pick

DOC = {"id": "r1", "status": "completed", "template": {"name": "t", "version": 2},
       "steps": [{"name": "a"}, {"name": "b"}], "reason": None}


@pytest.mark.parametrize("path, value", [
    ("status", "completed"), ("template.name", "t"), ("steps.1.name", "b"),
    ("steps.-1.name", "b"), ("reason", None), ("template", {"name": "t", "version": 2}),
])  # fmt: skip
def test_pick_a_dotted_path(path, value):
    assert pick(DOC, path) == value


@pytest.mark.parametrize("path", ["nope", "template.nope", "steps.2.name", "status.x"])
def test_pick_names_what_there_is_when_missing(path):
    with pytest.raises(errors.UsageError, match="no field") as e:
        pick(DOC, path)
    assert "id, reason, status, steps, template" in str(e.value)


@pytest.mark.parametrize("kwargs, problem", [
    ({"output": "xml"}, "must be one of: json, jsonl, yaml, wide, id"),
    ({"as_json": True, "quiet": True}, "not id and json"),
    ({"as_json": True, "output": "yaml"}, "not json and yaml"),
    ({"quiet": True, "field": "id"}, "--field goes alone"),
])  # fmt: skip
def test_conflicting_formats_are_usage_errors(kwargs, problem):
    with pytest.raises(errors.UsageError, match=problem):
        Output.of(**kwargs)


def test_the_old_flags_are_formats():
    assert Output.of(as_json=True) == Output("json")
    assert Output.of(quiet=True) == Output("id")
    assert Output.of(as_json=True, output="json") == Output("json")
    assert Output.of(field="a.b") == Output(None, "a.b") and Output.of(field="a").machine


def test_a_bad_format_fails_before_the_daemon_is_asked(cli, offline_env):
    r = cli(offline_env, "ls", "-o", "xml")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: -o/--output must")


@pytest.mark.slow
def test_every_format_against_a_daemon(cli, daemon):
    env = dict(daemon.env)
    c = daemon.client()
    c.publish_template(c.create_template({"name": "fmt", "steps": [
        {"name": "a", "set": {"x": 1}}]})["id"])
    runs = [c.start_run("fmt")["id"] for _ in range(2)]

    def ok(*args: str) -> str:
        r = cli(env, *args)
        assert r.exit_code == 0, (args, r.output)
        return r.stdout

    page = json.loads(ok("ls", "--json"))
    assert json.loads(ok("ls", "-o", "json")) == page
    assert [json.loads(x)["id"] for x in ok("ls", "-o", "jsonl").splitlines()] == runs[::-1]
    assert yaml.safe_load(ok("ls", "-o", "yaml"))["items"][0]["id"] == runs[1]
    assert ok("ls", "-o", "id").split() == ok("ls", "-q").split() == runs[::-1]
    assert ok("ls", "--field", "template.name").split() == ["fmt", "fmt"]
    wide = ok("ls", "-o", "wide").splitlines()
    assert wide[0].split()[:3] == ["ID", "TEMPLATE", "STATUS"] and wide[1].startswith(runs[1])
    run = runs[0]
    assert ok("show", run, "--field", "steps.0.name") == "a\n"
    assert json.loads(ok("show", run, "--field", "template"))["name"] == "fmt"  # as JSON
    assert ok("show", run, "-o", "id") == run + "\n"
    assert json.loads(ok("show", run, "-o", "jsonl"))["id"] == run
    assert yaml.safe_load(ok("show", run, "-o", "yaml"))["id"] == run
    missing = cli(env, "show", run, "--field", "nope")
    assert missing.exit_code == errors.EXIT_USAGE and "no field 'nope'" in missing.stderr
    assert ok("template", "ls", "-o", "id").split() == [c.get_template("fmt")["id"]]
    assert ok("template", "show", "fmt", "--field", "steps.0.name") == "a\n"
    assert ok("whoami", "--field", "role") == "admin\n"
    assert ok("user", "ls", "--field", "name").split() == ["root"]
    tokens = [json.loads(x) for x in ok("token", "ls", "-o", "jsonl").splitlines()]
    assert tokens and all("token" not in t and t["id"] for t in tokens)
    assert ok("approvals", "-o", "id") == ""

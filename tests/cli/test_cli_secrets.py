"""wfe secret ... and wfe var ...: values in from stdin or a file (never echoed nor shown
again), listings, removal, and the admin-only global scope, against a real daemon."""

from __future__ import annotations

import json

import pytest

from wfe import errors

pytestmark = pytest.mark.slow
VALUE = "s3cr3t-cli-value"


def test_secret_and_var_commands(cli, daemon, tmp_path):
    env = dict(daemon.env)
    r = cli(env, "secret", "set", "API_TOKEN", input=VALUE + "\n")  # stdin: not a terminal
    assert r.exit_code == 0, r.output
    assert VALUE not in r.output and "set secret API_TOKEN (user)" in r.stderr
    f = tmp_path / "deploy.key"
    f.write_text("from-a-file\n")
    r = cli(env, "secret", "set", "DEPLOY_KEY", "--global", "--from-file", str(f), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["scope"] == "global" and "from-a-file" not in r.stdout
    listed = cli(env, "secret", "ls")
    assert listed.exit_code == 0 and "API_TOKEN" in listed.stdout and "DEPLOY_KEY" in listed.stdout
    assert VALUE not in listed.stdout and "from-a-file" not in listed.stdout
    names = cli(env, "secret", "ls", "-q").stdout.split()
    assert names == ["API_TOKEN", "DEPLOY_KEY"]

    r = cli(env, "var", "set", "REGION", "eu-west-1")
    assert r.exit_code == 0, r.output
    assert "eu-west-1" in cli(env, "var", "ls").stdout

    assert cli(env, "secret", "rm", "API_TOKEN").exit_code == 0
    r = cli(env, "secret", "rm", "API_TOKEN")
    assert r.exit_code == errors.NotFound.exit_code and r.stderr.startswith("error: ")
    assert cli(env, "secret", "rm", "DEPLOY_KEY", "--global").exit_code == 0
    assert cli(env, "var", "rm", "REGION").exit_code == 0
    assert cli(env, "secret", "set", "EMPTY", input="").exit_code != 0

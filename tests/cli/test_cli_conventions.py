"""Conventions every command shares: the daemon started on demand, the version warning,
colour only where it belongs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.cli.conftest import closed_port
from tests.cli.ptyrun import PtyWfe
from wfe import errors

COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-7]|9[0-7]|38;5;\d+)m")


@pytest.mark.slow
def test_the_daemon_starts_on_demand_once(cli_process, tmp_path):
    env = {"WFE_HOME": str(tmp_path / "home"), "WFE_PORT": "0"}
    try:
        first = cli_process(env, "ls", "--json")
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["items"] == []
        note = first.stderr.splitlines()
        assert len(note) == 1 and note[0].startswith("started the wfe daemon at http://127.0.0.1:")
        second = cli_process(env, "ls", "--json")
        assert second.returncode == 0 and second.stderr == ""
    finally:
        assert cli_process(env, "daemon", "stop").returncode == 0


def test_no_autostart_when_asked_not_to(cli, tmp_path):
    env = {"WFE_HOME": str(tmp_path / "home"), "WFE_NO_AUTOSTART": "1"}
    r = cli(env, "ls")
    assert r.exit_code == errors.EXIT_UNREACHABLE and "not running" in r.stderr


def test_version_mismatch_is_said_once(cli, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # A daemon.json naming a live process (this one) of another version, on a dead port.
    (home / "daemon.json").write_text(json.dumps({
        "pid": os.getpid(), "url": f"http://127.0.0.1:{closed_port()}", "version": "0.0.1",
        "started_at": "2026-01-01T00:00:00Z"}))
    env = {"WFE_HOME": str(home), "WFE_NO_AUTOSTART": "1"}
    first = cli(env, "ls")
    assert first.exit_code == errors.EXIT_UNREACHABLE
    assert first.stderr.startswith("warning: the daemon runs wfe 0.0.1, this CLI is wfe ")
    second = cli(env, "ls")
    assert "warning" not in second.stderr
    assert Path(home / "version-warned").exists()


@pytest.mark.slow
def test_colour_on_a_terminal_unless_no_color(daemon):
    c = daemon.client()
    spec = {"name": "x", "steps": [{"name": "a", "run": "true"}]}
    c.publish_template(c.create_template(spec)["id"])
    run_id = c.start_run("x")["id"]
    env = dict(daemon.env)
    term = PtyWfe(env, "wait", run_id)
    assert term.finish() == 0
    term = PtyWfe(env, "ls")
    assert term.finish() == 0
    assert COLOUR.search(term.raw.decode()), term.raw
    for extra_env, args in (({}, ("--no-color", "ls")), ({"NO_COLOR": "1"}, ("ls",))):
        term = PtyWfe(env | extra_env, *args)
        assert term.finish() == 0
        raw = term.raw.decode()
        assert run_id in term.screen() and not COLOUR.search(raw), raw


def test_json_of_the_small_commands(cli, offline_env, tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("name: tiny\nsteps:\n  - name: a\n    run: 'true'\n")
    r = cli(offline_env, "template", "validate", str(f), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"file": str(f), "valid": True,
                                                         "name": "tiny", "warnings": [],
                                                         "errors": []}
    r = cli(offline_env | {"WFE_TOKEN": "wfe_x"}, "auth", "token", "--json")
    assert json.loads(r.stdout) == {"token": "wfe_x"}
    r = cli(offline_env, "daemon", "stop", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"stopped": False, "pid": None}
    r = cli(offline_env, "callback", "abcd", "s", "--data", "{not json")
    assert r.exit_code == errors.EXIT_USAGE and "--data is not JSON" in r.stderr

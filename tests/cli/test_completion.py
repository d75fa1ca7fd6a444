"""Completion scripts: the checked-in ones are what the code generates; run ids, step and
template names complete dynamically, from the daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wfe import errors
from wfe.cli import completion

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("shell", completion.SHELLS)
def test_checked_in_scripts_are_current(cli, offline_env, shell):
    """Regenerate each script and compare (fix: python -m wfe completion SHELL >
    completions/FILE, for the file named in wfe.cli.completion.FILES)."""
    expected = (ROOT / "completions" / completion.FILES[shell]).read_text()
    assert completion.script(shell) == expected
    r = cli(offline_env, "completion", shell)
    assert r.exit_code == 0 and r.stdout == expected
    assert "_WFE_COMPLETE" in expected


def test_unknown_shell_is_a_usage_error(cli, offline_env):
    r = cli(offline_env, "completion", "tcsh")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: unknown shell")


def complete(env: dict, shell: str, words: str) -> list[str]:
    """What ``wfe`` answers a shell asking to complete ``words`` (the cursor at the end)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")} | env
    if shell == "bash":
        parts = words.split(" ")
        full |= {"_WFE_COMPLETE": "complete_bash", "COMP_WORDS": words,
                 "COMP_CWORD": str(len(parts) - 1)}
    else:
        full |= {"_WFE_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": words,
                 "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    out = subprocess.run([sys.executable, "-m", "wfe"], env=full, capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


def test_commands_complete_without_a_daemon(offline_env):
    assert complete(offline_env, "bash", "wfe wa") == ["watch", "wait"]
    assert complete(offline_env, "bash", "wfe show ") == []  # no daemon: nothing, no error


@pytest.mark.slow
def test_run_ids_steps_and_templates_complete(daemon):
    c = daemon.client()
    spec = {"name": "hello", "description": "says hi",
            "steps": [{"name": "greet", "run": "echo hi"}, {"name": "bye", "run": "true"}]}
    c.publish_template(c.create_template(spec)["id"])
    run_id = c.start_run("hello")["id"]
    env = dict(daemon.env)
    assert set(complete(env, "bash", "wfe show ")) == {run_id, "@last"}
    assert complete(env, "bash", f"wfe watch {run_id[:5]}") == [run_id]
    assert complete(env, "bash", "wfe start ") == ["hello"]
    assert complete(env, "bash", f"wfe logs {run_id} ") == ["greet", "bye"]
    zsh = complete(env, "zsh", f"wfe logs {run_id} g")
    assert '"greet":"run succeeded"' in zsh[0] and '"bye"' not in zsh[0], zsh
    fish = complete(env, "fish", "wfe show @")
    assert fish and fish[0].startswith("@last")

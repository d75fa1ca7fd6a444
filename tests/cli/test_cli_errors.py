"""Errors as people and scripts meet them: one line on stderr, usage errors without a box
when no person reads stderr, help without Python types, the root's flags anywhere."""

from __future__ import annotations

import pytest
import typer.main

from tests.cli.ptyrun import PtyWfe
from wfe import errors
from wfe.cli import boundary
from wfe.cli.main import app


@pytest.mark.parametrize("args, says", [
    (["show"], "error: Missing argument 'RUN'. (see: wfe show -h)"),
    (["ls", "--bogus"], "error: No such option: --bogus (see: wfe ls -h)"),
    (["lss"], "error: No such command 'lss'. Did you mean 'ls'? (see: wfe -h)"),
    (["ls", "--limit", "many"], "error: Invalid value for '--limit': 'many' is not a valid"
                                " integer. (see: wfe ls -h)"),
])  # fmt: skip
def test_usage_errors_are_one_line_off_a_terminal(cli, offline_env, args, says):
    r = cli(offline_env, *args)
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr == says + "\n" and r.stdout == ""


def test_a_usage_error_at_a_terminal_keeps_typers_box(offline_env):
    term = PtyWfe(offline_env, "show")  # stdout and stderr both the terminal
    assert term.finish() == errors.EXIT_USAGE
    screen = term.screen()
    assert "Missing argument 'RUN'" in screen and "Usage: wfe show" in screen
    assert "╭" in screen or "+-" in screen


def test_help_shows_no_python_types(cli, offline_env):
    """A plain flag takes no value: nothing after it; others say TEXT / INTEGER as click."""
    for args in (["ls", "--help"], ["--help"], ["template", "show", "-h"]):
        r = cli(offline_env, *args)
        assert r.exit_code == 0
        for word in ("<bool>", "<str>", "<int", "<float"):
            assert word not in r.stdout, (args, r.stdout)
    text = cli(offline_env, "ls", "--help").stdout
    assert "--status TEXT" in text and "--limit INTEGER" in text and "[x>=1]" in text
    [line] = [x for x in text.splitlines() if "--json" in x]
    assert line.split()[:2] == ["--json", "Print"], line


def test_help_at_a_terminal_shows_no_bool(offline_env):
    term = PtyWfe(offline_env, "ls", "--help")
    assert term.finish() == 0
    assert "--json" in term.screen() and "<bool>" not in term.screen(), term.screen()


def every_command(group=None, path=()):
    group = group or typer.main.get_command(app)
    for name, cmd in group.commands.items():
        if getattr(cmd, "commands", None):
            yield from every_command(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_no_option_anywhere_shows_bool_in_its_help(cli, offline_env):
    for path, cmd in every_command():
        for p in cmd.params:
            if getattr(p, "is_flag", False):
                assert p.display_type_rich(None) is None, (path, p.name)


@pytest.mark.parametrize("args", [["ls", "--debug"], ["ls", "--no-color", "--debug"],
                                  ["--debug", "ls"]])
def test_the_roots_flags_after_the_subcommand(cli, offline_env, args):
    r = cli(offline_env, *args)
    assert isinstance(r.exception, errors.DaemonUnreachable)  # --debug re-raised it


def test_no_color_after_the_subcommand(cli, offline_env):
    r = cli(offline_env, "ls", "--no-color")
    assert r.exit_code == errors.EXIT_UNREACHABLE and r.stderr.startswith("error: no daemon")


def test_hoisting_stops_at_double_dash():
    got = boundary.hoist_global_flags(["callback", "R", "s", "--debug", "--", "--no-color"])
    assert got == ["--debug", "callback", "R", "s", "--", "--no-color"]

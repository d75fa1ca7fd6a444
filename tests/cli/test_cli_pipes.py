"""A reader that leaves early, through real pipes: ``wfe events -f --json | head -3``,
``wfe ls | head -1``, ``wfe --help | head``. Every command ends quietly with 141 (what a
shell reports for `git log | head -1`), never with an error line or a traceback."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

import pytest

from tests.cli.conftest import LEAKY
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

BROKEN_PIPE = 141


def spawn(env: dict, *args: str, stdout) -> subprocess.Popen:
    # No PYTHONUNBUFFERED: a user's shell has none, and buffering is where pipes bite.
    leaky = ({*LEAKY} - env.keys()) | {"PYTHONUNBUFFERED"}
    full = {k: v for k, v in (os.environ | env).items() if k not in leaky} | {"NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "wfe", *args], env=full, stdout=stdout,
                            stderr=subprocess.PIPE, text=True)


def ended_quietly(p: subprocess.Popen) -> None:
    try:
        code = p.wait(30)
        err = p.stderr.read()
    finally:
        p.stderr.close()
    assert (code, err) == (BROKEN_PIPE, ""), (p.args, code, err)


@pytest.fixture
def gated(daemon) -> tuple[dict, str]:
    """The daemon's env, and a run that printed a lot and now waits for an approval: its
    followers then have nothing more to write, for as long as nobody decides."""
    c = daemon.client()
    spec = {"name": "gated", "steps": [{"name": "loud", "run": "seq 1 100000"},
                                       {"name": "gate", "approval": {}}]}
    c.publish_template(c.create_template(spec)["id"])
    run_id = c.start_run("gated")["id"]
    wait_until(lambda: c.get_run(run_id)["status"] == "waiting_approval", 30)
    return dict(daemon.env), run_id


def read_then_leave(env: dict, lines: int, *args: str) -> None:
    """`wfe ARGS | head -LINES`: the reader takes its lines and closes the pipe."""
    read, write = os.pipe()
    fcntl.fcntl(read, fcntl.F_SETPIPE_SZ, 4096)  # as small as pipes get, whatever the default
    with os.fdopen(write, "w") as into:
        p = spawn(env, *args, stdout=into)
    with os.fdopen(read) as head:
        got = [head.readline() for _ in range(lines)]
    assert all(got), (args, got)
    ended_quietly(p)


@pytest.mark.parametrize("args", [("events", "{run}", "-f", "--json"), ("watch", "{run}")],
                         ids=["events -f --json", "watch"])
def test_a_follower_whose_reader_left_ends_at_once(gated, args):
    """`wfe events RUN -f --json | head -3` on a run waiting for an approval: the follower
    has nothing more to write, maybe for hours. Like `tail -f | head`, it notices the reader
    leaving without waiting for a next write that may never come."""
    env, run_id = gated
    read_then_leave(env, 3, *(a.format(run=run_id) for a in args))


def test_a_follower_with_nothing_to_say_into_a_closed_pipe(gated):
    """`wfe events -f | true`: no event comes at all; the follower still ends at once."""
    env, _ = gated
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        p = spawn(env, "events", "-f", stdout=closed)
    ended_quietly(p)


def commands(run: str) -> list[tuple[str, ...]]:
    """A command of every kind that writes to stdout without changing anything."""
    return [("ls",), ("ls", "--json"), ("ls", "-q"), ("show", run), ("show", run, "--json"),
            ("events", run), ("events", run, "--json"), ("logs", run), ("logs", run, "--json"),
            ("approvals",), ("snapshots", run), ("template", "ls"), ("template", "show",
            "gated"), ("token", "ls"), ("user", "ls"), ("audit", "verify"), ("whoami",),
            ("daemon", "status"), ("--help",), ("--version",), ("ls", "--help"),
            ("template",), ("completion", "bash")]  # fmt: skip


def test_every_command_into_a_closed_pipe_ends_quietly(gated):
    """`wfe ... | true`: the reader is gone before the first write."""
    env, run_id = gated
    for args in commands(run_id):
        read, write = os.pipe()
        os.close(read)
        with os.fdopen(write, "w") as closed:
            p = spawn(env, *args, stdout=closed)
        ended_quietly(p)


def test_a_long_listing_read_in_part_ends_quietly(gated):
    env, run_id = gated
    read_then_leave(env, 1, "logs", run_id, "loud")  # 100000 lines: far more than a pipe holds
    read_then_leave(env, 2, "logs", run_id, "--json")

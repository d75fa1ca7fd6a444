"""Rough edges a newcomer meets, against a real daemon process: closed pipes, interleaved
event streams, run ids in ``audit verify``, list filters, step names, bad settings."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import subprocess
import sys
import threading

import pytest

from tests.cli.conftest import LEAKY
from tests.conftest import wait_until
from wfe import errors

pytestmark = pytest.mark.slow

BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `git log | head -1`


@pytest.fixture
def env(daemon) -> dict[str, str]:
    return {k: v for k, v in daemon.env.items() if k != "PYTHONUNBUFFERED"}


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def publish(c, spec: dict) -> None:
    c.publish_template(c.create_template(spec)["id"])


def finished(c, run_id: str) -> dict:
    return wait_until(lambda: (r := c.get_run(run_id))["status"] in (
        "completed", "failed") and r, message="the run to end")


def popen(env: dict, *args: str, stdout) -> subprocess.Popen:
    # Unbuffered, Python drops what a short write to a closing pipe did not take, silently:
    # a user's shell has no PYTHONUNBUFFERED, and neither has this wfe.
    leaky = (*LEAKY, "PYTHONUNBUFFERED")
    full = {k: v for k, v in os.environ.items() if k not in leaky} | {"NO_COLOR": "1"} | env
    return subprocess.Popen([sys.executable, "-m", "wfe", *args], env=full, stdout=stdout,
                            stderr=subprocess.PIPE, text=True)


# -- a reader that leaves: `wfe ... | head -1` -----------------------------------------------


def test_a_closed_pipe_ends_quietly(env, daemon):
    c = daemon.client()
    publish(c, {"name": "loud", "steps": [{"name": "s", "run": "seq 1 100000"}]})
    run = c.start_run("loud")
    finished(c, run["id"])
    # `wfe logs RUN s | head -1`: far more than the pipe holds, the reader gone after a line.
    read, write = os.pipe()
    fcntl.fcntl(read, fcntl.F_SETPIPE_SZ, 4096)  # as small as pipes get, whatever the default
    with os.fdopen(write, "w") as into:
        p = popen(env, "logs", run["id"], "s", stdout=into)
    with os.fdopen(read) as head:
        assert head.readline() == "1\n"
    assert p.wait(30) == BROKEN_PIPE
    assert p.stderr.read() == ""
    p.stderr.close()
    # `wfe ls | true`: the reader is gone before the first write.
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        p = popen(env, "ls", stdout=closed)
    assert p.wait(30) == BROKEN_PIPE
    assert p.stderr.read() == ""
    p.stderr.close()


# -- wfe events -f across runs ---------------------------------------------------------------


def test_events_of_all_runs_name_their_run(env, daemon):
    c = daemon.client()
    publish(c, {"name": "two", "steps": [{"name": "s", "set": {"a": 1}}]})
    follower = popen(env, "events", "-f", stdout=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in follower.stdout], daemon=True).start()
    seen: list[str] = []
    runs: list[str] = []

    def two_runs_shown():
        # The stream starts at the present: runs started before it connected are not in it.
        while not lines.empty():
            seen.append(lines.get())
        shown = [r for r in runs if any(r[:8] in x and "run.completed" in x for x in seen)]
        if len(shown) < 2:
            runs.append(c.start_run("two")["id"])
        return shown[:2] if len(shown) >= 2 else None

    try:
        shown = wait_until(two_runs_shown, interval=0.2, message="two runs' events")
    finally:
        follower.terminate()
        follower.wait(10)
        follower.stdout.close()
        follower.stderr.close()
    for run_id in shown:
        [done] = [x for x in seen if run_id[:8] in x and "run.completed" in x]
        assert done.split()[1] == run_id[:8]  # AT, then RUN: the second column


# -- run ids wherever a run is taken ---------------------------------------------------------


def test_audit_verify_takes_a_prefix_and_last(env, cli, daemon):
    c = daemon.client()
    publish(c, {"name": "a", "steps": [{"name": "s", "run": "true"}]})
    run = c.start_run("a")
    finished(c, run["id"])
    for ref in (run["id"][:6], "@last"):
        out = ok(cli(env, "audit", "verify", ref)).stdout
        assert out.startswith(f"{run['id']}: ok"), ref
    assert json.loads(ok(cli(env, "audit", "verify", "@last", "--json")).stdout)["ok"]
    assert cli(env, "audit", "verify", "ffffffff").exit_code == errors.EXIT_NOT_FOUND


# -- wfe ls: filters and the STEP column; an HTTP step's answer ------------------------------


def test_ls_filters_by_template_and_since(env, cli, daemon):
    c = daemon.client()
    publish(c, {"name": "one", "steps": [{"name": "wait-here", "approval": {}}]})
    publish(c, {"name": "other", "steps": [{"name": "s", "set": {"a": 1}}]})
    mine = c.start_run("one")["id"]
    c.start_run("other")
    wait_until(lambda: c.get_run(mine)["status"] == "waiting_approval")
    page = json.loads(ok(cli(env, "ls", "--template", "one", "--json")).stdout)
    assert [r["id"] for r in page["items"]] == [mine] and page["total"] == 1
    assert ok(cli(env, "ls", "--template", "one", "--since", "1h", "-q")).stdout.split() == [mine]
    assert ok(cli(env, "ls", "--since", "2999-01-01", "-q")).stdout == ""
    assert len(ok(cli(env, "ls", "--since", "2000-01-01T00:00:00Z", "-q")).stdout.split()) == 2
    table = ok(cli(env, "ls", "--template", "one")).stdout
    [row] = [line for line in table.splitlines() if line.startswith(mine)]
    assert "wait-here" in row.split()  # the step's name, not its index
    bad = cli(env, "ls", "--since", "last tuesday")
    assert bad.exit_code == errors.EXIT_USAGE and bad.stderr.startswith("error: --since")


def test_an_http_step_shows_its_status_as_http(env, cli, daemon):
    c = daemon.client()
    publish(c, {"name": "ping", "steps": [{"name": "health", "http": {
        "url": daemon.url + "/api/v1/health"}}]})
    run = c.start_run("ping")
    assert finished(c, run["id"])["status"] == "completed"
    shown = ok(cli(env, "show", run["id"])).stdout
    [row] = [line for line in shown.splitlines() if line.split()[1:2] == ["health"]]
    assert "HTTP 200" in row and "exit 200" not in row


# -- settings: a typo stops the daemon, and says where ----------------------------------------


@pytest.mark.parametrize("toml, env_extra, message", [
    ("prot = 7391\n", {}, "unknown setting 'prot' (did you mean 'port'?)"),
    ("cancel_grace = \"soon\"\n", {}, "cancel_grace: expected a number, got 'soon'"),
    ("", {"WFE_MAX_CONCURRENT_STEPS": "lots"}, "WFE_MAX_CONCURRENT_STEPS: expected an integer"),
    ("webhook_allow_private = \"maybe\"\n", {}, "webhook_allow_private: expected a boolean"),
])
def test_daemon_start_refuses_bad_settings(cli_process, tmp_path, toml, env_extra, message):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(toml)
    env = {"WFE_HOME": str(home), "WFE_NO_AUTOSTART": "1", **env_extra}
    p = cli_process(env, "daemon", "start")
    assert p.returncode == errors.EXIT_USAGE, p.stderr
    assert p.stderr.startswith("error: ") and message in p.stderr
    assert p.stderr.count("\n") == 1 and p.stdout == ""
    # The daemon itself refuses too (started by a supervisor, not by the CLI).
    d = subprocess.run([sys.executable, "-m", "wfe.daemon", "--port", "0"], capture_output=True,
                       text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if k not in LEAKY} | env)
    assert d.returncode == 78 and message in d.stderr and "Traceback" not in d.stderr

"""The CLI against a real daemon process: every command, its JSON, its exit codes."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from wfe import errors

pytestmark = pytest.mark.slow

HELLO = """\
name: hello
description: says hello
variables:
  who: {type: string, default: world}
  n: {type: integer, default: 1}
  loud: {type: boolean, default: false}
steps:
  - name: greet
    run: printf 'greeting=hello %s\\n' ${{ input.who }} >> "$WFE_OUTPUT"
  - name: done
    set: {n: "${{ input.n }}"}
"""

# Sleeps long enough to be paused, resumed and cancelled while it runs.
SLOW = {"name": "slow", "variables": {}, "steps": [{"name": "nap", "sleep": "60s"}]}

TERMINAL = ("completed", "failed", "cancelled")


@pytest.fixture
def env(daemon) -> dict[str, str]:
    return dict(daemon.env)


def ok(result):
    """The result, once checked to have succeeded with no traceback."""
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    return result


def as_json(result):
    return json.loads(ok(result).stdout)


def wait_until(pred, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def wait_terminal(cli, env, run_id, timeout=20.0) -> dict:
    def done():
        run = as_json(cli(env, "show", run_id, "--json"))
        return run if run["status"] in TERMINAL else None

    return wait_until(done, timeout)


@pytest.fixture
def hello(cli, env, tmp_path) -> dict:
    f = tmp_path / "hello.yaml"
    f.write_text(HELLO)
    return as_json(cli(env, "template", "create", str(f), "--publish", "--json"))


@pytest.fixture
def slow(cli, env, tmp_path) -> dict:
    f = tmp_path / "slow.json"
    f.write_text(json.dumps(SLOW))
    return as_json(cli(env, "template", "create", str(f), "--publish", "--json"))


# -- templates -----------------------------------------------------------------------------


def test_template_create_publish_ls_show(cli, env, tmp_path):
    f = tmp_path / "hello.yaml"
    f.write_text(HELLO)
    draft = as_json(cli(env, "template", "create", str(f), "--json"))
    assert (draft["name"], draft["status"]) == ("hello", "draft")
    r = ok(cli(env, "template", "publish", f"hello@{draft['version']}"))
    assert "published" in r.stdout and draft["id"] in r.stdout
    # A .json file goes as JSON and makes the next version.
    j = tmp_path / "hello.json"
    import yaml

    j.write_text(json.dumps(yaml.safe_load(HELLO)))
    second = as_json(cli(env, "template", "create", str(j), "--json"))
    assert second["version"] == draft["version"] + 1
    published = as_json(cli(env, "template", "publish", second["id"], "--json"))
    assert published["status"] == "published"

    listing = as_json(cli(env, "template", "ls", "--name", "hello", "--json"))
    assert {t["id"] for t in listing["items"]} >= {draft["id"], second["id"]}
    assert as_json(cli(env, "template", "ls", "--status", "draft", "--json"))["items"] == []
    table = ok(cli(env, "template", "ls")).stdout
    assert "hello" in table and "published" in table

    shown = as_json(cli(env, "template", "show", "hello", "--json"))
    assert shown["id"] == second["id"]
    text = ok(cli(env, "template", "show", f"hello@{draft['version']}")).stdout
    assert "greet" in text and "who" in text


DIAMOND = {"name": "diamond", "steps": [
    {"name": "build", "run": "echo built"},
    {"name": "test-a", "run": "echo a", "needs": ["build"]},
    {"name": "test_b", "set": {"b": "1"}, "needs": ["build"]},
    {"name": "ship", "set": {"ok": "yes"}, "needs": ["test-a", "test_b"]},
]}


@pytest.fixture
def diamond(cli, env, tmp_path) -> dict:
    f = tmp_path / "diamond.json"
    f.write_text(json.dumps(DIAMOND))
    return as_json(cli(env, "template", "create", str(f), "--publish", "--json"))


def test_template_show_graph_and_dot(cli, env, diamond, hello):
    lines = ok(cli(env, "template", "show", "diamond", "--graph")).stdout.splitlines()
    assert lines == ["build  run", "├─ test-a  run", "└─ test_b  set", "ship  set"]
    dot = ok(cli(env, "template", "show", "diamond", "--dot")).stdout
    assert dot.startswith('digraph "diamond" {') and dot.rstrip().endswith("}")
    assert '"test_b" [label="test_b\\nset"];' in dot and dot.count("->") == 4
    assert '"test_b" -> "ship";' in dot and '"build" -> "test-a";' in dot
    # A list of steps without needs is a chain: each after the one before it.
    chain = ok(cli(env, "template", "show", "hello", "--dot")).stdout
    assert '"greet" -> "done";' in chain and chain.count("->") == 1
    assert ok(cli(env, "template", "show", "hello", "--graph")).stdout.splitlines() == [
        "greet  run", "done  set"]
    r = cli(env, "template", "show", "diamond", "--graph", "--json")
    assert r.exit_code == errors.EXIT_USAGE and "one of --json, --graph" in r.stderr


def test_show_draws_a_graph_run(cli, env, diamond):
    run = as_json(cli(env, "start", "diamond", "--json"))
    assert wait_terminal(cli, env, run["id"])["status"] == "completed"
    text = ok(cli(env, "show", run["id"])).stdout
    assert "├ test-a" in text and "└ test_b" in text and "NEEDS" in text
    assert any(ln.split()[:2] == ["3", "ship"] and "test-a, test_b" in ln
               for ln in text.splitlines()), text


def test_template_create_from_stdin_and_publish_twice(cli, env):
    t = as_json(cli(env, "template", "create", "-", "--publish", "--json", input=HELLO))
    assert t["status"] == "published"
    r = cli(env, "template", "publish", t["id"])
    assert r.exit_code == errors.EXIT_CONFLICT and r.stderr.startswith("error: ")


def test_template_create_invalid_shows_paths(cli, env, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: ok\nsteps:\n  - name: x\n    run: echo\n    sleep: 1s\n  - run: true\n")
    r = cli(env, "template", "create", str(f))
    assert r.exit_code == errors.EXIT_USAGE
    [line] = r.stderr.splitlines()  # one line: how many, and the first
    assert line.startswith("error: ") and "problems, the first: steps[0]" in line, line
    assert "--debug or --json lists them all" in line
    for flag in ("--json", "--debug"):  # each problem on a line of its own
        r = cli(env, "template", "create", str(f), flag)
        first, *details = r.stderr.splitlines()
        assert first.startswith("error: ") and len(details) >= 2, r.stderr
        assert details[0].startswith("  steps[0]") and details[-1].startswith("  steps[1]")


# -- runs ----------------------------------------------------------------------------------


def test_start_with_inputs_and_input_file(cli, env, hello, tmp_path):
    run = as_json(cli(env, "start", "hello", "-i", "who=Ada", "-i", "n=3", "--json"))
    assert run["input"]["who"] == "Ada" and run["input"]["n"] == 3
    assert run["trigger_type"] == "cli"
    f = tmp_path / "in.yaml"
    f.write_text("who: Grace\nn: 7\n")
    run2 = as_json(cli(env, "start", hello["id"], "--input-file", str(f), "-i", "n=8", "--json"))
    assert (run2["input"]["who"], run2["input"]["n"]) == ("Grace", 8)
    j = tmp_path / "in.json"
    j.write_text(json.dumps({"who": "Linus", "loud": True}))
    run3 = as_json(cli(env, "start", f"hello@{hello['version']}", "--input-file", str(j), "--json"))
    assert run3["input"]["loud"] is True
    done = wait_terminal(cli, env, run["id"])
    assert done["status"] == "completed", done
    greet = next(s for s in done["steps"] if s["name"] == "greet")
    assert greet["output"]["greeting"] == "hello Ada"


def test_start_prints_status_line(cli, env, hello):
    r = ok(cli(env, "start", "hello"))
    assert r.stdout.startswith("run ") and " is " in r.stdout


def test_start_bad_input_is_422(cli, env, hello):
    r = cli(env, "start", "hello", "-i", "n=three")
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr.startswith("error: ") and "n" in r.stderr


def test_start_with_an_idempotency_key_starts_one_run(cli, env, hello):
    args = ("start", "hello", "-i", "who=Ada", "--idempotency-key", "deploy-7", "-q")
    first = ok(cli(env, *args)).stdout.strip()
    assert ok(cli(env, *args)).stdout.strip() == first  # the same command again: that run
    assert as_json(cli(env, "ls", "--json"))["total"] == 1
    r = cli(env, "start", "hello", "-i", "who=Bob", "--idempotency-key", "deploy-7")
    assert r.exit_code == errors.EXIT_USAGE  # the key was used with another body: 422
    assert r.stderr.startswith("error: ") and "Idempotency-Key" in r.stderr
    r = cli(env, "start", "hello", "--idempotency-key", "caf\u00e9")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: ")
    assert as_json(cli(env, "ls", "--json"))["total"] == 1


def test_ls_and_show(cli, env, hello):
    run = as_json(cli(env, "start", "hello", "--json"))
    wait_terminal(cli, env, run["id"])
    listing = as_json(cli(env, "ls", "--json"))
    assert run["id"] in [r["id"] for r in listing["items"]]
    assert {"items", "total", "limit", "offset"} <= listing.keys()
    assert as_json(cli(env, "ls", "--limit", "1", "--json"))["limit"] == 1
    completed = as_json(cli(env, "ls", "--status", "completed", "--json"))["items"]
    assert all(r["status"] == "completed" for r in completed)
    assert run["id"] in ok(cli(env, "ls")).stdout
    assert run["id"] in ok(cli(env, "ls", "-q")).stdout.split()
    second = as_json(cli(env, "start", "hello", "--json"))
    newest = ok(cli(env, "ls", "-q", "--limit", "1")).stdout.split()
    assert newest == [second["id"]]
    after = ok(cli(env, "ls", "-q", "--limit", "1", "--before", second["id"][:8])).stdout.split()
    assert after == [run["id"]]  # the next page, by cursor (a prefix works too)

    shown = as_json(cli(env, "show", run["id"], "--json"))
    assert [s["name"] for s in shown["steps"]] == ["greet", "done"]
    assert shown["events"]
    text = ok(cli(env, "show", run["id"])).stdout
    assert "greet" in text and "completed" in text and "EVENT" in text


def test_pause_resume_cancel_retry(cli, env, slow):
    run = as_json(cli(env, "start", "slow", "--json"))
    wait_until(lambda: as_json(cli(env, "show", run["id"], "--json"))["status"] == "running")
    r = ok(cli(env, "pause", run["id"]))
    assert "paused" in r.stdout
    assert cli(env, "pause", run["id"]).exit_code == errors.EXIT_CONFLICT
    assert as_json(cli(env, "resume", run["id"], "--json"))["status"] in ("running", "pending")
    assert cli(env, "resume", run["id"]).exit_code == errors.EXIT_CONFLICT
    r = ok(cli(env, "cancel", run["id"], "--reason", "enough"))
    assert "cancelled" in r.stdout
    cancelled = as_json(cli(env, "show", run["id"], "--json"))
    assert cancelled["status"] == "cancelled" and cancelled["reason"] == "enough"
    r = cli(env, "cancel", run["id"])
    assert r.exit_code == errors.EXIT_CONFLICT
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert as_json(cli(env, "retry", run["id"], "--json"))["status"] in ("running", "pending")
    ok(cli(env, "cancel", run["id"]))


def test_retry_or_pause_a_completed_run_is_a_conflict(cli, env, hello):
    run = as_json(cli(env, "start", "hello", "--json"))
    assert wait_terminal(cli, env, run["id"])["status"] == "completed"
    for action in ("pause", "resume", "cancel", "retry"):
        r = cli(env, action, run["id"])
        assert r.exit_code == errors.EXIT_CONFLICT, (action, r.output)


@pytest.mark.parametrize(
    "args",
    [
        ["show", "00000000-0000-4000-8000-000000000000"],
        ["show", "not-a-uuid"],
        ["pause", "00000000-0000-4000-8000-000000000000"],
        ["cancel", "00000000-0000-4000-8000-000000000000"],
        ["template", "show", "no-such-template"],
        ["template", "publish", "no-such-template"],
    ],
    ids=" ".join,
)
def test_not_found_is_exit_4(cli, env, args):
    r = cli(env, *args)
    assert r.exit_code == errors.EXIT_NOT_FOUND, r.output
    assert r.stderr.startswith("error: ") and r.stdout == ""


# -- daemon, auth, users ------------------------------------------------------------------


def test_daemon_status(cli, env, daemon):
    info = as_json(cli(env, "daemon", "status", "--json"))
    assert info["running"] is True and info["pid"] == daemon.proc.pid
    assert info["url"].rstrip("/") == daemon.url.rstrip("/")
    assert info["uptime_seconds"] >= 0 and "live_runners" in info
    assert "running" in ok(cli(env, "daemon", "status")).stdout


def test_daemon_start_when_running_says_so(cli, env, daemon):
    r = ok(cli(env, "daemon", "start"))
    assert "already running" in r.stderr
    assert r.stdout.strip().rstrip("/") == daemon.url.rstrip("/")


def test_auth_token(cli, env, daemon):
    assert ok(cli(env, "auth", "token")).stdout.strip() == daemon.token


def test_user_add_and_isolation(cli, env, hello):
    payload = as_json(cli(env, "user", "add", "alice", "--json"))
    assert payload["user"]["name"] == "alice" and payload["token"].startswith("wfe_")
    r = ok(cli(env, "user", "add", "bob", "--admin"))
    assert r.stdout.strip().startswith("wfe_") and len(r.stdout.splitlines()) == 1
    assert cli(env, "user", "add", "alice").exit_code == errors.EXIT_CONFLICT

    run = as_json(cli(env, "start", "hello", "--json"))
    alice = env | {"WFE_TOKEN": payload["token"]}
    assert run["id"] not in [r["id"] for r in as_json(cli(alice, "ls", "--json"))["items"]]
    assert cli(alice, "show", run["id"]).exit_code == errors.EXIT_NOT_FOUND
    assert cli(alice, "user", "add", "carol").exit_code == errors.EXIT_USAGE  # 403
    bad = env | {"WFE_TOKEN": "wfe_not_a_token"}
    r = cli(bad, "ls")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: ")


# -- demo ------------------------------------------------------------------------------------


def test_demo_completes(cli, env):
    r = ok(cli(env, "demo"))
    assert "completed" in r.stdout
    for step in ("greet", "shout", "breathe", "summary"):
        assert step in r.stdout
    last = as_json(cli(env, "ls", "--limit", "1", "--json"))["items"][0]
    assert last["status"] == "completed" and last["template"]["name"] == "demo"
    shown = as_json(cli(env, "show", last["id"], "--json"))
    summary = next(s for s in shown["steps"] if s["name"] == "summary")
    assert summary["output"]["said"] == "HELLO, WORLD!"


def test_demo_as_a_process_prints_one_line_per_transition(cli_process, env):
    p = cli_process(env, "demo", "--who", "Ada")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "HELLO, ADA!" in p.stdout
    assert "Traceback" not in p.stderr


# -- no traceback for a user error, as real processes ------------------------------------------

USER_ERRORS = [
    (["show", "nope"], errors.EXIT_NOT_FOUND),
    (["start", "no-such-template"], None),
    (["start", "hello", "-i", "oops"], errors.EXIT_USAGE),
    (["template", "create", "/no/such/file.yaml"], errors.EXIT_USAGE),
    (["template", "show", "x@notanumber"], None),
    (["ls", "--status", "bogus"], errors.EXIT_USAGE),
    (["ls", "--limit", "100000"], errors.EXIT_USAGE),
]


@pytest.mark.parametrize("args,code", USER_ERRORS, ids=[" ".join(a) for a, _ in USER_ERRORS])
def test_user_errors_have_no_traceback(cli_process, env, hello, args, code):
    p = cli_process(env, *args)
    assert p.returncode != 0
    if code is not None:
        assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr
    assert p.stderr.startswith("error: "), p.stderr


# -- a daemon of our own: start, status, stop ----------------------------------------------------


def test_daemon_start_status_stop(cli, tmp_path):
    env = {"WFE_HOME": str(tmp_path / "own")}
    try:
        r = ok(cli(env, "daemon", "start", "--port", "0"))
        url = r.stdout.strip()
        assert url.startswith("http://127.0.0.1:")
        info = as_json(cli(env, "daemon", "status", "--json"))
        assert info["running"] is True and info["url"] == url
        log = Path(tmp_path / "own" / "daemon.log")
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
        assert "already running" in ok(cli(env, "daemon", "start")).stderr
    finally:
        r = cli(env, "daemon", "stop")
    assert r.exit_code == 0, r.output
    assert "stopped" in r.stderr
    assert cli(env, "daemon", "status").exit_code == errors.EXIT_UNREACHABLE
    assert "not running" in ok(cli(env, "daemon", "stop")).stderr


def _daemons_on(port: int) -> list[int]:
    """Live (not zombie) daemon processes started for ``port``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"wfe.daemon" in argv and str(port).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("how", ["start", "run"])
def test_a_taken_port_fails_at_once_and_leaves_no_daemon(cli_process, tmp_path, how):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli_process({"WFE_HOME": str(tmp_path / "h")}, "daemon", how, "--port", str(port),
                        timeout=30)
        assert r.returncode != 0, r.stderr
        assert f"port {port} is in use (" in r.stderr
        assert "Traceback" not in r.stderr
        wait_until(lambda: not _daemons_on(port))  # no daemon left behind


def test_daemon_run_in_the_foreground(cli, cli_process, tmp_path):
    import signal
    import subprocess
    import sys

    home = tmp_path / "fg"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")}
    env |= {"WFE_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfe", "daemon", "run", "--port", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = wait_until(lambda: _daemon_json(home))
        assert info["pid"] == proc.pid
        assert as_json(cli({"WFE_HOME": str(home)}, "daemon", "status", "--json"))["running"]
        # A second daemon on the same home refuses, with one line and status 17.
        second = cli_process({"WFE_HOME": str(home)}, "daemon", "run", "--port", "0")
        assert second.returncode == 17 and "already running" in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


def _daemon_json(home: Path) -> dict | None:
    try:
        return json.loads((home / "daemon.json").read_text())
    except (OSError, ValueError):
        return None

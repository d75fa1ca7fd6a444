"""Runs as they go, against a real daemon: watch (under a pseudo-terminal), wait, events,
logs, start --watch/--wait, approvals, snapshots and rollback, ids by prefix and @last."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.ptyrun import PtyWfe
from wfe import errors

pytestmark = pytest.mark.slow

TEMPLATES = {
    "three": {"name": "three", "steps": [
        {"name": "build", "run": "echo compiling; sleep 0.4; echo built-it"},
        {"name": "rest", "sleep": "300ms"},
        {"name": "ship", "run": "echo shipped"}]},
    "gated": {"name": "gated", "variables": {"env": {"type": "string", "default": "prod"}},
              "steps": [
                  {"name": "prep", "run": "echo 'version=1.2' >> \"$WFE_OUTPUT\""},
                  {"name": "ok", "approval": {"message": "Ship ${{ steps.prep.output.version }}?"}},
                  {"name": "after", "run": "echo done"}]},
    "boom": {"name": "boom", "steps": [{"name": "bad", "run": "echo oops; exit 3"}]},
    "slow": {"name": "slow", "steps": [{"name": "nap", "sleep": "60s"}]},
}


@pytest.fixture
def env(daemon) -> dict[str, str]:
    return dict(daemon.env)


@pytest.fixture
def api(daemon, env, cli, tmp_path):
    c = daemon.client()
    for spec in TEMPLATES.values():
        c.publish_template(c.create_template(spec)["id"])
    return c


def ok(result, code: int = 0):
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    assert "Traceback" not in result.output
    return result


def as_json(result, code: int = 0):
    return json.loads(ok(result, code).stdout)


def start(api, name: str, **inputs) -> str:
    return api.start_run(name, inputs)["id"]


# -- watch under a real terminal ---------------------------------------------------------------


def test_watch_in_a_terminal_shows_steps_then_the_outcome(env, api):
    run_id = start(api, "three")
    term = PtyWfe(env, "watch", run_id[:8])
    assert term.finish() == errors.EXIT_OK
    screen = term.screen()
    for step in ("build", "rest", "ship"):
        assert step in screen, screen
    assert "\x1b[" in term.raw.decode("utf-8", "replace")  # a live, styled view
    assert f"run {run_id} completed" in " ".join(screen.split())


def test_watch_shows_the_running_steps_log_and_a_spinner(env, api):
    spec = {"name": "talky", "steps": [
        {"name": "talk", "run": "for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done"}]}
    api.publish_template(api.create_template(spec)["id"])
    term = PtyWfe(env, "watch", start(api, "talky"))
    screen = term.wait_for("tick2")
    assert "talk · attempt 1" in screen and "running" in screen
    assert term.finish() == errors.EXIT_OK


def test_watch_shows_the_approval_and_how_to_decide(env, api):
    run_id = start(api, "gated")
    term = PtyWfe(env, "watch", "@last")
    screen = term.wait_for(f"wfe approve {run_id}")
    assert "Ship 1.2?" in screen and "waiting for approval" in screen
    api.decide(run_id, api.get_run(run_id)["approvals"][0]["id"], "approve")
    assert term.finish() == errors.EXIT_OK
    assert "completed" in term.screen()


def test_watch_exit_codes_of_failed_and_cancelled_runs(cli, env, api):
    r = ok(cli(env, "watch", start(api, "boom")), errors.EXIT_FAILED)
    assert "bad" in r.stdout and "failed" in r.stdout  # plain lines, not a terminal
    slow = start(api, "slow")
    term = PtyWfe(env, "watch", slow)
    term.wait_for("nap")
    api.cancel_run(slow)
    assert term.finish() == errors.EXIT_CANCELLED


def test_watch_as_plain_lines_tells_the_story(cli, env, api):
    r = ok(cli(env, "watch", start(api, "three")))
    lines = r.stdout.splitlines()
    assert any(ln.split()[:2] == ["build", "running"] for ln in lines), r.stdout
    assert any("build | built-it" in ln for ln in lines) or "built-it" in r.stdout
    assert lines[-1].startswith("run ") and "completed" in lines[-1]


# -- start --watch / --wait, wait ---------------------------------------------------------------


def test_start_wait_and_watch(cli, env, api):
    run = as_json(cli(env, "start", "three", "--wait", "--json"))
    assert run["status"] == "completed"
    r = cli(env, "start", "boom", "--wait", "-q")
    assert r.exit_code == errors.EXIT_FAILED and len(r.stdout.split()) == 1
    r = cli(env, "start", "gated", "--wait", "--json")
    assert r.exit_code == errors.EXIT_WAITING_APPROVAL
    assert json.loads(r.stdout)["status"] == "waiting_approval"
    r = ok(cli(env, "start", "three", "--watch"))
    assert "completed" in r.stdout and "ship" in r.stdout


def test_start_watch_in_a_terminal(env, api):
    term = PtyWfe(env, "start", "three", "--watch")
    assert term.finish() == errors.EXIT_OK
    assert "ship" in term.screen() and "completed" in term.screen()


def test_wait_until_and_timeout(cli, env, api):
    gated = start(api, "gated")
    run = as_json(cli(env, "wait", gated, "--until", "waiting_approval", "--json"))
    assert run["status"] == "waiting_approval"
    r = cli(env, "wait", gated, "--timeout", "500ms")
    assert r.exit_code == errors.EXIT_WAIT_TIMEOUT
    assert "still waiting_approval" in r.stderr
    assert cli(env, "wait", gated, "--until", "nonsense").exit_code == errors.EXIT_USAGE
    assert cli(env, "wait", gated, "--timeout", "soon").exit_code == errors.EXIT_USAGE
    ok(cli(env, "approve", gated, "-m", "fine"))
    assert as_json(cli(env, "wait", gated, "--json"))["status"] == "completed"
    assert cli(env, "wait", start(api, "boom")).exit_code == errors.EXIT_FAILED


# -- events and logs ------------------------------------------------------------------------------


def test_events_json_lines_and_follow(cli, env, api):
    run_id = start(api, "three")
    followed = ok(cli(env, "events", run_id, "-f", "--json")).stdout.splitlines()
    events = [json.loads(line) for line in followed]
    assert events[0]["type"] == "run.created" and events[-1]["type"] == "run.completed"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["run_id"] == run_id for e in events)
    again = [json.loads(x) for x in ok(cli(env, "events", run_id, "--json")).stdout.splitlines()]
    assert [e["seq"] for e in again] == [e["seq"] for e in events]
    table = ok(cli(env, "events", run_id)).stdout
    assert "run.completed" in table and "SEQ" in table
    plain = ok(cli(env, "events", run_id, "-f")).stdout
    assert "run.completed" in plain.splitlines()[-1]
    assert cli(env, "events").exit_code == errors.EXIT_USAGE


def test_logs_whole_followed_and_json(cli, env, api):
    run_id = start(api, "three")
    followed = ok(cli(env, "logs", run_id, "build", "-f")).stdout
    assert followed.splitlines() == ["compiling", "built-it"]
    ok(cli(env, "wait", run_id))
    whole = ok(cli(env, "logs", run_id)).stdout
    assert "== build (attempt 1) ==" in whole and "shipped" in whole
    lines = [json.loads(x) for x in ok(cli(env, "logs", run_id, "ship", "--json")).stdout.split()]
    assert lines == [{"step": "ship", "attempt": 1, "line": "shipped"}]
    assert ok(cli(env, "logs", run_id, "-f")).stdout.splitlines() == [
        "build | compiling", "build | built-it", "ship | shipped"]
    assert cli(env, "logs", run_id, "nope").exit_code == errors.EXIT_NOT_FOUND
    assert cli(env, "logs", run_id, "build", "--attempt", "9").exit_code == errors.EXIT_NOT_FOUND


# -- ids: prefixes and @last -----------------------------------------------------------------


def test_prefix_and_last(cli, env, api):
    run_id = start(api, "three")
    assert as_json(cli(env, "show", "@last", "--json"))["id"] == run_id
    assert as_json(cli(env, "show", run_id[:6], "--json"))["id"] == run_id
    assert as_json(cli(env, "show", run_id[:4].upper(), "--json"))["id"] == run_id
    r = cli(env, "show", run_id[:3])
    assert r.exit_code == errors.EXIT_USAGE and "at least 4" in r.stderr


def test_ambiguous_prefix_lists_the_candidates(cli, env, api, monkeypatch):
    a, b = start(api, "three"), start(api, "three")
    common = os.path.commonprefix([a, b])  # noqa: RUF071 -- id prefixes are character-wise
    if len(common) < 4:  # random ids: make the daemon's answer the ambiguous one
        from wfe.client import Client

        both = [api.get_run(a), api.get_run(b)]
        monkeypatch.setattr(Client, "find_runs", lambda self, prefix, limit=20: both)
        common = "abcd"
    r = cli(env, "show", common)
    assert r.exit_code == errors.EXIT_USAGE
    first, *rest = r.stderr.splitlines()
    assert "ambiguous" in first and len(rest) == 2
    assert {line.split()[0] for line in rest} == {a, b}


# -- approvals -----------------------------------------------------------------------------------


def test_approvals_inbox_approve_reject(cli, env, api):
    a, b = start(api, "gated"), start(api, "gated")
    for run_id in (a, b):
        ok(cli(env, "wait", run_id, "--until", "waiting_approval"))
    inbox = as_json(cli(env, "approvals", "--json"))
    assert {i["run_id"] for i in inbox["items"]} >= {a, b}
    assert set(ok(cli(env, "approvals", "-q")).stdout.split()) >= {a, b}
    assert "Ship 1.2?" in ok(cli(env, "approvals")).stdout
    run = as_json(cli(env, "approve", a, "-m", "go", "--json"))
    assert run["approvals"][0]["status"] == "approved" and run["approvals"][0]["comment"] == "go"
    r = cli(env, "approve", a)
    assert r.exit_code == errors.EXIT_CONFLICT and "no pending approval" in r.stderr
    # Naming the approval: its id decides even after the fact — and answers 409 then.
    r = cli(env, "reject", a, run["approvals"][0]["id"], "-m", "late")
    assert r.exit_code == errors.EXIT_CONFLICT
    assert "rejected" in ok(cli(env, "reject", b, "-m", "no")).stdout
    assert as_json(cli(env, "wait", b, "--json"), errors.EXIT_FAILED)["reason"] == \
        "approval_rejected"
    assert cli(env, "approvals", "--status", "bogus").exit_code == errors.EXIT_USAGE


def test_approve_on_a_terminal_shows_the_context_and_asks(env, api):
    run_id = start(api, "gated", env="staging")
    api_wait = api.get_run
    import time

    deadline = time.monotonic() + 20
    while api_wait(run_id)["status"] != "waiting_approval" and time.monotonic() < deadline:
        time.sleep(0.05)
    term = PtyWfe(env, "approve", run_id)
    screen = term.wait_for("[y/N]")
    assert "Ship 1.2?" in screen and "staging" in screen and "version=1.2" in screen
    term.send("n\n")
    assert term.finish() == errors.EXIT_FAILED
    assert api.get_run(run_id)["status"] == "waiting_approval"
    term = PtyWfe(env, "approve", run_id)
    term.wait_for("[y/N]")
    term.send("y\n")
    assert term.finish() == errors.EXIT_OK
    assert api.get_run(run_id)["approvals"][0]["status"] == "approved"


# -- snapshots and rollback ------------------------------------------------------------------


def test_snapshots_and_rollback(cli, env, api):
    run_id = start(api, "three")
    ok(cli(env, "wait", run_id))
    snaps = as_json(cli(env, "snapshots", run_id, "--json"))
    assert [s["step"] for s in snaps["items"]] == ["build", "rest", "ship"]
    assert ok(cli(env, "snapshots", run_id, "-q")).stdout.split() == [
        s["id"] for s in snaps["items"]]
    dry = as_json(cli(env, "rollback", run_id, "--to", "build", "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["rerun_steps"] == ["rest", "ship"]
    r = ok(cli(env, "rollback", run_id, "--to", snaps["items"][1]["id"]))
    assert "ship" in r.stdout
    assert as_json(cli(env, "wait", run_id, "--json"))["status"] == "completed"
    slow = start(api, "slow")
    assert cli(env, "rollback", slow, "--to", "nap").exit_code == errors.EXIT_CONFLICT
    api.cancel_run(slow)


def test_callback_from_the_cli(cli, env, api, tmp_path):
    spec = {"name": "cb", "steps": [{"name": "ci", "callback": {"timeout": "1m"}},
                                    {"name": "after", "run": "echo ${{ steps.ci.output.sha }}"}]}
    api.publish_template(api.create_template(spec)["id"])
    run_id = start(api, "cb")
    answer = as_json(cli(env, "callback", run_id, "ci", "--data", '{"sha": "abc123"}', "--json"))
    assert answer["accepted"] is True
    assert as_json(cli(env, "wait", run_id, "--json"))["status"] == "completed"
    assert ok(cli(env, "logs", run_id, "after")).stdout == "abc123\n"
    f = tmp_path / "again.json"
    f.write_text("{}")
    r = cli(env, "callback", run_id, "ci", "--data", f"@{f}")
    assert r.exit_code == errors.EXIT_CONFLICT


def test_watch_json_and_demo_json(cli, env, api):
    run = as_json(cli(env, "watch", start(api, "three"), "--json"))
    assert run["status"] == "completed" and [s["name"] for s in run["steps"]] == [
        "build", "rest", "ship"]
    r = cli(env, "watch", start(api, "boom"), "--json")
    assert r.exit_code == errors.EXIT_FAILED and json.loads(r.stdout)["status"] == "failed"
    demo = as_json(cli(env, "demo", "--json"))
    assert demo["status"] == "completed" and demo["template"]["name"] == "demo"
    info = as_json(cli(env, "daemon", "start", "--json"))
    assert info["running"] is True and info["started"] is False


def test_logs_follow_goes_on_through_retries(cli, env, api, tmp_path):
    count = tmp_path / "count"
    spec = {"name": "flaky", "steps": [{
        "name": "try", "retry": {"max_attempts": 3, "initial_delay": "300ms"},
        "run": f'echo x >> {count}; echo "attempt $WFE_ATTEMPT"; [ $(wc -l < {count}) -ge 3 ]'}]}
    api.publish_template(api.create_template(spec)["id"])
    run_id = start(api, "flaky")
    lines = ok(cli(env, "logs", run_id, "try", "-f", "--json")).stdout.splitlines()
    got = [(x["attempt"], x["line"]) for x in map(json.loads, lines)]
    assert got == [(1, "attempt 1"), (2, "attempt 2"), (3, "attempt 3")]
    # One attempt only when it is named.
    assert ok(cli(env, "logs", run_id, "try", "-f", "--attempt", "2")).stdout == "attempt 2\n"


def test_watch_survives_a_daemon_restart(daemon_factory, cli_process, tmp_path):
    """The daemon stops with a watcher connected; the watcher comes back to the restarted
    daemon (on another port) and sees the run to its end."""
    import subprocess
    import sys

    d = daemon_factory(WFE_LOG_LEVEL="INFO").start()
    c = d.client()
    spec = {"name": "nap",
            "steps": [{"name": "nap", "sleep": "3s"}, {"name": "end", "run": "true"}]}
    c.publish_template(c.create_template(spec)["id"])
    run_id = c.start_run("nap")["id"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFE_")} | d.env
    watcher = subprocess.Popen([sys.executable, "-m", "wfe", "--debug", "watch", run_id], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The first lines are the run as GET read it; "run running" is an event off the
        # stream, so from then on the watcher holds the stream open.
        first = [watcher.stdout.readline() for _ in range(4)]
        assert first[-1] == "run running\n", first
        d.stop()  # SIGTERM (SIGKILL after 15 s): either way the watcher must come back
        d.start()
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
        watcher.communicate()  # its pipes closed here, not by a later test's GC
    assert watcher.returncode == 0, out + err
    assert first and "completed" in out.splitlines()[-1]

"""The CLI without a daemon: help, offline validation, error lines and exit codes, the
client's error mapping (against a tiny stand-in server), and what ``wfe ls --json`` imports."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from wfe import errors
from wfe.cli import render
from wfe.client import NOT_RUNNING, Client

GOOD = """\
name: hello
variables:
  who: {type: string, default: world}
steps:
  - name: greet
    run: echo hello ${{ input.who }}
  - name: nap
    sleep: 1s
"""

# Two problems the validator must name by path: a bad name, and a step with two kinds.
BAD = """\
name: Not A Valid Name!
steps:
  - name: greet
    run: echo hi
    sleep: 1s
"""

COMMANDS = [
    [],
    ["start"], ["ls"], ["show"], ["pause"], ["resume"], ["cancel"], ["retry"], ["demo"],
    ["daemon"], ["daemon", "start"], ["daemon", "stop"], ["daemon", "status"], ["daemon", "run"],
    ["template"], ["template", "create"], ["template", "publish"], ["template", "ls"],
    ["template", "show"], ["template", "validate"], ["template", "rm"],
    ["auth"], ["auth", "token"], ["user"], ["user", "add"], ["user", "ls"], ["user", "rm"],
    ["user", "role"], ["whoami"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "wfe")
def test_help(cli, offline_env, command):
    r = cli(offline_env, *command, "--help")
    assert r.exit_code == 0, r.output
    assert "Usage" in r.stdout


def test_version(cli, offline_env):
    r = cli(offline_env, "--version")
    assert r.exit_code == 0 and r.stdout.startswith("wfe 0.")


# -- template validate (offline) ---------------------------------------------------------


def test_validate_good_file(cli, offline_env, tmp_path):
    f = tmp_path / "hello.yaml"
    f.write_text(GOOD)
    r = cli(offline_env, "template", "validate", str(f))
    assert r.exit_code == 0, r.output
    assert "valid" in r.stdout


def test_validate_good_json_from_stdin(cli, offline_env):
    import yaml

    r = cli(offline_env, "template", "validate", "-", input=json.dumps(yaml.safe_load(GOOD)))
    assert r.exit_code == 0, r.output


def test_validate_bundled_demo(cli, offline_env):
    demo = Path(__file__).parents[2] / "wfe" / "examples" / "demo.yaml"
    r = cli(offline_env, "template", "validate", str(demo))
    assert r.exit_code == 0, r.output


NESTED = """\
name: nested
variables:
  x: {type: string}
steps:
  - name: remote
    run: ssh host "rm ${{ input.x }}"
  - name: safe
    run: echo ${{ input.x }}
"""


def test_validate_warns_of_an_expression_inside_a_nested_shell(cli, offline_env, tmp_path):
    f = tmp_path / "nested.yaml"
    f.write_text(NESTED)
    r = cli(offline_env, "template", "validate", str(f))
    assert r.exit_code == 0, r.output
    [line] = r.stderr.splitlines()
    assert line.startswith("warning: steps[0].run (step remote): '${{ input.x }}'")
    assert '"$WFE_INPUT_X"' in line and "ssh" in line
    r = cli(offline_env, "template", "validate", str(f), "--json")
    [w] = json.loads(r.stdout)["warnings"]
    assert (w["path"], w["step"], w["expression"]) == ("steps[0].run", "remote", "${{ input.x }}")


def test_validate_bad_file_lists_each_problem(cli, offline_env, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD)
    r = cli(offline_env, "template", "validate", str(f))
    assert r.exit_code == errors.EXIT_USAGE
    first, *details = r.stderr.splitlines()
    assert first.startswith("error: ")
    assert details, r.stderr
    for line in details:
        _, sep, message = line.strip().partition(": ")
        assert line.startswith("  ") and sep and message, line
    paths = {line.strip().partition(": ")[0] for line in details}
    assert "name" in paths
    assert any(p.startswith("steps[0]") for p in paths), paths
    assert r.stdout == ""


def test_validate_malformed_yaml_is_one_line(cli, offline_env, tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("name: [unclosed\nsteps: {\n")
    r = cli(offline_env, "template", "validate", str(f))
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr.startswith("error: ") and "Traceback" not in r.output


def test_validate_json_is_a_document_good_or_bad(cli, offline_env, tmp_path):
    bad, broken, good = tmp_path / "bad.yaml", tmp_path / "broken.yaml", tmp_path / "ok.yaml"
    bad.write_text(BAD)
    broken.write_text("name: [unclosed\n")
    good.write_text(GOOD)
    r = cli(offline_env, "template", "validate", str(bad), "--json")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: ")
    doc = json.loads(r.stdout)
    assert (doc["file"], doc["valid"], doc["name"]) == (str(bad), False, None)
    assert "name" in {e["path"] for e in doc["errors"]}
    assert all(e["message"] for e in doc["errors"])
    r = cli(offline_env, "template", "validate", str(broken), "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == errors.EXIT_USAGE and doc["valid"] is False
    assert doc["errors"][0]["path"] == "" and "malformed YAML" in doc["errors"][0]["message"]
    r = cli(offline_env, "template", "validate", str(good), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] is True
    assert json.loads(r.stdout)["errors"] == []


def test_validate_missing_file(cli, offline_env, tmp_path):
    r = cli(offline_env, "template", "validate", str(tmp_path / "nope.yaml"))
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr.startswith("error: cannot read")


# -- no daemon ---------------------------------------------------------------------------

NEEDS_DAEMON = [
    ["ls"], ["ls", "--json"], ["show", "abcd"], ["pause", "abcd"], ["resume", "@last"],
    ["cancel", "abcd", "--reason", "r"], ["retry", "abcd"], ["start", "demo"],
    ["watch", "abcd"], ["wait", "abcd"], ["events", "abcd"], ["logs", "abcd"],
    ["approvals"], ["approve", "abcd"], ["reject", "abcd", "-m", "no"], ["snapshots", "abcd"],
    ["rollback", "abcd", "--to", "s"], ["events", "-f"],
    ["start", "demo", "-i", "who=me"], ["template", "ls"], ["template", "show", "demo"],
    ["template", "publish", "demo"], ["user", "add", "bob"], ["user", "ls"],
    ["user", "rm", "bob"], ["user", "role", "bob", "author"], ["whoami"],
    ["template", "rm", "demo"],
]  # fmt: skip


@pytest.mark.parametrize("command", NEEDS_DAEMON, ids=" ".join)
def test_no_daemon_is_one_line_and_exit_3(cli, offline_env, command):
    r = cli(offline_env, *command)
    assert r.exit_code == errors.EXIT_UNREACHABLE, r.output
    assert r.stderr == unanswered(offline_env)
    assert r.stdout == ""


def test_no_daemon_json_and_no_url(cli, offline_env):
    env = offline_env | {"WFE_URL": ""}
    r = cli(env, "ls")
    assert r.exit_code == errors.EXIT_UNREACHABLE
    assert r.stderr == f"error: {NOT_RUNNING}\n"


def test_template_create_with_no_daemon(cli, offline_env, tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(GOOD)
    r = cli(offline_env, "template", "create", str(f))
    assert r.exit_code == errors.EXIT_UNREACHABLE


def test_debug_reraises(cli, offline_env):
    r = cli(offline_env, "--debug", "ls")
    assert isinstance(r.exception, errors.DaemonUnreachable)
    r = cli(offline_env | {"WFE_DEBUG": "1"}, "ls")
    assert isinstance(r.exception, errors.DaemonUnreachable)


def test_no_daemon_as_a_real_process_has_no_traceback(offline_env, cli_process):
    p = cli_process(offline_env, "show", "some-run")
    assert p.returncode == errors.EXIT_UNREACHABLE
    assert p.stderr == unanswered(offline_env)


def unanswered(env) -> str:
    """The one line for a WFE_URL nobody answers at: it names the URL tried."""
    return (f"error: no daemon answered at {env['WFE_URL']}/ (connection refused); "
            "start one with 'wfe daemon start' or check WFE_URL\n")


def test_daemon_status_not_running(cli, offline_env):
    r = cli(offline_env, "daemon", "status")
    assert r.exit_code == errors.EXIT_UNREACHABLE
    assert "not running" in r.stdout
    r = cli(offline_env, "daemon", "status", "--json")
    assert r.exit_code == errors.EXIT_UNREACHABLE
    assert json.loads(r.stdout)["running"] is False


def test_daemon_stop_not_running(cli, offline_env):
    r = cli(offline_env, "daemon", "stop")
    assert r.exit_code == 0
    assert "not running" in r.stderr


def test_stale_daemon_json_is_not_running(cli, offline_env, tmp_path):
    home = Path(offline_env["WFE_HOME"])
    home.mkdir(parents=True)
    # A pid that cannot be alive, as a SIGKILLed daemon leaves behind.
    (home / "daemon.json").write_text(json.dumps({"pid": 2**22 + 7, "url": offline_env["WFE_URL"]}))
    env = offline_env | {"WFE_URL": ""}
    assert cli(env, "daemon", "stop").exit_code == 0
    assert cli(env, "daemon", "status").exit_code == errors.EXIT_UNREACHABLE
    assert cli(env, "ls").exit_code == errors.EXIT_UNREACHABLE


# -- auth token --------------------------------------------------------------------------


def test_auth_token_from_env_then_file_then_none(cli, offline_env):
    r = cli(offline_env | {"WFE_TOKEN": "wfe_from_env"}, "auth", "token")
    assert (r.exit_code, r.stdout) == (0, "wfe_from_env\n")
    home = Path(offline_env["WFE_HOME"])
    r = cli(offline_env, "auth", "token")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: no token")
    home.mkdir(parents=True)
    (home / "token").write_text("wfe_from_file\n")
    r = cli(offline_env, "auth", "token")
    assert (r.exit_code, r.stdout) == (0, "wfe_from_file\n")


# -- inputs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["-i", "novalue"], ["-i", "=x"], ["--input-file", "missing.json"]],
    ids=["no-equals", "no-key", "missing-file"],
)
def test_start_bad_inputs_are_usage_errors(cli, offline_env, args):
    r = cli(offline_env, "start", "demo", *args)
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1


@pytest.mark.parametrize("name,text", [("in.json", "{not json"), ("in.yaml", "[1, 2]")])
def test_start_bad_input_file(cli, offline_env, tmp_path, name, text):
    f = tmp_path / name
    f.write_text(text)
    r = cli(offline_env, "start", "demo", "--input-file", str(f))
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr.startswith(f"error: {f}")


def test_coerce_inputs_to_declared_types():
    from wfe.cli.runs import coerce

    variables = {
        "n": {"type": "integer"}, "x": {"type": "number"}, "ok": {"type": "boolean"},
        "obj": {"type": "object"}, "s": {"type": "string"},
    }  # fmt: skip
    pairs = {"n": "3", "x": "2.5", "ok": "yes", "obj": '{"a": 1}', "s": "42", "other": "7"}
    assert coerce(pairs, variables) == {
        "n": 3, "x": 2.5, "ok": True, "obj": {"a": 1}, "s": "42", "other": "7"
    }  # fmt: skip
    # What does not convert goes as typed: the daemon's 422 then names the field.
    assert coerce({"n": "three"}, variables) == {"n": "three"}


def test_ctrl_c_exits_130(cli, offline_env, monkeypatch):
    import wfe.cli.runs

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(wfe.cli.runs, "client", interrupted)
    assert cli(offline_env, "ls").exit_code == 130


def test_bug_is_one_line_without_debug(cli, offline_env, monkeypatch):
    import wfe.cli.runs

    def broken(*a, **k):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(wfe.cli.runs, "client", broken)
    r = cli(offline_env, "ls")
    assert r.exit_code == errors.EXIT_FAILED
    assert r.stderr.startswith("error: unexpected ZeroDivisionError")
    assert "Traceback" not in r.output


# -- what `wfe ls --json` costs ------------------------------------------------------------

HEAVY = ("rich", "jinja2", "pydantic", "aiohttp", "yaml", "wfe.daemon", "wfe.engine.spec")


def test_ls_json_imports_nothing_heavy(offline_env):
    code = (
        "import sys\n"
        "sys.argv = ['wfe', 'ls', '--json', '--limit', '5', '--status', 'running']\n"
        "from wfe.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        f"heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))\n"
        "print(code, ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(offline_env), capture_output=True, text=True
    )
    assert out.stdout.split(" ", 1) == ["3", "\n"], out.stdout + out.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--limit", "abc"], "'abc' is not a valid integer."),
    (["--limit", "2.5"], "'2.5' is not a valid integer."),
    (["--limit", "0"], "0 is not in the range x>=1."),
    (["--offset", "-1"], "-1 is not in the range x>=0."),
])
def test_a_bad_number_is_a_usage_error_in_clicks_words(cli, offline_env, args, message):
    # wfe coerces plain parameters itself (keeping pydantic out, see wfe/cli/main.py): what
    # a user sees must stay click's wording and exit code, whatever typer would say.
    r = cli(offline_env, "ls", *args)
    assert r.exit_code == errors.EXIT_USAGE
    assert message in " ".join(r.output.split())


def _clean_env(env):
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("WFE_")} | env


# -- the client against a stand-in server -------------------------------------------------


class _Fake(BaseHTTPRequestHandler):
    seen: ClassVar[list] = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Fake.seen.append((self.command, self.path, dict(self.headers), body))
        status, payload = ROUTES.get(self.path.split("?")[0], (404, _err("not_found", "no such")))
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def _err(code, message, details=None):
    return {"error": {"code": code, "message": message, "details": details}}


ROUTES = {
    "/api/v1/health": (200, {"status": "ok", "api_version": "1"}),
    **{f"/api/v1/workflows/{rid}/pause": (
        409,
        _err("invalid_transition", "cannot pause a run that is completed", {"status": "completed"}),
    ) for rid in ("r1", "0b7f6a8e-1d2c-4b5a-9e8f-000000000001")},
    "/api/v1/templates": (
        422,
        _err("validation_failed", "bad", [{"path": "name", "message": "x"}]),
    ),
    "/api/v1/me": (200, b"<html>not json</html>"),
}


@pytest.fixture
def fake_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    t = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    t.start()
    _Fake.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    t.join()


def test_client_maps_errors_and_sends_token(fake_server):
    c = Client(fake_server, token="wfe_t")
    assert c.health()["status"] == "ok"
    assert _Fake.seen[-1][2]["Authorization"] == "Bearer wfe_t"
    with pytest.raises(errors.InvalidTransition) as e:
        c.pause_run("r1")
    assert e.value.exit_code == errors.EXIT_CONFLICT and e.value.details["status"] == "completed"
    with pytest.raises(errors.NotFound):
        c.get_run("nope")
    with pytest.raises(errors.ValidationFailed) as v:
        c.create_template("name: x\n", "application/yaml")
    assert v.value.details == [{"path": "name", "message": "x"}]
    method, _, headers, body = _Fake.seen[-1]
    assert (method, headers["Content-Type"], body) == ("POST", "application/yaml", b"name: x\n")
    with pytest.raises(errors.InternalError):
        c.me()


def test_client_start_run_body(fake_server):
    c = Client(fake_server, token="t")
    uid = "0b7f6a8e-1d2c-4b5a-9e8f-7a6b5c4d3e2f"
    for ref, key in [("demo@2", "template"), (uid, "template_id")]:
        with pytest.raises(errors.NotFound):
            c.start_run(ref, {"who": "x"}, trigger_type="cli")
        body = json.loads(_Fake.seen[-1][3])
        assert body == {key: ref, "input": {"who": "x"}, "trigger_type": "cli"}


def test_cli_shows_validation_details_from_the_daemon(cli, fake_server, tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("name: x\n")
    r = cli({"WFE_HOME": str(tmp_path), "WFE_URL": fake_server, "WFE_TOKEN": "t"},
            "template", "create", str(f))  # fmt: skip
    assert r.exit_code == errors.EXIT_USAGE
    assert r.stderr == "error: bad (name: x)\n"  # one problem: said in the line


def test_cli_conflict_is_exit_5(cli, fake_server, tmp_path):
    env = {"WFE_HOME": str(tmp_path), "WFE_URL": fake_server, "WFE_TOKEN": "t"}
    r = cli(env, "pause", "0b7f6a8e-1d2c-4b5a-9e8f-000000000001")
    assert r.exit_code == errors.EXIT_CONFLICT
    assert r.stderr == "error: cannot pause a run that is completed\n"
    assert cli(env, "show", "nope").exit_code == errors.EXIT_NOT_FOUND


# -- render helpers ------------------------------------------------------------------------


def test_relative_times_and_spans():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    iso = lambda d: (now - d).isoformat().replace("+00:00", "Z")  # noqa: E731
    assert render.ago(iso(timedelta(minutes=3)), now) == "3m ago"
    assert render.ago(iso(timedelta(seconds=42)), now) == "42s ago"
    assert render.ago(iso(timedelta(hours=2, minutes=5)), now) == "2h5m ago"
    assert render.ago(iso(timedelta(days=3)), now) == "3d ago"
    assert render.ago(None, now) == "-"
    assert render.span(0.25) == "250ms" and render.span(2.5) == "2.5s"


def test_plain_table_is_aligned():
    lines = render._plain_table(["ID", "STATUS"], [["a", "running"], ["bbbb", "failed"]])
    assert lines == ["ID    STATUS", "a     running", "bbbb  failed"]

"""``wfe user add --role|ls|rm|role`` and ``wfe whoami`` against a real daemon process, and
the environment its steps get."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until
from wfe import errors

pytestmark = pytest.mark.slow

PROBE = {"name": "probe", "steps": [{"name": "env", "run": "env"}]}


@pytest.fixture
def live(daemon_factory):
    """A daemon whose own environment holds what a step must not see, and one name the
    daemon's operator passes on to steps."""
    d = daemon_factory(WFE_URL="http://127.0.0.1:1", WFE_TOKEN="wfe_the_daemons_own",
                       WFE_CANARY="tweet", PASS_ME="passed", WFE_STEP_ENV_PASSTHROUGH="PASS_ME")
    d.start()
    yield d
    d.stop()


def _env(d, token: str | None = None) -> dict[str, str]:
    # What a person's shell would hold: the daemon's URL, and maybe someone's token.
    env = {"WFE_HOME": str(d.home), "WFE_URL": d.url, "WFE_NO_AUTOSTART": "1"}
    return env | ({"WFE_TOKEN": token} if token else {})


def _ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}"
    return result


def test_user_add_with_roles_ls_whoami_and_rm(cli, live):
    admin = _env(live)
    me = json.loads(_ok(cli(admin, "whoami", "--json")).stdout)
    assert me["role"] == "admin" and _ok(cli(admin, "whoami")).stdout == f"{me['name']} (admin)\n"
    made = {}
    for name, flags in (("ann", ["--role", "author"]), ("olive", []), ("root2", ["--admin"])):
        r = _ok(cli(admin, "user", "add", name, *flags))
        made[name] = r.stdout.strip()
        assert made[name].startswith("wfe_") and len(r.stdout.splitlines()) == 1
    assert "created operator pat" in _ok(cli(admin, "user", "add", "pat")).stderr
    r = cli(admin, "user", "add", "x", "--admin", "--role", "operator")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: ")
    listed = json.loads(_ok(cli(admin, "user", "ls", "--json")).stdout)
    roles = {u["name"]: u["role"] for u in listed["items"]}
    assert roles == {me["name"]: "admin", "ann": "author", "olive": "operator",
                     "root2": "admin", "pat": "operator"}
    table = _ok(cli(admin, "user", "ls")).stdout
    assert "ROLE" in table and "author" in table
    assert _ok(cli(_env(live, made["ann"]), "whoami")).stdout == "ann (author)\n"
    # Not an admin: one error line, the forbidden class's exit code.
    r = cli(_env(live, made["olive"]), "user", "ls")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: the operator role")
    _ok(cli(admin, "user", "role", "olive", "author"))
    assert _ok(cli(_env(live, made["olive"]), "whoami")).stdout == "olive (author)\n"
    _ok(cli(admin, "user", "rm", "olive"))
    r = cli(_env(live, made["olive"]), "whoami")
    assert r.exit_code == errors.EXIT_USAGE and "not valid" in r.stderr
    assert cli(admin, "user", "rm", "olive").exit_code == errors.EXIT_NOT_FOUND


def test_an_operator_cannot_create_a_template_but_runs_the_catalog(cli, live, tmp_path):
    admin = _env(live)
    op = _env(live, _ok(cli(admin, "user", "add", "olive")).stdout.strip())
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(PROBE))
    r = cli(op, "template", "create", str(path))
    assert r.exit_code == errors.EXIT_USAGE and "templates.write" in r.stderr
    _ok(cli(admin, "template", "create", str(path)))
    r = cli(op, "template", "publish", "probe")
    assert r.exit_code in (errors.EXIT_USAGE, errors.EXIT_NOT_FOUND)  # 403 (or a draft unseen)
    _ok(cli(admin, "template", "publish", "probe"))
    run = json.loads(_ok(cli(op, "start", "probe", "--json")).stdout)
    c = live.client()
    c.token = op["WFE_TOKEN"]
    wait_until(lambda: c.get_run(run["id"])["status"] == "completed", message="the run")
    log = c.request_raw("GET", f"/api/v1/workflows/{run['id']}/steps/env/log",
                        accept="text/plain")[1].decode()
    step_env = dict(line.split("=", 1) for line in log.splitlines() if "=" in line)
    for name in ("WFE_HOME", "WFE_URL", "WFE_TOKEN", "WFE_CANARY", "WFE_STEP_ENV_PASSTHROUGH"):
        assert name not in step_env, name
    assert step_env["PASS_ME"] == "passed" and step_env["WFE_RUN_ID"] == run["id"]
    r = cli(op, "template", "rm", "probe")
    assert r.exit_code == errors.EXIT_USAGE and r.stderr.startswith("error: ")
    _ok(cli(admin, "template", "rm", "probe"))
    shown = json.loads(_ok(cli(admin, "template", "show", "probe", "--json")).stdout)
    assert shown["status"] == "archived"

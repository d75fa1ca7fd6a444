"""``wfe token`` and ``wfe audit verify`` against a real daemon process."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until
from tests.dbutil import db, drop_guards
from wfe import errors

pytestmark = pytest.mark.slow


@pytest.fixture
def env(daemon) -> dict[str, str]:
    return dict(daemon.env)


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def test_token_create_ls_revoke(env, cli):
    made = ok(cli(env, "token", "create", "--name", "laptop"))
    token = made.stdout.strip()
    assert token.startswith("wfe_") and "laptop" in made.stderr  # the secret alone on stdout
    as_bearer = env | {"WFE_TOKEN": token}
    me = json.loads(ok(cli(as_bearer, "token", "ls", "--json")).stdout)
    [mine] = [t for t in me["items"] if t["name"] == "laptop"]
    table = ok(cli(env, "token", "ls")).stdout
    assert mine["id"] in table and "active" in table
    ok(cli(env, "token", "revoke", mine["id"]))
    assert "revoked" in ok(cli(env, "token", "ls")).stdout
    refused = cli(as_bearer, "token", "ls")
    assert refused.exit_code == errors.EXIT_USAGE and "not valid" in refused.stderr
    missing = cli(env, "token", "revoke", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == errors.EXIT_NOT_FOUND


def test_audit_verify_finds_the_first_bad_event(env, cli, daemon):
    client = daemon.client()
    client.create_template({"name": "a", "steps": [{"name": "s", "run": "true"}]})
    client.publish_template("a")
    run = client.start_run("a")
    wait_until(lambda: client.get_run(run["id"])["status"] == "completed")
    line = ok(cli(env, "audit", "verify", run["id"])).stdout
    assert f"{run['id']}: ok" in line and "head " in line
    assert "1 runs" in ok(cli(env, "audit", "verify")).stdout
    with db(daemon) as conn:
        drop_guards(conn, "events_no_update")
        conn.execute("UPDATE events SET data = '{\"forged\":1}' WHERE run_id = ? AND seq = 2",
                     (run["id"],))
    bad = cli(env, "audit", "verify", run["id"])
    assert bad.exit_code == errors.EXIT_FAILED and "BAD at event 2" in bad.stdout
    summary = cli(env, "audit", "verify", "--json")
    assert summary.exit_code == errors.EXIT_FAILED
    assert json.loads(summary.stdout)["failures"][0]["first_bad"]["seq"] == 2

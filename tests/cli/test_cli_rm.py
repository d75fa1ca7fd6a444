"""``wfe rm`` and ``wfe audit verify`` after it, against a real daemon process."""

from __future__ import annotations

import pytest

from tests.cli.test_cli_e2e import as_json, ok, wait_terminal
from wfe import errors

pytestmark = pytest.mark.slow

HELLO = "name: hello\nsteps:\n  - name: greet\n    run: echo hello\n"
SLOW = "name: slow\nsteps:\n  - name: nap\n    sleep: 60s\n"


@pytest.fixture
def env(daemon) -> dict[str, str]:
    return dict(daemon.env)


def publish(cli, env, tmp_path, text: str) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(text)
    ok(cli(env, "template", "create", str(f), "--publish", "--json"))


def test_rm_deletes_ended_runs_and_refuses_a_running_one(cli, env, tmp_path, daemon):
    publish(cli, env, tmp_path, HELLO)
    publish(cli, env, tmp_path, SLOW)
    done = [as_json(cli(env, "start", "hello", "--json"))["id"] for _ in range(2)]
    for run_id in done:
        assert wait_terminal(cli, env, run_id)["status"] == "completed"
    assert (daemon.home / "logs" / done[0]).exists()
    slow = as_json(cli(env, "start", "slow", "--json"))["id"]

    r = ok(cli(env, "rm", done[0][:8]))
    assert f"deleted run {done[0]}" in r.stdout and "head " in r.stdout
    [answer] = as_json(cli(env, "rm", done[1], "--json"))
    assert answer["deleted"] == [done[1]] and len(answer["head"]) == 64
    assert not (daemon.home / "logs" / done[0]).exists()
    r = cli(env, "show", done[0])
    assert r.exit_code == errors.EXIT_NOT_FOUND

    r = cli(env, "rm", slow)
    assert r.exit_code == errors.EXIT_CONFLICT, r.output
    assert "cannot delete" in r.stderr and "Traceback" not in r.output
    assert as_json(cli(env, "show", slow, "--json"))["status"] == "running"

    out = ok(cli(env, "audit", "verify")).stdout
    for run_id in done:
        assert f"{run_id}: deleted by" in out
    assert "1 runs" in out and "2 deleted runs on record: ok" in out
    one = ok(cli(env, "audit", "verify", done[0])).stdout
    report = as_json(cli(env, "audit", "verify", done[0], "--json"))
    assert report["ok"] and report["deleted"]["run_id"] == done[0]
    assert one.startswith(f"{done[0]}: deleted by") and f"head {report['head']}" in one

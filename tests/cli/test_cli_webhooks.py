"""wfe webhook ...: every command's --json and exit codes, against a real daemon and a
real receiver (which checks the signatures with an independent implementation)."""

from __future__ import annotations

import json

import pytest

from tests.webhook_receiver import Receiver
from wfe import errors

pytestmark = pytest.mark.slow


def run_json(cli, env, *args, code: int = 0):
    r = cli(env, *args)
    assert r.exit_code == code, r.output
    return json.loads(r.stdout)


def test_webhook_commands(cli, daemon):
    env = dict(daemon.env)
    with Receiver() as rx:
        hook = run_json(cli, env, "webhook", "add", rx.url("/ok"), "-e", "webhook.test", "--json")
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["webhook.test"]
        rx.secrets.append(hook["secret"])
        listed = run_json(cli, env, "webhook", "ls", "--json")
        assert [h["id"] for h in listed["items"]] == [hook["id"]]
        assert listed["items"][0]["secret"] is None
        assert cli(env, "webhook", "ls", "-q").stdout.split() == [hook["id"]]
        sent = run_json(cli, env, "webhook", "test", hook["id"], "--json")
        assert sent["status"] == "delivered" and rx.delivered("/ok")[0].verified
        deliveries = run_json(cli, env, "webhook", "deliveries", hook["id"], "--json")
        assert deliveries["items"][0]["id"] == sent["id"]
        assert run_json(cli, env, "webhook", "deliveries", hook["id"], "--failed",
                        "--json")["items"] == []
        again = run_json(cli, env, "webhook", "redeliver", sent["id"], "--json")
        assert again["id"] == sent["id"]
        assert run_json(cli, env, "webhook", "rm", hook["id"], "--json") == {
            "deleted": hook["id"]}
    assert cli(env, "webhook", "rm", hook["id"]).exit_code == errors.EXIT_NOT_FOUND
    bad = cli(env, "webhook", "add", "http://169.254.169.254/latest")
    assert bad.exit_code == errors.EXIT_USAGE and bad.stderr.startswith("error: ")


def test_a_failing_receiver_fails_webhook_test(cli, daemon):
    env = dict(daemon.env)
    with Receiver() as rx:
        hook = run_json(cli, env, "webhook", "add", rx.url("/down"), "--json")
        r = cli(env, "webhook", "test", hook["id"], "--wait", "10")
        assert r.exit_code == errors.EXIT_FAILED and "not delivered" in r.stderr


def test_add_with_a_secret_header(cli, daemon):
    env = dict(daemon.env)
    assert cli(env, "secret", "set", "HOOK_TOKEN", input="tok-123\n").exit_code == 0
    with Receiver() as rx:
        hook = run_json(cli, env, "webhook", "add", rx.url("/ok"), "-e", "webhook.test",
                        "--secret-header", "Authorization=HOOK_TOKEN",
                        "--secret-header-prefix", "Bearer ", "--json")
        assert hook["secret_header"] == {"name": "Authorization", "secret": "HOOK_TOKEN",
                                         "prefix": "Bearer "}
        rx.secrets.append(hook["secret"])
        sent = run_json(cli, env, "webhook", "test", hook["id"], "--json")
        assert sent["status"] == "delivered"
        assert rx.delivered("/ok")[0].headers["Authorization"] == "Bearer tok-123"
        shown = cli(env, "webhook", "add", rx.url("/ok"), "--secret-header", "X-Token=HOOK_TOKEN")
        assert shown.exit_code == 0 and "X-Token: <secret HOOK_TOKEN>" in shown.stdout
        assert "tok-123" not in shown.stdout
    bad = cli(env, "webhook", "add", rx.url("/ok"), "--secret-header", "X-Token")
    assert bad.exit_code == errors.EXIT_USAGE and "HEADER=SECRET" in bad.output
    refused = cli(env, "webhook", "add", rx.url("/ok"), "--secret-header", "Host=HOOK_TOKEN")
    assert refused.exit_code == errors.EXIT_USAGE and "set by wfe itself" in refused.stderr

"""Webhooks against a real daemon process: crashes lose no delivery; the CLI end to end."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import wfe
from tests.conftest import wait_until
from tests.dbutil import query
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

QUICK = {"name": "quick", "steps": [{"name": "a", "set": {"x": 1}},
                                    {"name": "b", "set": {"y": 2}}]}
FAST_RETRIES = {"WFE_WEBHOOK_RETRY_BASE": "0.05"}


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def outbox(daemon) -> list[tuple[str, str, int]]:
    return query("SELECT type, status, attempts FROM deliveries ORDER BY rowid", daemon=daemon)


def all_delivered(c, hook_id, n):
    items = c.list_deliveries(hook_id)["items"]
    return len(items) >= n and all(d["status"] == "delivered" for d in items)


def test_killed_between_commit_and_delivery_delivers_after_restart(daemon_factory, receiver):
    # The fault kills the daemon as it is about to POST the first message: the event and
    # its delivery row are committed, nothing has been sent.
    d = daemon_factory(WFE_FAULT="webhook_send:kill", **FAST_RETRIES).start()
    c = d.client()
    hook = c.create_webhook(receiver.url(), ["run.*"])
    receiver.secrets.append(hook["secret"])
    c.publish_template(c.create_template(QUICK)["id"])
    run_id = c.start_run("quick")["id"]
    d.proc.wait(20)
    assert receiver.hits == []
    assert ("run.created", "pending", 0) in outbox(d)
    d.env.pop("WFE_FAULT")
    d.start()
    c = d.client()
    wait_until(lambda: c.get_run(run_id)["status"] == "completed", message="run completed")
    wait_until(lambda: all_delivered(c, hook["id"], 3), message="all delivered")
    assert sorted(receiver.types()) == sorted(["run.created", "run.started", "run.completed"])
    assert all(h.verified for h in receiver.hits)


def test_killed_mid_post_sends_the_same_message_after_restart(daemon_factory, receiver):
    receiver.hang.set()  # the first POST never gets its answer
    d = daemon_factory(**FAST_RETRIES).start()
    c = d.client()
    hook = c.create_webhook(receiver.url("/hang"))
    receiver.secrets.append(hook["secret"])
    msg = c.send_test(hook["id"])
    wait_until(lambda: receiver.hits, message="the POST in flight")
    d.kill9()
    receiver.hang.clear()
    d.start()
    c = d.client()
    wait_until(lambda: all_delivered(c, hook["id"], 1), message="delivered after restart")
    assert [h.headers["webhook-id"] for h in receiver.hits] == [msg["id"]] * 2
    assert c.get_delivery(msg["id"])["attempts"] == 1


def test_cli_add_ls_test_deliveries_redeliver_rm(daemon, receiver):
    env = {"WFE_HOME": str(daemon.home), "WFE_URL": daemon.url}
    r = wfe(env, "webhook", "add", receiver.url(), "--event", "run.*", "--event", "approval.*",
            "--json")
    assert r.exit_code == 0, r.output
    hook = json.loads(r.stdout)
    receiver.secrets.append(hook["secret"])
    assert hook["events"] == ["run.*", "approval.*"]
    r = wfe(env, "webhook", "ls")
    assert hook["id"] in r.stdout and receiver.url() in r.stdout
    r = wfe(env, "webhook", "test", hook["id"])
    assert r.exit_code == 0 and r.stdout.startswith("delivered msg_") and "HTTP 204" in r.stdout
    msg_id = r.stdout.split()[1].rstrip(":")
    r = wfe(env, "webhook", "deliveries", hook["id"])
    assert msg_id in r.stdout and "delivered" in r.stdout and "webhook.test" in r.stdout
    r = wfe(env, "webhook", "redeliver", msg_id)
    assert r.exit_code == 0 and msg_id in r.stderr
    wait_until(lambda: len(receiver.delivered()) == 2, message="the redelivery")
    r = wfe(env, "webhook", "deliveries", hook["id"], "--failed")
    assert r.exit_code == 0 and msg_id not in r.stdout
    assert wfe(env, "webhook", "rm", hook["id"]).exit_code == 0
    r = wfe(env, "webhook", "rm", hook["id"])
    assert r.exit_code == 4 and "not found" in r.stderr


def test_cli_test_of_a_failing_receiver_exits_nonzero(daemon, receiver):
    env = {"WFE_HOME": str(daemon.home), "WFE_URL": daemon.url}
    hook = daemon.client().create_webhook(receiver.url("/down"))
    receiver.secrets.append(hook["secret"])
    r = wfe(env, "webhook", "test", hook["id"])
    assert r.exit_code == 1 and "HTTP 503" in r.stderr
    r = wfe(env, "webhook", "add", "http://169.254.169.254/")
    assert r.exit_code == 2 and "metadata" in r.stderr

"""A secret input is a canary: it must not appear, in clear or in its base64, URL-quoted or
JSON-escaped forms, anywhere the daemon writes — the database, its WAL, step logs, the
daemon's own log, API answers, or the webhooks it sends — while steps still get it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
from urllib.parse import quote, quote_plus
from urllib.request import Request, urlopen

import pytest

from tests.conftest import wait_until
from tests.dbutil import on_postgres, stored_bytes
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow
# Quotes, a slash, a space and non-ASCII: every encoding below differs from the value.
SECRET = f'cAn4ry "{secrets.token_hex(12)}"/ü+x y'
PRINT_FORMS = ("import base64, json, os, sys, urllib.parse as u; s = os.environ['T'];"
               " print(s); print(base64.b64encode(s.encode()).decode());"
               " print(base64.urlsafe_b64encode(('user:' + s).encode()).decode());"
               " print(u.quote(s, safe='')); print(u.quote_plus(s)); print(json.dumps(s));"
               " print(json.dumps({'t': s}, ensure_ascii=False), file=sys.stderr)")


def forms(s: str) -> list[bytes]:
    raw = s.encode()
    out = [s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1], quote(s, safe=""),
           quote_plus(s), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    return [f.encode() for f in out]


def leaks(data: bytes) -> list[bytes]:
    return [f for f in forms(SECRET) if f in data]


TEMPLATE = {"name": "canary", "variables": {
    "token": {"type": "string", "secret": True}, "who": {"type": "string", "default": "ada"}},
    "steps": [
        {"name": "use", "run": "echo \"token is ${{ input.token }}\"; "
                               "printf 'sha=%s\\n' \"$(printf '%s' \"$WFE_INPUT_TOKEN\""
                               " | sha256sum | cut -d' ' -f1)\" >> \"$WFE_OUTPUT\"; "
                               "echo \"copy=${{ input.token }}\" >> \"$WFE_OUTPUT\""},
        {"name": "forms", "run": [sys.executable, "-c", PRINT_FORMS],
         "env": {"T": "${{ input.token }}"}},
        {"name": "keep", "set": {"copy": "${{ input.token }}", "who": "${{ input.who }}"}},
        {"name": "gate", "approval": {"message": "deploy with ${{ input.token }}?",
                                      "timeout": "5m"}},
        {"name": "leak", "http": {"url": "http://127.0.0.1:1/?t=${{ input.token }}"},
         "retry": {"max_attempts": 2, "initial_delay": "10ms"}},
    ]}


def test_a_secret_never_lands_anywhere(daemon, tmp_path):
    c = daemon.client()
    with Receiver() as receiver:
        hook = c.create_webhook(receiver.url(), ["*"])
        receiver.secrets.append(hook["secret"])
        c.publish_template(c.create_template(TEMPLATE)["id"])
        run = c.start_run("canary", {"token": SECRET})
        assert run["input"] == {"token": "***", "who": "ada"}
        wait_until(lambda: c.get_run(run["id"])["status"] == "waiting_approval", 30)
        gate = c.get_run(run["id"])["approvals"][0]
        assert gate["message"] == "deploy with ***?"
        c.request("POST", f"/api/v1/workflows/{run['id']}/approvals/{gate['id']}/approve")
        wait_until(lambda: c.get_run(run["id"])["status"] == "failed", 30)
        done = c.get_run(run["id"])
        wait_until(lambda: "run.failed" in receiver.types(), 30, message="webhooks")
        hits = b"".join(json.dumps(h.payload, ensure_ascii=a).encode() + str(h.headers).encode()
                        for h in receiver.hits for a in (True, False))
    steps = {s["name"]: s for s in done["steps"]}
    # The steps did get the secret in clear ...
    assert steps["use"]["output"]["sha"] == hashlib.sha256(SECRET.encode()).hexdigest()
    # ... and every record of it is masked.
    assert steps["use"]["output"]["copy"] == "***" and steps["keep"]["output"]["copy"] == "***"
    assert steps["keep"]["output"]["who"] == "ada"
    log = urlopen(Request(f"{daemon.url}/api/v1/workflows/{run['id']}/steps/forms/log",
                          headers={"Authorization": f"Bearer {daemon.token}"})).read()
    assert log.count(b"***") >= 6 and not leaks(log)
    snapshots = c.request("GET", f"/api/v1/workflows/{run['id']}/snapshots")
    answers = json.dumps([done, snapshots, c.list_runs()]).encode()
    places = {"API answers": answers, "webhooks": hits, "daemon log": daemon.log().encode()}
    places |= {str(p.relative_to(daemon.home)): p.read_bytes()
               for p in daemon.home.rglob("*") if p.is_file() and p.name != "secret.key"}
    places["the database"] = stored_bytes(daemon)  # on PostgreSQL, its rows' text
    assert run["id"].encode() in places["the database"] and any(".log" in p for p in places)
    if not on_postgres(daemon):
        assert {"wfe.db", "wfe.db-wal"} <= set(places)
    found = {where: leaks(data) for where, data in places.items() if leaks(data)}
    assert not found, f"the secret leaked: {found}"
    assert len(receiver.hits) >= len(done["events"]) - 1

"""Localhost is not a security boundary: Host and Origin, media types, no CORS, size limits,
throttled authentication, and private files."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import uuid

import pytest

from tests.conftest import FAST, wait_until
from tests.dbutil import db, on_postgres, stored_bytes
from tests.support import api_client
from wfe.config import Settings, paths
from wfe.daemon.api.openapi import MUTATING, OPERATIONS
from wfe.daemon.api.routes import ROUTES
from wfe.daemon.hardening import split_host
from wfe.daemon.protocol import PARSER_ERRORS
from wfe.daemon.throttle import Throttle

V = "/api/v1"


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: "wfc_x" if m.group(1) == "token" else str(uuid.uuid4()),
                  path)


# ---- Host and Origin ----------------------------------------------------------------------

@pytest.mark.parametrize("host,port", [("127.0.0.1:8080", ("127.0.0.1", 8080)),
                                       ("LocalHost", ("localhost", None)),
                                       ("[::1]:7390", ("::1", 7390)),
                                       ("evil.example:x", ("evil.example", -1))])
def test_split_host(host, port):
    assert split_host(host) == port


async def test_host_must_be_loopback_with_our_port(settings):
    async with api_client(settings) as api:
        port = api.client.port
        for host, want in [(f"127.0.0.1:{port}", 200), (f"localhost:{port}", 200),
                           (f"[::1]:{port}", 200), (f"evil.example:{port}", 403),
                           ("127.0.0.1", 403), (f"127.0.0.1:{port + 1}", 403),
                           (f"localhost.:{port}", 403), (f"127.0.0.1.nip.io:{port}", 403)]:
            resp = await api.client.get(f"{V}/me", headers={**api.headers(), "Host": host})
            assert resp.status == want, host
            if want == 403:
                assert (await resp.json())["error"]["code"] == "forbidden"


async def test_origin_must_be_loopback(settings):
    async with api_client(settings) as api:
        for origin, want in [("https://evil.example", 403), ("null", 403),
                             ("http://127.0.0.1.evil.example", 403), ("file://", 403),
                             ("http://localhost:3000", 200), ("http://127.0.0.1", 200),
                             ("http://[::1]:9", 200)]:
            resp = await api.client.get(f"{V}/me", headers={**api.headers(), "Origin": origin})
            assert resp.status == want, origin


async def test_no_cors_headers_even_on_a_preflight(settings):
    async with api_client(settings) as api:
        preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
        resp = await api.client.options(f"{V}/workflows", headers=preflight)
        # OPTIONS needs no token and says which methods the path takes, but gives no CORS
        # answer: without Access-Control-Allow-Origin a browser sends nothing more.
        assert resp.status == 204 and resp.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
        assert not [h for h in resp.headers if h.lower().startswith("access-control-")]
        resp = await api.client.options(f"{V}/workflows", headers={**preflight, **api.headers()})
        assert resp.status == 204 and resp.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
        for method, path in [("GET", f"{V}/health"), ("GET", f"{V}/workflows"),
                             ("POST", f"{V}/workflows")]:
            resp = await api.client.request(method, path, headers={
                **api.headers(), "Origin": "http://localhost:3000"}, json={})
            assert not [h for h in resp.headers if h.lower().startswith("access-control-")]


# ---- bodies and parameters -----------------------------------------------------------------

@pytest.mark.parametrize("method,path", [(m, p) for m, p, _ in ROUTES if m in MUTATING])
async def test_every_mutating_endpoint_refuses_other_media_types(settings, method, path):
    async with api_client(settings) as api:
        for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            if media in OPERATIONS[(method, path)].media:
                continue
            status, body = await api.call(method, concrete(path), data=b"a=1",
                                          headers={"Content-Type": media})
            assert status == 415, (media, body)
            assert body["error"]["code"] == "unsupported_media_type"


async def test_yaml_only_where_documented(settings):
    async with api_client(settings) as api:
        yaml = "name: y\nsteps:\n  - name: a\n    set: {x: 1}\n"
        await api.post(f"{V}/templates", data=yaml, headers={"Content-Type": "application/yaml"},
                       expect=201)
        status, _ = await api.post(f"{V}/workflows", data="template: y\n",
                                   headers={"Content-Type": "application/yaml"})
        assert status == 415


async def test_limits_and_unknown_parameters(settings):
    async with api_client(settings) as api:
        big = io.BytesIO(b" " * (settings.max_body_bytes + 1))
        status, body = await api.post(f"{V}/tokens", data=big,
                                      headers={"Content-Type": "application/json"})
        assert status == 413
        status, _ = await api.post(f"{V}/callbacks/wfc_{'A' * 43}",
                                   data=b'"' + b"x" * 70_000 + b'"',
                                   headers={"Content-Type": "application/json"})
        assert status == 413
        status, body = await api.get(f"{V}/workflows?stauts=failed")
        assert status == 422 and body["error"]["details"][0]["path"] == "stauts"
        status, body = await api.get(f"{V}/workflows?offset={2**64}")
        assert status == 422


INTEGER_PARAMS = [(m, p, q["name"], q["in"]) for (m, p), op in OPERATIONS.items()
                  for q in op.params if q["schema"].get("type") == "integer"]


@pytest.mark.parametrize("method,path,name,where", INTEGER_PARAMS)
async def test_integer_parameters_out_of_range_are_422_before_any_handler(
        settings, method, path, name, where):
    async with api_client(settings) as api:
        for bad in (str(2**64), "-1", "1e3", "0x10", "²", "١٢"):
            kw = ({"params": {name: bad}} if where == "query"
                  else {"headers": {**api.headers(), name: bad}})
            status, body = await api.call(method, concrete(path), **kw)
            assert status == 422, (bad, body)
            assert body["error"]["details"][0]["path"] == name


def test_header_limits_on_a_real_daemon(daemon):
    port = daemon.info["port"]
    for header in (f"X-Big: {'a' * 9000}", "\r\n".join(f"X-{i}: x" for i in range(100))):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{header}\r\n"
                      "\r\n".encode())
            status_line = s.recv(200).split(b"\r\n")[0]
        assert status_line.split()[1] in (b"400", b"431"), status_line


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the answer's status, headers and body (the daemon closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("request_bytes", [
    b"GET /api/v1/health HTTP/1.1 extra\r\nHost: h\r\n\r\n",  # a bad request line
    b"G@T /api/v1/health HTTP/1.1\r\nHost: h\r\n\r\n",  # an invalid method
    b"GET /api/v1/health HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n",  # a bad header
    b"GET /api/v1/health HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    b"POST /api/v1/tokens HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\n{}\r\n0\r\n\r\n",  # a bad chunk size
], ids=["request-line", "method", "header", "long-header", "chunked"])
def test_parser_errors_answer_in_the_json_error_shape(daemon, request_bytes):
    status, headers, body = raw_exchange(daemon.info["port"], request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and error["message"].startswith("malformed HTTP")
    assert set(error) == {"code", "message", "details"}
    # In wfe's words, never the parser's (which quote the offending bytes back).
    ours = {"malformed HTTP request",
            *(f"malformed HTTP request: {why}" for _, why in PARSER_ERRORS)}
    assert error["message"] in ours, error
    if b"X-Big" in request_bytes:
        assert "over 8190 bytes" in error["message"]


# ---- throttled authentication --------------------------------------------------------------

def test_throttle_window():
    now = [0.0]
    t = Throttle(limit=3, window=10, clock=lambda: now[0])
    for _ in range(3):
        assert t.retry_after("a") is None
        t.failed("a")
        now[0] += 1
    assert t.retry_after("a") == 7  # now t=3; the first failure (t=0) leaves at t=10
    assert t.retry_after("b") is None  # another client is not affected
    now[0] = 10.0
    assert t.retry_after("a") is None
    t.failed("a")
    assert t.retry_after("a") == 1  # failures at 1, 2 and 10: blocked until t=11


def test_throttle_limits_come_from_the_environment_and_config(home):
    p = paths()
    s = Settings.load(p, env={"WFE_AUTH_FAILURE_LIMIT": "3", "WFE_AUTH_FAILURE_WINDOW": "2.5"})
    assert (s.auth_failure_limit, s.auth_failure_window) == (3, 2.5)
    p.config_file.parent.mkdir(parents=True, exist_ok=True)
    p.config_file.write_text("auth_failure_limit = 7\n")
    assert Settings.load(p, env={}).auth_failure_limit == 7
    with pytest.raises(ValueError):
        Settings.load(p, env={"WFE_AUTH_FAILURE_LIMIT": "0"})


async def test_repeated_bad_tokens_get_429_with_retry_after(home):
    settings = Settings.load(paths(), port=0, env={"WFE_AUTH_FAILURE_LIMIT": "3"}, **FAST)
    async with api_client(settings) as api:
        for _ in range(5):  # a missing token is not a guess: these do not count
            assert (await api.client.get(f"{V}/me")).status == 401
        for _ in range(3):
            status, _ = await api.get(f"{V}/me", token="wfe_guess")
            assert status == 401
        for _ in range(2):  # throttled: every further guess waits
            resp = await api.client.get(f"{V}/me", headers=api.headers("wfe_guess2"))
            assert resp.status == 429
            assert 1 <= int(resp.headers["Retry-After"]) <= 60
            assert (await resp.json())["error"]["code"] == "too_many_requests"
        assert (await api.client.get(f"{V}/me")).status == 401  # still not a guess
        resp = await api.client.get(f"{V}/health")
        assert resp.status == 200  # public endpoints are not throttled


async def test_a_flood_of_bad_tokens_does_not_lock_out_the_owner(settings):
    async with api_client(settings) as api:
        for _ in range(settings.auth_failure_limit + 5):
            await api.get(f"{V}/me", token="wfe_" + "x" * 43)
        status, me = await api.get(f"{V}/me")  # the owner's valid token: served at once
        assert status == 200 and me["is_admin"] is True
        await api.post(f"{V}/templates", json={"name": "t", "steps": [
            {"name": "a", "set": {"x": 1}}]}, expect=201)
        resp = await api.client.get(f"{V}/me", headers=api.headers("wfe_another_guess"))
        assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1


# ---- files -----------------------------------------------------------------------------------

def modes(home) -> dict[str, int]:
    return {str(p.relative_to(home)): stat.S_IMODE(p.stat().st_mode) for p in home.rglob("*")}


def test_files_are_private_and_the_daemon_refuses_loose_ones(daemon_factory):
    d = daemon_factory().start()
    client = d.client()
    client.create_template({"name": "f", "steps": [{"name": "a", "run": "echo hi"}]})
    client.publish_template("f")
    run = client.start_run("f")
    wait_until(lambda: client.get_run(run["id"])["status"] == "completed")
    found = modes(d.home)
    # The database's files are private too, when it has files here (SQLite's); on
    # PostgreSQL the state is the server's, and no database file is left in the home.
    db_files = set() if on_postgres(d) else {"wfe.db", "wfe.db-wal"}
    assert {"token", "daemon.json", "secret.key"} | db_files <= set(found)
    if on_postgres(d):
        assert not [name for name in found if name.startswith("wfe.db")], found
    assert any(name.endswith(".log") for name in found)
    for name, mode in found.items():
        want = 0o700 if (d.home / name).is_dir() else 0o600
        assert mode == want, (name, oct(mode))
    assert stat.S_IMODE(d.home.stat().st_mode) == 0o700
    d.stop()
    for name in ("token", *sorted(db_files - {"wfe.db-wal"})):
        os.chmod(d.home / name, 0o644)
        d.start(wait=False)
        assert d.proc.wait(20) == 78
        assert "refusing to start" in d.log() and name in d.log()
        os.chmod(d.home / name, 0o600)
    d.start()  # private again: it starts
    assert d.client().health()["status"] == "ok"
    d.stop()


async def test_a_run_whose_secret_no_longer_opens_fails_clearly(settings, tmp_path):
    from wfe.daemon import keys
    from wfe.daemon.secrets import Sealer

    spec = {"name": "sealed", "variables": {"pw": {"type": "string", "secret": True}},
            "steps": [{"name": "gate", "approval": {}},
                      {"name": "use", "run": "echo never > " + str(tmp_path / "ran")}]}
    async with api_client(settings) as api:
        await api.template(spec)
        run = await api.start("sealed", pw="hunter2-sealed")
        parked = await api.wait_status(run["id"], "waiting_approval")
        # The Runner is gone while the run waits; the next one meets another key, as after
        # a restart with secret.key replaced.
        api.app[keys.SUPERVISOR].sealer = Sealer.load_or_create(tmp_path / "another.key")
        gate = parked["approvals"][0]
        await api.post(f"/api/v1/workflows/{run['id']}/approvals/{gate['id']}/approve",
                       expect=200)
        done = await api.wait_status(run["id"], "failed")
    assert done["reason"] == "secret_unavailable"
    assert done["events"][-1]["data"]["input"] == "pw"
    assert not (tmp_path / "ran").exists()


GATED_SECRET = {"name": "gated", "variables": {"pw": {"type": "string", "secret": True}},
                "steps": [{"name": "gate", "approval": {}}, {"name": "use", "run": "true"}]}


async def test_a_sealed_input_copied_into_another_run_does_not_open(settings):
    """AEAD associated data binds the value to its run: someone with write access to the
    database who moves one run's sealed secret into another gets a refusal, not the secret."""
    async with api_client(settings) as api:
        await api.template(GATED_SECRET)
        donor = await api.start("gated", pw="hunter2-donor")
        victim = await api.start("gated", pw="hunter2-victim")
        await api.wait_status(donor["id"], "waiting_approval")
        parked = await api.wait_status(victim["id"], "waiting_approval")
        with db() as conn:
            conn.execute("UPDATE runs SET input = (SELECT input FROM runs WHERE id = ?)"
                         " WHERE id = ?", (donor["id"], victim["id"]))
        gate = parked["approvals"][0]
        await api.post(f"/api/v1/workflows/{victim['id']}/approvals/{gate['id']}/approve",
                       expect=200)
        done = await api.wait_status(victim["id"], "failed")
    assert done["reason"] == "secret_unavailable"


async def test_approval_comments_and_cancel_reasons_mask_secret_inputs(settings):
    async with api_client(settings) as api:
        await api.template(GATED_SECRET)
        first = await api.start("gated", pw="hunter2-comment")
        second = await api.start("gated", pw="hunter2-reason")
        parked = await api.wait_status(first["id"], "waiting_approval")
        gate = parked["approvals"][0]
        _, run = await api.post(
            f"/api/v1/workflows/{first['id']}/approvals/{gate['id']}/reject",
            json={"comment": "no: the password hunter2-comment is weak"}, expect=200)
        await api.wait_status(second["id"], "waiting_approval")
        _, cancelled = await api.post(f"/api/v1/workflows/{second['id']}/cancel",
                                      json={"reason": "leaked aHVudGVyMi1yZWFzb24= hunter2-reason"},
                                      expect=200)
        _, inbox = await api.get("/api/v1/approvals?status=rejected", expect=200)
        first_done = await api.run(first["id"])
        second_done = await api.run(second["id"])
    text = repr((run, cancelled, inbox, first_done, second_done))
    assert "hunter2-comment" not in text and "hunter2-reason" not in text
    assert "aHVudGVyMi1yZWFzb24" not in text  # its base64 too
    assert "the password *** is weak" in text
    cancel = next(e for e in second_done["events"] if e["type"] == "run.cancelled")
    assert cancel["data"]["reason"] == "leaked *** ***"
    stored = stored_bytes()
    assert first["id"].encode() in stored  # what is searched does hold the runs
    assert b"hunter2-comment" not in stored and b"hunter2-reason" not in stored

"""The web UI's sign-in and its safety: one-time codes, the session cookie's flags, the
cookie refused for cross-origin changes, revocation, the security headers, ``ui = false``."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from tests.support import api_client
from tests.ui.uihelp import code_for, exchange, sign_in, ui_settings
from wfe.daemon.ui import CSP

V = "/api/v1"
CHAIN = {"name": "chain", "steps": [{"name": "a", "run": "echo a"}]}
GATE = {"name": "gated", "steps": [{"name": "gate", "approval": {"message": "ship it?"}}]}


async def test_a_code_works_once(home):
    async with api_client(ui_settings(home)) as api:
        code = await code_for(api)
        assert code["url"].endswith(f"/ui/login?code={code['code']}")
        first = await exchange(api, code["code"])
        assert first.status == 303 and first.headers["Location"] == "/ui/"
        again = await exchange(api, code["code"])
        assert again.status == 401 and "wfe_session" not in again.headers.get("Set-Cookie", "")
        assert "not valid" in await again.text()


async def test_an_expired_code_is_refused(home):
    async with api_client(ui_settings(home, ui_code_ttl=0)) as api:
        resp = await exchange(api, (await code_for(api))["code"])
        assert resp.status == 401


async def test_the_cookie_is_httponly_strict_and_expiring(home):
    async with api_client(ui_settings(home, ui_session_ttl=600)) as api:
        resp = await exchange(api, (await code_for(api))["code"])
        morsel = SimpleCookie(resp.headers["Set-Cookie"])["wfe_session"]
        assert morsel["httponly"] and morsel["samesite"] == "Strict"
        assert morsel["max-age"] == "600" and morsel["path"] == "/"
        assert not morsel["secure"]  # plain http here; over TLS it is Secure
        assert morsel.value.startswith("wfs_") and len(morsel.value) > 40


async def test_the_cookie_changes_nothing_without_a_same_origin(home):
    async with api_client(ui_settings(home)) as api:
        await api.template(GATE)
        run = await api.wait_status((await api.start("gated"))["id"], "waiting_approval")
        cookie = await sign_in(api)
        pause = f"{V}/workflows/{run['id']}/pause"
        own = str(api.client.make_url("")).rstrip("/")
        for origin in (None, "http://127.0.0.1:1", "http://evil.example"):
            headers = {**cookie, **({"Origin": origin} if origin else {})}
            resp = await api.client.post(pause, headers=headers)
            assert resp.status == 403, (origin, await resp.text())
            assert (await resp.json())["error"]["code"] == "forbidden"
        # Reading needs no Origin; the same origin may change state.
        assert (await api.client.get(f"{V}/workflows/{run['id']}", headers=cookie)).status == 200
        resp = await api.client.post(pause, headers={**cookie, "Origin": own})
        assert resp.status == 200 and (await resp.json())["status"] == "paused"


async def test_a_pasted_token_signs_in_from_the_own_page_only(home):
    async with api_client(ui_settings(home)) as api:
        own = str(api.client.make_url("")).rstrip("/")
        form = {"token": api.token, "next": "/ui/templates"}
        refused = await api.client.post("/ui/login", data=form, allow_redirects=False)
        assert refused.status == 403
        resp = await api.client.post("/ui/login", data=form, allow_redirects=False,
                                     headers={"Origin": own})
        assert resp.status == 303 and resp.headers["Location"] == "/ui/templates"
        bad = await api.client.post("/ui/login", data={"token": "wfe_nope"},
                                    headers={"Origin": own}, allow_redirects=False)
        assert bad.status == 401 and "not valid" in await bad.text()
        evil = await api.client.post("/ui/login", data={**form, "next": "//evil.example/"},
                                     headers={"Origin": own}, allow_redirects=False)
        assert evil.headers["Location"] == "/ui/"


async def test_revoking_the_token_ends_its_sessions(home):
    async with api_client(ui_settings(home)) as api:
        _, extra = await api.post(f"{V}/tokens", json={"name": "browser"}, expect=201)
        cookie = await sign_in(api, extra["token"])
        assert (await api.client.get("/ui/", headers=cookie, allow_redirects=False)).status == 200
        await api.post(f"{V}/tokens/{extra['id']}/revoke", expect=200)
        resp = await api.client.get("/ui/", headers=cookie, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/ui/login")
        assert (await api.client.get(f"{V}/me", headers=cookie)).status == 401


async def test_signing_out_ends_the_session(home):
    async with api_client(ui_settings(home)) as api:
        cookie = await sign_in(api)
        own = str(api.client.make_url("")).rstrip("/")
        resp = await api.client.post("/ui/logout", headers={**cookie, "Origin": own},
                                     allow_redirects=False)
        assert resp.status == 303 and 'wfe_session=""' in resp.headers["Set-Cookie"]
        assert (await api.client.get(f"{V}/me", headers=cookie)).status == 401


@pytest.mark.parametrize("path", ["/ui/", "/ui/login", "/ui/approvals", "/ui/templates"])
async def test_pages_carry_a_strict_content_security_policy(home, path):
    async with api_client(ui_settings(home)) as api:
        cookie = await sign_in(api)
        resp = await api.client.get(path, headers=cookie, allow_redirects=False)
        assert resp.status == 200
        assert resp.headers["Content-Security-Policy"] == CSP
        assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert "unsafe-inline" not in CSP
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "<script>" not in await resp.text()  # no inline script to allow


async def test_the_host_check_covers_the_ui(home):
    async with api_client(ui_settings(home)) as api:
        resp = await api.client.get("/ui/login", headers={"Host": "evil.example"})
        assert resp.status == 403


async def test_ui_false_turns_it_off(home):
    async with api_client(ui_settings(home, ui=False)) as api:
        status, body = await api.post(f"{V}/ui/codes")
        assert status == 404 and body["error"]["code"] == "not_found"
        for path in ("/ui/", "/ui/login", "/ui/static/app.js"):
            assert (await api.client.get(path, allow_redirects=False)).status == 404, path


async def test_a_page_without_a_session_sends_to_sign_in(home):
    async with api_client(ui_settings(home)) as api:
        resp = await api.client.get("/ui/runs/abc?x=1", allow_redirects=False)
        assert resp.status == 303
        assert resp.headers["Location"] == "/ui/login?next=%2Fui%2Fruns%2Fabc%3Fx%3D1"

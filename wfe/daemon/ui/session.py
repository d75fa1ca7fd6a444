"""Signing in to the web UI: one-time codes, the session cookie, and same-origin writes.

``wfe ui`` asks the API for a code with the user's token (``POST /api/v1/ui/codes``) and
opens ``/ui/login?code=...``; the code is exchanged once for a session cookie (HttpOnly,
SameSite=Strict, Secure over TLS, expiring), whose server-side row holds only a hash and
dies with the token that made it. A request carrying the cookie instead of a bearer token
may change state only when its Origin is this daemon's own: SameSite keeps other sites'
requests from carrying the cookie, the Origin check refuses any that slip through (a
browser without SameSite, a sibling port on localhost, which is the same site).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.store import ops_ui
from wfe.daemon.store.util import now_iso
from wfe.errors import Forbidden, NotFound
from wfe.models import UiCode

COOKIE = "wfe_session"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def enabled(request: web.Request) -> bool:
    return request.app[keys.SETTINGS].ui


async def cookie_user(request: web.Request) -> tuple[dict, str] | None:
    """The session cookie's user and token hash, or None (no cookie, or not a live one)."""
    value = request.cookies.get(COOKIE)
    if not value or not enabled(request):
        return None
    row = await ops_ui.session_user(request.app[keys.STORE], value)
    if row is None:
        return None
    token_hash = row.pop("token_hash")
    return row, token_hash


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    ours = f"{request.scheme}://{request.host}".lower()
    return hmac.compare_digest(f"{parts.scheme}://{parts.netloc}".lower(), ours)


def check_same_origin(request: web.Request) -> None:
    """403 for a state-changing request that came with the cookie from elsewhere."""
    if request.method not in SAFE and not same_origin(request):
        raise Forbidden("a change made with the web UI's session must come from its own"
                        " pages (the Origin header must be this daemon's)")


def set_cookie(request: web.Request, resp: web.StreamResponse, session: str) -> None:
    resp.set_cookie(COOKIE, session, max_age=int(request.app[keys.SETTINGS].ui_session_ttl),
                    path="/", httponly=True, samesite="Strict", secure=request.secure)


def clear_cookie(request: web.Request, resp: web.StreamResponse) -> None:
    resp.del_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.secure)


async def create_ui_code(request: web.Request) -> web.Response:
    """``POST /api/v1/ui/codes``: a one-time sign-in code for the caller."""
    if not enabled(request):
        raise NotFound("the web UI is turned off (ui = false in config.toml)")
    settings = request.app[keys.SETTINGS]
    code, expires = await request.app[keys.STORE].write(
        ops_ui.create_ui_code, request[keys.TOKEN_HASH], settings.ui_code_ttl)
    url = f"{request.scheme}://{request.host}/ui/login?code={code}"
    body = UiCode(code=code, url=url, expires_at=now_iso(expires))
    return web.Response(body=body.model_dump_json(), status=201,
                        content_type="application/json")

"""The sign-in page: a ``wfe ui`` code exchanged once, or a pasted token; and signing out."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.store import ops_ui
from wfe.daemon.store.ops_auth import hash_token
from wfe.daemon.ui import session
from wfe.daemon.ui.render import page
from wfe.errors import Unauthorized, WfeError


def _next(raw: str | None) -> str:
    """Where to go once signed in: a page of the UI, never another site."""
    if raw and raw.startswith("/ui/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/ui/"


def _signed_in(request: web.Request, secret: str, target: str) -> web.Response:
    resp = web.Response(status=303, headers={"Location": target})
    session.set_cookie(request, resp, secret)
    return resp


async def login_page(request: web.Request) -> web.Response:
    """GET: with ``?code=``, exchange it (once) for a session; without, the sign-in form."""
    code = request.query.get("code")
    target = _next(request.query.get("next"))
    if not code:
        return page(request, "login.html", next=target)
    ttl = request.app[keys.SETTINGS].ui_session_ttl
    try:
        secret = await request.app[keys.STORE].write(ops_ui.exchange_ui_code, code, ttl)
    except Unauthorized as err:
        return page(request, "login.html", status=401, next=target, error=err.message)
    return _signed_in(request, secret, target)


async def login_with_token(request: web.Request) -> web.Response:
    """POST: a pasted API token, from this daemon's own sign-in page only."""
    session.check_same_origin(request)
    form = await request.post()
    token, target = str(form.get("token", "")).strip(), _next(str(form.get("next", "")))
    ttl = request.app[keys.SETTINGS].ui_session_ttl
    try:
        if not token:
            raise Unauthorized("paste an API token (wfe token create prints one)")
        secret = await request.app[keys.STORE].write(ops_ui.session_from_token,
                                                     hash_token(token), ttl)
    except WfeError as err:
        return page(request, "login.html", status=401, next=target, error=err.message)
    return _signed_in(request, secret, target)


async def logout(request: web.Request) -> web.Response:
    session.check_same_origin(request)
    value = request.cookies.get(session.COOKIE)
    if value:
        await request.app[keys.STORE].write(ops_ui.end_ui_session, value)
    resp = web.Response(status=303, headers={"Location": "/ui/login"})
    session.clear_cookie(request, resp)
    return resp

"""Rendering the UI's pages: the jinja2 environment, its filters, calling the API's own
handlers for the data, and the sign-in check every page makes."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from yarl import URL

from wfe.daemon import keys
from wfe.daemon.api.common import Handler
from wfe.daemon.ui import graph, session
from wfe.engine.roles import Permission, allows
from wfe.errors import WfeError

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("wfe.daemon.ui", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    trim_blocks=True, lstrip_blocks=True)


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "-"


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    a, b = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (start, end))
    return (b - a).total_seconds()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


ENV.filters.update(when=_when, duration=_duration, pretty=_pretty, urlpart=lambda v: quote(
    str(v), safe=""))
ENV.globals.update(seconds=_seconds, layout=graph.layout, W=graph.W, H=graph.H,
                   BAR_H=graph.BAR_H)


def static_url(request: web.Request, name: str) -> str:
    return str(request.app.router["ui_static"].url_for(filename=name))


def page(request: web.Request, name: str, status: int = 200, **ctx: Any) -> web.Response:
    me = request.get(keys.USER)
    text = ENV.get_template(name).render(
        me=me, path=request.path, css=static_url(request, "app.css"),
        js=static_url(request, "app.js"),
        can_author=me is not None and allows(me["role"], Permission.WRITE_TEMPLATES), **ctx)
    return web.Response(text=text, status=status, content_type="text/html")


async def api(handler: Handler, request: web.Request, query: dict | None = None) -> Any:
    """What the API's ``handler`` answers this request (with ``query`` instead of the
    page's own): the same roles, owner scoping and errors as a client would get."""
    if query is not None:
        clean = {k: str(v) for k, v in query.items() if v not in (None, "")}
        request = request.clone(rel_url=URL(request.path).with_query(clean))
    resp = await handler(request)
    assert isinstance(resp, web.Response) and resp.body is not None
    return json.loads(resp.body.decode("utf-8"))  # bytes, or a payload of the same


def login_redirect(request: web.Request) -> web.Response:
    target = "/ui/login?next=" + quote(request.path_qs, safe="")
    return web.Response(status=303, headers={"Location": target})


def signed_in(fn: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Handler:
    """A page for signed-in users: others are sent to the sign-in page; an API error is
    shown as a page with the API's status, code and message."""
    @functools.wraps(fn)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        found = await session.cookie_user(request)
        if found is None:
            return login_redirect(request)
        session.check_same_origin(request)
        request[keys.USER], request[keys.TOKEN_HASH] = found
        try:
            return await fn(request)
        except WfeError as err:
            return page(request, "error.html", status=err.http_status, error=err)
    return wrapped

"""HTTP manners an integrator expects of any API: OPTIONS and Allow, the Bearer challenge
on a 401.

OPTIONS needs no token: it says which methods a path takes, the same for every id, which
the published OpenAPI document says anyway, and never reads data. (A cross-site preflight
is still refused by the Origin check before it gets here.)
"""

from __future__ import annotations

from aiohttp import web


def allow_header(methods) -> str:
    """The Allow header of a path: its methods, with OPTIONS (answered for every path)."""
    return ", ".join(sorted({*methods, "OPTIONS"}))


@web.middleware
async def options_middleware(request: web.Request, handler) -> web.StreamResponse:
    """``OPTIONS`` on a known path: 204 with Allow. An unknown path goes on to its 404."""
    if request.method == "OPTIONS":
        exc = request.match_info.http_exception
        if isinstance(exc, web.HTTPMethodNotAllowed):
            return web.Response(status=204, headers={"Allow": allow_header(exc.allowed_methods)})
    return await handler(request)


def bearer_challenge(request: web.Request) -> str:
    """RFC 6750 3.1: the scheme and realm always; ``invalid_token`` only when a bearer
    token was sent and refused (a request without one gets no error code)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return 'Bearer realm="wfe", error="invalid_token"'
    return 'Bearer realm="wfe"'


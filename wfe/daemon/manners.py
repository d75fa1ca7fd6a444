"""HTTP manners an integrator expects of any API: OPTIONS and Allow, the Bearer challenge
on a 401, gzip for large JSON answers.

OPTIONS needs no token: it says which methods a path takes, the same for every id, which
the published OpenAPI document says anyway, and never reads data. (A cross-site preflight
is still refused by the Origin check before it gets here.)
"""

from __future__ import annotations

from aiohttp import web

COMPRESS_ABOVE = 1024  # bytes; below this gzip saves less than it costs
COMPRESSIBLE = ("application/json",)  # not text/event-stream (a stream), not ranged logs


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


def accepts_gzip(request: web.Request) -> bool:
    """Whether Accept-Encoding names gzip (or ``*``) with a q-value above 0."""
    for item in request.headers.get("Accept-Encoding", "").split(","):
        coding, *params = (p.strip() for p in item.split(";"))
        if coding.lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            return float(q) > 0
        except ValueError:
            return False
    return False


@web.middleware
async def compress_middleware(request: web.Request, handler) -> web.StreamResponse:
    """gzip a whole JSON answer over ``COMPRESS_ABOVE`` bytes when the client takes it
    (the OpenAPI document, long pages). Streams are StreamResponses and are left alone."""
    resp = await handler(request)
    if isinstance(resp, web.Response) and resp.content_type in COMPRESSIBLE:
        resp.headers["Vary"] = "Accept-Encoding"
        body = resp.body
        if isinstance(body, bytes) and len(body) > COMPRESS_ABOVE and accepts_gzip(request):
            resp.enable_compression(web.ContentCoding.gzip)
    return resp


"""A step log asked of a node that does not execute the run: the node that does answers.

A running attempt's log is a file on the disk of the node executing it, which another host
cannot read; so a node that is not the run's lease holder passes a log request on to the
holder (its ``url`` in the nodes table) with the caller's own credentials, and streams the
answer back as it comes (the live log stream included). The holder checks the caller again
as for any request. A forwarded request is never forwarded again: the header names the
node that passed it on, and a lease that moved meanwhile is served from what is here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl

import aiohttp
from aiohttp import web

from wfe.daemon import keys

log = logging.getLogger("wfe.cluster")
FORWARDED_BY = "X-Wfe-Forwarded-By"
PASSED = ("Authorization", "Cookie", "Range", "Accept", "Last-Event-ID")
RETURNED = ("Content-Type", "Content-Range", "Content-Length", "Cache-Control",
            "Accept-Ranges", "X-Accel-Buffering")
CONNECT_TIMEOUT = 5.0


async def forwarded(request: web.Request, run_id: str) -> web.StreamResponse | None:
    """The holder's answer, streamed, or None when this node answers itself (it holds the
    run, nobody does, the request was forwarded here, or the holder cannot be reached)."""
    cluster = request.app[keys.SUPERVISOR].cluster
    if cluster is None or FORWARDED_BY in request.headers:
        return None
    url = cluster.holder_url(run_id)
    if url is None:
        return None
    headers = {h: request.headers[h] for h in PASSED if h in request.headers}
    headers[FORWARDED_BY] = cluster.node
    headers["Accept-Encoding"] = "identity"  # this node compresses for its own client
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    session = aiohttp.ClientSession(timeout=timeout)
    try:
        upstream = await session.get(url + str(request.rel_url), headers=headers,
                                     ssl=_tls(request) if url.startswith("https:") else True,
                                     allow_redirects=False)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await session.close()
        log.warning("could not reach node at %s for a log of run %s (%s); answering here",
                    url, run_id, exc)
        return None
    try:
        return await _relay(request, upstream)
    finally:
        upstream.release()
        await session.close()


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    resp = web.StreamResponse(status=upstream.status, headers={
        h: upstream.headers[h] for h in RETURNED if h in upstream.headers})
    await resp.prepare(request)
    async for chunk in upstream.content.iter_any():
        await resp.write(chunk)  # a client gone raises here, which closes the upstream too
    await resp.write_eof()
    return resp


def _tls(request: web.Request) -> ssl.SSLContext:
    """Nodes trust what the CLI would (``WFE_CA_CERT``, else the system's) and this node's
    own certificate, which nodes sharing one certificate or CA present to each other."""
    settings = request.app[keys.SETTINGS]
    ctx = ssl.create_default_context(cafile=os.environ.get("WFE_CA_CERT") or None)
    if settings.tls_cert:
        # Not a CA: verification fails, and says so.
        with contextlib.suppress(OSError, ssl.SSLError):
            ctx.load_verify_locations(settings.tls_cert)
    return ctx

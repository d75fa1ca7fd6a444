"""Health."""

from __future__ import annotations

from aiohttp import web

from wfe import API_VERSION, __version__
from wfe.daemon import keys
from wfe.daemon.api.common import respond
from wfe.models import Health


async def health(request: web.Request) -> web.Response:
    stats = request.app[keys.SUPERVISOR].stats()
    return respond(Health, {
        "version": __version__, "api_version": API_VERSION, "live_runners": stats["live_runners"],
        "pid": stats["pid"], "started_at": request.app[keys.STARTED_AT],
        "stopping": stats["stopping"]})

"""Typed keys for what the aiohttp application and requests carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from wfe.config import Paths, Settings
    from wfe.daemon.store import Store
    from wfe.daemon.supervisor import Supervisor

PATHS: web.AppKey[Paths] = web.AppKey("paths")
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor")
TOKEN_CACHE: web.AppKey[dict] = web.AppKey("token_cache")
STARTED_AT: web.AppKey[str] = web.AppKey("started_at")
USER: web.RequestKey[dict] = web.RequestKey("user", dict)
# The SHA-256 of the API token behind the request (a session's: the token that made it).
TOKEN_HASH: web.RequestKey[str] = web.RequestKey("token_hash", str)

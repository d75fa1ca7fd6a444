"""Health and users."""

from __future__ import annotations

from aiohttp import web

from wfe import API_VERSION, __version__
from wfe.daemon import keys
from wfe.daemon.api.common import read_model, respond, user
from wfe.daemon.store.ops_auth import create_user as create_user_op
from wfe.errors import Forbidden
from wfe.models import CreateUser, Health, User, UserWithToken


async def health(request: web.Request) -> web.Response:
    stats = request.app[keys.SUPERVISOR].stats()
    return respond(Health, {
        "version": __version__, "api_version": API_VERSION, "live_runners": stats["live_runners"],
        "pid": stats["pid"], "started_at": request.app[keys.STARTED_AT],
        "stopping": stats["stopping"]})


async def me(request: web.Request) -> web.Response:
    return respond(User, user(request))


async def create_user(request: web.Request) -> web.Response:
    if not user(request)["is_admin"]:
        raise Forbidden("only an admin can add users")
    body = await read_model(request, CreateUser)
    new_user, token = await request.app[keys.STORE].write(create_user_op, body.name, body.is_admin)
    return respond(UserWithToken, {"user": new_user, "token": token}, status=201)

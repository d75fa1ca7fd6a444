"""Users: who the caller is, and (admins) who may use the daemon, with which role."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import page_params, read_model, requires, respond, user
from wfe.daemon.store import ops_auth, queries
from wfe.engine.roles import DEFAULT_ROLE, Permission, Role
from wfe.errors import NotFound, ValidationFailed
from wfe.models import CreateUser, Page, UpdateUser, User, UserWithToken


def user_view(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "role": row["role"],
            "is_admin": row["role"] == Role.ADMIN, "created_at": row["created_at"]}


async def me(request: web.Request) -> web.Response:
    return respond(User, user_view(user(request)))


@requires(Permission.MANAGE_USERS)
async def list_users(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    items, total = await queries.list_users(request.app[keys.STORE], limit, offset)
    return respond(Page[User], {"items": [user_view(r) for r in items], "total": total,
                                "limit": limit, "offset": offset})


@requires(Permission.MANAGE_USERS)
async def create_user(request: web.Request) -> web.Response:
    body = await read_model(request, CreateUser)
    new_user, token = await request.app[keys.STORE].write(ops_auth.create_user, body.name,
                                                          _role(body))
    return respond(UserWithToken, {"user": user_view(new_user), "token": token}, status=201)


def _role(body: CreateUser) -> str:
    if body.is_admin and body.role not in (None, Role.ADMIN):
        raise ValidationFailed("invalid request", [
            {"path": "is_admin", "message": f"contradicts role {body.role}; give only role"}])
    return Role.ADMIN if body.is_admin else (body.role or DEFAULT_ROLE)


@requires(Permission.MANAGE_USERS)
async def get_user(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    row = await queries.get_user(request.app[keys.STORE], ref)
    if row is None:
        raise NotFound(f"user {ref} not found")
    return respond(User, user_view(row))


@requires(Permission.MANAGE_USERS)
async def update_user(request: web.Request) -> web.Response:
    body = await read_model(request, UpdateUser)
    row = await request.app[keys.STORE].write(ops_auth.set_role, request.match_info["id"],
                                              body.role, user(request)["id"])
    request.app[keys.TOKEN_CACHE].clear()  # the cache holds each token's user with its role
    return respond(User, user_view(row))


@requires(Permission.MANAGE_USERS)
async def delete_user(request: web.Request) -> web.Response:
    await request.app[keys.STORE].write(ops_auth.remove_user, request.match_info["id"],
                                        user(request)["id"])
    request.app[keys.TOKEN_CACHE].clear()  # no window in which their tokens still work
    return web.Response(status=204)

"""Stored secrets and variables: set, list, remove; and the audit log of their changes.

A secret's value goes in and never comes out: it is sealed here, before the store sees
it, and no answer, event or log holds it. Each user has their own; the global ones (read
by every user's runs when they have none of that name) are an admin's to set. Another
user's do not exist for the caller: they are never listed, and a name is looked up in
the caller's scope only (404).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import bool_param, may, page, page_params, read_model, respond, user
from wfe.daemon.secrets import OFF_LOOP_BYTES, stored_secret_context
from wfe.daemon.store import ops_secrets
from wfe.engine.roles import Permission, require
from wfe.engine.stored import NAME
from wfe.errors import NotFound
from wfe.models import GlobalEvent, SetStoredValue, StoredValue, StoredValueBody


def _scope(request: web.Request, is_global: bool) -> str:
    """The scope a write goes to: the caller's own, or global (403 unless an admin)."""
    if is_global:
        require(user(request)["role"], Permission.GLOBAL_SECRETS)
        return ops_secrets.GLOBAL
    return user(request)["name"]


def _path_name(request: web.Request, kind: str) -> str:
    name = request.match_info["name"]
    if not NAME.fullmatch(name):
        raise NotFound(f"{kind} {name} not found")
    return name


async def _stored_text(request: web.Request, kind: str, scope: str, name: str,
                       value: str) -> str:
    if kind == "var":
        return value
    sealer = request.app[keys.SUPERVISOR].sealer
    assert sealer is not None  # the app loads the key before it serves
    context = stored_secret_context(scope, name)
    if len(value) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(sealer.seal, value, context)
    return sealer.seal(value, context)


async def _set(request: web.Request, kind: str, name: str, body: StoredValueBody,
               status: int) -> web.Response:
    scope = _scope(request, body.global_)
    text = await _stored_text(request, kind, scope, name, body.value)
    row = await request.app[keys.STORE].write(ops_secrets.set_value, kind, scope, name, text,
                                              user(request)["name"])
    return respond(StoredValue, row, status=status)


def handlers(kind: str):
    """The five handlers of ``kind`` ("secret" or "var"): one behaviour, two nouns."""
    async def create(request: web.Request) -> web.Response:
        body = await read_model(request, SetStoredValue)
        return await _set(request, kind, body.name, body, 201)

    async def put(request: web.Request) -> web.Response:
        name = _path_name(request, kind)
        return await _set(request, kind, name, await read_model(request, StoredValueBody), 200)

    async def list_(request: web.Request) -> web.Response:
        limit, offset = page_params(request)
        items, total = await ops_secrets.list_values(request.app[keys.STORE], kind,
                                                     user(request)["name"], limit, offset)
        return page(StoredValue, items, total, limit, offset)

    async def remove(request: web.Request) -> web.Response:
        name = _path_name(request, kind)
        scope = _scope(request, bool_param(request, "global"))
        await request.app[keys.STORE].write(ops_secrets.remove_value, kind, scope, name,
                                            user(request)["name"])
        return web.Response(status=204)

    named = []
    for verb, fn in (("create", create), ("put", put), ("list", list_), ("remove", remove)):
        fn.__name__ = fn.__qualname__ = f"{verb}_{kind}"  # the OpenAPI operationId
        named.append(fn)
    return tuple(named)


create_secret, put_secret, list_secrets, remove_secret = handlers("secret")
create_var, put_var, list_vars, remove_var = handlers("var")


async def global_events(request: web.Request) -> web.Response:
    """Changes to secrets and variables: an admin sees all, anyone else their own."""
    limit, offset = page_params(request)
    actor = None if may(request, Permission.GLOBAL_SECRETS) else user(request)["name"]
    items, total = await ops_secrets.list_global_events(request.app[keys.STORE], actor, limit,
                                                        offset)
    return page(GlobalEvent, items, total, limit, offset)

"""The caller's API tokens: create another, list them, revoke one."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import page, page_params, path_id, read_model, respond, user
from wfe.daemon.store import ops_auth, queries
from wfe.models import CreateToken, NewToken, Token


async def create_token(request: web.Request) -> web.Response:
    body = await read_model(request, CreateToken, optional=True)
    row, token = await request.app[keys.STORE].write(ops_auth.create_token, user(request)["id"],
                                                     body.name)
    return respond(NewToken, {**row, "token": token}, status=201)


async def list_tokens(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    items, total = await queries.list_tokens(request.app[keys.STORE], user(request)["id"],
                                             limit, offset)
    return page(Token, items, total, limit, offset)


async def revoke_token(request: web.Request) -> web.Response:
    token_id = path_id(request, "token")
    row = await request.app[keys.STORE].write(ops_auth.revoke_token, user(request)["id"], token_id)
    # The cache maps token hashes to users; dropping all of it is cheap and leaves no
    # window in which the revoked token still works.
    request.app[keys.TOKEN_CACHE].clear()
    return respond(Token, row)

"""Inbound callbacks: the unguessable URL is the credential; the owner may post too."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import body_bytes, parse_json, path_run_id, requires, respond, user
from wfe.daemon.store import ops_callbacks
from wfe.engine.roles import Permission
from wfe.errors import NotFound, PayloadTooLarge
from wfe.models import CallbackAccepted

MAX_PAYLOAD = 64 * 1024


async def _payload(request: web.Request):
    if request.content_length is not None and request.content_length > MAX_PAYLOAD:
        raise PayloadTooLarge(f"a callback payload is at most {MAX_PAYLOAD} bytes")
    raw = await body_bytes(request)
    if len(raw) > MAX_PAYLOAD:
        raise PayloadTooLarge(f"a callback payload is at most {MAX_PAYLOAD} bytes")
    return await parse_json(raw) if raw.strip() else {}


async def _deliver(request: web.Request, digest: str) -> web.Response:
    payload = await _payload(request)
    run_id = await request.app[keys.STORE].write(ops_callbacks.receive, digest, payload)
    if run_id is not None:  # the step is waiting: the payload is durable, wake the run
        request.app[keys.SUPERVISOR].wake(run_id)
    return respond(CallbackAccepted, {"accepted": True, "consumed": run_id is not None},
                   status=202)


async def by_token(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not token.startswith(ops_callbacks.TOKEN_PREFIX) or len(token) > 100:
        raise NotFound("unknown callback")
    return await _deliver(request, ops_callbacks.token_hash(token))


@requires(Permission.CONTROL_RUNS)
async def by_owner(request: web.Request) -> web.Response:
    run_id = path_run_id(request)
    digest = await request.app[keys.STORE].write(
        ops_callbacks.digest_for_step, run_id, user(request)["name"], request.match_info["step"])
    return await _deliver(request, digest)

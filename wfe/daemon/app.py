"""The aiohttp application: middleware (errors, host and origin checks, auth) and lifecycle."""

from __future__ import annotations

import getpass
import hmac
import logging

import aiohttp
from aiohttp import web

from wfe.config import Paths, Settings, ensure_private_dir, write_private
from wfe.daemon import keys, ui
from wfe.daemon.api import idempotency, routes, stream
from wfe.daemon.cluster import Cluster
from wfe.daemon.hardening import (
    check_host_and_origin,
    check_media_type,
    check_no_body,
    check_private_files,
    check_query,
    normalise_path_ids,
    secret_key_file,
)
from wfe.daemon.manners import (
    allow_header,
    bearer_challenge,
    compress_middleware,
    options_middleware,
)
from wfe.daemon.secrets import Sealer
from wfe.daemon.store import Store, queries
from wfe.daemon.store.backends import is_shared, make_store, node_id
from wfe.daemon.store.ops_auth import bootstrap_admin, hash_token, reset_admin_token
from wfe.daemon.store.util import now_iso
from wfe.daemon.supervisor import Supervisor
from wfe.daemon.throttle import Throttle
from wfe.daemon.ui import session
from wfe.daemon.webhooks import Deliverer
from wfe.engine import strictjson
from wfe.errors import (
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    StorageFull,
    TooManyRequests,
    Unauthorized,
    WfeError,
)

log = logging.getLogger("wfe.daemon")
PUBLIC = ("/api/v1/health", "/api/v1/callbacks/", "/api/v1/openapi.json")
THROTTLE = web.AppKey("auth_throttle", Throttle)


def error_response(err: WfeError) -> web.Response:
    resp = web.json_response(err.to_dict(), status=err.http_status, dumps=strictjson.dumps)
    if isinstance(err, TooManyRequests | StorageFull) and isinstance(err.details, dict):
        resp.headers["Retry-After"] = str(err.details.get("retry_after", 1))
    if isinstance(err, RangeNotSatisfiable) and isinstance(err.details, dict):
        resp.headers["Content-Range"] = f"bytes */{err.details.get('size', 0)}"  # RFC 9110
    return resp


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Unauthorized as err:
        resp = error_response(err)
        resp.headers["WWW-Authenticate"] = bearer_challenge(request)  # RFC 6750
        return resp
    except WfeError as err:
        return error_response(err)
    except web.HTTPRequestEntityTooLarge:
        return error_response(PayloadTooLarge(
            f"the body is over the limit of {request.app[keys.SETTINGS].max_body_bytes} bytes"))
    except web.HTTPMethodNotAllowed as exc:
        allowed = allow_header(exc.allowed_methods)
        resp = error_response(MethodNotAllowed(f"{request.method} is not allowed here",
                                               {"allowed": allowed.split(", ")}))
        resp.headers["Allow"] = allowed  # RFC 9110 wants it
        return resp
    except web.HTTPNotFound:
        return error_response(NotFound(f"no such endpoint: {request.path}"))
    except web.HTTPException as exc:
        if exc.status >= 500:
            log.error("HTTP %s on %s", exc.status, request.path)
            return error_response(InternalError())
        return error_response(BadRequest(exc.reason))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(InternalError())


@web.middleware
async def origin_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Localhost is not a security boundary: refuse DNS rebinding and cross-site requests."""
    check_host_and_origin(request)
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    # OPTIONS reads nothing (see wfe.daemon.manners); everything else needs a token. The
    # web UI's pages sign their visitors in themselves (wfe.daemon.ui).
    if not request.path.startswith(PUBLIC) and request.method != "OPTIONS" \
            and not ui.is_ui_path(request.path):
        await _authenticate(request)
    return await handler(request)


@web.middleware
async def media_middleware(request: web.Request, handler) -> web.StreamResponse:
    # Before any handler, even one that ignores its body or its query.
    check_media_type(request)
    check_query(request)
    await check_no_body(request)
    normalise_path_ids(request)
    return await handler(request)


async def _authenticate(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    # The web UI's pages call the API with their session cookie (an EventSource cannot
    # send a header); a bearer token, when there is one, is what counts.
    if not header and (found := await session.cookie_user(request)) is not None:
        session.check_same_origin(request)
        request[keys.USER], request[keys.TOKEN_HASH] = found
        return
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer wfe_...)")
    try:
        request[keys.USER] = await _user_for(request.app, token.strip())
        request[keys.TOKEN_HASH] = hash_token(token.strip())
    except Unauthorized:
        # A wrong token is a guess (a missing one is not): while this client is throttled
        # it answers 429, never 401, and each one keeps the throttle on. A valid token was
        # served above whatever the throttle says, so a flood cannot lock out the owner.
        throttle, client = request.app[THROTTLE], request.remote or "local"
        throttled = throttle.retry_after(client) is not None
        throttle.failed(client)
        wait = throttle.retry_after(client)
        if throttled and wait is not None:
            raise TooManyRequests(f"too many failed authentications; try again in {wait}s",
                                  {"retry_after": wait}) from None
        raise


async def _user_for(app: web.Application, token: str) -> dict:
    digest = hash_token(token)
    cache = app[keys.TOKEN_CACHE]
    user = cache.get(digest)
    if user is None:
        user = await queries.user_by_token_hash(app[keys.STORE], digest)
        # The lookup is by hash; compare once more in constant time all the same.
        if user is None or not hmac.compare_digest(user["hash"], digest):
            raise Unauthorized("the token is not valid")
        user = {k: v for k, v in user.items() if k != "hash"}
        cache[digest] = user
    return user


def make_app(p: Paths, settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[compress_middleware, errors_middleware, origin_middleware,
                     options_middleware, auth_middleware, media_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[keys.PATHS] = p
    app[keys.SETTINGS] = settings
    app[keys.TOKEN_CACHE] = {}
    app[THROTTLE] = Throttle(settings.auth_failure_limit, settings.auth_failure_window)
    app[keys.STARTED_AT] = now_iso()
    routes.setup(app)
    if settings.ui:
        ui.setup(app)
    # Before the server waits for running handlers: a stream would run until its client left.
    app.on_shutdown.append(stream.close_streams)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application):
    """Open the store, recover interrupted runs and start the loops, all before serving."""
    p, settings = app[keys.PATHS], app[keys.SETTINGS]
    for d in p.all_dirs():
        ensure_private_dir(d)
    check_private_files(p, settings)
    store = make_store(settings, p)
    await store.open()
    app[keys.STORE] = store
    await _ensure_token(store, p)
    sup = Supervisor(store, settings, p.logs_dir)
    key_file = secret_key_file(p, settings)
    sup.sealer = Sealer.load_or_create(key_file)
    app[idempotency.FINGERPRINT_KEY] = idempotency.fingerprint_key(key_file)
    if is_shared(settings):
        sup.cluster = Cluster(sup, node_id(settings, p))
        await sup.cluster.start(key_file)
    sup.http = http = aiohttp.ClientSession()
    app[keys.SUPERVISOR] = sup
    await sup.recover()
    sup.start()
    deliverer = Deliverer(store, settings, sup.sealer,
                          claim=sup.cluster.claim_delivery if sup.cluster else None)
    deliverer.start()
    yield
    await deliverer.stop()
    await sup.stop()
    if sup.cluster is not None:
        await sup.cluster.stop()
    await http.close()
    await store.close()


async def _ensure_token(store: Store, p: Paths) -> None:
    """At first start, the local admin and its token file; a lost token file is replaced."""
    name = _os_user()
    token = await store.write(bootstrap_admin, name)
    if token is None and not p.token_file.exists():
        token = await store.write(reset_admin_token, name)
    if token is not None:
        write_private(p.token_file, token + "\n")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "admin"


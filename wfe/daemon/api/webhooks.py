"""Webhooks: subscribe, list, delete; their deliveries, redelivery and a test message."""

from __future__ import annotations

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import (
    bool_param,
    choice_param,
    page,
    page_params,
    path_id,
    read_model,
    respond,
    user,
)
from wfe.daemon.store import ops_webhooks
from wfe.engine.webhooks import (
    new_secret,
    refused_header_name,
    refused_url,
    secret_key,
    valid_pattern,
)
from wfe.errors import NotFound, ValidationFailed
from wfe.models import CreateWebhook, Delivery, Webhook

STATUSES = ("pending", "delivered", "failed")


def checked_url(request: web.Request, url: str, path: str) -> str:
    """The destination policy (README, Webhooks); a 422 naming ``path`` when refused."""
    reason = refused_url(url, request.app[keys.SETTINGS].webhook_allow_private)
    if reason:
        raise ValidationFailed("invalid request", [{"path": path, "message": reason}])
    return url


def callback_hook(request: web.Request, url: str | None) -> dict | None:
    """A run's callback_url as a webhook ``{url, secret}`` for ``create_run``."""
    if url is None:
        return None
    return {"url": checked_url(request, url, "callback_url"), "secret": new_secret()}


def _checked_body(request: web.Request, body: CreateWebhook) -> None:
    checked_url(request, body.url, "url")
    bad = [{"path": f"events[{i}]", "message": "a pattern of letters, digits, . _ - and * ?"}
           for i, p in enumerate(body.events) if not valid_pattern(p)]
    if body.secret is not None:
        try:
            secret_key(body.secret)
        except ValueError as exc:
            bad.append({"path": "secret", "message": str(exc)})
    header = body.secret_header
    reason = refused_header_name(header.name) if header is not None else None
    if reason:
        bad.append({"path": "secret_header.name", "message": reason})
    if bad:
        raise ValidationFailed("invalid request", bad)


def _hook_id(request: web.Request) -> str:
    return path_id(request, "webhook")


async def _owned_hook(request: web.Request) -> dict:
    hook_id = _hook_id(request)
    hook = await ops_webhooks.get_webhook(request.app[keys.STORE], user(request)["name"], hook_id)
    if hook is None:
        raise NotFound(f"webhook {hook_id} not found")
    return hook


async def create_webhook(request: web.Request) -> web.Response:
    body = await read_model(request, CreateWebhook)
    _checked_body(request, body)
    store, me = request.app[keys.STORE], user(request)["name"]
    secret = body.secret or new_secret()
    # Only the secret's name is kept: the value is read at each delivery, so it may be
    # set later, and rotating it needs no change here.
    header = body.secret_header.model_dump() if body.secret_header is not None else None
    hook_id = await store.write(ops_webhooks.create_webhook, me, body.url, body.events, secret,
                                header)
    hook = await ops_webhooks.get_webhook(store, me, hook_id)
    assert hook is not None  # committed above by the single writer
    return respond(Webhook, {**hook, "secret": secret}, status=201)  # the secret, this once


async def list_webhooks(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    run_id = request.query.get("run_id") or None
    items, total = await ops_webhooks.list_webhooks(request.app[keys.STORE], user(request)["name"],
                                                    run_id, limit, offset)
    return page(Webhook, items, total, limit, offset)


async def get_webhook(request: web.Request) -> web.Response:
    return respond(Webhook, await _owned_hook(request))


async def delete_webhook(request: web.Request) -> web.Response:
    await request.app[keys.STORE].write(ops_webhooks.delete_webhook, user(request)["name"],
                                        _hook_id(request))
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    hook = await _owned_hook(request)
    limit, offset = page_params(request)
    status = choice_param(request, "status", STATUSES)
    failing = bool_param(request, "failing")
    items, total = await ops_webhooks.list_deliveries(request.app[keys.STORE], hook["id"], status,
                                                      limit, offset, failing)
    return page(Delivery, items, total, limit, offset)


async def get_delivery(request: web.Request) -> web.Response:
    delivery_id = request.match_info["delivery_id"]
    found = await ops_webhooks.get_delivery(request.app[keys.STORE], user(request)["name"],
                                            delivery_id)
    if found is None:
        raise NotFound(f"delivery {delivery_id} not found")
    return respond(Delivery, found)


async def redeliver(request: web.Request) -> web.Response:
    store, me = request.app[keys.STORE], user(request)["name"]
    delivery_id = request.match_info["delivery_id"]
    await store.write(ops_webhooks.redeliver, me, _hook_id(request), delivery_id)
    return respond(Delivery, await ops_webhooks.get_delivery(store, me, delivery_id), status=202)


async def send_test(request: web.Request) -> web.Response:
    store, me = request.app[keys.STORE], user(request)["name"]
    delivery_id = await store.write(ops_webhooks.enqueue_test, me, _hook_id(request))
    return respond(Delivery, await ops_webhooks.get_delivery(store, me, delivery_id), status=202)

"""Templates: create a draft version, publish it, read them."""

from __future__ import annotations

import asyncio

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import body_bytes, choice_param, page, page_params, respond, user
from wfe.daemon.store import ops_templates, queries
from wfe.engine.spec import load_template_text, parse_template
from wfe.errors import NotFound
from wfe.models import Template

CONTENT_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")


async def create_template(request: web.Request) -> web.Response:
    raw = await body_bytes(request, CONTENT_TYPES)
    # Reading and checking take time linear in the body: in a thread, so the loop serves on.
    data = await asyncio.to_thread(_checked, raw, request.content_type,
                                   request.app[keys.SETTINGS].max_template_steps)
    store, me = request.app[keys.STORE], user(request)
    template_id = await store.write(ops_templates.create_template, me["name"], me["is_admin"],
                                    data)
    row = await queries.get_template(store, template_id)
    return respond(Template, queries.template_view(row), status=201)


def _checked(raw: bytes, content_type: str, max_steps: int) -> dict:
    spec = parse_template(load_template_text(raw, content_type), max_steps)
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _find(request: web.Request) -> dict:
    ref = request.match_info["id"]
    row = await queries.get_template(request.app[keys.STORE], ref, viewer=user(request))
    if row is None:
        raise NotFound(f"template {ref} not found")
    return row


async def publish_template(request: web.Request) -> web.Response:
    row = await _find(request)
    store = request.app[keys.STORE]
    await store.write(ops_templates.publish_template, row["id"])
    return respond(Template, queries.template_view(await queries.get_template(store, row["id"])))


async def get_template(request: web.Request) -> web.Response:
    return respond(Template, queries.template_view(await _find(request)))


async def list_templates(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    status = choice_param(request, "status", ["draft", "published", "archived"])
    items, total = await queries.list_templates(request.app[keys.STORE], request.query.get("name"),
                                                status, limit, offset, viewer=user(request))
    return page(Template, items, total, limit, offset)

"""Templates: create a draft version, publish it, read them, delete one."""

from __future__ import annotations

import asyncio

from aiohttp import web

from wfe.daemon import keys
from wfe.daemon.api.common import (
    body_bytes,
    choice_param,
    may,
    page,
    page_params,
    requires,
    respond,
    template_viewer,
    user,
)
from wfe.daemon.store import ops_templates, queries
from wfe.engine.roles import Permission
from wfe.engine.spec import load_template_text, parse_template, template_warnings
from wfe.errors import Forbidden, NotFound
from wfe.models import CreatedTemplate, Template

CONTENT_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")


@requires(Permission.WRITE_TEMPLATES)
async def create_template(request: web.Request) -> web.Response:
    raw = await body_bytes(request, CONTENT_TYPES)
    # Reading and checking take time linear in the body: in a thread, so the loop serves on.
    settings = request.app[keys.SETTINGS]
    spec = await asyncio.to_thread(_checked, raw, request.content_type,
                                   settings.max_template_steps, settings.max_expression_bytes)
    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    store, me = request.app[keys.STORE], user(request)
    template_id = await store.write(ops_templates.create_template, me["name"],
                                    may(request, Permission.ANY_TEMPLATE), data)
    row = await queries.get_template(store, template_id)
    assert row is not None  # committed above by the single writer
    answer = {**queries.template_view(row), "warnings": template_warnings(spec)}
    return respond(CreatedTemplate, answer, status=201)


def _checked(raw: bytes, content_type: str, max_steps: int, max_expression_bytes: int):
    return parse_template(load_template_text(raw, content_type), max_expression_bytes,
                          max_steps)


async def _find(request: web.Request) -> dict:
    ref = request.match_info["id"]
    row = await queries.get_template(request.app[keys.STORE], ref,
                                     viewer=template_viewer(request))
    if row is None:
        raise NotFound(f"template {ref} not found")
    return row


@requires(Permission.WRITE_TEMPLATES)
async def publish_template(request: web.Request) -> web.Response:
    row = await _find(request)
    store = request.app[keys.STORE]
    await store.write(ops_templates.publish_template, row["id"])
    published = await queries.get_template(store, row["id"])
    assert published is not None  # a template is never deleted
    return respond(Template, queries.template_view(published))


@requires(Permission.WRITE_TEMPLATES)
async def delete_template(request: web.Request) -> web.Response:
    row = await _find(request)
    if row["owner"] != user(request)["name"] and not may(request, Permission.ANY_TEMPLATE):
        raise Forbidden(f"template {row['name']}@{row['version']} is {row['owner']}'s",
                        {"owner": row["owner"]})
    await request.app[keys.STORE].write(ops_templates.delete_template, row["id"])
    return web.Response(status=204)


@requires(Permission.READ_TEMPLATES)
async def get_template(request: web.Request) -> web.Response:
    return respond(Template, queries.template_view(await _find(request)))


@requires(Permission.READ_TEMPLATES)
async def list_templates(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    status = choice_param(request, "status", ["draft", "published", "archived"])
    items, total = await queries.list_templates(request.app[keys.STORE], request.query.get("name"),
                                                status, limit, offset,
                                                viewer=template_viewer(request))
    return page(Template, items, total, limit, offset)

"""Request parsing and response helpers shared by the handlers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from wfe.daemon import keys
from wfe.daemon.secrets import Masker, open_inputs, open_stored
from wfe.daemon.store import ops_secrets, queries
from wfe.engine import jsontext
from wfe.engine.fieldtext import field_message
from wfe.engine.inputs import parse_boolean
from wfe.engine.roles import Permission, allows, require
from wfe.engine.stored import template_reads
from wfe.errors import BadRequest, NotFound, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_LIMIT = 500
MAX_OFFSET = 2**63 - 1  # SQLite's largest integer; a larger one would be a 500
THREAD_ABOVE = 64 * 1024  # a body this large is parsed off the event loop


def user(request: web.Request) -> dict:
    return request[keys.USER]


def may(request: web.Request, permission: Permission) -> bool:
    return allows(user(request)["role"], permission)


def requires(permission: Permission):
    """A handler only a role with ``permission`` may call; the others get 403 before it
    reads anything (see wfe.engine.roles for the table)."""
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            require(user(request)["role"], permission)
            return await handler(request)
        return checked
    return decorate


def template_viewer(request: web.Request) -> dict | None:
    """Whose drafts the caller sees: their own, or (None) everyone's."""
    return None if may(request, Permission.ANY_TEMPLATE) else user(request)


def pydantic_details(exc: ValidationError, prefix: str = "") -> list[dict]:
    out = []
    for err in exc.errors(include_url=False):
        path = prefix
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        out.append({"path": path or "(body)", "message": field_message(err)})
    return out


async def body_bytes(request: web.Request,
                     allowed: tuple[str, ...] = ("application/json",)) -> bytes:
    if request.content_type not in allowed:
        raise UnsupportedMediaType(
            f"the body must be {' or '.join(allowed)}, not {request.content_type or 'absent'}")
    return await request.read()


async def parse_json(raw: bytes) -> Any:
    """The body's JSON (see jsontext.loads for what is refused); a large one is read in a
    thread, as its time grows with its size."""
    if len(raw) > THREAD_ABOVE:
        return await asyncio.to_thread(jsontext.loads, raw)
    return jsontext.loads(raw)


async def read_model(request: web.Request, model: type[M], optional: bool = False) -> M:
    """The body as a model: 415 for another content type, 400 for bad JSON, 422 for fields."""
    if optional and not request.can_read_body:
        return model()
    data = await parse_json(await body_bytes(request))
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("invalid request", pydantic_details(exc)) from None


def page_params(request: web.Request) -> tuple[int, int]:
    errors = []
    values = {}
    for name, default, top in (("limit", 50, MAX_LIMIT), ("offset", 0, MAX_OFFSET)):
        raw = request.query.get(name)
        try:
            value = default if raw is None else int(raw)
            if value < (1 if name == "limit" else 0) or (top is not None and value > top):
                raise ValueError
        except ValueError:
            bound = f"1..{top}" if name == "limit" else f"0..{top}"
            errors.append({"path": name, "message": f"must be an integer {bound}"})
            value = default
        values[name] = value
    if errors:
        raise ValidationFailed("invalid query parameters", errors)
    return values["limit"], values["offset"]


def choice_param(request: web.Request, name: str, allowed) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    allowed = [str(a) for a in allowed]  # "" is refused too: the document lists the values
    if raw not in allowed:
        raise ValidationFailed("invalid query parameters",
                               [{"path": name, "message": f"must be one of: {', '.join(allowed)}"}])
    return raw


def bool_param(request: web.Request, name: str) -> bool:
    """A boolean query parameter (absent is false), read with the one table of words."""
    raw = request.query.get(name)
    if raw is None:
        return False
    try:
        return parse_boolean(raw)
    except ValueError as e:
        raise ValidationFailed("invalid query parameters",
                               [{"path": name, "message": str(e)}]) from None


def respond(model: type[BaseModel], data: Any, status: int = 200) -> web.Response:
    body = model.model_validate(data).model_dump_json()
    return web.Response(body=body, status=status, content_type="application/json")


def page(model: type[BaseModel], items: list, total: int, limit: int, offset: int) -> web.Response:
    from wfe.models import Page

    # The item model is chosen at run time; pydantic parametrises Page then, mypy cannot.
    body = {"items": items, "total": total, "limit": limit, "offset": offset}
    return respond(Page[model], body)  # type: ignore[valid-type]


def page_json(items: str, total: int, limit: int, offset: int) -> web.Response:
    """A page whose items are already JSON text (built by the store), shaped as ``Page``."""
    body = f'{{"items":{items},"total":{total},"limit":{limit},"offset":{offset}}}'
    return web.Response(body=body.encode(), content_type="application/json")


def path_id(request: web.Request, noun: str) -> str:
    """The path's ``{id}``, when it can be one: anything else is as unknown as a missing
    ``noun`` (a run, a webhook, a token)."""
    value = request.match_info["id"]
    if not queries.is_uuid(value):
        raise NotFound(f"{noun} {value} not found")
    return value


def path_run_id(request: web.Request) -> str:
    return path_id(request, "run")


async def visible_run(request: web.Request) -> dict:
    """The path's run (no details) if the caller may read it; 404 like an unknown id if not."""
    run = await queries.get_run(request.app[keys.STORE], request.match_info["id"],
                                user(request)["name"], detail=False)
    if run is None:
        raise NotFound(f"run {request.match_info['id']} not found")
    return run


async def run_answer(request: web.Request) -> web.Response:
    """The path's run in full, as the Run model's JSON, for whoever may read it (else 404)."""
    body = await queries.get_run_json(request.app[keys.STORE], request.match_info["id"],
                                      user(request)["name"])
    if body is None:
        raise NotFound(f"run {request.match_info['id']} not found")
    return web.Response(body=body.encode(), content_type="application/json")


async def run_masker(request: web.Request, run_id: str) -> Masker:
    """Masks the run's secret inputs in text a person sends about it (a cancel reason, an
    approval comment, a live log line) before it is stored or shown."""
    store, sup = request.app[keys.STORE], request.app[keys.SUPERVISOR]
    stored = await queries.run_input(store, run_id)
    masker = open_inputs(stored, sup.sealer, run_id)[1] if stored else Masker()
    found = await ops_secrets.run_template(store, run_id)
    if found is not None and sup.sealer is not None:
        # The stored secrets its template reads, as they are now.
        names = template_reads(sup.template_spec(found["template_id"], found["spec"]).steps)
        rows = await ops_secrets.values_for(store, "secret", found["owner"],
                                            sorted(names["secrets"]))
        masker.add(open_stored(sup.sealer, rows))
    return masker

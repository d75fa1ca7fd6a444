"""The UI's pages. Each one reads through the API's own handlers (``render.api``), so what a
page shows is what the same user would get from the API, and a 404 there is a 404 here."""

from __future__ import annotations

import yaml
from aiohttp import web

from wfe.daemon.api import approvals, history, runs, templates
from wfe.daemon.ui import auth, highlight
from wfe.daemon.ui.render import api, page, signed_in
from wfe.engine.states import RunStatus
from wfe.errors import NotFound

RUNS_PAGE = 25
SOURCE_KEYS = ("name", "description", "variables", "defaults", "timeout", "concurrency",
               "retention", "steps")
TERMINAL = ("run.completed", "run.failed", "run.cancelled")


async def root(request: web.Request) -> web.Response:
    return web.Response(status=303, headers={"Location": "/ui/"})


@signed_in
async def runs_page(request: web.Request) -> web.Response:
    q = request.query
    filters = {k: q.get(k, "").strip() for k in ("status", "template", "id_prefix", "schedule")}
    listing = await api(runs.list_runs, request,
                        {**filters, "before": q.get("before"), "limit": RUNS_PAGE})
    items = listing["items"]
    older = items[-1]["id"] if len(items) == RUNS_PAGE else None
    return page(request, "runs.html", runs=items, total=listing["total"], filters=filters,
                statuses=[s.value for s in RunStatus], older=older,
                first=not q.get("before"), live="/api/v1/events/stream")


async def _run(request: web.Request) -> dict:
    return await api(runs.get_run, request, {})


@signed_in
async def run_page(request: web.Request) -> web.Response:
    run = await _run(request)
    snaps = await api(history.snapshots, request, {"limit": 100})
    ended = any(e["type"] in TERMINAL for e in (run.get("events") or [])[-1:])
    live = None if ended else f"/api/v1/workflows/{run['id']}/events/stream"
    return page(request, "run.html", run=run, snapshots=snaps["items"], live=live,
                events=list(reversed(run.get("events") or [])))


@signed_in
async def step_page(request: web.Request) -> web.Response:
    run = await _run(request)
    name = request.match_info["step"]
    step = next((s for s in run.get("steps") or [] if s["name"] == name), None)
    if step is None:
        raise NotFound(f"step {name} not found in run {run['id']}")
    items = None
    if step.get("items") is not None:
        items = (await api(history.step_items, request, {"limit": 500}))["items"]
    live = None if run["status"] in ("completed", "failed", "cancelled") else \
        f"/api/v1/workflows/{run['id']}/events/stream"
    log = f"/api/v1/workflows/{run['id']}/steps/{name}/log/stream"
    return page(request, "step.html", run=run, step=step, items=items, live=live, log=log)


@signed_in
async def gate_page(request: web.Request) -> web.Response:
    run = await _run(request)
    gate_id = request.match_info["approval_id"]
    gate = next((a for a in run.get("approvals") or [] if a["id"] == gate_id), None)
    if gate is None:
        raise NotFound(f"approval {gate_id} not found")
    live = f"/api/v1/workflows/{run['id']}/events/stream" if gate["status"] == "pending" \
        else None
    return page(request, "gate.html", run=run, gate=gate, live=live)


@signed_in
async def approvals_page(request: web.Request) -> web.Response:
    inbox = await api(approvals.inbox, request, {"status": "pending", "limit": 200})
    return page(request, "approvals.html", gates=inbox["items"], live="/api/v1/events/stream")


@signed_in
async def templates_page(request: web.Request) -> web.Response:
    listing = await api(templates.list_templates, request, {"limit": 500})
    return page(request, "templates.html", templates=listing["items"])


@signed_in
async def template_page(request: web.Request) -> web.Response:
    tpl = await api(templates.get_template, request, {})
    versions = await api(templates.list_templates, request, {"name": tpl["name"], "limit": 500})
    spec = {k: tpl[k] for k in SOURCE_KEYS if tpl.get(k) not in (None, "", {}, [])}
    source = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
    return page(request, "template.html", tpl=tpl, source=source,
                highlighted=highlight.yaml_html(source), versions=versions["items"],
                fields=highlight.fields(tpl.get("variables") or {}))


ROUTES = [
    ("GET", "/ui", root),
    ("GET", "/ui/", runs_page),
    ("GET", "/ui/login", auth.login_page),
    ("POST", "/ui/login", auth.login_with_token),
    ("POST", "/ui/logout", auth.logout),
    ("GET", "/ui/runs/{id}", run_page),
    ("GET", "/ui/runs/{id}/steps/{step}", step_page),
    ("GET", "/ui/runs/{id}/approvals/{approval_id}", gate_page),
    ("GET", "/ui/approvals", approvals_page),
    ("GET", "/ui/templates", templates_page),
    ("GET", "/ui/templates/{id}", template_page),
]

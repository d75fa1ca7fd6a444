"""How templates, the daemon, credentials and webhooks look."""

from __future__ import annotations

from typing import Any

from wfe.cli.render import graph
from wfe.cli.render.base import (
    ago,
    compact,
    footer,
    kv,
    note,
    out,
    span,
    table,
    template_ref,
    warn,
)


def templates(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no templates")
        return
    rows = [[t.get("id", ""), t.get("name", ""), str(t.get("version", "")), t.get("status", ""),
             str(len(t.get("steps") or [])), ago(t.get("created_at")),
             compact(t.get("description"), 40)] for t in items]  # fmt: skip
    table(["ID", "NAME", "VERSION", "STATUS", "STEPS", "CREATED", "DESCRIPTION"], rows, 3,
          drop=("CREATED", "STEPS", "DESCRIPTION", "VERSION"), elide="DESCRIPTION")
    footer(payload)


def template(t: dict) -> None:
    pairs = [
        ("template", template_ref(t)),
        ("id", t.get("id", "")),
        ("status", t.get("status", "")),
        ("created", ago(t.get("created_at"))),
        ("published", ago(t.get("published_at"))),
    ]
    if t.get("description"):
        pairs.append(("description", str(t["description"])))
    if t.get("timeout"):
        pairs.append(("timeout", str(t["timeout"])))
    kv(pairs)
    variables = t.get("variables") or {}
    if variables:
        out()
        rows = [[name, str(v.get("type") or "string"), "yes" if v.get("required") else "no",
                 compact(v.get("default")) if "default" in v else "-",
                 compact(v.get("description"), 40)] for name, v in variables.items()]  # fmt: skip
        table(["VARIABLE", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"], rows,
              elide="DESCRIPTION")
    out()
    steps_ = enumerate(t.get("steps") or [])
    rows = [[str(i), s.get("name", ""), _kind(s), _step_summary(s)] for i, s in steps_]
    table(["#", "STEP", "KIND", "DOES"], rows, drop=("#", "KIND"), elide="DOES")


KINDS = ("run", "http", "sleep", "set", "approval", "callback", "workflow")


def _kind(step: dict) -> str:
    return step.get("kind") or next((k for k in KINDS if k in step), "?")


def _step_summary(step: dict) -> str:
    value = step.get(_kind(step))
    if isinstance(value, list):
        value = " ".join(map(str, value))
    if isinstance(value, dict) and _kind(step) == "http":
        value = f"{value.get('method', 'GET')} {value.get('url', '')}"
    return compact(value)


def template_graph(t: dict) -> None:
    graph.template_graph(t, _kind)


def template_dot(t: dict) -> None:
    graph.dot(t, _kind)


def template_action(t: dict, verb: str) -> None:
    out(f"{verb} template {template_ref(t)} ({t.get('status')}) {t.get('id')}")


def template_warnings(warnings: list[dict]) -> None:
    """On stderr, so that --json output stays one JSON document."""
    for w in warnings:
        warn(f"{w.get('path')} (step {w.get('step')}): {w.get('message')}")


def valid(path: str, spec: Any) -> None:
    name = getattr(spec, "name", None) or (spec.get("name") if isinstance(spec, dict) else None)
    out(f"{path}: valid" + (f" (template {name})" if name else ""))


# -- daemon, users ---------------------------------------------------------------------


def daemon_status(info: dict) -> None:
    if not info.get("running"):
        out("wfe daemon: not running")
        return
    pairs = [
        ("status", "running"),
        ("url", str(info.get("url"))),
        ("pid", str(info.get("pid"))),
        ("version", str(info.get("version"))),
        ("uptime", span(info["uptime_seconds"]) if info.get("uptime_seconds") is not None else "-"),
        ("live runners", str(info.get("live_runners", "-"))),
    ]
    kv(pairs)


def secret(token: str) -> None:
    out(token)


def user_created(payload: dict) -> None:
    user = payload.get("user") or {}
    note(f"created {user.get('role', 'user')} {user.get('name', '')}")
    secret(str(payload.get("token")))


def users(payload: dict) -> None:
    rows = [[u["name"], u["role"], ago(u["created_at"]), u["id"]]
            for u in payload.get("items") or []]
    table(["NAME", "ROLE", "CREATED", "ID"], rows)
    footer(payload)


def user(u: dict) -> None:
    kv([("name", str(u.get("name"))), ("role", str(u.get("role"))), ("id", str(u.get("id"))),
        ("created", ago(u.get("created_at")))])


def whoami(user: dict) -> None:
    out(f"{user['name']} ({user['role']})")


def webhooks(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no webhooks")
        return
    rows = [[h["id"], ",".join(h["events"]), ago(h["created_at"]), h["url"]] for h in items]
    table(["ID", "EVENTS", "CREATED", "URL"], rows, drop=("CREATED", "EVENTS"), elide="URL")


def stored_values(payload: dict) -> None:
    """Secrets (names only) or variables (with their values)."""
    items = payload.get("items") or []
    if not items:
        note("none set")
        return
    shows_values = any("value" in v and v["value"] is not None for v in items)
    rows = [[v["name"], v["scope"], v["set_by"], ago(v["set_at"])]
            + ([v.get("value") or ""] if shows_values else []) for v in items]
    table(["NAME", "SCOPE", "SET BY", "SET"] + (["VALUE"] if shows_values else []), rows,
          drop=("SET", "SET BY"), elide="VALUE")


def stored_value(v: dict) -> None:
    kv([("name", str(v["name"])), ("value", str(v.get("value") or "")),
        ("scope", str(v["scope"])), ("set by", str(v["set_by"])), ("set", ago(v["set_at"]))])


def _when(s: dict) -> str:
    return f"cron {s['cron']} ({s['tz']})" if s.get("cron") else f"every {s['every']:g}s"


def schedules(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no schedules")
        return
    rows = [[s["id"], s["name"], _when(s), "paused" if s["paused"] else (s["next_fire_at"] or ""),
             s.get("last_fire_at") or "", s.get("last_run_status") or ""] for s in items]
    table(["ID", "NAME", "WHEN", "NEXT", "LAST", "LAST RUN"], rows, status_col=5)


def schedule(s: dict) -> None:
    kv([("id", s["id"]), ("name", s["name"]),
        ("template", s["template"] + (f"@{s['version']}" if s.get("version") else "")),
        ("when", _when(s)), ("overlap", s["overlap"]), ("catchup", s["catchup"]),
        ("paused", "yes" if s["paused"] else "no"), ("next fire", s.get("next_fire_at") or "-"),
        ("last fire", s.get("last_fire_at") or "-"),
        ("last run", f"{s.get('last_run_id') or '-'} {s.get('last_run_status') or ''}")])
    for e in s.get("events") or []:
        out(f"{e['at']}  {e['type']}  {e['data'].get('reason', '')}")

"""Everything the CLI shows; the only module of the CLI that prints.

People get rich tables with coloured statuses and relative times; scripts get ``--json``,
the API's JSON unchanged. When stdout is not a terminal (or ``NO_COLOR`` is set) tables are
plain aligned text without colour or box drawing, so they grep and diff well. rich is
imported inside functions only: ``wfe ls --json`` must not pay for it.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

# One colour per status token, wherever the token appears (runs, steps, templates).
STATUS_STYLES = {
    "pending": "yellow", "draft": "yellow", "running": "bold blue", "paused": "cyan",
    "waiting": "magenta", "waiting_approval": "magenta",
    "completed": "bold green", "succeeded": "green", "published": "green", "failed": "bold red",
    "cancelled": "bright_black", "skipped": "bright_black", "archived": "bright_black",
}  # fmt: skip
DETAIL_WIDTH = 60


def fancy() -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


# -- plain primitives ------------------------------------------------------------------


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def note(text: str) -> None:
    """Progress for people; on stderr so that stdout stays what scripts parse."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def json_out(data: Any) -> None:
    out(json.dumps(data, indent=2))


def error(e: Exception) -> None:
    lines = [f"error: {getattr(e, 'message', None) or e}"]
    details = getattr(e, "details", None)
    if getattr(e, "code", None) == "validation_failed" and isinstance(details, list):
        for d in details:
            if isinstance(d, dict):
                lines.append(f"  {d.get('path') or '(root)'}: {d.get('message')}")
    sys.stderr.write("\n".join(lines) + "\n")


def warn(text: str) -> None:
    sys.stderr.write(f"warning: {text}\n")


# -- formatting helpers (pure) ---------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def span(seconds: float) -> str:
    """A short human duration: 850ms, 12s, 3m, 2h5m, 4d."""
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{int(seconds)}s"
    minutes, hours = int(seconds // 60), int(seconds // 3600)
    if hours == 0:
        return f"{minutes}m"
    if hours < 24:
        rest = minutes - hours * 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    return f"{hours // 24}d"


def ago(value: str | None, now: datetime | None = None) -> str:
    t = parse_time(value)
    if t is None:
        return "-"
    delta = ((now or datetime.now(UTC)) - t).total_seconds()
    if abs(delta) < 1:
        return "just now"
    return f"{span(delta)} ago" if delta > 0 else f"in {span(-delta)}"


def elapsed(start: str | None, end: str | None, now: datetime | None = None) -> str:
    s = parse_time(start)
    if s is None:
        return "-"
    e = parse_time(end) or now or datetime.now(UTC)
    return span(max(0.0, (e - s).total_seconds()))


def compact(value: Any, width: int = DETAIL_WIDTH) -> str:
    if value is None or value == {} or value == []:
        return ""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_scalar(v)}" for k, v in value.items())
    else:
        text = _scalar(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _scalar(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def template_ref(t: dict | None) -> str:
    if not t:
        return "-"
    return f"{t.get('name')}@{t.get('version')}"


# -- tables ----------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]], status_col: int | None = None, title=None):
    """Print a table: rich on a terminal, aligned plain text otherwise."""
    if fancy():
        _console().print(_rich_table(headers, rows, status_col, title))
    else:
        if title:
            out(title)
        for line in _plain_table(headers, rows):
            out(line)


def _rich_table(headers, rows, status_col=None, title=None):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", show_edge=False,
              pad_edge=False, collapse_padding=True)
    for i, h in enumerate(headers):
        # Ids are there to be copied: never fold or elide them. Only the last (free text)
        # column wraps; the others are short tokens, better elided than broken.
        last = i == len(headers) - 1
        t.add_column(h, no_wrap=not last, min_width=36 if h == "ID" else None)
    for row in rows:
        cells = [Text(c) for c in row]
        if status_col is not None:
            cells[status_col] = styled(row[status_col])
        t.add_row(*cells)
    return t


def _plain_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(headers), *map(fmt, rows)]


def styled(status: str):
    from rich.text import Text

    return Text(status, style=STATUS_STYLES.get(status, ""))


def status_word(status: str) -> str:
    if not fancy():
        return status
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def _say(line: str) -> None:
    """One line that may hold status markup (from status_word)."""
    _console().print(line) if fancy() else out(line)


def _kv(pairs: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in pairs)
    if fancy():
        from rich.markup import escape

        c = _console()
        for k, v in pairs:
            shown = status_word(v) if k == "status" else escape(v)
            c.print(f"[bold]{k.ljust(width)}[/]  {shown}")
    else:
        for k, v in pairs:
            out(f"{k.ljust(width)}  {v}")


def _footer(payload: dict) -> None:
    items, total = payload.get("items") or [], payload.get("total")
    offset = payload.get("offset") or 0
    if isinstance(total, int) and total > len(items):
        note(f"showing {offset + 1}-{offset + len(items)} of {total}")


# -- runs ------------------------------------------------------------------------------


def ids(payload: dict) -> None:
    for item in payload.get("items") or []:
        out(str(item.get("id")))


def runs(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no runs")
        return
    rows = [_run_row(r) for r in items]
    table(["ID", "TEMPLATE", "STATUS", "STEP", "CREATED", "DURATION"], rows, 2)
    _footer(payload)


def _run_row(r: dict) -> list[str]:
    # Where a run is (or stopped); a completed run is past its last step.
    current = r.get("current_step")
    step = "-" if current is None or r.get("status") == "completed" else str(current)
    took = elapsed(r.get("started_at"), r.get("finished_at"))
    return [r.get("id", ""), template_ref(r.get("template")), r.get("status", ""), step,
            ago(r.get("created_at")), took]  # fmt: skip


def step_rows(run: dict) -> list[list[str]]:
    return [_step_row(s) for s in run.get("steps") or []]


def _step_row(s: dict) -> list[str]:
    detail = s.get("error") or compact(s.get("output"))
    if s.get("exit_code") not in (None, 0):
        detail = f"exit {s['exit_code']}: {detail}" if detail else f"exit {s['exit_code']}"
    took = elapsed(s.get("started_at"), s.get("finished_at"))
    # rich wraps the last column on a terminal; plain output keeps one line per step.
    detail = compact(detail, 200 if fancy() else DETAIL_WIDTH)
    return [str(s.get("index", "")), s.get("name", ""), s.get("kind", ""), s.get("status", ""),
            str(s.get("attempt") or "-"), took, detail]  # fmt: skip


STEP_HEADERS = ["#", "STEP", "KIND", "STATUS", "ATTEMPT", "TIME", "OUTPUT / ERROR"]


def steps(run: dict) -> None:
    table(STEP_HEADERS, step_rows(run), 3)


def run_header(run: dict) -> None:
    pairs = [
        ("run", run.get("id", "")),
        ("template", template_ref(run.get("template"))),
        ("status", run.get("status", "")),
        ("trigger", run.get("trigger_type") or "-"),
        ("owner", str(run.get("owner") or "-")),
        ("created", ago(run.get("created_at"))),
        ("duration", elapsed(run.get("started_at"), run.get("finished_at"))),
    ]
    if run.get("input"):
        pairs.append(("input", compact(run["input"], 100)))
    if run.get("reason"):
        pairs.append(("reason", str(run["reason"])))
    _kv(pairs)


def run(run: dict) -> None:
    run_header(run)
    out()
    steps(run)
    events = run.get("events") or []
    if events:
        out()
        rows = [[str(e.get("seq", "")), ago(e.get("at")), e.get("type", ""),
                 str(e.get("actor") or "-"), compact(e.get("data"))] for e in events]  # fmt: skip
        table(["SEQ", "AT", "EVENT", "ACTOR", "DATA"], rows)


def run_action(run: dict) -> None:
    """After pause/resume/cancel/retry/start: the run's new status, in one line."""
    _say(f"run {run.get('id')} is {status_word(run.get('status', '?'))}")


# -- templates -------------------------------------------------------------------------


def templates(payload: dict) -> None:
    items = payload.get("items") or []
    if not items:
        note("no templates")
        return
    rows = [[t.get("id", ""), t.get("name", ""), str(t.get("version", "")), t.get("status", ""),
             str(len(t.get("steps") or [])), ago(t.get("created_at")),
             compact(t.get("description"), 40)] for t in items]  # fmt: skip
    table(["ID", "NAME", "VERSION", "STATUS", "STEPS", "CREATED", "DESCRIPTION"], rows, 3)
    _footer(payload)


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
    _kv(pairs)
    variables = t.get("variables") or {}
    if variables:
        out()
        rows = [[name, str(v.get("type") or "string"), "yes" if v.get("required") else "no",
                 compact(v.get("default")) if "default" in v else "-",
                 compact(v.get("description"), 40)] for name, v in variables.items()]  # fmt: skip
        table(["VARIABLE", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"], rows)
    out()
    steps_ = enumerate(t.get("steps") or [])
    rows = [[str(i), s.get("name", ""), _kind(s), _step_summary(s)] for i, s in steps_]
    table(["#", "STEP", "KIND", "DOES"], rows)


KINDS = ("run", "http", "sleep", "set", "approval", "callback")


def _kind(step: dict) -> str:
    return step.get("kind") or next((k for k in KINDS if k in step), "?")


def _step_summary(step: dict) -> str:
    value = step.get(_kind(step))
    if isinstance(value, list):
        value = " ".join(map(str, value))
    if isinstance(value, dict) and _kind(step) == "http":
        value = f"{value.get('method', 'GET')} {value.get('url', '')}"
    return compact(value)


def template_action(t: dict, verb: str) -> None:
    out(f"{verb} template {template_ref(t)} ({t.get('status')}) {t.get('id')}")


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
    _kv(pairs)


def secret(token: str) -> None:
    out(token)


# -- live run view (wfe demo) ------------------------------------------------------------


class RunView:
    """Shows a run's steps as they progress: a live table on a terminal, else one plain
    line per step transition (so a log or CI output reads as a story)."""

    def __init__(self) -> None:
        self._fancy = fancy()
        self._seen: dict[str, str] = {}
        self._live = None

    def __enter__(self) -> RunView:
        if self._fancy:
            from rich.live import Live

            self._live = Live(console=_console(), refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def update(self, run: dict) -> None:
        if self._live is not None:
            self._live.update(_rich_table(STEP_HEADERS, step_rows(run), 3, _title(run)))
            return
        for s in run.get("steps") or []:
            key, status = s.get("name", ""), s.get("status", "")
            # Every step starts pending: only news is worth a line.
            if self._seen.get(key, "pending") != status:
                self._seen[key] = status
                detail = s.get("error") or compact(s.get("output"))
                out(f"  {key:<12} {status:<10} {detail}".rstrip())
                sys.stdout.flush()

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)


def _title(run: dict) -> str:
    return f"run {run.get('id')} · {template_ref(run.get('template'))} · {run.get('status')}"


def run_summary(run: dict) -> None:
    steps(run)
    status = run.get("status", "?")
    took = elapsed(run.get("started_at"), run.get("finished_at"))
    _say(f"run {run.get('id')} {status_word(status)} in {took}")

"""``wfe watch``: a run as it goes. On a terminal a live screen (rich Live): each step with
its status, time and attempt, a spinner on the running one, the last lines of its log, and
the approval waiting for a decision with the commands that decide it. Elsewhere (a pipe, a
CI log) one plain line per change, so the output reads as the run's story.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from wfe.cli.render.base import (
    STATUS_STYLES,
    color,
    compact,
    console,
    elapsed,
    fancy,
    flush,
    out,
    say,
    status_word,
    template_ref,
    width,
)
from wfe.cli.render.fit import command_lines
from wfe.cli.render.graph import layout, progress

if TYPE_CHECKING:  # rich is imported only when the live screen is drawn
    from rich.console import RenderableType
    from rich.live import Live
    from rich.spinner import Spinner

ICONS = {"succeeded": "✓", "completed": "✓", "failed": "✗", "skipped": "-", "cancelled": "⊘",
         "pending": "·", "waiting": "⏸", "paused": "⏸"}  # fmt: skip
LOG_LINES = 8


def pending_approval(run: dict) -> dict | None:
    return next((a for a in run.get("approvals") or [] if a.get("status") == "pending"), None)


class WatchView:
    """Fed by the watcher: ``update(run)`` on every change of the run, ``log(...)`` for each
    line of the running step's log (from another thread)."""

    def __init__(self, log_lines: int = LOG_LINES) -> None:
        self.run: dict = {}
        self._fancy = fancy()
        self._logs: deque[str] = deque(maxlen=log_lines)
        self._log_of: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._spinner: Spinner | None = None
        self._said: dict[str, str | None] = {}  # plain mode: what was last said of each thing

    def __enter__(self) -> WatchView:
        if self._fancy:
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", style="bold blue" if color() else "")
            self._live = Live(self, console=console(), refresh_per_second=10,
                              transient=False, redirect_stderr=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(*exc)

    def update(self, run: dict) -> None:
        self.run = run
        if self._live is not None:
            self._live.refresh()
        else:
            with self._lock:
                self._tell(run)

    def log(self, step: str, attempt: int, line: str) -> None:
        with self._lock:
            if self._log_of != (step, attempt):
                self._log_of = (step, attempt)
                self._logs.clear()
            self._logs.append(line)
            if self._live is None:
                out(f"  {step} | {line}")

    # -- plain: one line per change -----------------------------------------------------------

    def _tell(self, run: dict) -> None:
        rid = run.get("id", "")
        if self._said.get("run") is None:
            out(f"run {rid} · {template_ref(run.get('template'))}")
        for s in run.get("steps") or []:
            key, said = f"step:{s.get('name')}", _said_of(s)
            if self._said.get(key, "pending") != said:
                self._said[key] = said
                out(_plain_step(s))
        approval = pending_approval(run)
        if approval is not None and self._said.get("approval") != approval.get("id"):
            self._said["approval"] = approval.get("id")
            for line in _approval_lines(rid, approval):
                out(f"  {line}")
        if self._said.get("run") != run.get("status"):
            self._said["run"] = run.get("status")
            out(f"run {run.get('status')}")
        flush()

    # -- fancy: the whole screen, rebuilt at every refresh (times tick, the spinner spins) ---

    def __rich__(self):
        from rich.console import Group
        from rich.markup import escape
        from rich.panel import Panel
        from rich.text import Text

        run = self.run
        parts: list[RenderableType] = [Text.from_markup(
            f"[bold]run[/] {escape(run.get('id', ''))}  {escape(template_ref(run.get('template')))}"
            f"  {status_word(run.get('status', ''))}  "
            f"{elapsed(run.get('started_at'), run.get('finished_at'))}")]
        parts.append(self._steps_table(run))
        with self._lock:
            lines, of = list(self._logs), self._log_of
        if lines and of is not None:
            parts.append(Panel(Text("\n".join(lines), no_wrap=True, overflow="ellipsis"),
                               title=f"{of[0]} · attempt {of[1]}", title_align="left",
                               border_style="bright_black"))
        approval = pending_approval(run)
        if approval is not None:
            lines = _approval_lines(run.get("id", ""), approval)
            parts.append(Panel(Text("\n".join(lines[1:])), title=lines[0], title_align="left",
                               border_style="magenta" if color() else ""))
        return Group(*parts)

    def _steps_table(self, run: dict):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        steps = run.get("steps") or []
        drawn = layout(steps)  # a graph: level by level, side-by-side steps bracketed
        rows = [("", s, None) for s in steps] if drawn is None else drawn
        t = Table(box=box.SIMPLE, show_header=True, pad_edge=False, show_edge=False)
        heads = ("", "STEP", "STATUS", "ATTEMPT", "TIME")
        for name in (*heads, *(("NEEDS",) if drawn else ()), "OUTPUT / ERROR"):
            t.add_column(name, no_wrap=name != "OUTPUT / ERROR")
        for glyph, s, needs in rows:
            status = s.get("status", "")
            style = STATUS_STYLES.get(status, "") if color() else ""
            mark = self._spinner if status == "running" else Text(ICONS.get(status, " "), style)
            detail = progress(s, bar=True) or s.get("error") or compact(s.get("output"), 80)
            cells = [mark, Text(glyph + str(s.get("name", ""))), Text(status, style),
                     str(s.get("attempt") or "-"),
                     elapsed(s.get("started_at"), s.get("finished_at")) if s.get("started_at")
                     else ""]  # fmt: skip
            t.add_row(*cells, *((Text(needs or ""),) if drawn else ()), Text(detail or ""))
        return t


def _plain_step(s: dict) -> str:
    status = s.get("status", "")
    parts = [f"  {s.get('name', ''):<14} {status:<10}"]
    if s.get("attempt"):
        parts.append(f"attempt {s['attempt']}")
    if status not in ("running", "pending") and s.get("started_at"):
        parts.append(elapsed(s.get("started_at"), s.get("finished_at")))
    detail = progress(s) or (None if status == "running" else
                             s.get("error") or compact(s.get("output")))  # fmt: skip
    if detail:
        parts.append(detail)
    return " ".join(parts).rstrip()


def _said_of(s: dict) -> str:
    """What a plain line was last said for: a step's status and attempt, and a foreach's
    progress in tenths (a line per item would drown the story)."""
    said = f"{s.get('status', '')}/{s.get('attempt')}"
    items = s.get("items")
    if progress(s) is None or not isinstance(items, dict) or items["total"] <= 0:
        return said
    done = sum(int(v) for k in ("succeeded", "failed") if isinstance(v := items.get(k), int))
    return f"{said}/{10 * done // items['total']}"


def _approval_lines(run_id: str, approval: dict) -> list[str]:
    # Inside a panel (4 columns of border and padding) on a terminal; a plain line else.
    room = width()
    commands = [f"wfe approve {run_id}", f"wfe reject {run_id}"]
    return [f"waiting for approval at {approval.get('step')}",
            str(approval.get("message") or "(no message)"),
            *command_lines(commands, room - 4 if room else None, "decide with: ")]


def finished(run: dict) -> None:
    """The last line of a watch: the outcome and how long it took."""
    took = elapsed(run.get("started_at"), run.get("finished_at"))
    reason = f" ({run['reason']})" if run.get("reason") else ""
    say(f"run {run.get('id')} {status_word(run.get('status', '?'))} in {took}{reason}")

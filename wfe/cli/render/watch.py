"""``wfe watch``: a run as it goes. On a terminal a live screen (rich Live): each step with
its status, time and attempt, a spinner on the running one, the last lines of its log, and
the approval waiting for a decision with the commands that decide it. Elsewhere (a pipe, a
CI log) one plain line per change, so the output reads as the run's story.

Both fit the width as ``wfe show`` does (render.fit): short ids, the output cut, then the
least useful columns dropped; a status is never cut.
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
from wfe.cli.render.fit import command_lines, cut, fit, widths
from wfe.cli.render.graph import layout, progress
from wfe.cli.render.runs import STEP_DROP, STEP_HEADERS

if TYPE_CHECKING:  # rich is imported only when the live screen is drawn
    from rich.console import RenderableType
    from rich.live import Live
    from rich.spinner import Spinner

ICONS = {"succeeded": "✓", "completed": "✓", "failed": "✗", "skipped": "-", "cancelled": "⊘",
         "pending": "·", "waiting": "⏸", "paused": "⏸"}  # fmt: skip
LOG_LINES = 8
DETAIL = STEP_HEADERS[-1]  # the free text: cut first, to make room
SCREEN_HEADERS = ["", "STEP", "STATUS", "ATTEMPT", "TIME", DETAIL]  # "": the icon/spinner
LINE_HEADERS = ["STEP", "STATUS", "ATTEMPT", "TIME", DETAIL]  # name the cells of a plain line


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
                said = f"  {step} | {line}"
                room = width()
                out(said if room is None else cut(said, room))

    # -- plain: one line per change -----------------------------------------------------------

    def _tell(self, run: dict) -> None:
        rid, room = run.get("id", ""), width()
        if self._said.get("run") is None:
            # "run " and " · " where render.fit counts a gap of two: five more.
            head = _run_cells(run, ["RUN", "TEMPLATE"], room and room - 5)
            out(f"run {head['RUN']} · {head['TEMPLATE']}")
        for s in run.get("steps") or []:
            key, said = f"step:{s.get('name')}", _said_of(s)
            if self._said.get(key, "pending") != said:
                self._said[key] = said
                out(_plain_step(s, room))
        approval = pending_approval(run)
        if approval is not None and self._said.get("approval") != approval.get("id"):
            self._said["approval"] = approval.get("id")
            title, message, *commands = _approval_lines(rid, approval)
            for line in (title, message):  # the commands are fitted already, never cut
                out(f"  {line}" if room is None else cut(f"  {line}", room))
            for line in commands:
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

        run, room = self.run, width()
        head = _run_cells(run, RUN_HEADERS, room and room - len("run "))
        shown = [escape(head[h]) for h in ("RUN", "TEMPLATE") if h in head]
        parts: list[RenderableType] = [Text.from_markup(
            "  ".join(["[bold]run[/] " + shown[0], *shown[1:],
                       status_word(head["STATUS"]), head["TIME"]]))]
        parts.append(self._steps_table(run, room))
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

    def _steps_table(self, run: dict, room: int | None = None):
        """The steps fitted to ``room`` columns as ``wfe show`` fits them (render.fit)."""
        from rich import box
        from rich.table import Table
        from rich.text import Text

        steps = run.get("steps") or []
        drawn = layout(steps)  # a graph: level by level, side-by-side steps bracketed
        placed = [("", s, None) for s in steps] if drawn is None else drawn
        heads = [*SCREEN_HEADERS[:-1], *(["NEEDS"] if drawn else []), DETAIL]
        rows = [_screen_cells(s, glyph, needs, drawn is not None) for glyph, s, needs in placed]
        # The icon goes last (the status says it in words): long names need its room at 60.
        heads, rows = fit(heads, rows, room, (*STEP_DROP, ""), DETAIL)
        rows = _unbar([s for _, s, _ in placed], heads, rows)
        # SIMPLE with collapsed padding: two spaces between columns, as render.fit counts.
        t = Table(box=box.SIMPLE, show_header=True, pad_edge=False, show_edge=False,
                  collapse_padding=True)
        at = heads.index("STATUS")
        for name, room_ in zip(heads, widths(heads, rows), strict=True):
            # Fitted already: nothing wraps; should a name still be too long for the screen,
            # rich cuts it, never the status.
            t.add_column(name, no_wrap=True, min_width=room_ if name == "STATUS" else None)
        for row in rows:
            style = STATUS_STYLES.get(row[at], "") if color() else ""
            cells: list[RenderableType] = [Text(c) for c in row]
            cells[at] = Text(row[at], style)
            if heads[0] == "":
                cells[0] = self._spinner if row[at] == "running" and self._spinner else \
                    Text(row[0], style)
            t.add_row(*cells)
        return t


RUN_HEADERS = ["RUN", "TEMPLATE", "STATUS", "TIME"]


def _run_cells(run: dict, headers: list[str], room: int | None) -> dict[str, str]:
    """The run's own line as a one-row table: in a narrow room the id goes short and the
    template is cut, then dropped; the status stays whole."""
    every = {"RUN": str(run.get("id", "")), "TEMPLATE": template_ref(run.get("template")),
             "STATUS": str(run.get("status", "")),
             "TIME": elapsed(run.get("started_at"), run.get("finished_at"))}
    drop = ("TEMPLATE",) if "STATUS" in headers else ()  # the plain first line keeps it
    heads, rows = fit(headers, [[every[h] for h in headers]], room, drop, "TEMPLATE",
                      headed=False)
    return dict(zip(heads, rows[0], strict=True))


def _screen_cells(s: dict, glyph: str, needs: str | None, graph: bool) -> list[str]:
    status = s.get("status", "")
    detail = progress(s, bar=True) or s.get("error") or compact(s.get("output"), 80)
    took = elapsed(s.get("started_at"), s.get("finished_at")) if s.get("started_at") else ""
    return [ICONS.get(status, " "), glyph + str(s.get("name", "")), status,
            str(s.get("attempt") or "-"), took, *([needs or ""] if graph else []),
            detail or ""]  # fmt: skip


def _unbar(steps: list[dict], heads: list[str], rows: list[list[str]]) -> list[list[str]]:
    """A foreach's bar is the first to go when its cell had to be cut: the counts say more."""
    if DETAIL not in heads:
        return rows
    i = heads.index(DETAIL)
    room = widths(heads, rows)[i]
    fitted = []
    for s, row in zip(steps, rows, strict=True):
        counts = progress(s)
        if counts is not None and row[i] != progress(s, bar=True):
            row = [*row[:i], cut(counts, room), *row[i + 1:]]
        fitted.append(row)
    return fitted


def _plain_step(s: dict, room: int | None = None) -> str:
    """A step's line, its cells fitted to ``room`` as a table row is (render.fit)."""
    status = s.get("status", "")
    took = (elapsed(s.get("started_at"), s.get("finished_at"))
            if status not in ("running", "pending") and s.get("started_at") else "")
    detail = progress(s) or (None if status == "running" else
                             s.get("error") or compact(s.get("output")))  # fmt: skip
    cells = [f"{s.get('name', ''):<14}", f"{status:<10}",
             f"attempt {s['attempt']}" if s.get("attempt") else "", took, detail or ""]
    # Cells join with one space where render.fit counts two: "  " in front fits in that.
    _, rows = fit(LINE_HEADERS, [cells], room and room - 2, STEP_DROP, DETAIL, headed=False)
    return "  " + " ".join(c for c in rows[0] if c).rstrip()


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
    status = run.get("status", "?")
    line = f"run {run.get('id')} {{}} in {took}"
    reason = f" ({run['reason']})" if run.get("reason") else ""
    room = width()
    if room is None or len(line.format(status) + reason) <= room:
        say(line.format(status_word(status)) + reason)
        return
    say(line.format(status_word(status)))  # the reason on a line of its own, cut to fit
    out(cut(" " + reason, room))

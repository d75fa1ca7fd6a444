"""The CLI's primitives: plain output, tables, colours, times; no command's shape.

People get rich tables with coloured statuses and relative times; scripts get ``--json``,
the API's JSON unchanged. When stdout is not a terminal, tables are plain aligned text
without box drawing, so they grep and diff well; ``NO_COLOR`` or ``--no-color`` keeps the
layout and drops the colour. rich is imported inside functions only: ``wfe ls --json``
must not pay for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from wfe.cli.render import fit

# One colour per status token, wherever the token appears (runs, steps, templates).
STATUS_STYLES = {
    "pending": "yellow", "draft": "yellow", "running": "bold blue", "paused": "cyan",
    "waiting": "magenta", "waiting_approval": "magenta",
    "completed": "bold green", "succeeded": "green", "published": "green", "failed": "bold red",
    "cancelled": "bright_black", "skipped": "bright_black", "archived": "bright_black",
}  # fmt: skip
DETAIL_WIDTH = 60

_COLOR = [True]  # --no-color turns it off for this invocation
_WIDE = [False]  # -o wide: every column, whole ids, whatever the width


def configure(color: bool = True) -> None:
    _COLOR[0] = color


def fancy() -> bool:
    """A terminal a person reads: rich tables and live views."""
    return is_terminal(sys.stdout)


def width() -> int | None:
    """How wide a line may be: the terminal's (or COLUMNS); None for a pipe or a file,
    and for -o wide (whole lines, for grep and for people who scroll)."""
    if _WIDE[0]:
        return None
    if fancy():
        return int(console().width)
    try:
        return int(os.environ["COLUMNS"]) or None
    except (KeyError, ValueError):
        return None


@contextlib.contextmanager
def wide(on: bool = True) -> Iterator[None]:
    before, _WIDE[0] = _WIDE[0], on or _WIDE[0]
    try:
        yield
    finally:
        _WIDE[0] = before


def color() -> bool:
    return fancy() and _COLOR[0] and not os.environ.get("NO_COLOR")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False, no_color=not color())


# -- plain primitives ------------------------------------------------------------------


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def text(body: str) -> None:
    """Text as it is (a log), ending with a newline."""
    sys.stdout.write(body if not body or body.endswith("\n") else body + "\n")


def flush() -> None:
    sys.stdout.flush()


def note(text: str) -> None:
    """Progress for people; on stderr so that stdout stays what scripts parse."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def json_out(data: Any) -> None:
    out(json.dumps(data, indent=2))


def json_line(data: Any) -> None:
    """One JSON document per line (JSON Lines), flushed: a reader may be waiting for it."""
    out(json.dumps(data, separators=(",", ":")))
    flush()


def error(e: Exception, full: bool = False) -> None:
    """One line on stderr. A validation error with several problems says how many (and the
    first); ``full`` (--debug, --json, ``template validate``) lists each on a line of its own.
    """
    message = getattr(e, "message", None) or str(e)
    details = getattr(e, "details", None)
    problems = _problems(e)
    lines = [f"error: {message}"]
    if full:
        lines += [f"  {p}" for p in problems]
    elif len(problems) == 1:
        lines[0] += f" ({problems[0]})"
    elif problems:
        lines[0] += (f" ({len(problems)} problems, the first: {problems[0]}; --debug or --json"
                     " lists them all)")
    if isinstance(details, dict) and isinstance(details.get("candidates"), list):
        for r in details["candidates"]:  # an ambiguous run id prefix: what to choose from
            lines.append(f"  {r.get('id')}  {template_ref(r.get('template'))}  "
                         f"{r.get('status')}  {ago(r.get('created_at'))}")
    sys.stderr.write("\n".join(lines) + "\n")


def _problems(e: Exception) -> list[str]:
    details = getattr(e, "details", None)
    if getattr(e, "code", None) != "validation_failed" or not isinstance(details, list):
        return []
    return [f"{d.get('path') or '(root)'}: {d.get('message')}" for d in details
            if isinstance(d, dict)]


def usage_error(message: str, help_command: str) -> None:
    """click's usage error in one line, as every other error (``wfe show`` without RUN)."""
    sys.stderr.write(f"error: {' '.join(message.split())} (see: {help_command})\n")


def is_terminal(stream) -> bool:
    try:
        return os.environ.get("TERM") != "dumb" and stream.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(question: str) -> bool:
    """Ask a person (only ever on a terminal); anything but yes is no."""
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


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


def table(headers: list[str], rows: list[list[str]], status_col: int | None = None, title=None,
          drop: tuple[str, ...] | None = None, elide: str | None = None):
    """Print a table: rich on a terminal, aligned plain text otherwise; narrowed to the
    width (see render.fit): ``drop`` names the columns that may go, in order (default:
    right to left, except the first and the status), ``elide`` the free text to cut."""
    status = headers[status_col] if status_col is not None else None
    if drop is None:
        drop = tuple(h for h in reversed(headers[1:]) if h != status)
    headers, rows = fit.fit(headers, rows, width(), drop, elide)
    status_col = headers.index(status) if status in headers else None
    if fancy():
        console().print(rich_table(headers, rows, status_col, title))
    else:
        if title:
            out(title)
        for line in _plain_table(headers, rows):
            out(line)


def rich_table(headers, rows, status_col=None, title=None):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", show_edge=False,
              pad_edge=False, collapse_padding=True)
    for h in headers:
        # The rows were fitted to the width already (render.fit): nothing wraps, so an id
        # is never broken; a status keeps its whole width.
        t.add_column(h, no_wrap=True)
    for row in rows:
        cells = [Text(c) for c in row]
        if status_col is not None:
            cells[status_col] = styled(row[status_col])
        t.add_row(*cells)
    return t


def _plain_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def fmt(r: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return [fmt(headers), *map(fmt, rows)]


def styled(status: str):
    from rich.text import Text

    return Text(status, style=STATUS_STYLES.get(status, "") if color() else "")


def status_word(status: str) -> str:
    """A status for a line that ``say`` prints: with its colour's markup when in colour."""
    if not color():
        return status
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def say(line: str) -> None:
    """One line that may hold status markup (from status_word)."""
    console().print(line) if fancy() else out(line)


def kv(pairs: list[tuple[str, str]]) -> None:
    keys = max(len(k) for k, _ in pairs)
    room = width()
    if room is not None:  # free text is cut to the line; a status or an id never is
        pairs = [(k, v if k == "status" else fit.cut(v, max(room - keys - 2, 36)))
                 for k, v in pairs]
    if fancy():
        from rich.markup import escape

        c = console()
        for k, v in pairs:
            shown = status_word(v) if k == "status" else escape(v)
            c.print(f"[bold]{k.ljust(keys)}[/]  {shown}")
    else:
        for k, v in pairs:
            out(f"{k.ljust(keys)}  {v}")


def footer(payload: dict) -> None:
    items, total = payload.get("items") or [], payload.get("total")
    offset = payload.get("offset") or 0
    if isinstance(total, int) and total > len(items):
        note(f"showing {offset + 1}-{offset + len(items)} of {total}")


"""Tables that fit a narrow terminal (60 columns): ids shortened to the 8 characters the CLI
takes as a prefix, free text elided, then the least useful columns dropped. A status is
never cut and never dropped: it is what people look for. Pure: rows in, rows out.
"""

from __future__ import annotations

import re

GAP = 2  # spaces between columns, in the plain table and in rich's SIMPLE_HEAD alike
SHORT_ID = 8  # a prefix every command takes in place of the whole id (4 would do, 8 is safe)
MIN_TEXT = 12  # free text shorter than this says nothing; drop columns before going below
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ID_HEADERS = ("ID", "RUN")
KEEP = ("STATUS",)  # never dropped or cut, whatever the table says


def fit(headers: list[str], rows: list[list[str]], width: int | None,
        drop: tuple[str, ...] = (), elide: str | None = None, headed: bool = True,
        ) -> tuple[list[str], list[list[str]]]:
    """The columns and cells to show in ``width`` characters (None: all of them, whole).

    ``drop`` names columns in the order they may go, until the table fits with ``elide``
    (the free-text column) cut to MIN_TEXT; that column then gets all the room left.
    ``headed=False``: the headers only name the columns, they are not shown (a line of
    ``wfe watch``'s story is a row without a header), so they take no room."""
    if width is None or total(headers, rows, headed) <= width:
        return headers, rows
    rows = [[_short_id(h, c) for h, c in zip(headers, r, strict=True)] for r in rows]
    for name in drop:
        if _least(headers, rows, elide, headed) <= width:
            break
        if name in headers and name not in KEEP:
            i = headers.index(name)
            headers = headers[:i] + headers[i + 1:]
            rows = [r[:i] + r[i + 1:] for r in rows]
    if elide in headers:
        rows = _elide(headers, rows, headers.index(elide), width, 1, headed)
    return headers, rows


def _least(headers: list[str], rows: list[list[str]], elide: str | None,
           headed: bool = True) -> int:
    """The table's width with its free text cut to MIN_TEXT."""
    if elide not in headers:
        return total(headers, rows, headed)
    i = headers.index(elide)
    return total(headers, [[*r[:i], cut(r[i], MIN_TEXT), *r[i + 1:]] for r in rows], headed)


def total(headers: list[str], rows: list[list[str]], headed: bool = True) -> int:
    return sum(widths(headers, rows, headed)) + GAP * (len(headers) - 1)


def widths(headers: list[str], rows: list[list[str]], headed: bool = True) -> list[int]:
    shown = [headers, *rows] if headed else [[""] * len(headers), *rows]
    return [max(len(str(r[i])) for r in shown) for i in range(len(headers))]


def _short_id(header: str, cell: str) -> str:
    if header in ID_HEADERS or UUID.fullmatch(cell):
        return cell[:SHORT_ID] if UUID.fullmatch(cell) else cell
    return cell


def _elide(headers: list[str], rows: list[list[str]], i: int, width: int,
           floor: int, headed: bool = True) -> list[list[str]]:
    """Cut column ``i`` so that the table fits, but not below ``floor`` characters."""
    over = total(headers, rows, headed) - width
    if over <= 0:
        return rows
    head = len(headers[i]) if headed else 0
    room = max(floor, head, widths(headers, rows, headed)[i] - over)
    return [[*r[:i], cut(r[i], room), *r[i + 1:]] for r in rows]


def cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(0, room - 1)] + "…"


def command_lines(commands: list[str], width: int | None, lead: str = "") -> list[str]:
    """Suggested commands (``wfe approve RUN``) on one line when they fit, else one a line:
    a terminal would wrap them mid-id otherwise."""
    one = lead + "   or   ".join(commands)
    if width is None or len(one) <= width:
        return [one]
    indent = " " * (len(lead) - len(lead.lstrip()) + 2)
    return ([lead.rstrip()] if lead.strip() else []) + [indent + c for c in commands]

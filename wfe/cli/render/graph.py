"""Steps as a graph: by level (a step sits one level below its deepest need), the steps of a
level that run side by side drawn as a bracket, and a foreach step's progress.

A chain (each step needs the one before it) keeps its plain list: no brackets, no NEEDS
column, so the runs people already have look as they always did. Everything here but
``template_graph`` and ``dot`` builds strings; the printing is the callers'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from wfe.cli.render.base import out
from wfe.engine import graph

Needs = Mapping[str, Sequence[str]]
BAR_WIDTH = 20


def needs_of(steps: Sequence[dict]) -> dict[str, tuple[str, ...]]:
    """Each step's needs from a run's (or a template's) steps. A step without ``needs`` needs
    the one before it (a template as written, or a daemon older than graphs); a need naming
    no step is dropped, so a drawing never fails on what the daemon sent."""
    raw = graph.needs_of([(str(s.get("name", "")), s.get("needs")) for s in steps])
    return {name: tuple(n for n in ns if n in raw and n != name) for name, ns in raw.items()}


def is_chain(needs: Needs) -> bool:
    names = list(needs)
    return all(tuple(needs[n]) == tuple(names[i - 1:i]) for i, n in enumerate(names))


def levels(needs: Needs) -> list[list[str]]:
    """The steps by level; a cycle (only a broken answer has one) draws as one long level
    per step, in order, rather than failing."""
    try:
        return graph.levels(needs)
    except ValueError:
        return [[n] for n in needs]


def ordered(needs: Needs) -> list[tuple[str, str]]:
    """``(glyph, step)`` in drawing order: level by level, template order within a level;
    the glyph brackets the steps of a level that run side by side ("" for a lone step)."""
    rows: list[tuple[str, str]] = []
    for level in levels(needs):
        for i, name in enumerate(level):
            glyph = "" if len(level) == 1 else ("└ " if i == len(level) - 1 else "├ ")
            rows.append((glyph, name))
    return rows


def needs_cell(needs: Needs, name: str) -> str:
    return ", ".join(needs.get(name, ())) or "-"


def layout(steps: Sequence[dict]) -> list[tuple[str, dict, str]] | None:
    """A run's steps to draw as a graph: ``(glyph, step, needs)`` in drawing order; None for
    a chain (drawn as the plain list it always was)."""
    needs = needs_of(steps)
    by_name = {str(s.get("name", "")): s for s in steps}
    if is_chain(needs) or len(by_name) != len(steps):
        return None
    return [(glyph, by_name[name], needs_cell(needs, name)) for glyph, name in ordered(needs)]


# -- a foreach step's progress -----------------------------------------------------------


def progress(step: dict, bar: bool = False) -> str | None:
    """``37/100 ✓35 ✗2`` (``●3`` while items run) from a step's ``items``, or None when the
    step has none (not a foreach, or a daemon that does not send it)."""
    items = step.get("items")
    if not isinstance(items, dict) or not isinstance(items.get("total"), int):
        return None
    total = max(0, items["total"])
    ok, bad, running = (_count(items, k) for k in ("succeeded", "failed", "running"))
    done = min(total, ok + bad)
    text = f"{done}/{total} ✓{ok} ✗{bad}" + (f" ●{running}" if running else "")
    if not bar:
        return text
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    return f"{'█' * filled}{'░' * (BAR_WIDTH - filled)} {text}"


def _count(items: dict, key: str) -> int:
    value = items.get(key)
    return value if isinstance(value, int) and value > 0 else 0


def progress_line(step: dict) -> str | None:
    """A foreach step in one line: ``ping 37/100 ✓35 ✗2``."""
    shown = progress(step)
    return None if shown is None else f"{step.get('name', '')} {shown}"


# -- a template's graph --------------------------------------------------------------------


def tree_lines(needs: Needs, label: Callable[[str], str]) -> list[str]:
    """The graph as text, level by level; a step whose needs are not its whole previous
    level says which it waits for."""
    lines: list[str] = []
    previous: tuple[str, ...] = ()
    for level in levels(needs):
        for i, name in enumerate(level):
            glyph = "" if len(level) == 1 else ("└─ " if i == len(level) - 1 else "├─ ")
            after = "" if set(needs[name]) == set(previous) else _after(needs[name])
            lines.append(f"{glyph}{name}  {label(name)}{after}".rstrip())
        previous = tuple(level)
    return lines


def _after(ns: Sequence[str]) -> str:
    return f"  (after {', '.join(ns)})"  # never empty: a step needing nothing is on level 0


def template_graph(t: dict, kind_of: Callable[[dict], str]) -> None:
    steps = t.get("steps") or []
    kinds = {str(s.get("name", "")): kind_of(s) for s in steps}
    for line in tree_lines(needs_of(steps), lambda name: kinds.get(name, "?")):
        out(line)


def dot_lines(name: str, steps: Sequence[dict], kind_of: Callable[[dict], str]) -> list[str]:
    """Graphviz: a node per step labelled with its name and kind, an edge per need."""
    needs = needs_of(steps)
    lines = [f"digraph {_quote(name)} {{", "  rankdir=TB;", "  node [shape=box];"]
    for s in steps:
        step = str(s.get("name", ""))
        label = '"' + _escape(step) + "\\n" + _escape(kind_of(s)) + '"'
        lines.append(f"  {_quote(step)} [label={label}];")
    for step, ns in needs.items():
        lines.extend(f"  {_quote(n)} -> {_quote(step)};" for n in ns)
    lines.append("}")
    return lines


def _escape(text: str) -> str:
    """Inside a DOT quoted string: a backslash (which starts DOT's label escapes) and a
    quote are escaped, a line break becomes the escape for one, so no name breaks out."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def _quote(text: str) -> str:
    return f'"{_escape(text)}"'


def dot(t: dict, kind_of: Callable[[dict], str]) -> None:
    for line in dot_lines(str(t.get("name") or "template"), t.get("steps") or [], kind_of):
        out(line)

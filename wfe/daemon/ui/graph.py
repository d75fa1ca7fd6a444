"""A run's (or a template's) steps laid out as an SVG graph, on the server.

Layered: a step sits one column right of its deepest need (wfe.engine.graph.levels), the
steps of a column stacked and centred; an edge per need, drawn as a curve from the need's
right side to the step's left. A ``foreach`` step is one node with a progress bar of its
items. Computed here rather than in the browser so the picture needs no JavaScript and the
layout is a plain function a test can call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wfe.engine import graph

W, H, BAR_H = 176, 46, 8
GAP_X, GAP_Y, PAD = 64, 18, 12


@dataclass
class Node:
    name: str
    x: int
    y: int
    status: str
    kind: str
    items: dict | None = None
    bar: list[tuple[str, int, int]] = field(default_factory=list)  # (class, x, width)

    @property
    def label(self) -> str:
        return self.name if len(self.name) <= 22 else self.name[:21] + "…"


@dataclass
class Layout:
    width: int
    height: int
    nodes: list[Node]
    edges: list[str]  # SVG path data, one per need


def needs_of(steps: Sequence[dict]) -> dict[str, tuple[str, ...]]:
    """Each step's needs; a need naming no step is dropped, so a drawing never fails."""
    raw = graph.needs_of([(str(s.get("name", "")), s.get("needs") or None) for s in steps])
    return {name: tuple(n for n in ns if n in raw and n != name) for name, ns in raw.items()}


def columns(needs: dict[str, tuple[str, ...]]) -> list[list[str]]:
    try:
        return graph.levels(needs)
    except ValueError:  # a cycle: only a broken answer has one; draw it as a chain
        return [[n] for n in needs]


def kind_of(step: dict) -> str:
    if "kind" in step:
        return str(step["kind"])
    kinds = ("run", "http", "sleep", "set", "approval", "callback", "workflow")
    return next((k for k in kinds if k in step), "step")


def layout(steps: Sequence[dict]) -> Layout:
    needs = needs_of(steps)
    cols = columns(needs)
    by_name = {str(s.get("name", "")): s for s in steps}
    tallest = max((len(c) for c in cols), default=0)
    height = PAD * 2 + tallest * H + max(tallest - 1, 0) * GAP_Y
    nodes: dict[str, Node] = {}
    for ci, col in enumerate(cols):
        top = (height - (len(col) * H + (len(col) - 1) * GAP_Y)) // 2
        for ri, name in enumerate(col):
            step = by_name.get(name, {})
            node = Node(name, PAD + ci * (W + GAP_X), top + ri * (H + GAP_Y),
                        str(step.get("status", "none")), kind_of(step))
            _progress(node, step.get("items") if "foreach" in step or step.get("items")
                      else None)
            nodes[name] = node
    edges = [_edge(nodes[n], nodes[name]) for name, ns in needs.items() for n in ns]
    width = PAD * 2 + len(cols) * W + max(len(cols) - 1, 0) * GAP_X
    return Layout(width, height, list(nodes.values()), edges)


def _progress(node: Node, items) -> None:
    """A foreach node's bar: succeeded, failed and running segments of its items."""
    if not isinstance(items, dict):
        return
    node.items = items
    total, x, full = max(int(items.get("total") or 0), 1), node.x + 8, W - 16
    for cls in ("succeeded", "failed", "running"):
        width = round(full * int(items.get(cls) or 0) / total)
        if width:
            node.bar.append((cls, x, width))
            x += width


def _edge(a: Node, b: Node) -> str:
    x1, y1, x2, y2 = a.x + W, a.y + H // 2, b.x, b.y + H // 2
    mid = (x1 + x2) // 2
    return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"

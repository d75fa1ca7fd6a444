"""How runs and templates look as graphs (text output, no terminal): a chain as it always
looked, a diamond level by level, a foreach step's progress, Graphviz that quotes safely."""

from __future__ import annotations

import io

from wfe.cli import render
from wfe.cli.render import graph
from wfe.cli.render.templates import _kind


def step(index: int, name: str, needs: list[str] | None, status: str, **more) -> dict:
    s = {"index": index, "name": name, "kind": "run", "status": status,
         "attempt": 0 if status == "pending" else 1, **more}
    if needs is not None:
        s["needs"] = needs
    return s


def a_run(*steps: dict, status: str = "running") -> dict:
    return {"id": "r-1", "template": {"name": "t", "version": 1}, "status": status,
            "steps": list(steps)}


DIAMOND = a_run(
    step(0, "build", [], "succeeded"),
    step(1, "test-a", ["build"], "running"),
    step(2, "test-b", ["build"], "failed", error="exit 3"),
    step(3, "ship", ["test-a", "test-b"], "pending"),
)


def table_of(capsys, run: dict) -> list[str]:
    render.steps(run)
    return capsys.readouterr().out.splitlines()


def test_a_chain_looks_as_it_always_did(capsys):
    chain = a_run(step(0, "build", [], "succeeded"), step(1, "ship", ["build"], "running"))
    assert table_of(capsys, chain) == [
        "#  STEP   KIND  STATUS     ATTEMPT  TIME  OUTPUT / ERROR",
        "0  build  run   succeeded  1        -",
        "1  ship   run   running    1        -",
    ]
    # A daemon older than graphs sends no needs: its runs are chains too.
    old = a_run(step(0, "build", None, "succeeded"), step(1, "ship", None, "running"))
    assert table_of(capsys, old) == table_of(capsys, chain)


def test_a_diamond_is_drawn_level_by_level(capsys):
    assert table_of(capsys, DIAMOND) == [
        "#  STEP      KIND  STATUS     ATTEMPT  TIME  NEEDS           OUTPUT / ERROR",
        "0  build     run   succeeded  1        -     -",
        "1  ├ test-a  run   running    1        -     build",
        "2  └ test-b  run   failed     1        -     build           exit 3",
        "3  ship      run   pending    -        -     test-a, test-b",
    ]


def test_levels_follow_needs_not_template_order(capsys):
    # Written last, needed by nothing and needing nothing: it sits beside the first step.
    run = a_run(step(0, "a", [], "succeeded"), step(1, "b", ["a"], "succeeded"),
                step(2, "side", [], "succeeded"))
    names = [line.split()[1:3] for line in table_of(capsys, run)[1:]]
    assert names == [["├", "a"], ["└", "side"], ["b", "run"]]


def test_show_of_a_diamond_run(capsys):
    render.run(DIAMOND)
    out = capsys.readouterr().out
    assert "├ test-a" in out and "└ test-b" in out and "NEEDS" in out


def test_foreach_progress_from_a_steps_items(capsys):
    items = {"total": 100, "succeeded": 35, "failed": 2, "running": 0}
    ping = step(1, "ping", ["build"], "running", items=items)
    assert render.progress_line(ping) == "ping 37/100 ✓35 ✗2"
    assert graph.progress(ping | {"items": items | {"running": 3}}) == "37/100 ✓35 ✗2 ●3"
    assert graph.progress(ping, bar=True) == "███████░░░░░░░░░░░░░ 37/100 ✓35 ✗2"
    assert graph.progress(step(0, "x", [], "running")) is None  # not a foreach
    assert graph.progress(step(0, "x", [], "running", items={"total": "?"})) is None
    run = a_run(step(0, "build", [], "succeeded"), ping,
                step(2, "lint", ["build"], "succeeded"))
    assert table_of(capsys, run)[2].endswith("37/100 ✓35 ✗2")


def test_watch_plain_lines_tell_a_foreach_in_tenths(capsys):
    view = render.WatchView()
    ping = step(0, "ping", [], "running", items={"total": 100, "succeeded": 35, "failed": 2})
    view.update(a_run(ping))
    view.update(a_run(ping | {"items": {"total": 100, "succeeded": 38, "failed": 2}}))
    view.update(a_run(ping | {"items": {"total": 100, "succeeded": 41, "failed": 2}}))
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ping")]
    assert len(lines) == 2, lines  # 37 and 40 are a new tenth; 43 is not
    assert lines[0].endswith("37/100 ✓35 ✗2") and lines[1].endswith("40/100 ✓38 ✗2")


def test_watch_screen_of_a_diamond():
    from rich.console import Console

    ping = step(3, "ping", ["build"], "running", items={"total": 10, "succeeded": 5})
    run = a_run(*DIAMOND["steps"][:3], ping,
                step(4, "ship", ["test-a", "test-b", "ping"], "pending"))
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None).print(render.WatchView()._steps_table(run))
    screen = buf.getvalue()
    assert "├ test-a" in screen and "└ ping" in screen and "NEEDS" in screen
    assert "5/10 ✓5 ✗0" in screen and "█" * 10 in screen
    chain = a_run(step(0, "build", [], "succeeded"), step(1, "ship", ["build"], "running"))
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None).print(render.WatchView()._steps_table(chain))
    assert "NEEDS" not in buf.getvalue() and "├" not in buf.getvalue()


TEMPLATE = {"name": "diamond", "steps": [
    {"name": "build", "run": "make"},
    {"name": "test-a", "run": "make a", "needs": ["build"]},
    {"name": "test-b", "http": {"url": "http://x"}, "needs": ["build"]},
    {"name": "ship", "approval": {}, "needs": ["test-a", "test-b"]},
    {"name": "notify", "set": {"x": "1"}},  # no needs: after the step before it
    {"name": "audit", "run": "true", "needs": []},
]}


def test_template_graph_text(capsys):
    render.template_graph(TEMPLATE)
    assert capsys.readouterr().out.splitlines() == [
        "├─ build  run",
        "└─ audit  run",
        "├─ test-a  run  (after build)",
        "└─ test-b  http  (after build)",
        "ship  approval",
        "notify  set",
    ]


def test_template_dot_has_a_node_per_step_and_an_edge_per_need():
    lines = graph.dot_lines("diamond", TEMPLATE["steps"], _kind)
    assert lines[0] == 'digraph "diamond" {' and lines[-1] == "}"
    assert '  "test-b" [label="test-b\\nhttp"];' in lines
    edges = {ln.strip() for ln in lines if "->" in ln}
    assert edges == {'"build" -> "test-a";', '"build" -> "test-b";', '"test-a" -> "ship";',
                     '"test-b" -> "ship";', '"ship" -> "notify";'}


def test_dot_quotes_any_name_safely():
    steps = [{"name": 'a"b\\c\nd', "run": "x"}, {"name": "e", "run": "y"}]
    lines = graph.dot_lines('t"; evil', steps, _kind)
    assert lines[0] == 'digraph "t\\"; evil" {'
    assert '  "a\\"b\\\\c\\nd" [label="a\\"b\\\\c\\nd\\nrun"];' in lines
    assert '  "a\\"b\\\\c\\nd" -> "e";' in lines
    assert all("\n" not in ln for ln in lines)


def test_show_of_a_queued_run_says_what_it_waits_for(capsys):
    queued = a_run(step(0, "ship", [], "pending"), status="pending") | {"queued_behind": {
        "key": "prod", "limit": 1, "position": 2, "running": ["r-0"]}}
    render.run(queued)
    out = capsys.readouterr().out
    assert "#2 in line (key 'prod', limit 1); running: r-0" in out

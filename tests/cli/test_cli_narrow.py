"""At 60 columns the tables stay readable: short ids, a status never cut, the least useful
columns dropped, and a suggested command never broken mid-id. Rendered both ways: rich (a
terminal 60 wide) and plain (COLUMNS=60)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from wfe.cli import render
from wfe.cli.render import base, fit

WIDTH = 60
RUN = "9e848e14-4a30-43e9-9270-6419aee5c9c8"
OTHER = "1fcdf625-1552-4ad9-804e-d60ecc68a70c"
T0 = "2026-01-01T00:00:00Z"
STATUSES = ("waiting_approval", "completed", "cancelled", "running", "failed")


def a_run(run_id: str, status: str) -> dict:
    return {"id": run_id, "status": status, "created_at": T0, "started_at": T0,
            "template": {"name": "nightly-database-backup-and-verify", "version": 12},
            "current_step": 1, "current_step_name": "copy-the-snapshot-offsite"}


def full_run() -> dict:
    steps = [{"index": i, "name": f"step-number-{i}-with-a-long-name", "kind": "run",
              "status": s, "attempt": 1, "started_at": T0, "finished_at": T0,
              "output": {"rows": 123456, "note": "x" * 80}}
             for i, s in enumerate(("succeeded", "failed", "cancelled", "skipped"))]
    events = [{"seq": n, "at": T0, "type": "approval.requested", "actor": "system",
               "data": {"approval_id": OTHER, "step": "gate", "message": "y" * 70}}
              for n in range(1, 4)]
    return {**a_run(RUN, "waiting_approval"), "trigger_type": "cli", "owner": "root",
            "input": {"who": "z" * 90}, "steps": steps, "events": events,
            "approvals": [{"id": OTHER, "step": "gate", "status": "pending",
                           "message": "Ship release 1.2.3 to every production region?"}]}


def views() -> list[tuple[str, object, tuple[str, ...]]]:
    """(name, a call that renders, the status words it must show whole)."""
    runs = {"items": [a_run(RUN, s) for s in STATUSES], "total": 5}
    approvals = {"items": [{"run_id": RUN, "template": {"name": "t" * 30, "version": 1},
                            "step": "a-gate-with-a-long-name", "status": "pending",
                            "requested_at": T0, "expires_at": T0, "message": "m" * 80}]}
    templates = {"items": [{"id": OTHER, "name": "n" * 30, "version": 3, "status": "published",
                            "steps": [{}], "created_at": T0, "description": "d" * 60}]}
    return [
        ("runs", lambda: render.runs(runs), STATUSES),
        ("run", lambda: render.run(full_run()),
         ("waiting_approval", "succeeded", "failed", "cancelled", "skipped")),
        ("approvals", lambda: render.approvals(approvals), ("pending",)),
        ("templates", lambda: render.templates(templates), ("published",)),
    ]


@pytest.fixture(params=["rich", "plain"])
def screen(request, monkeypatch, capsys):
    """What the views print, at 60 columns: on a rich terminal, or as plain text."""
    buf = io.StringIO()
    if request.param == "rich":
        monkeypatch.setattr(base, "fancy", lambda: True)
        monkeypatch.setattr(base, "console", lambda stderr=False: Console(
            file=buf, width=WIDTH, color_system=None, highlight=False, soft_wrap=False))
    else:
        monkeypatch.setenv("COLUMNS", str(WIDTH))
    # Plain lines (out) go to stdout in both modes; rich's to its console.
    return lambda: buf.getvalue() + capsys.readouterr().out


@pytest.mark.parametrize("name, show, statuses", views(), ids=[v[0] for v in views()])
def test_every_line_fits_60_columns(screen, name, show, statuses):
    show()
    assert_fits(screen(), statuses)


def assert_fits(text: str, statuses: tuple[str, ...], width: int = WIDTH) -> None:
    """Every line in ``width`` columns, and each status word shown whole."""
    lines = text.splitlines()
    assert lines
    too_long = [line for line in lines if len(line.rstrip()) > width]
    assert not too_long, "\n".join(too_long)
    words = set(re.findall(r"[a-z_]+", text))
    for status in statuses:
        assert status in words, (status, text)
        cut = [k for k in range(1, len(status))
               if re.search(rf"(?<![a-z_]){re.escape(status[:k])}…", text)]
        assert not cut, (status, text)  # whole, never "waiting_ap…"


def test_runs_at_60_show_short_ids_and_keep_status(screen):
    render.runs({"items": [a_run(RUN, "waiting_approval")]})
    header, *rows = [x for x in screen().splitlines() if x.strip("─ ")]
    assert header.split()[:3] == ["ID", "TEMPLATE", "STATUS"]
    assert rows[0].split()[0] == RUN[:8] and "waiting_approval" in rows[0].split()


def test_suggested_commands_are_never_cut_mid_id(screen):
    render.run(full_run())
    text = screen()
    assert f"wfe approve {RUN}" in text and f"wfe reject {RUN}" in text
    for line in text.splitlines():
        if "wfe approve" in line or "wfe reject" in line:
            assert line.rstrip().endswith(RUN), line


def test_wide_keeps_every_column_and_whole_ids(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    with base.wide():
        render.runs({"items": [a_run(RUN, "completed")]})
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "TEMPLATE", "STATUS", "STEP", "CREATED", "DURATION"]
    assert row.startswith(RUN)


def test_a_pipe_without_columns_gets_whole_lines(monkeypatch, capsys):
    monkeypatch.delenv("COLUMNS", raising=False)
    render.runs({"items": [a_run(RUN, "completed")]})
    assert capsys.readouterr().out.splitlines()[1].startswith(RUN)


def test_fit_drops_in_the_order_given_and_never_the_status():
    headers = ["ID", "NAME", "STATUS", "NOTE"]
    rows = [[RUN, "n" * 20, "waiting_approval", "x" * 40]]
    got_headers, got = fit.fit(headers, rows, 40, drop=("STATUS", "NAME", "NOTE"), elide="NOTE")
    assert "STATUS" in got_headers and got[0][0] == RUN[:8]
    assert fit.total(got_headers, got) <= 40
    assert got[0][got_headers.index("STATUS")] == "waiting_approval"

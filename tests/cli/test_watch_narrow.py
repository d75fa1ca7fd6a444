"""``wfe watch`` at 60 columns, as ``wfe show`` is (tests/cli/test_cli_narrow.py): the live
screen (rich, a terminal 60 wide) and the plain story (COLUMNS=60) fit, the statuses stay
whole, the commands that decide are never cut mid-id; at 120 columns nothing goes."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.cli.test_cli_narrow import RUN, T0, WIDTH, assert_fits
from wfe.cli import render
from wfe.cli.render import base, watch

T1 = "2026-01-01T00:01:30Z"
STATUSES = ("waiting_approval", "succeeded", "failed", "running", "waiting", "pending",
            "skipped")
LOG = "pinging eu-west-3.api.example.com: 200 OK in 41ms (tls 1.3, h2, keep-alive reused)"


def step(index: int, name: str, status: str, needs: list[str], **more) -> dict:
    started = {} if status in ("pending", "skipped") else {"started_at": T0, "attempt": 1}
    done = {"finished_at": T1} if status in ("succeeded", "failed") else {}
    return {"index": index, "name": name, "kind": "run", "status": status, "needs": needs,
            **started, **done, **more}


def a_run(graph: bool) -> dict:
    """A release: a build, its tests (failed after retries), a foreach over the regions
    running beside an approval gate, then the deploy and what follows it."""
    build, tests, ping, gate, deploy = ("build-the-release-artifacts",
                                        "run-the-integration-tests",
                                        "ping-every-regional-endpoint",
                                        "approve-production-rollout",
                                        "deploy-to-every-production-region")
    steps = [
        step(0, build, "succeeded", [], output={
            "artifact": "s3://releases/2026.01.3/wfe-2026.01.3-linux-x86_64.tar.gz",
            "sha256": "ab" * 32}),
        step(1, tests, "failed", [build], attempt=3, exit_code=1,
             error="AssertionError: expected 200 from /health, the service answered 503"),
        step(2, ping, "running", [build], kind="foreach",
             items={"total": 120, "succeeded": 40, "failed": 3, "running": 4}),
        step(3, gate, "waiting", [build], kind="approval"),
        step(4, deploy, "pending", [gate]),
        step(5, "notify-the-release-channel", "pending", [deploy]),
        step(6, "cleanup-temporary-buckets", "skipped", [deploy]),
    ]
    if not graph:  # the same steps as a chain: no brackets, no NEEDS
        steps = [{k: v for k, v in s.items() if k != "needs"} for s in steps]
    return {"id": RUN, "status": "waiting_approval", "created_at": T0, "started_at": T0,
            "template": {"name": "nightly-release-build-test-and-deploy", "version": 12},
            "steps": steps,
            "approvals": [{"id": "1fcdf625-1552-4ad9-804e-d60ecc68a70c", "step": gate,
                           "status": "pending",
                           "message": "Roll release 2026.01.3 out to all 14 production "
                                      "regions? Check the canary dashboard first."}]}


def story(graph: bool) -> list[dict]:
    """The run as the watcher is fed it: everything pending, the build running, then now."""
    now = a_run(graph)
    keep = ("index", "name", "kind", "needs")
    first = [{k: v for k, v in s.items() if k in keep} | {"status": "pending"}
             for s in now["steps"]]
    first[0] |= {"status": "running", "started_at": T0, "attempt": 1}
    return [{**now, "status": "running", "steps": first, "approvals": []}, now]


@pytest.fixture(params=["rich", "plain"])
def watched(request, monkeypatch, capsys):
    """``watched(width, graph)``: all that ``wfe watch`` prints of the story and its end."""

    def show(width: int, graph: bool = True) -> str:
        buf = io.StringIO()
        if request.param == "rich":
            screen = Console(file=buf, width=width, color_system=None, highlight=False,
                             soft_wrap=False)  # not a terminal: Live draws its last frame
            for module in (base, watch):
                monkeypatch.setattr(module, "fancy", lambda: True)
                monkeypatch.setattr(module, "console", lambda stderr=False: screen)
        else:
            monkeypatch.setenv("COLUMNS", str(width))
        with render.WatchView() as view:
            for run in story(graph):
                view.update(run)
            view.log("ping-every-regional-endpoint", 1, LOG)
        if request.param == "rich":
            buf.write("\n")  # on a terminal Live ends its last frame with a line break
        render.finished({**a_run(graph), "status": "failed", "finished_at": T1,
                         "reason": "step run-the-integration-tests failed after 3 attempts: "
                                   "AssertionError: expected 200 from /health"})
        return buf.getvalue() + capsys.readouterr().out

    show.mode = request.param  # type: ignore[attr-defined]
    return show


@pytest.mark.parametrize("graph", [True, False], ids=["graph", "chain"])
def test_watch_fits_60_columns_with_whole_statuses(watched, graph):
    text = watched(WIDTH, graph)
    assert_fits(text, STATUSES)
    for name in ("build-the-release-artifacts", "deploy-to-every-production-region"):
        assert name in text, text  # a step's name is what the line is about: never cut


def test_watch_at_60_decides_with_whole_ids_on_their_own_lines(watched):
    text = watched(WIDTH)
    for verb in ("approve", "reject"):
        lines = [ln for ln in text.splitlines() if f"wfe {verb}" in ln]
        assert lines, text
        assert all(ln.strip(" │").endswith(f"wfe {verb} {RUN}") for ln in lines), lines


def test_watch_at_60_shortens_the_run_id_and_drops_columns(watched):
    text = watched(WIDTH)
    head = text.splitlines()[0]
    assert head.startswith(f"run {RUN[:8]}") and RUN not in head, head
    if watched.mode == "rich":
        assert "STATUS" in text and "ATTEMPT" not in text and "NEEDS" not in text
        assert "43/120 ✓40" in text and "█" not in text  # the counts go before the bar
    else:
        assert "attempt 3" not in text
        assert "  run-the-integration-tests failed" in text


def test_watch_at_120_drops_nothing(watched):
    text = watched(120)
    assert_fits(text, STATUSES, 120)
    head = text.splitlines()[0]
    assert head.startswith(f"run {RUN}") and "nightly-release-build-test-and-deploy@12" in head
    if watched.mode == "rich":
        for column in ("STEP", "STATUS", "ATTEMPT", "TIME", "NEEDS", "OUTPUT / ERROR"):
            assert column in text, (column, text)
        assert "├ run-the-integration-tests" in text and "43/120 ✓40 ✗3 ●4" in text
    else:
        assert "  run-the-integration-tests failed     attempt 3 1m AssertionError" in text
        assert f"ping-every-regional-endpoint | {LOG}" in text
    assert "(step run-the-integration-tests failed after 3 attempts: Assertion" in text

"""Which failure handlers run, and in what order, as tables: no loop, no database."""

from __future__ import annotations

import pytest

from wfe.engine.handlers import Handler, next_handler, order, summary, undo_name

UNDOS = {"a": "a.undo", "b": "b.undo", "c": "c.undo"}
ON_FAILURE = ["alert", "page"]
FINALLY = ["cleanup"]


def names(handlers: list[Handler]) -> list[str]:
    return [h.name for h in handlers]


@pytest.mark.parametrize(("verdict", "completed", "want"), [
    # completed: no undo, no on_failure; finally always
    ("completed", ["a", "b", "c"], ["cleanup"]),
    # failed: undos newest completion first, then on_failure, then finally
    ("failed", ["a", "b"], ["b.undo", "a.undo", "alert", "page", "cleanup"]),
    # branches completed out of list order: the completion order decides
    ("failed", ["c", "a"], ["a.undo", "c.undo", "alert", "page", "cleanup"]),
    # cancelled: undos and finally, no on_failure
    ("cancelled", ["b", "a"], ["a.undo", "b.undo", "cleanup"]),
    # nothing completed: nothing to undo
    ("failed", [], ["alert", "page", "cleanup"]),
    # a step without an undo is passed over
    ("cancelled", ["a", "x", "c"], ["c.undo", "a.undo", "cleanup"]),
    # a step that completed twice (rolled back, done again) counts at its last completion
    ("failed", ["a", "b", "a"], ["a.undo", "b.undo", "alert", "page", "cleanup"]),
])
def test_order(verdict, completed, want):
    assert names(order(verdict, completed, UNDOS, ON_FAILURE, FINALLY)) == want


def test_undo_handlers_name_the_step_they_compensate():
    got = order("failed", ["a", "b"], UNDOS, [], [])
    assert got == [Handler("b.undo", "undo", "b"), Handler("a.undo", "undo", "a")]
    assert undo_name("deploy") == "deploy.undo"


SEQ = ["b.undo", "a.undo", "cleanup"]


@pytest.mark.parametrize(("statuses", "want"), [
    ({}, "b.undo"),
    ({"b.undo": "pending"}, "b.undo"),
    # running: a crash cut it short, it runs again
    ({"b.undo": "running"}, "b.undo"),
    # a failed handler does not stop the ones after it
    ({"b.undo": "failed"}, "a.undo"),
    ({"b.undo": "succeeded", "a.undo": "skipped"}, "cleanup"),
    ({"b.undo": "succeeded", "a.undo": "succeeded", "cleanup": "cancelled"}, None),
])
def test_next_handler(statuses, want):
    assert next_handler(SEQ, statuses) == want


def test_summary_names_the_failed_handlers():
    assert summary({"b.undo": "failed", "a.undo": "succeeded", "z": "failed"}) == {
        "failed": ["b.undo", "z"]}
    assert summary({}) == {"failed": []}

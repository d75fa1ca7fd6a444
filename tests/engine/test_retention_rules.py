"""Which runs may be deleted, and when retention deletes one: a table of cases."""

from __future__ import annotations

import pytest

from wfe.config import Settings
from wfe.engine.retention import (
    blocker,
    check_deletable,
    cutoff,
    retention_seconds,
)
from wfe.engine.spec import TemplateSpec
from wfe.errors import InvalidSettings, InvalidTransition


@pytest.mark.parametrize(("status", "handlers", "deletable"), [
    ("completed", None, True),
    ("failed", "done", True),
    ("cancelled", None, True),
    ("failed", "pending", False),  # its failure handlers are due
    ("failed", "running", False),
    ("running", None, False),
    ("pending", None, False),
    ("paused", None, False),
    ("waiting_approval", "waiting", False),
])
def test_a_run_is_deletable_once_it_and_its_handlers_are_done(status, handlers, deletable):
    assert (blocker(status, handlers) is None) == deletable


def test_a_child_that_has_not_ended_blocks_its_parent():
    runs = [{"id": "p", "status": "completed", "handlers": None},
            {"id": "c", "status": "running", "handlers": None}]
    with pytest.raises(InvalidTransition) as caught:
        check_deletable(runs, "p")
    assert caught.value.details == {"run_id": "c", "status": "running", "handlers": None}
    assert "child run c" in str(caught.value)
    check_deletable(runs[:1], "p")


@pytest.mark.parametrize(("value", "seconds"), [
    ("30d", 30 * 86400.0), ("1s", 1.0), ("1h30m", 5400.0), (60, 60.0), ("", None), (None, None),
])
def test_retention_values(value, seconds):
    assert retention_seconds(value) == seconds


@pytest.mark.parametrize("value", ["0", "0s", "-1d", "soon", "1x"])
def test_bad_retention_values_are_refused_in_settings_and_templates(value):
    with pytest.raises(InvalidSettings, match="retention"):
        Settings(retention=value)._validated()
    with pytest.raises(ValueError, match=r"retention|duration"):
        TemplateSpec.model_validate({"name": "t", "retention": value,
                                     "steps": [{"name": "a", "set": {"x": 1}}]})



def test_the_cutoff_is_written_as_finished_at_is():
    assert cutoff(86400.0 + 1.5, 86400) == "1970-01-01T00:00:01.500000Z"

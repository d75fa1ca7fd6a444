"""The step state machine: every status x every action -> new status or refused."""

from __future__ import annotations

import pytest

from wfe.engine.states import StepAction, StepStatus, step_sources, step_transition
from wfe.errors import InvalidTransition

S = StepStatus
EXPECTED = {
    S.PENDING: {"start": S.RUNNING, "wait": S.WAITING, "succeed": S.SUCCEEDED,
                "skip": S.SKIPPED, "cancel": S.CANCELLED},
    S.RUNNING: {"succeed": S.SUCCEEDED, "fail": S.FAILED, "retry_later": S.PENDING,
                "interrupt": S.PENDING, "cancel": S.CANCELLED},
    S.WAITING: {"succeed": S.SUCCEEDED, "fail": S.FAILED, "retry_later": S.PENDING,
                "cancel": S.CANCELLED},
    S.SUCCEEDED: {"reset": S.PENDING},
    S.FAILED: {"reset": S.PENDING},
    S.SKIPPED: {"reset": S.PENDING},
    S.CANCELLED: {"reset": S.PENDING},
}


@pytest.mark.parametrize("status", list(StepStatus))
@pytest.mark.parametrize("action", list(StepAction))
def test_every_step_status_and_action(status, action):
    want = EXPECTED[status].get(action.value)
    if want is None:
        with pytest.raises(InvalidTransition) as info:
            step_transition(status, action)
        assert info.value.details == {"status": status.value, "action": action.value}
    else:
        assert step_transition(status, action) == want


def test_what_a_cancel_and_a_reset_move():
    assert sorted(step_sources(StepAction.CANCEL)) == ["pending", "running", "waiting"]
    assert sorted(step_sources(StepAction.RESET)) == ["cancelled", "failed", "skipped",
                                                       "succeeded"]

"""The run state machine: every status x every action -> new status or 409."""

from __future__ import annotations

import pytest

from wfe.engine.states import Action, RunStatus, allowed_actions, resume_target, transition
from wfe.errors import InvalidTransition

S = RunStatus
EXPECTED = {
    # status: {action: new status}; every other pair is refused.
    S.PENDING: {"start": S.RUNNING, "pause": S.PAUSED, "cancel": S.CANCELLED, "fail": S.FAILED},
    S.RUNNING: {"pause": S.PAUSED, "cancel": S.CANCELLED, "complete": S.COMPLETED,
                "fail": S.FAILED, "await_approval": S.WAITING_APPROVAL},
    S.WAITING_APPROVAL: {"pause": S.PAUSED, "cancel": S.CANCELLED, "approve": S.RUNNING,
                         "reject": S.FAILED, "fail": S.FAILED, "start": S.RUNNING},
    S.PAUSED: {"resume": S.RUNNING, "cancel": S.CANCELLED, "fail": S.FAILED,
               "rollback": S.RUNNING},
    S.COMPLETED: {"rollback": S.RUNNING},
    S.FAILED: {"retry": S.RUNNING, "rollback": S.RUNNING},
    S.CANCELLED: {"retry": S.RUNNING, "rollback": S.RUNNING},
}


@pytest.mark.parametrize("status", list(RunStatus))
@pytest.mark.parametrize("action", list(Action))
def test_every_status_and_action(status, action):
    want = EXPECTED[status].get(action.value)
    if want is None:
        with pytest.raises(InvalidTransition) as info:
            transition(status, action)
        err = info.value
        assert err.http_status == 409
        assert err.details["status"] == status.value
        assert status.value in err.message and action.value in err.message
        assert err.details["allowed_actions"] == allowed_actions(status)
    else:
        assert transition(status, action) == want


def test_terminal_states():
    assert {s for s in RunStatus if s.terminal} == {S.COMPLETED, S.FAILED, S.CANCELLED}


@pytest.mark.parametrize("paused_from,gate,want", [
    ("running", False, S.RUNNING),
    ("pending", False, S.PENDING),
    ("waiting_approval", True, S.WAITING_APPROVAL),
    ("waiting_approval", False, S.RUNNING),
])
def test_resume_goes_back(paused_from, gate, want):
    assert resume_target(paused_from, gate) == want

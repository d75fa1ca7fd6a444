"""Run and step states, and the one table of allowed run transitions."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from wfe.errors import InvalidTransition


class RunStatus(StrEnum):
    # Stored in the database and shown on the wire: keep the values stable.
    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        return self in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)


class Action(StrEnum):
    # Asked for by a person or a tool through the API.
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY = "retry"
    ROLLBACK = "rollback"
    # Taken by the engine itself.
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"
    AWAIT_APPROVAL = "await_approval"
    APPROVE = "approve"
    REJECT = "reject"


TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
USER_ACTIONS = (Action.PAUSE, Action.RESUME, Action.CANCEL, Action.RETRY, Action.ROLLBACK)

S, A = RunStatus, Action
# RESUME's target is "where the run was when it was paused" and is resolved by resume_target().
TRANSITIONS: dict[tuple[RunStatus, Action], RunStatus] = {
    (S.PENDING, A.START): S.RUNNING,
    (S.PENDING, A.PAUSE): S.PAUSED,
    (S.PENDING, A.CANCEL): S.CANCELLED,
    (S.PENDING, A.FAIL): S.FAILED,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    (S.RUNNING, A.CANCEL): S.CANCELLED,
    (S.RUNNING, A.COMPLETE): S.COMPLETED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.AWAIT_APPROVAL): S.WAITING_APPROVAL,
    (S.WAITING_APPROVAL, A.PAUSE): S.PAUSED,
    (S.WAITING_APPROVAL, A.CANCEL): S.CANCELLED,
    (S.WAITING_APPROVAL, A.APPROVE): S.RUNNING,
    # a sleep, callback deadline or backoff in another branch came due beside open gates
    (S.WAITING_APPROVAL, A.START): S.RUNNING,
    (S.WAITING_APPROVAL, A.REJECT): S.FAILED,
    (S.WAITING_APPROVAL, A.FAIL): S.FAILED,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.PAUSED, A.CANCEL): S.CANCELLED,
    (S.PAUSED, A.FAIL): S.FAILED,
    (S.PAUSED, A.ROLLBACK): S.RUNNING,
    (S.FAILED, A.RETRY): S.RUNNING,
    (S.FAILED, A.ROLLBACK): S.RUNNING,
    (S.CANCELLED, A.RETRY): S.RUNNING,
    (S.CANCELLED, A.ROLLBACK): S.RUNNING,
    (S.COMPLETED, A.ROLLBACK): S.RUNNING,
}
del S, A


def allowed_actions(status: RunStatus | str, actions: Iterable[Action] = USER_ACTIONS) -> list[str]:
    status = RunStatus(status)
    return [a.value for a in actions if (status, a) in TRANSITIONS]


def transition(status: RunStatus | str, action: Action | str) -> RunStatus:
    """The status a run moves to, or InvalidTransition (HTTP 409) naming what is allowed."""
    status, action = RunStatus(status), Action(action)
    target = TRANSITIONS.get((status, action))
    if target is None:
        allowed = allowed_actions(status)
        raise InvalidTransition(
            f"cannot {action.value} a run that is {status.value}"
            + (f"; allowed: {', '.join(allowed)}" if allowed else "; no action is allowed"),
            {"status": status.value, "action": action.value, "allowed_actions": allowed},
        )
    return target


def resume_target(paused_from: str | None, approval_open: bool) -> RunStatus:
    """Where a paused run goes back to: the gate if one is still open, else where it was."""
    if approval_open:
        return RunStatus.WAITING_APPROVAL
    if paused_from == RunStatus.PENDING:
        return RunStatus.PENDING
    return RunStatus.RUNNING


class StepAction(StrEnum):
    START = "start"  # an executor (or a pure step) begins an attempt
    WAIT = "wait"  # a sleep, a gate, a callback or a child run begins waiting
    SUCCEED = "succeed"
    FAIL = "fail"  # for good: no attempt left
    RETRY_LATER = "retry_later"  # an attempt failed; the next one is due later
    INTERRUPT = "interrupt"  # the daemon or the Runner died while it ran: it runs again
    SKIP = "skip"  # its `if` was false
    CANCEL = "cancel"  # the run was cancelled or failed beside it
    RESET = "reset"  # a retry or a rollback makes it run again


T, SA = StepStatus, StepAction
# A step's life: every write of a step status is one of these. Pending steps of a cancelled
# run become cancelled; a retry resets what did not get done, a rollback what it undoes.
STEP_TRANSITIONS: dict[tuple[StepStatus, StepAction], StepStatus] = {
    (T.PENDING, SA.START): T.RUNNING,
    (T.PENDING, SA.WAIT): T.WAITING,
    (T.PENDING, SA.SUCCEED): T.SUCCEEDED,  # a pure step: start and result in one commit
    (T.PENDING, SA.SKIP): T.SKIPPED,
    (T.PENDING, SA.CANCEL): T.CANCELLED,
    (T.RUNNING, SA.SUCCEED): T.SUCCEEDED,
    (T.RUNNING, SA.FAIL): T.FAILED,
    (T.RUNNING, SA.RETRY_LATER): T.PENDING,
    (T.RUNNING, SA.INTERRUPT): T.PENDING,
    (T.RUNNING, SA.CANCEL): T.CANCELLED,
    (T.WAITING, SA.SUCCEED): T.SUCCEEDED,
    (T.WAITING, SA.FAIL): T.FAILED,
    (T.WAITING, SA.RETRY_LATER): T.PENDING,
    (T.WAITING, SA.CANCEL): T.CANCELLED,
    (T.FAILED, SA.RESET): T.PENDING,
    (T.CANCELLED, SA.RESET): T.PENDING,
    (T.SUCCEEDED, SA.RESET): T.PENDING,
    (T.SKIPPED, SA.RESET): T.PENDING,
}
del T, SA


def step_transition(status: StepStatus | str, action: StepAction | str) -> StepStatus:
    """The status a step moves to; InvalidTransition when its table has no such move (a bug
    in whatever asked, as no person acts on a step directly)."""
    status, action = StepStatus(status), StepAction(action)
    target = STEP_TRANSITIONS.get((status, action))
    if target is None:
        raise InvalidTransition(f"a step that is {status.value} cannot {action.value}",
                                {"status": status.value, "action": action.value})
    return target


def step_sources(action: StepAction) -> list[str]:
    """The step statuses ``action`` applies to, for a store write that moves them all."""
    return [s.value for (s, a) in STEP_TRANSITIONS if a == action]

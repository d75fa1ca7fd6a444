"""A `foreach` step's items: which may start now, and the step's verdict from their states.

Pure: the Runner (wfe.daemon.runner_items) keeps each item's state as it committed it and
asks here what to do next. Item states as seen here: ``pending`` (never started, or to run
again), ``active`` (an item's task owns it: executing or backing off before a retry),
``succeeded``, ``failed`` (for good: its retries are spent), ``cancelled``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wfe.errors import ValidationFailed

ITEM_STATES = ("pending", "active", "succeeded", "failed", "cancelled")


class ItemsVerdict(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an item failed for good (with fail_fast, the rest were cancelled)
    CANCELLED = "cancelled"  # items were cancelled from outside (the run was) and none failed
    SUSPENDED = "suspended"  # nothing executes, items remain, and none may start (halted)


@dataclass(frozen=True)
class ItemsPlan:
    start: list[int]  # items to start now, in item order
    cancel: bool  # stop the active items (fail fast)
    verdict: ItemsVerdict | None  # None while items execute or can start


def plan_items(states: list[str], concurrency: int, fail_fast: bool,
               halted: bool = False) -> ItemsPlan:
    """``halted``: nothing new may start (the run stopped being `running`, the daemon drains)."""
    active = states.count("active")
    failed = "failed" in states
    if failed and fail_fast:
        return ItemsPlan([], active > 0, None if active else ItemsVerdict.FAILED)
    pending = [i for i, s in enumerate(states) if s == "pending"]
    start = [] if halted else pending[:max(0, concurrency - active)]
    if active or start:
        return ItemsPlan(start, False, None)
    if pending:
        return ItemsPlan([], False, ItemsVerdict.SUSPENDED)
    if failed:
        return ItemsPlan([], False, ItemsVerdict.FAILED)
    if "cancelled" in states:
        return ItemsPlan([], False, ItemsVerdict.CANCELLED)
    return ItemsPlan([], False, ItemsVerdict.SUCCEEDED)


def item_list(value: Any, limit: int, step: str) -> list[Any]:
    """The evaluated `foreach` expression as the step's items, or a clear error."""
    if not isinstance(value, list):
        raise ValidationFailed(f"foreach of step '{step}' must be a list, got"
                               f" {type(value).__name__}")
    if len(value) > limit:
        raise ValidationFailed(f"foreach of step '{step}' has {len(value)} items, more than"
                               f" the limit of {limit} (setting max_foreach_items)")
    return value


def item_env(index: int, value: Any) -> dict[str, str]:
    """What a run step's process gets of its item: strings as they are, the rest as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return {"WFE_ITEM": text, "WFE_ITEM_INDEX": str(index)}

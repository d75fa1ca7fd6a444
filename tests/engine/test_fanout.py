"""The foreach scheduler: which items start, and the step's verdict from its items."""

from __future__ import annotations

import pytest

from wfe.engine.fanout import ItemsVerdict as V
from wfe.engine.fanout import item_env, item_list, plan_items
from wfe.errors import ValidationFailed

P, A, S, F, C = "pending", "active", "succeeded", "failed", "cancelled"


@pytest.mark.parametrize(("states", "concurrency", "fail_fast", "halted", "start", "cancel",
                          "verdict"), [
    ([P, P, P], 2, True, False, [0, 1], False, None),  # up to the limit, in item order
    ([A, P, P], 2, True, False, [1], False, None),
    ([A, A, P], 2, True, False, [], False, None),  # full: wait
    ([S, S, P], 2, True, False, [2], False, None),
    ([S, S, S], 2, True, False, [], False, V.SUCCEEDED),
    ([], 16, True, False, [], False, V.SUCCEEDED),  # an empty list succeeds
    ([F, A, P], 2, True, False, [], True, None),  # fail fast: stop the active ones
    ([F, C, P], 2, True, False, [], False, V.FAILED),  # ... then the step fails
    ([F, A, P], 2, False, False, [2], False, None),  # without fail fast: the rest runs
    ([F, S, S], 2, False, False, [], False, V.FAILED),
    ([S, C, C], 2, False, False, [], False, V.CANCELLED),
    ([S, P, P], 2, True, True, [], False, V.SUSPENDED),  # halted: nothing new starts
    ([S, A, P], 2, True, True, [], False, None),  # ... what runs finishes first
    ([P] * 5, 1, False, False, [0], False, None),
])
def test_plan_items(states, concurrency, fail_fast, halted, start, cancel, verdict):
    plan = plan_items(states, concurrency, fail_fast, halted)
    assert (plan.start, plan.cancel, plan.verdict) == (start, cancel, verdict)


def test_item_list_is_a_list_within_the_limit():
    assert item_list([1, 2], 2, "s") == [1, 2]
    with pytest.raises(ValidationFailed, match="has 3 items, more than the limit of 2"):
        item_list([1, 2, 3], 2, "s")
    with pytest.raises(ValidationFailed, match="must be a list, got dict"):
        item_list({"a": 1}, 2, "s")


def test_item_env_strings_as_is_the_rest_as_json():
    assert item_env(0, "web-1") == {"WFE_ITEM": "web-1", "WFE_ITEM_INDEX": "0"}
    assert item_env(3, {"a": [1]})["WFE_ITEM"] == '{"a": [1]}'
    assert item_env(1, None)["WFE_ITEM"] == "null"

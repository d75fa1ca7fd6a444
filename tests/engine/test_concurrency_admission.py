"""The concurrency decision and key, as plain tables (no daemon)."""

from __future__ import annotations

import pytest

from wfe.engine.concurrency import Admission, ConcurrencySpec, decide, group_of, render_key
from wfe.errors import ValidationFailed

A = Admission


@pytest.mark.parametrize(("policy", "limit", "holding", "waiting", "expected"), [
    ("queue", 1, 0, 0, A.ADMIT),
    ("queue", 1, 1, 0, A.QUEUE),
    ("queue", 3, 2, 0, A.ADMIT),
    ("queue", 3, 2, 1, A.QUEUE),  # a free slot belongs to the run waiting for it
    ("reject", 1, 0, 0, A.ADMIT),
    ("reject", 1, 1, 0, A.REJECT),
    ("reject", 2, 1, 1, A.REJECT),
    ("cancel_oldest", 1, 0, 0, A.ADMIT),
    ("cancel_oldest", 1, 1, 0, A.CANCEL_OLDEST),
    ("cancel_oldest", 2, 5, 0, A.CANCEL_OLDEST),  # a lowered limit: cancel until it fits
])
def test_decide(policy, limit, holding, waiting, expected):
    assert decide(policy, limit, holding, waiting) is expected


def ctx(**inputs):
    return {"input": inputs, "run": {"id": "r1", "owner": "ann", "template": "t",
                                     "version": 2}}


def test_render_key():
    spec = ConcurrencySpec(key="${{ input.env }}/${{ run.owner }}")
    assert render_key(spec, ctx(env="prod"), 10_000) == "prod/ann"
    assert render_key(ConcurrencySpec(), ctx(), 10_000) is None
    assert render_key(ConcurrencySpec(key="${{ input.n }}"), ctx(n=3), 10_000) == "3"


def test_a_key_that_cannot_be_rendered_names_its_path():
    with pytest.raises(ValidationFailed) as e:
        render_key(ConcurrencySpec(key="${{ input.env.x }}"), ctx(env="prod"), 10_000)
    assert e.value.details[0]["path"] == "concurrency.key"
    with pytest.raises(ValidationFailed) as e:
        render_key(ConcurrencySpec(key="${{ input.env }}"), ctx(env="x" * 300), 10_000)
    assert "at most 256" in e.value.details[0]["message"]


def test_groups_are_distinct_per_name_and_key():
    groups = {group_of("a", None), group_of("a", ""), group_of("a", "b"), group_of("a\"", "b"),
              group_of("a", "\",\"b")}
    assert len(groups) == 5

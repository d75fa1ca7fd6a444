"""The scheduler and the graph checks, as tables: no loop, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wfe.engine.graph import (
    Plan,
    Verdict,
    downstream,
    find_cycle,
    levels,
    needs_of,
    plan,
    topological,
    unknown_needs,
    upstream,
)

P, R, W, OK, F, SK, C = ("pending", "running", "waiting", "succeeded", "failed", "skipped",
                         "cancelled")

CHAIN = needs_of([("a", None), ("b", None), ("c", None)])
# a -> (b, c) -> d, and e on its own
DIAMOND = needs_of([("a", None), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]), ("e", [])])


def test_a_list_without_needs_is_the_chain_it_always_was():
    assert CHAIN == {"a": (), "b": ("a",), "c": ("b",)}
    assert DIAMOND == {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c"), "e": ()}
    assert needs_of([("a", None), ("b", ["a", "a"])]) == {"a": (), "b": ("a",)}


@pytest.mark.parametrize(("needs", "states", "want"), [
    # a chain starts one step at a time
    (CHAIN, {"a": P, "b": P, "c": P}, Plan(("a",), None)),
    (CHAIN, {"a": R, "b": P, "c": P}, Plan((), None)),
    (CHAIN, {"a": OK, "b": P, "c": P}, Plan(("b",), None)),
    (CHAIN, {"a": SK, "b": OK, "c": P}, Plan(("c",), None)),
    (CHAIN, {"a": OK, "b": OK, "c": SK}, Plan((), Verdict.COMPLETED)),
    (CHAIN, {"a": OK, "b": W, "c": P}, Plan((), None)),
    # independent branches start together; a join waits for all of its needs
    (DIAMOND, {"a": P, "b": P, "c": P, "d": P, "e": P}, Plan(("a", "e"), None)),
    (DIAMOND, {"a": OK, "b": P, "c": P, "d": P, "e": R}, Plan(("b", "c"), None)),
    (DIAMOND, {"a": OK, "b": OK, "c": R, "d": P, "e": OK}, Plan((), None)),
    (DIAMOND, {"a": OK, "b": OK, "c": SK, "d": P, "e": OK}, Plan(("d",), None)),
    (DIAMOND, {"a": OK, "b": OK, "c": OK, "d": OK, "e": OK}, Plan((), Verdict.COMPLETED)),
    # a failure halts: nothing new starts, what runs finishes, then the verdict
    (DIAMOND, {"a": OK, "b": F, "c": R, "d": P, "e": P}, Plan((), None)),
    (DIAMOND, {"a": OK, "b": F, "c": OK, "d": P, "e": P}, Plan((), Verdict.FAILED)),
    (DIAMOND, {"a": OK, "b": C, "c": OK, "d": P, "e": OK}, Plan((), Verdict.CANCELLED)),
    (DIAMOND, {"a": OK, "b": C, "c": F, "d": P, "e": OK}, Plan((), Verdict.FAILED)),
])
def test_plan(needs, states, want):
    assert plan(needs, states) == want


def test_halted_and_backing_off_start_nothing_and_wait():
    states = {"a": OK, "b": P, "c": P, "d": P, "e": P}
    assert plan(DIAMOND, states, halted=True) == Plan((), Verdict.WAITING)
    assert plan(DIAMOND, {**states, "b": R}, halted=True) == Plan((), None)  # drains first
    assert plan(DIAMOND, states, backing_off={"b"}) == Plan(("c", "e"), None)
    assert plan(CHAIN, {"a": OK, "b": P, "c": P}, backing_off={"b"}) == Plan(
        (), Verdict.WAITING)


def test_unknown_needs_and_cycles_are_named():
    needs = {"a": ("b",), "b": ("c",), "c": ("a",), "d": ("zz", "d")}
    assert unknown_needs(needs) == [("d", "zz"), ("d", "d")]
    assert find_cycle(needs) == ["a", "b", "c", "a"]
    assert find_cycle(DIAMOND) is None and find_cycle(CHAIN) is None
    with pytest.raises(ValueError, match="cycle"):
        topological(needs)


def test_a_deep_chain_needs_no_recursion():
    n = 50_000
    needs = needs_of([(f"s{i}", None) for i in range(n)])
    assert find_cycle(needs) is None
    assert len(upstream(needs, f"s{n - 1}")) == n - 1


def test_upstream_downstream_and_levels():
    assert upstream(DIAMOND, "d") == {"a", "b", "c"}
    assert upstream(DIAMOND, "e") == set()
    assert downstream(DIAMOND, ["b"]) == {"b", "d"}
    assert downstream(DIAMOND, ["a"]) == {"a", "b", "c", "d"}
    assert levels(DIAMOND) == [["a", "e"], ["b", "c"], ["d"]]
    assert levels(CHAIN) == [["a"], ["b"], ["c"]]


STATUS = st.sampled_from([P, R, W, OK, F, SK, C])


@st.composite
def dags(draw):
    n = draw(st.integers(1, 8))
    names = [f"s{i}" for i in range(n)]
    steps = [(name, draw(st.one_of(st.none(), st.lists(st.sampled_from(names[:i]), max_size=3)))
              if i else draw(st.one_of(st.none(), st.just([]))))
             for i, name in enumerate(names)]
    needs = needs_of(steps)
    return needs, {s: draw(STATUS) for s in needs}


@given(dags())
def test_plan_properties(case):
    needs, states = case
    got = plan(needs, states)
    for s in got.ready:  # ready: pending, every need met, and nothing failed
        assert states[s] == P and all(states[n] in (OK, SK) for n in needs[s])
        assert not {F, C} & set(states.values())
    if got.verdict is not None:  # a verdict only once nothing executes or can start
        assert not got.ready and not {R, W} & set(states.values())
    if got.verdict == Verdict.COMPLETED:
        assert set(states.values()) <= {OK, SK}
    assert topological(needs)[0] in needs

"""The audit chain verifier: each kind of tampering is found, at the first bad event."""

from __future__ import annotations

import pytest

from wfe.engine.audit import GENESIS, event_hash, verify_chain

RUN = "r1"


def chain(n: int = 5) -> list[dict]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        e = {"seq": seq, "type": f"t{seq}", "actor": "system", "at": f"2026-01-01T00:00:0{seq}Z",
             "data": f'{{"n":{seq}}}'}
        e["hash"] = prev = event_hash(prev, RUN, seq, e["type"], e["actor"], e["at"], e["data"])
        out.append(e)
    return out


def test_an_intact_chain_verifies():
    events = chain()
    got = verify_chain(RUN, events, last_seq=5, last_hash=events[-1]["hash"])
    assert got == {"run_id": RUN, "ok": True, "events": 5, "head": events[-1]["hash"],
                   "first_bad": None}
    assert verify_chain(RUN, [], last_seq=0, last_hash="")["ok"]


def test_the_hash_covers_every_field_and_the_previous_hash():
    base = ("p", RUN, 1, "t", "a", "at", "{}")
    h = event_hash(*base)
    for i in range(len(base)):
        changed = list(base)
        changed[i] = changed[i] + 1 if isinstance(changed[i], int) else changed[i] + "x"
        assert event_hash(*changed) != h
    # Fields are separated: moving a character from one field to the next changes the hash.
    assert event_hash("p", RUN, 1, "ta", "a", "at", "{}") != event_hash("p", RUN, 1, "t", "aa",
                                                                       "at", "{}")


@pytest.mark.parametrize("field,value", [("data", '{"n":99}'), ("actor", "mallory"),
                                         ("type", "run.completed"), ("at", "2030"),
                                         ("hash", "0" * 64)])
def test_a_changed_event_is_the_first_bad_one(field, value):
    events = chain()
    events[2][field] = value
    got = verify_chain(RUN, events, last_seq=5, last_hash=events[-1]["hash"])
    assert not got["ok"] and got["first_bad"]["seq"] == 3
    assert "does not match its hash" in got["first_bad"]["reason"]
    assert got["events"] == 2 and got["head"] == events[1]["hash"]


def test_a_changed_event_with_its_hash_recomputed_breaks_the_next_one():
    events = chain()
    e = events[1]
    e["data"] = '{"n":"forged"}'
    e["hash"] = event_hash(events[0]["hash"], RUN, 2, e["type"], e["actor"], e["at"], e["data"])
    got = verify_chain(RUN, events)
    assert got["first_bad"]["seq"] == 3


def test_missing_repeated_and_reordered_events():
    events = chain()
    got = verify_chain(RUN, events[:2] + events[3:])
    assert got["first_bad"] == {"seq": 3, "reason": "event 3 is missing"}
    got = verify_chain(RUN, [*events[:3], events[2], *events[3:]])
    assert got["first_bad"]["seq"] == 3 and "appears again" in got["first_bad"]["reason"]
    got = verify_chain(RUN, [events[0], events[2], events[1]])
    assert got["first_bad"]["seq"] == 2


def test_a_cut_tail_or_an_appended_event_against_the_run_row():
    events = chain()
    got = verify_chain(RUN, events[:3], last_seq=5, last_hash=events[-1]["hash"])
    assert got["first_bad"]["seq"] == 4 and "missing" in got["first_bad"]["reason"]
    got = verify_chain(RUN, events, last_seq=4, last_hash=events[3]["hash"])
    assert got["first_bad"]["seq"] == 5 and "added later" in got["first_bad"]["reason"]
    got = verify_chain(RUN, events, last_seq=5, last_hash="f" * 64)
    assert got["first_bad"]["seq"] == 5 and "run recorded" in got["first_bad"]["reason"]

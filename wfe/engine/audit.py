"""The audit log's hash chain: how each event's hash is made, and a pure verifier.

Each event's hash covers the previous event's hash and every stored field of its own, so
changing, removing or reordering any event breaks the chain from that event on. The run
row keeps the count and the hash of its last event, so a cut-off tail shows as well. A
chain rewritten end to end (every hash recomputed, the run row too) still verifies: keep
the head hash somewhere else (``wfe audit verify`` prints it) to anchor it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS = ""  # the "previous hash" of a run's first event


def event_hash(prev: str, run_id: str, seq: int, type_: str, actor: str, at: str, data: str) -> str:
    """Each event's hash covers the previous one, so a rewritten event breaks the chain."""
    h = hashlib.sha256()
    for part in (prev, run_id, str(seq), type_, actor, at, data):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


def _bad(run_id: str, count: int, head: str, seq: int, reason: str) -> dict[str, Any]:
    return {"run_id": run_id, "ok": False, "events": count, "head": head,
            "first_bad": {"seq": seq, "reason": reason}}


def verify_chain(run_id: str, events: Iterable[Mapping[str, Any]], last_seq: int | None = None,
                 last_hash: str | None = None) -> dict[str, Any]:
    """Check a run's events (``seq, type, actor, at, data, hash``, ``data`` as stored text)
    in order of seq. ``last_seq``/``last_hash``: what the run row says its log ends with.

    Returns ``{run_id, ok, events, head, first_bad: {seq, reason} | None}``.
    """
    prev, count = GENESIS, 0
    for event in events:
        count += 1
        seq = event["seq"]
        if seq != count:
            reason = (f"event {count} is missing" if seq > count
                      else f"event {seq} appears again after event {count - 1}")
            return _bad(run_id, count - 1, prev, min(seq, count), reason)
        want = event_hash(prev, run_id, seq, event["type"], event["actor"], event["at"],
                          event["data"])
        if event["hash"] != want:
            return _bad(run_id, count - 1, prev, seq,
                        f"event {seq} ({event['type']}) does not match its hash: it or the"
                        " hash was changed")
        prev = want
    if last_seq is not None and last_seq != count:
        if last_seq > count:
            return _bad(run_id, count, prev, count + 1,
                        f"the run recorded {last_seq} events; events from {count + 1} are missing")
        return _bad(run_id, count, prev, last_seq + 1,
                    f"the run recorded {last_seq} events; event {last_seq + 1} was added later")
    if last_hash is not None and count and last_hash != prev:
        return _bad(run_id, count, prev, count,
                    "the last event's hash is not the one the run recorded")
    return {"run_id": run_id, "ok": True, "events": count, "head": prev, "first_bad": None}


def deletion_failures(deletions: Iterable[Mapping[str, Any]],
                      orphans: Iterable[str]) -> list[dict[str, Any]]:
    """A deleted run must be gone entirely, and a run may only be gone with a record.

    ``deletions``: the records (``run_id, events, head, left``: events still stored,
    ``still``: whether its run row is there); ``orphans``: runs whose events remain with
    neither a run row nor a record (deleted behind wfe's back).
    """
    out = []
    for d in deletions:
        if d["still"]:
            out.append(_bad(d["run_id"], 0, d["head"], 1,
                            "the run's deletion is on record, but the run is still there"))
        elif d["left"]:
            out.append(_bad(d["run_id"], 0, d["head"], 1,
                            f"the run was deleted, but {d['left']} of its events remain"))
    for run_id in orphans:
        out.append(_bad(run_id, 0, GENESIS, 1,
                        "the run is gone but its events remain, with no record of a deletion"))
    return out

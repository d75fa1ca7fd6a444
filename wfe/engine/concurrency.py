"""Concurrency limits of a template: at most ``limit`` runs of one group execute at once.

A group is (template name, rendered key), like a GitHub Actions concurrency group. The key
is rendered once, when the run is created, from its input and run fields; what happens to
a run that finds its group full is the template's ``on_conflict``. This module decides;
wfe.daemon.store.ops_concurrency counts slots and writes what was decided.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from wfe.engine.expr_check import RUN_FIELDS, check
from wfe.engine.expr_render import render_text
from wfe.engine.expr_sandbox import parsed
from wfe.engine.expr_syntax import Expr, ExpressionError, references, split_text
from wfe.errors import ValidationFailed

MAX_LIMIT = 10_000
MAX_KEY_CHARS = 256  # a rendered key: shown in every queued run, so kept short
KEY_ROOTS = ("input", "run")  # no steps yet, and stored secrets would be shown in clear


class OnConflict(StrEnum):
    QUEUE = "queue"  # wait as pending, in arrival order, until a slot frees
    CANCEL_OLDEST = "cancel_oldest"  # cancel the group's oldest run to make room
    REJECT = "reject"  # refuse to start (409 concurrency_limit)


# Named: a component of the OpenAPI document, an enum of typed clients.
ConflictPolicy = TypeAliasType("ConflictPolicy", Literal["queue", "cancel_oldest", "reject"])


class ConcurrencySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 1
    key: Annotated[str, Field(max_length=1024)] | None = None
    on_conflict: ConflictPolicy = "queue"


def check_key(key: Any, variables: Mapping[str, Any], add: Callable[[str, str], None],
              limit: int) -> None:
    """The key's problems at ``concurrency.key``: it may read declared, non-secret inputs
    and the run's fields (id, template, version, owner), nothing else."""
    if not isinstance(key, str):
        return  # the model reports the type
    path = "concurrency.key"
    try:
        pieces = split_text(key)
    except ExpressionError as e:
        add(path, e.message)
        return
    own: list[str] = []
    for piece in pieces:
        if isinstance(piece, Expr):
            own += _misplaced_names(piece.source, variables)
    # The general check would also call a step "not an earlier step": say the real reason.
    for message in own or check(key, set(variables), (), set(), limit=limit,
                                run_fields=RUN_FIELDS):
        add(path, message)


def _misplaced_names(source: str, variables: Mapping[str, Any]) -> list[str]:
    try:
        tree = parsed(source)
    except ExpressionError:
        return []  # check() reports the syntax
    out = []
    for name, keys in references(tree):
        if name not in KEY_ROOTS:
            out.append(f"a concurrency key may read only input and run, not '{name}'"
                       " (it is rendered when the run is created, before any step)")
        elif name == "input" and keys and _is_secret(variables.get(str(keys[0]))):
            out.append(f"'input.{keys[0]}' is secret; a concurrency key is shown in clear in"
                       " every queued run")
    return list(dict.fromkeys(out))


def _is_secret(raw: Any) -> bool:
    return isinstance(raw, Mapping) and raw.get("secret") is True


def render_key(spec: ConcurrencySpec, ctx: Mapping[str, Any], limit: int) -> str | None:
    """The run's key (None without one: the whole template is one group); ValidationFailed
    at ``concurrency.key`` when it cannot be rendered from this input."""
    if spec.key is None:
        return None
    try:
        key = render_text(spec.key, ctx, limit)
    except ExpressionError as e:
        raise ValidationFailed("the concurrency key could not be rendered", [
            {"path": "concurrency.key", "message": e.message}]) from None
    if len(key) > MAX_KEY_CHARS:
        raise ValidationFailed("the concurrency key is too long", [
            {"path": "concurrency.key",
             "message": f"rendered to {len(key)} characters; at most {MAX_KEY_CHARS}"}])
    return key


class Admission(StrEnum):
    ADMIT = "admit"  # take a free slot now
    QUEUE = "queue"  # wait as pending for a slot
    CANCEL_OLDEST = "cancel_oldest"  # cancel the oldest run of the group, then decide again
    REJECT = "reject"


def decide(on_conflict: str, limit: int, holding: int, queued_ahead: int) -> Admission:
    """What a new run does, given how many runs hold its group's slots and how many wait
    (a run never jumps a queue: with runs waiting, a free slot is theirs)."""
    if holding < limit and queued_ahead == 0:
        return Admission.ADMIT
    policy = OnConflict(on_conflict)
    if policy is OnConflict.REJECT:
        return Admission.REJECT
    if policy is OnConflict.CANCEL_OLDEST:
        return Admission.CANCEL_OLDEST
    return Admission.QUEUE


def group_of(template_name: str, key: str | None) -> str:
    """The stored group: one text per (template name, key), unambiguous for any key."""
    return json.dumps([template_name, key], ensure_ascii=False, separators=(",", ":"))

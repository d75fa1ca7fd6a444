"""Checking expressions when a template is saved: syntax, the names they read, shell placement."""

from __future__ import annotations

from collections.abc import Collection, Container

from wfe.engine.expr_limits import MAX_EXPRESSION_BYTES
from wfe.engine.expr_render import evaluate
from wfe.engine.expr_sandbox import parsed
from wfe.engine.expr_syntax import (
    Expr,
    ExpressionError,
    ExpressionTooLarge,
    condition_source,
    path_text,
    references,
    show,
    split_text,
)
from wfe.engine.shellquote import ShellContextError, ShellScanner
from wfe.engine.stored import STORED_ROOTS, check_stored_reference

RUN_FIELDS = ("id", "template", "version", "owner")
# What a failure handler (undo, on_failure, finally) also reads: how the run ended.
HANDLER_RUN_FIELDS = (*RUN_FIELDS, "status", "reason", "failed_step", "error")
STEP_FIELDS = ("output", "status", "callback_url")
LOOP_NAMES = ("item", "index")  # a foreach step's item and its position


def _check_reference(
    name: str,
    keys: list[str | int | None],
    variables: set[str],
    steps_before: Container[str],
    callback_steps: set[str],
    secrets: Collection[str] | None = None,
    loop: bool = False,
    fanouts: Container[str] = (),
    run_fields: tuple[str, ...] = RUN_FIELDS,
) -> str | None:
    private = next((k for k in keys if isinstance(k, str) and k.startswith("_")), None)
    if private is not None:
        return f"'{private}' is private and cannot be used"
    first = keys[0] if keys else None
    shown = path_text(name, keys[:1])
    if name == "input":
        if isinstance(first, str) and first not in variables:
            known = ", ".join(sorted(variables)) or "none"
            return f"'{shown}' is not a declared variable (declared: {known})"
    elif name == "run":
        if isinstance(first, str) and first not in run_fields:
            expected = ", ".join(f"run.{f}" for f in run_fields)
            return f"'{shown}' is unknown; expected one of: {expected}"
    elif name == "steps":
        return _check_step_reference(keys, steps_before, callback_steps, fanouts)
    elif name in STORED_ROOTS:
        return check_stored_reference(name, keys, secrets)
    elif name in LOOP_NAMES:
        if not loop:
            return f"'{name}' is only defined in a step with foreach"
    else:
        return (f"unknown name '{name}'; expressions can use input, steps and run, and the"
                " stored secrets and vars")
    return None


def _check_step_reference(
    keys: list[str | int | None], steps_before: Container[str], callback_steps: set[str],
    fanouts: Container[str] = (),
) -> str | None:
    if not keys or not isinstance(keys[0], str):
        return "'steps' must be followed by a step name, e.g. steps.build.output"
    step, field = keys[0], (keys[1] if len(keys) > 1 else None)
    shown = path_text("steps", keys[:1])
    if field == "callback_url":
        if step in callback_steps:
            return None  # callback URLs exist from the run's start: any step may pass one on
        if step in steps_before:
            return f"step '{step}' is not a callback step, so it has no callback_url"
    if step not in steps_before:
        if step in callback_steps:
            return f"'{shown}' is not an earlier step; only its callback_url can be used here"
        return (f"'{shown}' does not name an earlier step (one this step needs, directly"
                " or through its needs)")
    if isinstance(field, str) and field not in STEP_FIELDS and not (
            field == "outputs" and step in fanouts):
        shown = path_text("steps", keys[:2])
        return f"'{shown}' is unknown; expected output, status or callback_url"
    return None


def check(
    text: str, variables: set[str], steps_before: Container[str], callback_steps: set[str],
    limit: int = MAX_EXPRESSION_BYTES, secrets: Collection[str] | None = None,
    loop: bool = False, fanouts: Container[str] = (),
    run_fields: tuple[str, ...] = RUN_FIELDS,
) -> list[str]:
    """Problems with the expressions in ``text``: syntax errors, names it may not use, and
    constant expressions over ``limit`` bytes. ``loop``: the step has ``foreach`` (so
    ``item`` and ``index`` are defined); ``fanouts``: the steps with ``foreach`` (their
    ``outputs`` may be read)."""
    try:
        pieces = split_text(text)
    except ExpressionError as e:
        return [e.message]
    errors: list[str] = []
    for piece in pieces:
        if isinstance(piece, Expr):
            errors.extend(_check_expr(piece.source,
                                      (variables, steps_before, callback_steps, secrets), limit,
                                      loop, fanouts, run_fields))
    return list(dict.fromkeys(errors))


def _check_expr(source: str,
                names: tuple[set[str], Container[str], set[str], Collection[str] | None],
                limit: int, loop: bool = False, fanouts: Container[str] = (),
                run_fields: tuple[str, ...] = RUN_FIELDS) -> list[str]:
    try:
        tree = parsed(source)
    except ExpressionError as e:
        return [e.message]
    errors = []
    for name, keys in references(tree):
        problem = _check_reference(name, keys, *names, loop, fanouts, run_fields)
        if problem and problem not in errors:
            whole = path_text(name, keys) == source
            errors.append(problem if whole else f"{problem} in {show(source)}")
    if not errors and next(references(tree), None) is None:
        errors.extend(_check_constant(source, limit))
    return errors


def _check_constant(source: str, limit: int) -> list[str]:
    """An expression that reads no data has one value: refuse it now if it is too large."""
    try:
        evaluate(source, {}, limit)
    except ExpressionTooLarge as e:
        return [e.message]
    except ExpressionError:
        pass  # other failures depend on nothing the template can fix by waiting; the run says
    return []


def check_condition(
    text: str | bool, variables: set[str], steps_before: Container[str], callback_steps: set[str],
    limit: int = MAX_EXPRESSION_BYTES, secrets: Collection[str] | None = None,
    fanouts: Container[str] = (), run_fields: tuple[str, ...] = RUN_FIELDS,
) -> list[str]:
    if isinstance(text, bool):
        return []
    try:
        source = condition_source(text)
    except ExpressionError as e:
        return [e.message]
    return _check_expr(source, (variables, steps_before, callback_steps, secrets), limit,
                       False, fanouts, run_fields)


def check_shell(command: str) -> list[str]:
    """Expressions placed where a value cannot be quoted safely (inside backticks, heredocs...)."""
    try:
        pieces = split_text(command)
    except ExpressionError as e:
        return [e.message]
    scanner, errors = ShellScanner(), []
    for piece in pieces:
        if isinstance(piece, str):
            scanner.feed(piece)
            continue
        try:
            scanner.context()
        except ShellContextError as e:
            errors.append(f"{show(piece.source)}: {e}")
        scanner.after_value()
    return errors

"""``${{ ... }}`` expressions: checked when a template is saved, rendered while a run runs.

Each region is one sandboxed jinja2 *expression*; text outside the regions is literal, so a
``{{x}}`` or ``{% %}`` a user writes in a shell script stays what it is.

The names are gathered here from expr_syntax (finding regions and the names they read),
expr_sandbox (the jinja2 environment), expr_check (at save time) and expr_render (at run time).
"""

from __future__ import annotations

from wfe.engine.expr_check import (
    RUN_FIELDS,
    STEP_FIELDS,
    check,
    check_condition,
    check_shell,
)
from wfe.engine.expr_render import (
    evaluate,
    evaluate_condition,
    render,
    render_argv,
    render_shell,
    render_text,
    to_text,
    truthy,
)
from wfe.engine.expr_syntax import (
    Expr,
    ExpressionError,
    condition_source,
    has_expressions,
    split_text,
)

__all__ = [
    "RUN_FIELDS",
    "STEP_FIELDS",
    "Expr",
    "ExpressionError",
    "check",
    "check_condition",
    "check_shell",
    "condition_source",
    "evaluate",
    "evaluate_condition",
    "has_expressions",
    "render",
    "render_argv",
    "render_shell",
    "render_text",
    "split_text",
    "to_text",
    "truthy",
]

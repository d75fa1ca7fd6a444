"""Warnings about a template that is valid but probably not what its author meant.

Today one kind: an expression in a ``run:`` command that a second interpreter reads again
(``sh -c "..."``, ``ssh host "..."``, ``eval``...), where wfe's shell quoting cannot protect it.
"""

from __future__ import annotations

import re

from wfe.engine.expr_syntax import show
from wfe.engine.shellnest import nested
from wfe.engine.spec_models import TemplateSpec

_INPUT = re.compile(r"input\.([A-Za-z_][A-Za-z0-9_]*)")


def template_warnings(spec: TemplateSpec) -> list[dict[str, str]]:
    """Each warning: path, step, expression (as written) and message."""
    out = []
    for i, step in enumerate(spec.steps):
        for source, program in nested(step.run):
            out.append({
                "path": f"steps[{i}].run", "step": step.name,
                "expression": f"${{{{ {source} }}}}", "message": _message(source, program),
            })
    return out


def _message(source: str, program: str) -> str:
    m = _INPUT.fullmatch(source)
    if m:
        instead = f'"$WFE_INPUT_{m.group(1).upper()}" (every input is in the environment)'
    else:
        instead = 'an env: entry, e.g. VALUE: <the expression>, written as "$VALUE"'
    return (f"{show(source)} lands in a command that {program} runs through an interpreter "
            "again, where wfe's quoting does not protect it; pass the value as "
            f"{instead} inside that command, or use an argv list")

"""Templates: their models, reading them from JSON or YAML, and every check before one is saved.

parse_template() reports all problems at once, each with a path such as ``steps[2].run``, so
that a person fixing a template sees the whole list instead of one error per attempt.

The names are gathered here from spec_models (the pydantic models), spec_load (JSON and YAML
text) and spec_check (parse_template and the checks the models cannot make).
"""

from __future__ import annotations

from wfe.engine.spec_check import parse_template, path_of
from wfe.engine.spec_load import load_template_text
from wfe.engine.spec_models import (
    KINDS,
    RETRYABLE_KINDS,
    ApprovalSpec,
    CallbackSpec,
    DefaultsSpec,
    Duration,
    ExitCode,
    HttpSpec,
    RetrySpec,
    StepSpec,
    TemplateSpec,
    Text,
    Variable,
    step_kinds,
)
from wfe.engine.spec_warn import template_warnings

__all__ = [
    "KINDS",
    "RETRYABLE_KINDS",
    "ApprovalSpec",
    "CallbackSpec",
    "DefaultsSpec",
    "Duration",
    "ExitCode",
    "HttpSpec",
    "RetrySpec",
    "StepSpec",
    "TemplateSpec",
    "Text",
    "Variable",
    "load_template_text",
    "parse_template",
    "path_of",
    "step_kinds",
    "template_warnings",
]

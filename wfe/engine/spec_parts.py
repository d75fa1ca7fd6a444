"""The parts of a template's models: names, durations, variables, and the bodies a step's kind
takes (retry, http, approval, callback, workflow) and ``defaults:``.

spec_models builds TemplateSpec and StepSpec from these; they are apart only to keep each
module short, and spec_models re-exports every public name here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from typing_extensions import TypeAliasType

from wfe.engine.durations import parse_duration
from wfe.wire import OneOf

NAME_RULES = {
    "template": (r"[a-z0-9][a-z0-9_.-]{0,63}", "lowercase letters, digits, '_', '.' and '-', "
                 "starting with a letter or digit"),
    "step": (r"[A-Za-z_][A-Za-z0-9_-]{0,63}", "letters, digits, '_' and '-', not starting with "
             "a digit or '-'"),
    "variable": (r"[A-Za-z_][A-Za-z0-9_]{0,63}", "letters, digits and '_', not starting with a "
                 "digit"),
    "env": (r"[A-Za-z_][A-Za-z0-9_]*", "letters, digits and '_', not starting with a digit"),
}


def _named(rule: str) -> AfterValidator:
    pattern, words = NAME_RULES[rule]

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"invalid {rule} name {value!r}: use {words} (at most 64)")
        return value

    return AfterValidator(check)


def _duration(value: Any) -> Any:
    parse_duration(value)  # its ValueError becomes this field's error
    return value


def _retention(value: Any) -> Any:
    if parse_duration(value) <= 0:
        raise ValueError("a retention must be longer than zero")
    return value


def _scalar_text(value: Any) -> Any:
    # YAML turns `PORT: 8080` into an int; an env var or header is text either way.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


# A run string's interpreter, as a step or `defaults:` names it. Only POSIX shells whose
# single-quoting shellquote writes: an absolute path must still name sh or bash. The value
# becomes argv[0], never part of a command line.
SHELLS = {"sh": "/bin/sh", "bash": "bash"}


def _shell(value: Any) -> str:
    if isinstance(value, str):
        if value in SHELLS:
            return value
        base = value.rsplit("/", 1)[-1]
        if value.startswith("/") and base in SHELLS and "\x00" not in value:
            return value
    raise ValueError(f"expected a shell: {' or '.join(SHELLS)}, or an absolute path to one"
                     f" (/usr/local/bin/bash), got {value!r}")


def _http_method(value: Any) -> str:
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    if isinstance(value, str) and value.upper() in methods:
        return value.upper()
    raise ValueError("expected one of: " + ", ".join(methods))


def _jitter(value: Any) -> str | float:
    if isinstance(value, str) and value in ("none", "full"):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    raise ValueError('expected "none", "full", or a fraction from 0 to 1 taken off at random')


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://", "${{")):
        raise ValueError("the url must start with http:// or https://")
    return value


# The document's schemas of values a PlainValidator judges (pydantic would write {} for
# them): each admits at least what the validator accepts, so a body the schema refuses is
# refused here too.
DURATION = {"oneOf": [{"type": "string", "minLength": 1, "examples": ["30s", "1h30m"]},
                      {"type": "number", "minimum": 0, "description": "seconds"}]}

Duration = Annotated[str | int | float, PlainValidator(_duration), WithJsonSchema(DURATION)]
Text = Annotated[str, BeforeValidator(_scalar_text)]
ExitCode = Annotated[int, Field(ge=0, le=255)]


class _Model(BaseModel):
    # strict: YAML already gives values their types, so "3" for an integer is a mistake.
    # serialize_by_alias: any model_dump() writes "if" and "json", the names templates use.
    model_config = ConfigDict(extra="forbid", strict=True, serialize_by_alias=True)

    def to_dict(self) -> dict[str, Any]:
        """The input format again: parse_template(spec.to_dict()) gives the same spec."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# Named, so the document has them as components (and typed clients as enums).
VariableType = TypeAliasType(
    "VariableType", Literal["string", "integer", "number", "boolean", "enum", "object", "array"])
Backoff = TypeAliasType("Backoff", Literal["fixed", "exponential"])
OnTimeout = TypeAliasType("OnTimeout", Literal["reject", "approve"])
JitterMode = TypeAliasType("JitterMode", Literal["none", "full"])
# "none", "full", or a fraction of the delay taken off at random
Jitter = Annotated[JitterMode | Annotated[float, Field(ge=0, le=1)], OneOf()]


class Variable(_Model):
    type: VariableType = "string"
    required: bool | None = None
    default: Any = None
    description: str | None = None
    values: list[Any] | None = None
    secret: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not None

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else not self.has_default


class RetrySpec(_Model):
    """How often and how soon a failed step is tried again (wfe.engine.retry.RetryPolicy runs it).

    Every field is optional: unset ones come from ``defaults.retry``, then RetryPolicy's own
    defaults, which is why a dump leaves them out rather than writing a default in.
    """

    max_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    backoff: Backoff | None = None
    initial_delay: Duration | None = None
    multiplier: Annotated[float, Field(ge=1, le=100)] | None = None
    max_delay: Duration | None = None
    jitter: Annotated[Jitter, PlainValidator(_jitter, json_schema_input_type=Jitter)] | None = None
    retry_on_exit_codes: list[ExitCode] | None = None
    no_retry_on_exit_codes: list[ExitCode] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RetrySpec:
        both = set(self.retry_on_exit_codes or ()) & set(self.no_retry_on_exit_codes or ())
        if both:
            raise ValueError(f"exit codes {sorted(both)} are both retried and not retried")
        if (self.initial_delay is not None and self.max_delay is not None
                and parse_duration(self.initial_delay) > parse_duration(self.max_delay)):
            raise ValueError("initial_delay is longer than max_delay")
        return self

    def merged(self, base: RetrySpec | None) -> RetrySpec:
        """These settings over ``base``: a field set here wins, an unset one comes from base."""
        if base is None:
            return self
        fields = {**base.model_dump(exclude_none=True), **self.model_dump(exclude_none=True)}
        return RetrySpec.model_validate(fields)


class HttpSpec(_Model):
    method: Annotated[str, PlainValidator(_http_method),
                      WithJsonSchema({"type": "string", "examples": ["GET", "post"]})] = "GET"
    url: Annotated[str, AfterValidator(_http_url)]
    headers: dict[str, Text] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")


class ApprovalSpec(_Model):
    message: str | None = None
    timeout: Duration | None = None
    approvers: list[str] | None = None
    on_timeout: OnTimeout = "reject"


class CallbackSpec(_Model):
    timeout: Duration | None = None
    description: str | None = None


TEMPLATE_REF = re.compile(rf"({NAME_RULES['template'][0]})(?:@([1-9][0-9]{{0,8}}))?")


def _template_ref(value: Any) -> str:
    if isinstance(value, str) and TEMPLATE_REF.fullmatch(value):
        return value
    raise ValueError(f"expected a template name, or NAME@VERSION (a version from 1): use "
                     f"{NAME_RULES['template'][1]} (at most 64), got {value!r}")


def split_template_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name@3`` as (name, version or None for the latest published)."""
    match = TEMPLATE_REF.fullmatch(ref)
    assert match is not None  # WorkflowSpec checked it
    return match[1], int(match[2]) if match[2] else None


class WorkflowSpec(_Model):
    """Start a run of another published template and wait for it (a sub-workflow)."""

    template: Annotated[str, PlainValidator(_template_ref), WithJsonSchema(
        {"type": "string", "pattern": f"^{TEMPLATE_REF.pattern}$"})]
    input: dict[str, Any] = Field(default_factory=dict)


Shell = Annotated[str, PlainValidator(_shell), WithJsonSchema(
    {"type": "string", "description": "sh, bash, or an absolute path to one"})]


class DefaultsSpec(_Model):
    retry: RetrySpec | None = None
    timeout: Duration | None = None
    shell: Shell | None = None  # for every run step given as a string

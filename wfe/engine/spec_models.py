"""The template models: a template and its steps, and each field's own checks.

The parts they are made of (names, durations, variables, and the bodies of retry, http,
approval, callback, workflow and ``defaults:``) are in spec_parts; every public name there is
importable from here too. What no single field can see (cross-references, expressions,
duplicate names) is checked in spec_check, which also turns pydantic's errors into the paths a
person reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, WithJsonSchema, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypeAliasType

from wfe.engine import graph, handlers
from wfe.engine.concurrency import ConcurrencySpec
from wfe.engine.durations import parse_duration
from wfe.engine.spec_parts import (
    DURATION,
    NAME_RULES,
    SHELLS,
    TEMPLATE_REF,
    ApprovalSpec,
    Backoff,
    CallbackSpec,
    DefaultsSpec,
    Duration,
    ExitCode,
    HttpSpec,
    Jitter,
    JitterMode,
    OnTimeout,
    RetrySpec,
    Shell,
    Text,
    Variable,
    VariableType,
    WorkflowSpec,
    _Model,
    _named,
    _retention,
    split_template_ref,
)

__all__ = [
    "COMMAND",
    "CONDITION",
    "DURATION",
    "KINDS",
    "NAME_RULES",
    "RETRYABLE_KINDS",
    "SHELLS",
    "TEMPLATE_REF",
    "ApprovalSpec",
    "Backoff",
    "CallbackSpec",
    "DefaultsSpec",
    "Duration",
    "ExitCode",
    "HttpSpec",
    "Jitter",
    "JitterMode",
    "OnTimeout",
    "RetrySpec",
    "Shell",
    "StepKind",
    "StepSpec",
    "TemplateSpec",
    "Text",
    "UndoSpec",
    "Variable",
    "VariableType",
    "WorkflowSpec",
    "split_template_ref",
    "step_kinds",
]

KINDS = ("run", "http", "sleep", "set", "approval", "callback", "workflow")
RETRYABLE_KINDS = ("run", "http", "callback", "workflow")


def _command(value: Any) -> str | list[str]:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("the command is empty")
        return value
    if isinstance(value, list) and value and all(
            isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value):
        return [str(a) for a in value]
    raise ValueError("expected a shell string or a non-empty list of arguments")


def _condition(value: Any) -> str | bool:
    if isinstance(value, (str, bool)):
        return value
    raise ValueError("expected an expression such as ${{ input.deploy }}, or true/false")


def step_kinds(step: dict[str, Any]) -> list[str]:
    """The kind keys a step has. A null one counts only when no other is given, so that both
    a bare `callback:` and a full model_dump() (every other kind null) read right."""
    return [k for k in KINDS if step.get(k) is not None] or [k for k in KINDS if k in step]


# The document's schemas of a run command and an `if:` (see spec_parts.DURATION for why).
COMMAND = {"oneOf": [
    {"type": "string", "minLength": 1, "description": "a shell command line"},
    {"type": "array", "minItems": 1, "description": "argv, run without a shell",
     "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}}]}
CONDITION = {"oneOf": [{"type": "string", "description": "an expression: ${{ input.x }}"},
                       {"type": "boolean"}]}

StepKind = TypeAliasType(
    "StepKind", Literal["run", "http", "sleep", "set", "approval", "callback", "workflow"])


class StepSpec(_Model):
    name: Annotated[str, _named("step")]
    kind_: StepKind | None = Field(None, alias="kind")
    description: str | None = None
    run: Annotated[str | list[str], PlainValidator(_command), WithJsonSchema(COMMAND)] | None = None
    shell: Shell | None = None
    env: dict[Annotated[str, _named("env")], Text] | None = None
    cwd: str | None = None
    # Leave the processes the step started in the background running when it ends
    # (default: the setting step_keep_background, false: they are killed).
    keep_background: bool | None = None
    http: HttpSpec | None = None
    sleep: Duration | None = None
    set: dict[str, Any] | None = None
    approval: ApprovalSpec | None = None
    callback: CallbackSpec | None = None
    workflow: WorkflowSpec | None = None
    timeout: Duration | None = None
    retry: RetrySpec | None = None
    if_: Annotated[str | bool, PlainValidator(_condition), WithJsonSchema(CONDITION)] | None = (
        Field(None, alias="if"))
    # None: the step before it in the list (a chain); []: none, it starts at once.
    needs: list[Annotated[str, _named("step")]] | None = Field(None, max_length=256)
    # Fan-out: the step runs once per item of this list (an expression or a literal list),
    # at most `concurrency` at once (default: the setting foreach_concurrency).
    foreach: str | list[Any] | None = None
    concurrency: int | None = None
    fail_fast: bool | None = None  # None: true
    # Run when the run fails or is cancelled after this step succeeded (wfe.engine.handlers).
    undo: UndoSpec | None = None

    @model_validator(mode="after")
    def _bare_kind(self) -> StepSpec:
        # YAML's `callback:` with nothing after it is null, yet it still names the step's kind.
        empty = {"set": dict, "approval": ApprovalSpec, "callback": CallbackSpec}
        if self.kind in empty and getattr(self, self.kind) is None:
            setattr(self, self.kind, empty[self.kind]())
        if self.shell is not None and not self.uses_shell:
            raise ValueError("shell is for a run step whose command is a string"
                             " (an argument list runs without a shell)")
        return self

    @property
    def kind(self) -> str:
        """run, http, sleep, set, approval, callback or workflow ("" on a step parse_template
        refuses)."""
        given = step_kinds({k: getattr(self, k) for k in KINDS if k in self.model_fields_set})
        return given[0] if len(given) == 1 else (self.kind_ or "")

    @property
    def timeout_seconds(self) -> float | None:
        return None if self.timeout is None else parse_duration(self.timeout)

    @property
    def sleep_seconds(self) -> float | None:
        return None if self.sleep is None else parse_duration(self.sleep)

    @property
    def uses_shell(self) -> bool:
        """A run step whose command goes through a shell's -c (render it with render_shell)."""
        return isinstance(self.run, str)

    @property
    def interpreter(self) -> str:
        """argv[0] for a run string: /bin/sh unless the step (or its defaults) names one."""
        return SHELLS.get(self.shell or "sh", self.shell or "/bin/sh")


class UndoSpec(StepSpec):
    """A step's ``undo:``: a step body without a name or needs of its own. It is named
    ``<step>.undo`` (wfe.engine.handlers.undo_name); the name is not part of the template."""

    # Not part of an undo's document either (the validator below refuses them); an undo of
    # an undo would also make the schema recursive, and generators build undos of undos.
    name: SkipJsonSchema[str] = Field("", exclude=True)
    needs: SkipJsonSchema[None] = Field(None, exclude=True)
    undo: SkipJsonSchema[None] = Field(None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _body_only(cls, value: Any) -> Any:
        if isinstance(value, dict):
            given = [k for k in ("name", "needs", "undo") if k in value]
            if given:
                raise ValueError(f"an undo is a step body: it has no {', '.join(given)}")
        return value


StepSpec.model_rebuild()


class TemplateSpec(_Model):
    name: Annotated[str, _named("template")]
    description: str | None = None
    variables: dict[str, Variable] = Field(default_factory=dict)
    defaults: DefaultsSpec | None = None
    timeout: Duration | None = None
    # How long its ended runs are kept (overrides the daemon's `retention`; see README).
    retention: Annotated[str | int | float, PlainValidator(_retention)] | None = None
    # The stored secrets the template may read; None: any (see wfe.engine.stored).
    secrets: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]] | None = \
        Field(None, max_length=256)
    steps: list[StepSpec]
    # Failure handlers (wfe.engine.handlers): after undos when the run failed; always last.
    on_failure: list[StepSpec] | None = Field(None, max_length=256)
    finally_: list[StepSpec] | None = Field(None, alias="finally", max_length=256)
    # At most `limit` runs of one (template name, rendered key) execute at once.
    concurrency: ConcurrencySpec | None = None

    @model_validator(mode="after")
    def _undo_names(self) -> TemplateSpec:
        for step in self.steps:
            if step.undo is not None:
                step.undo.name = handlers.undo_name(step.name)
        return self

    @field_validator("variables", mode="before")
    @classmethod
    def _bare_variables(cls, value: Any) -> Any:
        # `variables:` with nothing, or `who:` with nothing: a plain required string.
        if isinstance(value, dict):
            return {k: {} if v is None else v for k, v in value.items()}
        return {} if value is None else value

    @field_validator("steps", mode="before")
    @classmethod
    def _bare_steps(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def timeout_seconds(self) -> float | None:
        return None if self.timeout is None else parse_duration(self.timeout)

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    @property
    def needs(self) -> dict[str, tuple[str, ...]]:
        """Each step's needs, the defaults filled in (see wfe.engine.graph)."""
        return graph.needs_of([(s.name, s.needs) for s in self.steps])

    @property
    def callback_steps(self) -> list[str]:
        return [s.name for s in self.steps if s.kind == "callback"]

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def handler_steps(self) -> list[tuple[str, str | None, StepSpec]]:
        """Every failure handler as ``(role, the step an undo compensates, its spec)``."""
        out: list[tuple[str, str | None, StepSpec]] = [
            ("undo", s.name, s.undo) for s in self.steps if s.undo is not None]
        out += [("on_failure", None, s) for s in self.on_failure or ()]
        out += [("finally", None, s) for s in self.finally_ or ()]
        return out

    def handler(self, name: str) -> StepSpec:
        return next(spec for _, _, spec in self.handler_steps if spec.name == name)

    def effective_step(self, step: StepSpec) -> StepSpec:
        """The step with what ``defaults`` gives it that executors read from the step itself
        (the shell); retry and timeout have their own methods below."""
        shell = self.defaults.shell if self.defaults else None
        if shell is None or step.shell is not None or not step.uses_shell:
            return step
        return step.model_copy(update={"shell": shell})

    def effective_retry(self, step: StepSpec) -> RetrySpec:
        """The step's retry over ``defaults.retry``, field by field; unset fields stay None
        for RetryPolicy.from_spec to default. Only run, http and callback steps are ever retried."""
        if step.kind not in RETRYABLE_KINDS:
            return RetrySpec()
        base = self.defaults.retry if self.defaults else None
        return (step.retry or RetrySpec()).merged(base)

    def effective_timeout(self, step: StepSpec) -> float | None:
        """Seconds the step may take, or None. ``defaults.timeout`` covers run and http steps
        only: a gate that waits for a person should not inherit a command's ten minutes."""
        candidates = [step.timeout]
        if step.kind == "approval" and step.approval:
            candidates.append(step.approval.timeout)
        elif step.kind == "callback" and step.callback:
            candidates.append(step.callback.timeout)
        given = [parse_duration(t) for t in candidates if t is not None]
        if given:
            return min(given)
        if step.kind in RETRYABLE_KINDS and self.defaults and self.defaults.timeout is not None:
            return parse_duration(self.defaults.timeout)
        return None

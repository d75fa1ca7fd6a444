"""Templates: their models, reading them from JSON or YAML, and every check before one is saved.

parse_template() reports all problems at once, each with a path such as ``steps[2].run``, so
that a person fixing a template sees the whole list instead of one error per attempt.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from wfe.engine import expressions
from wfe.engine.durations import parse_duration
from wfe.engine.inputs import coerce_value
from wfe.errors import BadRequest, UnsupportedMediaType, ValidationFailed

KINDS = ("run", "http", "sleep", "set", "approval", "callback")
RETRYABLE_KINDS = ("run", "http", "callback")
_NAME_RULES = {
    "template": (r"[a-z0-9][a-z0-9_.-]{0,63}", "lowercase letters, digits, '_', '.' and '-', "
                 "starting with a letter or digit"),
    "step": (r"[A-Za-z_][A-Za-z0-9_-]{0,63}", "letters, digits, '_' and '-', not starting with "
             "a digit or '-'"),
    "variable": (r"[A-Za-z_][A-Za-z0-9_]{0,63}", "letters, digits and '_', not starting with a "
                 "digit"),
    "env": (r"[A-Za-z_][A-Za-z0-9_]*", "letters, digits and '_', not starting with a digit"),
}
_MAX_NODES = 100_000  # YAML aliases can make a 1 KiB document expand to gigabytes


def _named(rule: str) -> AfterValidator:
    pattern, words = _NAME_RULES[rule]

    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"invalid {rule} name {value!r}: use {words} (at most 64)")
        return value

    return AfterValidator(check)


def _duration(value: Any) -> Any:
    parse_duration(value)  # its ValueError becomes this field's error
    return value


def _scalar_text(value: Any) -> Any:
    # YAML turns `PORT: 8080` into an int; an env var or header is text either way.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else value


def _command(value: Any) -> str | list[str]:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("the command is empty")
        return value
    if isinstance(value, list) and value:
        if all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value):
            return [str(a) for a in value]
    raise ValueError("expected a shell string or a non-empty list of arguments")


def _condition(value: Any) -> str | bool:
    if isinstance(value, (str, bool)):
        return value
    raise ValueError("expected an expression such as ${{ input.deploy }}, or true/false")


def _http_method(value: Any) -> str:
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    if isinstance(value, str) and value.upper() in methods:
        return value.upper()
    raise ValueError("expected one of: " + ", ".join(methods))


def _jitter(value: Any) -> str | float:
    if value in ("none", "full"):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    raise ValueError('expected "none", "full", or a fraction from 0 to 1 taken off at random')


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://", "${{")):
        raise ValueError("the url must start with http:// or https://")
    return value


def step_kinds(step: dict[str, Any]) -> list[str]:
    """The kind keys a step has. A null one counts only when no other is given, so that both
    a bare `callback:` and a full model_dump() (every other kind null) read right."""
    return [k for k in KINDS if step.get(k) is not None] or [k for k in KINDS if k in step]


Duration = Annotated[str | int | float, PlainValidator(_duration)]
Text = Annotated[str, BeforeValidator(_scalar_text)]
ExitCode = Annotated[int, Field(ge=0, le=255)]


class _Model(BaseModel):
    # strict: YAML already gives values their types, so "3" for an integer is a mistake.
    # serialize_by_alias: any model_dump() writes "if" and "json", the names templates use.
    model_config = ConfigDict(extra="forbid", strict=True, serialize_by_alias=True)

    def to_dict(self) -> dict[str, Any]:
        """The input format again: parse_template(spec.to_dict()) gives the same spec."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Variable(_Model):
    type: Literal["string", "integer", "number", "boolean", "enum", "object", "array"] = "string"
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
    backoff: Literal["fixed", "exponential"] | None = None
    initial_delay: Duration | None = None
    multiplier: Annotated[float, Field(ge=1, le=100)] | None = None
    max_delay: Duration | None = None
    jitter: Annotated[str | float, PlainValidator(_jitter)] | None = None
    retry_on_exit_codes: list[ExitCode] | None = None
    no_retry_on_exit_codes: list[ExitCode] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RetrySpec:
        both = set(self.retry_on_exit_codes or ()) & set(self.no_retry_on_exit_codes or ())
        if both:
            raise ValueError(f"exit codes {sorted(both)} are both retried and not retried")
        if self.initial_delay is not None and self.max_delay is not None:
            if parse_duration(self.initial_delay) > parse_duration(self.max_delay):
                raise ValueError("initial_delay is longer than max_delay")
        return self

    def merged(self, base: RetrySpec | None) -> RetrySpec:
        """These settings over ``base``: a field set here wins, an unset one comes from base."""
        if base is None:
            return self
        fields = {**base.model_dump(exclude_none=True), **self.model_dump(exclude_none=True)}
        return RetrySpec.model_validate(fields)


class HttpSpec(_Model):
    method: Annotated[str, PlainValidator(_http_method)] = "GET"
    url: Annotated[str, AfterValidator(_http_url)]
    headers: dict[str, Text] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")


class ApprovalSpec(_Model):
    message: str | None = None
    timeout: Duration | None = None
    approvers: list[str] | None = None
    on_timeout: Literal["reject", "approve"] = "reject"


class CallbackSpec(_Model):
    timeout: Duration | None = None
    description: str | None = None


class DefaultsSpec(_Model):
    retry: RetrySpec | None = None
    timeout: Duration | None = None


class StepSpec(_Model):
    name: Annotated[str, _named("step")]
    kind_: Literal["run", "http", "sleep", "set", "approval", "callback"] | None = Field(
        None, alias="kind"
    )
    description: str | None = None
    run: Annotated[str | list[str], PlainValidator(_command)] | None = None
    env: dict[Annotated[str, _named("env")], Text] | None = None
    cwd: str | None = None
    http: HttpSpec | None = None
    sleep: Duration | None = None
    set: dict[str, Any] | None = None
    approval: ApprovalSpec | None = None
    callback: CallbackSpec | None = None
    timeout: Duration | None = None
    retry: RetrySpec | None = None
    if_: Annotated[str | bool, PlainValidator(_condition)] | None = Field(None, alias="if")

    @model_validator(mode="after")
    def _bare_kind(self) -> StepSpec:
        # YAML's `callback:` with nothing after it is null, yet it still names the step's kind.
        empty = {"set": dict, "approval": ApprovalSpec, "callback": CallbackSpec}
        if self.kind in empty and getattr(self, self.kind) is None:
            setattr(self, self.kind, empty[self.kind]())
        return self

    @property
    def kind(self) -> str:
        """run, http, sleep, set, approval or callback ("" on a step parse_template refuses)."""
        given = step_kinds({k: getattr(self, k) for k in KINDS if k in self.model_fields_set})
        return given[0] if len(given) == 1 else (self.kind_ or "")

    @property
    def timeout_seconds(self) -> float | None:
        return None if self.timeout is None else parse_duration(self.timeout)

    @property
    def sleep_seconds(self) -> float | None:
        return None if self.sleep is None else parse_duration(self.sleep)

    @property
    def shell(self) -> bool:
        """A run step whose command goes through /bin/sh -c (render it with render_shell)."""
        return isinstance(self.run, str)


class TemplateSpec(_Model):
    name: Annotated[str, _named("template")]
    description: str | None = None
    variables: dict[str, Variable] = Field(default_factory=dict)
    defaults: DefaultsSpec | None = None
    timeout: Duration | None = None
    steps: list[StepSpec]

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
    def callback_steps(self) -> list[str]:
        return [s.name for s in self.steps if s.kind == "callback"]

    def step(self, name: str) -> StepSpec:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

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


# --- reading text ---------------------------------------------------------------------------


def load_template_text(text: str | bytes, content_type: str) -> dict[str, Any]:
    """The mapping in a JSON or YAML body; BadRequest (with the line) when it cannot be read."""
    media = content_type.split(";")[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    if not is_json and "yaml" not in media:
        raise UnsupportedMediaType("a template must be application/json or application/yaml")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BadRequest(f"the template is not UTF-8 text (byte {e.start})") from None
    data = _load_json(text) if is_json else _load_yaml(text)
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        raise BadRequest(f"a template must be a mapping (an object), not {shown}")
    return data


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        where = {"line": e.lineno, "column": e.colno}
        raise BadRequest(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}", where)


def _load_yaml(text: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        if mark is None:
            raise BadRequest(f"malformed YAML: {problem}") from None
        where = {"line": mark.line + 1, "column": mark.column + 1}
        raise BadRequest(
            f"malformed YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}", where
        ) from None
    if _too_big(data):
        raise BadRequest(f"the YAML expands to more than {_MAX_NODES} values (anchors and aliases)")
    return data


def _too_big(data: Any) -> bool:
    # Count the tree as the models would see it, stopping at the budget: aliases share nodes in
    # memory but every later walk (validation, JSON) expands them, and a cycle never ends.
    budget, stack = _MAX_NODES, [data]
    while stack:
        budget -= 1
        if budget < 0:
            return True
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


# --- validating -----------------------------------------------------------------------------


def parse_template(data: Any) -> TemplateSpec:
    """The template in ``data``, or ValidationFailed("template is invalid") listing every error."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            "template is invalid", [{"path": "", "message": "a template must be a mapping"}]
        )
    details: list[dict[str, str]] = []
    spec: TemplateSpec | None = None
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as e:
        details.extend(_pydantic_details(e))
    details.extend(_semantic_errors(data))
    unique = sorted({(d["path"], d["message"]): d for d in details}.values(), key=_path_order)
    if unique or spec is None:
        raise ValidationFailed("template is invalid", unique)
    return spec


def _path_order(detail: dict[str, str]) -> list[tuple[int, str | int]]:
    # steps[2] before steps[10]; sorted() is stable, so one path's messages keep their order.
    tokens = re.findall(r"\d+|[^\d\[\].]+", detail["path"])
    return [(0, int(t)) if t.isdigit() else (1, t) for t in tokens]


def path_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """("steps", 2, "run") -> "steps[2].run"; a key that is not a plain word is quoted."""
    out = ""
    for part in loc:
        if part != "[key]":  # pydantic's marker for "the key itself", already named by the path
            out = _join(out, part)
    return out


def _join(path: str, part: Any) -> str:
    if isinstance(part, int) and not isinstance(part, bool):
        return f"{path}[{part}]"
    if re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
        return f"{path}.{part}" if path else str(part)
    return f"{path}[{json.dumps(str(part))}]"


def _pydantic_details(error: ValidationError) -> Iterator[dict[str, str]]:
    for e in error.errors(include_url=False):
        loc, kind = tuple(e["loc"]), e["type"]
        message = e["msg"].removeprefix("Value error, ")
        if kind == "missing":
            message = "required"
        elif kind == "extra_forbidden":
            message = _unknown_field(loc)
        elif kind in ("model_type", "dict_type"):
            message = "expected a mapping"
        yield {"path": path_of(loc), "message": message}


def _unknown_field(loc: tuple[Any, ...]) -> str:
    model = _model_at(loc[:-1])
    names = [f.alias or n for n, f in model.model_fields.items()] if model else []
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f"unknown field; did you mean '{close[0]}'?" if close else (
        "unknown field; expected one of: " + ", ".join(names) if names else "unknown field"
    )


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Which model a location's mapping is, to suggest field names."""
    shapes: dict[tuple[str, ...], type[BaseModel]] = {
        (): TemplateSpec, ("steps",): StepSpec, ("variables",): Variable,
        ("defaults",): DefaultsSpec, ("defaults", "retry"): RetrySpec,
        ("steps", "retry"): RetrySpec, ("steps", "http"): HttpSpec,
        ("steps", "approval"): ApprovalSpec, ("steps", "callback"): CallbackSpec,
    }
    if loc[:1] == ("variables",):
        loc = loc[:1] + loc[2:]  # drop the variable's own name
    return shapes.get(tuple(str(p) for p in loc if not isinstance(p, int)))


def _semantic_errors(data: dict[str, Any]) -> list[dict[str, str]]:
    """What the models cannot see on their own: names, kinds, cross-references, expressions."""
    errors: list[dict[str, str]] = []

    def add(path: str, message: str) -> None:
        errors.append({"path": path, "message": message})

    variables = data.get("variables")
    variables = variables if isinstance(variables, dict) else {}
    for name, raw in variables.items():
        _check_variable(str(name), raw, add)
    steps = data.get("steps", ...)
    if steps is None or steps == []:
        add("steps", "at least one step is required")
    if isinstance(steps, list):
        _check_steps(steps, {str(n) for n in variables}, add)
    return errors


def _check_variable(name: str, raw: Any, add: Any) -> None:
    path = _join("variables", name)
    pattern, words = _NAME_RULES["variable"]
    if not re.fullmatch(pattern, name):
        add(path, f"invalid variable name: use {words} (at most 64)")
    try:
        var = Variable.model_validate({} if raw is None else raw)
    except ValidationError:
        return  # already reported, field by field
    if var.type == "enum" and not var.values:
        add(f"{path}.values", "an enum needs a non-empty list of values")
    if var.type != "enum" and var.values is not None:
        add(f"{path}.values", "values are only for type enum")
    if var.has_default:
        try:
            coerce_value(var.type, var.default, var.values, from_text=False)
        except ValueError as e:
            add(f"{path}.default", f"the default does not fit type {var.type}: {e}")
        if var.required:
            add(f"{path}.required", "a variable with a default cannot be required")


def _check_steps(steps: list[Any], variables: set[str], add: Any) -> None:
    callbacks = {
        s["name"] for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)
        and step_kinds(s) == ["callback"]
    }
    first_index: dict[str, int] = {}
    before: set[str] = set()
    for i, raw in enumerate(steps):
        if not isinstance(raw, dict):
            continue
        path, name = f"steps[{i}]", raw.get("name")
        if isinstance(name, str) and name in first_index:
            add(f"{path}.name", f"duplicate step name '{name}' (also steps[{first_index[name]}])")
        kind = _check_kind(raw, path, add)
        if kind:
            _check_applicable(raw, kind, path, add)
        _check_expressions(raw, path, (variables, set(before), callbacks), add)
        if isinstance(name, str):
            first_index.setdefault(name, i)
            before.add(name)


def _check_kind(raw: dict[str, Any], path: str, add: Any) -> str | None:
    given = step_kinds(raw)
    if not given:
        add(path, "unknown step kind; expected one of: " + ", ".join(KINDS))
        return None
    if len(given) > 1:
        add(path, f"a step has exactly one of {', '.join(KINDS)}; this one has "
            + " and ".join(given))
        return None
    explicit = raw.get("kind")
    if explicit in KINDS and explicit != given[0]:
        add(f"{path}.kind", f"kind '{explicit}' does not match the step's '{given[0]}' key")
    return given[0]


def _check_applicable(raw: dict[str, Any], kind: str, path: str, add: Any) -> None:
    for key in ("env", "cwd"):
        if raw.get(key) is not None and kind != "run":
            add(f"{path}.{key}", f"{key} is only for run steps")
    if raw.get("retry") is not None and kind not in RETRYABLE_KINDS:
        add(f"{path}.retry", "retry is only for run, http and callback steps")
    if kind == "callback":
        gate = raw.get("callback") if isinstance(raw.get("callback"), dict) else {}
        if gate.get("timeout") is None and raw.get("timeout") is None:
            add(f"{path}.callback.timeout", "a callback step needs a timeout")


def _check_expressions(
    raw: dict[str, Any], path: str, names: tuple[set[str], set[str], set[str]], add: Any
) -> None:
    fields: list[tuple[str, Any]] = [(k, raw.get(k)) for k in ("run", "env", "cwd", "set")]
    for parent in ("http", "approval"):
        if isinstance(raw.get(parent), dict):
            fields += [(f"{parent}.{k}", v) for k, v in raw[parent].items()
                       if k in ("url", "headers", "json", "message")]
    for field, value in fields:
        for where, text, is_key in _strings(value, f"{path}.{field}"):
            if is_key:
                add(where, "expressions are not allowed in keys")
                continue
            for message in expressions.check(text, *names):
                add(where, message)
    if isinstance(raw.get("run"), str):
        for message in expressions.check_shell(raw["run"]):
            add(f"{path}.run", message)
    if isinstance(raw.get("if"), (str, bool)):
        for message in expressions.check_condition(raw["if"], *names):
            add(f"{path}.if", message)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str, bool]]:
    """Every string inside ``value`` with its path, and whether it is a mapping key."""
    if isinstance(value, str):
        yield path, value, False
    elif isinstance(value, dict):
        for key, item in value.items():
            where = _join(path, key)
            if isinstance(key, str) and expressions.has_expressions(key):
                yield where, key, True
            yield from _strings(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")

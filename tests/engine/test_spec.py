"""Templates: reading JSON/YAML, the models, and a table of invalid templates with their paths."""

from __future__ import annotations

import copy
import json

import pytest

from wfe.engine.spec import (
    RetrySpec,
    StepSpec,
    TemplateSpec,
    load_template_text,
    parse_template,
    path_of,
)
from wfe.errors import BadRequest, UnsupportedMediaType, ValidationFailed

EXAMPLE_YAML = """\
name: hello
description: Say hello
variables:
  who:
    type: string
    required: false
    default: world
    description: Who to greet
  n: {type: integer, default: 2}
  level: {type: enum, values: [low, high], default: low}
  token: {type: string, secret: true}
defaults:
  retry: {max_attempts: 3, initial_delay: 2s}
  timeout: 10m
timeout: 1h
steps:
  - name: greet
    run: echo "hello ${{ input.who }}"
    env: {GREETING: "${{ input.who }}", PORT: 8080, DEBUG: true}
    cwd: /tmp
    timeout: 30s
    retry: {max_attempts: 5, backoff: exponential, initial_delay: 1s, multiplier: 2.0,
            max_delay: 5m, jitter: full, retry_on_exit_codes: [1], no_retry_on_exit_codes: [2]}
    if: ${{ input.who != 'nobody' }}
  - name: argv
    run: [echo, "${{ steps.greet.output.text }}", 3]
  - name: fetch
    http: {method: post, url: "https://x/${{ input.who }}", headers: {X-N: 1}, json: {a: 1}}
  - name: nap
    sleep: 1s
  - name: compute
    set: {shout: "${{ steps.greet.output.text | upper }}", n: "${{ input.n }}"}
  - name: notify
    run: curl -d "${{ steps.hook.callback_url }}" https://ci.example/trigger
  - name: gate
    approval: {message: "Ship ${{ run.id }}?", timeout: 24h, approvers: [alice],
               on_timeout: reject}
  - name: hook
    callback: {timeout: 1h, description: "CI reports back"}
  - name: bare
    timeout: 10m
    callback:
"""


def example() -> dict:
    return load_template_text(EXAMPLE_YAML, "application/yaml")


def test_the_documented_example_parses():
    spec = parse_template(example())
    assert [s.kind for s in spec.steps] == ["run", "run", "http", "sleep", "set", "run",
                                            "approval", "callback", "callback"]
    greet, argv, fetch = spec.steps[:3]
    assert greet.if_ == "${{ input.who != 'nobody' }}"
    assert greet.env == {"GREETING": "${{ input.who }}", "PORT": "8080", "DEBUG": "true"}
    assert greet.uses_shell and not argv.uses_shell
    assert argv.run == ["echo", "${{ steps.greet.output.text }}", "3"]
    assert fetch.http.method == "POST" and fetch.http.json_ == {"a": 1}
    assert fetch.http.headers == {"X-N": "1"}
    assert greet.timeout_seconds == 30 and spec.steps[3].sleep_seconds == 1
    assert spec.timeout_seconds == 3600
    assert spec.callback_steps == ["hook", "bare"]
    assert spec.step("bare").callback.timeout is None
    assert spec.variables["who"].is_required is False
    assert spec.variables["token"].is_required is True and spec.variables["token"].secret


def test_dump_round_trips_to_the_input_format():
    spec = parse_template(example())
    dumped = spec.model_dump(by_alias=True, exclude_none=True)
    assert dumped["steps"][0]["if"] == "${{ input.who != 'nobody' }}"
    assert dumped["steps"][2]["http"]["json"] == {"a": 1}
    assert "if_" not in json.dumps(dumped) and "json_" not in json.dumps(dumped)
    assert parse_template(dumped) == spec
    assert parse_template(json.loads(json.dumps(spec.to_dict()))) == spec
    # What the daemon stores (JSON, every field) reads back as the same spec.
    assert TemplateSpec.model_validate(json.loads(json.dumps(spec.model_dump(mode="json")))) \
        == spec
    assert parse_template(json.loads(json.dumps(spec.model_dump(mode="json")))) == spec


def test_unset_fields_stay_out_of_the_dump():
    spec = parse_template({"name": "t", "steps": [{"name": "a", "run": "true"}]})
    assert spec.to_dict() == {"name": "t", "variables": {}, "steps": [{"name": "a",
                                                                        "run": "true"}]}


def test_explicit_kind_that_agrees_is_fine():
    spec = parse_template({"name": "t", "steps": [{"name": "a", "kind": "sleep", "sleep": 1}]})
    assert spec.steps[0].kind == "sleep"


def test_effective_retry_merges_field_by_field():
    spec = parse_template(example())
    greet, argv, fetch, nap = spec.steps[:4]
    assert spec.effective_retry(greet).max_attempts == 5
    assert spec.effective_retry(greet).initial_delay == "1s"       # the step's own wins
    inherited = spec.effective_retry(argv)
    assert (inherited.max_attempts, inherited.initial_delay) == (3, "2s")
    assert inherited.backoff is None            # left to RetryPolicy's default
    assert spec.effective_retry(fetch).max_attempts == 3
    assert spec.effective_retry(nap) == RetrySpec()    # only run and http steps retry


def test_effective_retry_feeds_retry_policy():
    from wfe.engine.retry import RetryPolicy

    spec = parse_template(example())
    policy = RetryPolicy.from_spec(spec.effective_retry(spec.steps[0]))
    assert (policy.max_attempts, policy.initial_delay, policy.jitter) == (5, 1.0, "full")


def test_effective_timeout():
    spec = parse_template(example())
    by_name = {s.name: spec.effective_timeout(s) for s in spec.steps}
    assert by_name == {"greet": 30, "argv": 600, "fetch": 600, "nap": None, "compute": None,
                       "notify": 600, "gate": 86400, "hook": 3600, "bare": 600}


def test_without_defaults():
    spec = parse_template({"name": "t", "steps": [{"name": "a", "run": "true"}]})
    assert spec.effective_timeout(spec.steps[0]) is None
    assert spec.effective_retry(spec.steps[0]) == RetrySpec()


def test_step_lookup():
    spec = parse_template(example())
    assert spec.step("nap").kind == "sleep"
    with pytest.raises(KeyError):
        spec.step("nope")


# --- reading text ----------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/vnd.wfe+json"])
def test_json_body(content_type):
    assert load_template_text(b'{"name": "x"}', content_type) == {"name": "x"}


@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml", "text/yaml",
                                          "TEXT/X-YAML; charset=utf-8"])
def test_yaml_body(content_type):
    assert load_template_text("name: x\nsteps: []\n", content_type) == {"name": "x", "steps": []}


@pytest.mark.parametrize("text,content_type,fragment,line", [
    ('{"name": "x",\n  "steps": [}', "application/json", "malformed JSON at line 2", 2),
    ("name: x\nsteps:\n  - name: [unclosed\n", "application/yaml", "malformed YAML at line 4", 4),
    ("a: b\n c: d: e\n", "application/yaml", "malformed YAML at line 2", 2),
    ("key: 'open\n", "application/yaml", "malformed YAML", None),
])
def test_malformed_text_names_the_line(text, content_type, fragment, line):
    with pytest.raises(BadRequest) as exc:
        load_template_text(text, content_type)
    assert fragment in exc.value.message
    assert exc.value.http_status == 400
    if line is not None:
        assert exc.value.details["line"] == line


@pytest.mark.parametrize("text,content_type,shown", [
    ("[1, 2]", "application/json", "not a list"),
    ("- a\n- b\n", "application/yaml", "not a list"),
    ("just text", "application/yaml", "not a str"),
    ("", "application/yaml", "not empty"),
    ("3", "application/json", "not a int"),
])
def test_a_template_is_a_mapping(text, content_type, shown):
    with pytest.raises(BadRequest, match=f"must be a mapping.*{shown}"):
        load_template_text(text, content_type)


def test_not_utf8():
    with pytest.raises(BadRequest, match="not UTF-8"):
        load_template_text(b"name: \xff\xfe", "application/yaml")


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/xml"])
def test_other_media_types(content_type):
    with pytest.raises(UnsupportedMediaType):
        load_template_text("{}", content_type)


def test_yaml_alias_bombs_are_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(BadRequest, match="expands to more than"):
        load_template_text("\n".join(lines), "application/yaml")


def test_recursive_yaml_is_refused():
    with pytest.raises(BadRequest, match="expands"):
        load_template_text("a: &a [*a]\n", "application/yaml")


def test_yaml_is_safe_loaded():
    with pytest.raises(BadRequest):
        load_template_text("a: !!python/object/apply:os.system ['true']\n", "application/yaml")


# --- invalid templates -----------------------------------------------------------------------

def errors_of(data) -> list[dict]:
    with pytest.raises(ValidationFailed) as exc:
        parse_template(data)
    assert exc.value.message == "template is invalid"
    assert exc.value.http_status == 422
    return exc.value.details


def with_step(step: dict, **top) -> dict:
    return {"name": "t", "variables": {"who": {}}, "steps": [step], **top}


RUN = {"name": "a", "run": "true"}


@pytest.mark.parametrize("data,path,fragment", [
    ({"steps": [RUN]}, "name", "required"),
    ({"name": "Hello World", "steps": [RUN]}, "name", "invalid template name"),
    ({"name": "-x", "steps": [RUN]}, "name", "starting with a letter or digit"),
    ({"name": "x" * 65, "steps": [RUN]}, "name", "at most 64"),
    ({"name": 5, "steps": [RUN]}, "name", "must be a string"),
    ({"name": "t"}, "steps", "required"),
    ({"name": "t", "steps": []}, "steps", "at least one step"),
    ({"name": "t", "steps": None}, "steps", "at least one step"),
    ({"name": "t", "steps": {"a": 1}}, "steps", "must be a list"),
    ({"name": "t", "steps": [RUN], "bogus": 1}, "bogus", "unknown field; expected one of: name"),
    ({"name": "t", "steps": [RUN], "step": []}, "step", "did you mean 'steps'?"),
    ({"name": "t", "steps": [RUN], "timeout": "soon"}, "timeout", "invalid duration"),
    ({"name": "t", "steps": [RUN], "defaults": {"timeout": -1}}, "defaults.timeout",
     "must not be negative"),
    ({"name": "t", "steps": [RUN], "defaults": {"retries": 1}}, "defaults.retries",
     "did you mean 'retry'?"),
    # variables
    ({"name": "t", "steps": [RUN], "variables": {"who": {"type": "str"}}}, "variables.who.type",
     "'string'"),
    ({"name": "t", "steps": [RUN], "variables": {"who": {"typ": "string"}}}, "variables.who.typ",
     "did you mean 'type'?"),
    ({"name": "t", "steps": [RUN], "variables": {"lvl": {"type": "enum"}}}, "variables.lvl.values",
     "an enum needs a non-empty list of values"),
    ({"name": "t", "steps": [RUN], "variables": {"lvl": {"type": "enum", "values": []}}},
     "variables.lvl.values", "non-empty"),
    ({"name": "t", "steps": [RUN], "variables": {"n": {"values": [1]}}}, "variables.n.values",
     "only for type enum"),
    ({"name": "t", "steps": [RUN], "variables": {"n": {"type": "integer", "default": "3"}}},
     "variables.n.default", "does not fit type integer"),
    ({"name": "t", "steps": [RUN], "variables": {"n": {"type": "integer", "default": True}}},
     "variables.n.default", "expected an integer, got a boolean"),
    ({"name": "t", "steps": [RUN], "variables": {"l": {"type": "enum", "values": ["a"],
                                                         "default": "b"}}},
     "variables.l.default", "must be one of: a"),
    ({"name": "t", "steps": [RUN], "variables": {"w": {"default": "x", "required": True}}},
     "variables.w.required", "cannot be required"),
    ({"name": "t", "steps": [RUN], "variables": {"my-var": {}}}, "variables.my-var",
     "invalid variable name"),
    ({"name": "t", "steps": [RUN], "variables": {"a b": {}}}, 'variables["a b"]',
     "invalid variable name"),
    ({"name": "t", "steps": [RUN], "variables": [1]}, "variables", "expected a mapping"),
    # steps: shape and kind
    (with_step("run: true"), "steps[0]", "expected a mapping"),
    (with_step({"run": "true"}), "steps[0].name", "required"),
    (with_step({"name": "1st", "run": "true"}), "steps[0].name", "invalid step name"),
    (with_step({"name": "a"}), "steps[0]",
     "unknown step kind; expected one of: run, http, sleep, set, approval, callback, workflow"),
    (with_step({"name": "a", "runn": "x"}), "steps[0]", "unknown step kind"),
    (with_step({"name": "a", "runn": "x"}), "steps[0].runn", "did you mean 'run'?"),
    (with_step({"name": "a", "run": "x", "sleep": "1s"}), "steps[0]",
     "a step has exactly one of run, http, sleep, set, approval, callback, workflow; this one"
     " has run and sleep"),
    (with_step({"name": "a", "kind": "http", "run": "x"}), "steps[0].kind",
     "kind 'http' does not match the step's 'run' key"),
    (with_step({"name": "a", "kind": "shell", "run": "x"}), "steps[0].kind", "'run'"),
    (with_step({"name": "a", "run": "   "}), "steps[0].run", "the command is empty"),
    (with_step({"name": "a", "run": []}), "steps[0].run", "non-empty list"),
    (with_step({"name": "a", "run": ["ls", True]}), "steps[0].run", "non-empty list"),
    (with_step({"name": "a", "run": {"cmd": "ls"}}), "steps[0].run", "a shell string"),
    (with_step({"name": "a", "run": "x", "env": {"1X": "y"}}), "steps[0].env.1X",
     "invalid env name"),
    (with_step({"name": "a", "run": "x", "env": {"X": [1]}}), "steps[0].env.X", "must be a string"),
    (with_step({"name": "a", "sleep": "1s", "env": {"X": "1"}}), "steps[0].env",
     "env is only for run steps"),
    (with_step({"name": "a", "set": {}, "cwd": "/"}), "steps[0].cwd", "only for run steps"),
    (with_step({"name": "a", "sleep": "1s", "keep_background": True}),
     "steps[0].keep_background", "only for run steps"),
    (with_step({"name": "a", "run": "x", "keep_background": "maybe"}),
     "steps[0].keep_background", "true or false"),
    (with_step({"name": "a", "sleep": "1s", "retry": {"max_attempts": 2}}), "steps[0].retry",
     "retry is only for run, http, callback and workflow steps"),
    (with_step({"name": "a", "sleep": "forever"}), "steps[0].sleep", "invalid duration"),
    (with_step({"name": "a", "sleep": True}), "steps[0].sleep", "got bool"),
    (with_step({"name": "a", "run": "x", "timeout": "-5s"}), "steps[0].timeout",
     "must not be negative"),
    (with_step({"name": "a", "run": "x", "if": 3}), "steps[0].if", "expected an expression"),
    # per-kind bodies
    (with_step({"name": "a", "http": {}}), "steps[0].http.url", "required"),
    (with_step({"name": "a", "http": {"url": "ftp://x"}}), "steps[0].http.url",
     "must start with http:// or https://"),
    (with_step({"name": "a", "http": {"url": "http://x", "method": "FETCH"}}),
     "steps[0].http.method", "expected one of: GET"),
    (with_step({"name": "a", "http": {"url": "http://x", "body": "x"}}), "steps[0].http.body",
     "unknown field"),
    (with_step({"name": "a", "http": {"url": "http://x", "json_": 1}}), "steps[0].http.json_",
     "did you mean 'json'?"),
    (with_step({"name": "a", "http": "http://x"}), "steps[0].http", "expected a mapping"),
    (with_step({"name": "a", "set": ["x"]}), "steps[0].set", "expected a mapping"),
    (with_step({"name": "a", "approval": {"on_timeout": "shrug"}}),
     "steps[0].approval.on_timeout", "'reject'"),
    (with_step({"name": "a", "approval": {"timeout": "1 week"}}), "steps[0].approval.timeout",
     "invalid duration"),
    (with_step({"name": "a", "callback": {"timeout": "x"}}), "steps[0].callback.timeout",
     "invalid duration"),
    # retry ranges
    (with_step({"name": "a", "run": "x", "retry": {"max_attempts": 0}}),
     "steps[0].retry.max_attempts", "must be at least 1"),
    (with_step({"name": "a", "run": "x", "retry": {"max_attempts": 101}}),
     "steps[0].retry.max_attempts", "must be at most 100"),
    (with_step({"name": "a", "run": "x", "retry": {"max_attempts": True}}),
     "steps[0].retry.max_attempts", "must be an integer"),
    (with_step({"name": "a", "run": "x", "retry": {"max_attempts": "3"}}),
     "steps[0].retry.max_attempts", "must be an integer"),
    (with_step({"name": "a", "run": "x", "retry": {"multiplier": 0.5}}),
     "steps[0].retry.multiplier", "must be at least 1"),
    (with_step({"name": "a", "run": "x", "retry": {"backoff": "linear"}}),
     "steps[0].retry.backoff", "'fixed' or 'exponential'"),
    (with_step({"name": "a", "run": "x", "retry": {"jitter": 2}}), "steps[0].retry.jitter",
     "a fraction from 0 to 1"),
    (with_step({"name": "a", "run": "x", "retry": {"jitter": "equal"}}),
     "steps[0].retry.jitter", "expected \"none\", \"full\""),
    (with_step({"name": "a", "run": "x", "retry": {"initial_delay": "1x"}}),
     "steps[0].retry.initial_delay", "invalid duration"),
    (with_step({"name": "a", "run": "x", "retry": {"initial_delay": "10m", "max_delay": "1m"}}),
     "steps[0].retry", "initial_delay is longer than max_delay"),
    (with_step({"name": "a", "run": "x", "retry": {"retry_on_exit_codes": [1, 2],
                                                   "no_retry_on_exit_codes": [2]}}),
     "steps[0].retry", "exit codes [2] are both retried and not retried"),
    (with_step({"name": "a", "run": "x", "retry": {"retry_on_exit_codes": [256]}}),
     "steps[0].retry.retry_on_exit_codes[0]", "must be at most 255"),
    (with_step({"name": "a", "run": "x", "retry": {"tries": 3}}), "steps[0].retry.tries",
     "unknown field"),
    # expressions: the path points at the field
    (with_step({"name": "a", "run": "echo ${{ input.nope }}"}), "steps[0].run",
     "'input.nope' is not a declared variable (declared: who)"),
    (with_step({"name": "a", "run": ["echo", "${{ input.nope }}"]}), "steps[0].run[1]",
     "not a declared variable"),
    (with_step({"name": "a", "run": "x", "env": {"X": "${{ nope }}"}}), "steps[0].env.X",
     "unknown name 'nope'"),
    (with_step({"name": "a", "run": "x", "cwd": "${{ run.dir }}"}), "steps[0].cwd",
     "'run.dir' is unknown"),
    (with_step({"name": "a", "http": {"url": "https://x/${{ input.x }}"}}), "steps[0].http.url",
     "'input.x' is not a declared variable"),
    (with_step({"name": "a", "http": {"url": "http://x", "headers": {"A": "${{ x }}"}}}),
     "steps[0].http.headers.A", "unknown name 'x'"),
    (with_step({"name": "a", "http": {"url": "http://x", "json": {"l": [1, {"k": "${{ y }}"}]}}}),
     "steps[0].http.json.l[1].k", "unknown name 'y'"),
    (with_step({"name": "a", "http": {"url": "http://x", "headers": {"${{ input.who }}": "v"}}}),
     'steps[0].http.headers["${{ input.who }}"]', "expressions are not allowed in keys"),
    (with_step({"name": "a", "set": {"v": {"deep": ["${{ steps.a.output }}"]}}}),
     "steps[0].set.v.deep[0]", "'steps.a' does not name an earlier step"),
    (with_step({"name": "a", "approval": {"message": "${{ input.who | nofilter }}"}}),
     "steps[0].approval.message", "No filter named 'nofilter'"),
    (with_step({"name": "a", "run": "x", "if": "${{ input.x }}"}), "steps[0].if",
     "'input.x' is not a declared variable"),
    (with_step({"name": "a", "run": "x", "if": "input.who =="}), "steps[0].if",
     "invalid expression"),
    (with_step({"name": "a", "run": "x", "if": "${{ input.who }} ${{ input.who }}"}),
     "steps[0].if", "a condition must be a single expression"),
    (with_step({"name": "a", "run": "echo `${{ input.who }}`"}), "steps[0].run",
     "inside `...`"),
    (with_step({"name": "a", "run": "echo ${{ input.who"}), "steps[0].run",
     "unterminated expression"),
])
def test_invalid_templates(data, path, fragment):
    details = errors_of(copy.deepcopy(data))
    matching = [d for d in details if d["path"] == path]
    assert matching, details
    assert any(fragment in d["message"] for d in matching), matching


def test_every_error_at_once():
    data = {
        "name": "Bad Name",
        "extra": 1,
        "variables": {"lvl": {"type": "enum"}, "n": {"type": "integer", "default": "x"}},
        "steps": [
            {"name": "a", "run": "echo ${{ input.nope }}", "http": {"url": "x"}},
            {"name": "a", "runn": "x"},
            {"name": "c", "sleep": "5 parsecs", "env": {"A": "1"}},
            {"name": "d", "run": "echo ${{ steps.e.output.x }}", "retry": {"max_attempts": 0}},
            5,
        ],
    }
    paths = [d["path"] for d in errors_of(data)]
    assert paths == [
        "extra", "name",
        "steps[0]", "steps[0].http.url", "steps[0].run",
        "steps[1]", "steps[1].name", "steps[1].runn",
        "steps[2].env", "steps[2].sleep",
        "steps[3].retry.max_attempts", "steps[3].run",
        "steps[4]",
        "variables.lvl.values", "variables.n.default",
    ]


def test_references_follow_step_order():
    data = {"name": "t", "steps": [
        {"name": "first", "run": "echo ${{ steps.second.output.x }}"},
        {"name": "second", "run": "echo ${{ steps.first.output.x }}"},
        {"name": "third", "run": "echo ${{ steps.third.status }}"},
    ]}
    details = errors_of(data)
    assert {d["path"] for d in details} == {"steps[0].run", "steps[2].run"}


def test_any_step_may_name_a_callback_url_earlier_or_later():
    data = {"name": "t", "steps": [
        {"name": "trigger", "run": "curl -d ${{ steps.wait.callback_url }} http://ci"},
        {"name": "wait", "callback": {"timeout": "1h"}},
        {"name": "after", "set": {"u": "${{ steps.wait.callback_url }}",
                                  "o": "${{ steps.wait.output.result }}"}},
    ]}
    assert parse_template(data).steps[1].kind == "callback"


def test_duplicate_names():
    data = {"name": "t", "steps": [RUN, {"name": "b", "run": "x"}, RUN]}
    assert errors_of(data) == [
        {"path": "steps[2].name", "message": "duplicate step name 'a' (also steps[0])"}
    ]


def test_not_a_mapping():
    assert errors_of([1]) == [{"path": "", "message": "a template must be a mapping"}]


@pytest.mark.parametrize("loc,path", [
    (("name",), "name"),
    (("steps", 2, "run"), "steps[2].run"),
    (("steps", 0, "retry", "retry_on_exit_codes", 3), "steps[0].retry.retry_on_exit_codes[3]"),
    (("variables", "who", "type"), "variables.who.type"),
    (("steps", 0, "env", "a.b", "[key]"), 'steps[0].env["a.b"]'),
    (("steps", 1, "http", "headers", "Content-Type"), "steps[1].http.headers.Content-Type"),
])
def test_path_of(loc, path):
    assert path_of(loc) == path


def test_step_kind_survives_model_validate_of_a_full_dump():
    step = StepSpec.model_validate({"name": "h", "callback": None})
    assert step.kind == "callback" and step.callback is not None
    again = StepSpec.model_validate(step.model_dump())
    assert again.kind == "callback"


def test_merged_retry():
    base = RetrySpec.model_validate({"max_attempts": 3, "jitter": "full"})
    step = RetrySpec.model_validate({"max_attempts": 5, "initial_delay": "2s"})
    merged = step.merged(base)
    assert merged.to_dict() == {"max_attempts": 5, "initial_delay": "2s", "jitter": "full"}
    assert step.merged(None) is step


@pytest.mark.parametrize("shell, ok", [
    ("sh", True), ("bash", True), ("/bin/bash", True), ("/usr/local/bin/sh", True),
    ("zsh", False), ("/usr/bin/fish", False), ("bash -e", False), ("bin/bash", False),
    ("", False), (["bash"], False), ("/bin/bash\x00", False),
])
def test_a_step_shell_is_sh_or_bash(shell, ok):
    data = {"name": "t", "steps": [{"name": "s", "run": "true", "shell": shell}]}
    if ok:
        step = parse_template(data).steps[0]
        assert step.interpreter == {"sh": "/bin/sh", "bash": "bash"}.get(shell, shell)
    else:
        with pytest.raises(ValidationFailed) as e:
            parse_template(data)
        assert [d["path"] for d in e.value.details] == ["steps[0].shell"]


def test_shell_defaults_and_where_it_applies():
    spec = parse_template({"name": "t", "defaults": {"shell": "bash"}, "steps": [
        {"name": "a", "run": "true"}, {"name": "b", "run": "true", "shell": "sh"},
        {"name": "c", "run": ["true"]}, {"name": "d", "sleep": "1s"}]})
    a, b, c, d = (spec.effective_step(s) for s in spec.steps)
    assert (a.interpreter, b.interpreter) == ("bash", "/bin/sh")
    assert c.shell is None and d.shell is None
    assert parse_template(spec.to_dict()) == spec
    assert parse_template({"name": "t", "steps": [{"name": "a", "run": "true"}]}).steps[
        0].interpreter == "/bin/sh"
    with pytest.raises(ValidationFailed) as e:
        parse_template({"name": "t", "steps": [{"name": "a", "run": ["x"], "shell": "bash"}]})
    assert "argument list runs without a shell" in e.value.details[0]["message"]


def test_needs_make_a_graph_and_its_errors_name_the_step():
    spec = parse_template({"name": "g", "steps": [
        {"name": "a", "run": "true"},
        {"name": "b", "needs": [], "run": "true"},
        {"name": "c", "needs": ["a", "b"], "run": "echo ${{ steps.a.output.x }}"},
        {"name": "d", "run": "echo ${{ steps.b.status }}"},
    ]})
    assert spec.needs == {"a": (), "b": (), "c": ("a", "b"), "d": ("c",)}
    assert parse_template(spec.to_dict()).needs == spec.needs
    bad = errors_of({"name": "g", "steps": [
        {"name": "a", "needs": ["c"], "run": "true"},
        {"name": "b", "needs": ["a", "nope", "b"], "run": "true"},
        {"name": "c", "needs": ["b"], "run": "true"},
        {"name": "e", "needs": [], "run": "echo ${{ steps.a.output.x }}"},
    ]})
    assert [(d["path"], d["message"]) for d in bad] == [
        ("steps[0].needs", "the steps' needs form a cycle: a -> c -> b -> a"),
        ("steps[1].needs", "step 'b' needs 'nope', which is not a step"),
        ("steps[1].needs", "step 'b' needs itself"),
        ("steps[3].run", "'steps.a' does not name an earlier step (one this step needs,"
                         " directly or through its needs)"),
    ]

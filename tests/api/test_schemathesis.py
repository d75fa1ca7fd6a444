"""schemathesis against a live daemon: valid and invalid requests for every documented
operation; no server error, every answer conforms to the document, every status in it.

The schema comes from the same function that serves /api/v1/openapi.json (a test in
test_openapi.py checks they are equal), so the operations are known at collection. Each
operation runs a bounded number of examples (WFE_SCHEMATHESIS_EXAMPLES, default 12),
the same ones each run unless WFE_SCHEMATHESIS_EXPLORE is set; an operation that ran none
fails in its teardown.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from tests.conftest import Daemon, daemon_env
from wfe.daemon.api.openapi import OPERATIONS, build_document
from wfe.daemon.api.routes import ROUTES

MAX_EXAMPLES = int(os.environ.get("WFE_SCHEMATHESIS_EXAMPLES", "12"))
# The suite replays the same examples each time; set WFE_SCHEMATHESIS_EXPLORE=1 (and more
# examples) to search afresh.
EXPLORE = os.environ.get("WFE_SCHEMATHESIS_EXPLORE", "") not in ("", "0")
CONFIG = SchemathesisConfig.from_str(f"""
[generation]
mode = "all"
max-examples = {MAX_EXAMPLES}
# The test sends the bearer token itself; generated (and removed) Authorization headers
# would be overwritten and misjudged. ignored_auth still probes without and with a bad one.
with-security-parameters = false

# The coverage phase makes every boundary case the schema defines, whatever max-examples
# says: for a template (a step's many kinds, handlers, foreach) that is some 10,000 calls
# and minutes. Template bodies get the fuzzing phase here and their own tests elsewhere.
[[operations]]
include-path = "/api/v1/templates"
include-method = "POST"
phases.coverage.enabled = false
""")
# JSON Schema cannot say everything a body must be (exactly one of template_id and
# template; step names unique; expressions naming declared variables; a valid URL; exactly
# one of cron and every, a cron expression that parses, a known time zone): for these a
# schema-valid body may still get 422, and positive_data_acceptance allows it.
SEMANTIC = {("POST", "/api/v1/templates"), ("POST", "/api/v1/workflows"),
            ("POST", "/api/v1/webhooks"), ("POST", "/api/v1/workflows/{id}/rollback"),
            ("POST", "/api/v1/schedules"), ("PATCH", "/api/v1/schedules/{id}")}
# Streams stay open (SSE): they are documented but not fuzzed.
STREAMS = {key for key, op in OPERATIONS.items() if op.stream}

schema = schemathesis.openapi.from_dict(build_document(ROUTES), config=CONFIG)
schema = schema.exclude(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path)
                        in STREAMS) if STREAMS else schema


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = tmp_path_factory.mktemp("st") / "home"
    home.mkdir(mode=0o700)
    # Auth probes send many bad tokens on purpose; the throttle is tested elsewhere.
    (home / "config.toml").write_text("auth_failure_limit = 1000000\n")
    d = Daemon(home, daemon_env(home)).start()
    client = d.client()
    client.create_template({"name": "st", "steps": [{"name": "a", "set": {"x": 1}}]})
    client.publish_template("st")
    client.start_run("st")
    yield d
    d.stop()


def labels() -> set[str]:
    return {r.ok().label for r in schema.get_all_operations()}


@pytest.fixture
def calls():
    """Per operation (schemathesis runs each as a subtest with its own fixtures): fails
    when hypothesis never called the API for it."""
    made = []
    yield made
    assert made, "schemathesis tested nothing for this operation"


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=not EXPLORE, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_conforms(case, live, calls):
    calls.append(case.operation.label)
    key = (case.operation.method.upper(), case.operation.path)
    excluded = []
    if key in SEMANTIC:
        from schemathesis.specs.openapi.checks import positive_data_acceptance

        excluded.append(positive_data_acceptance)
    case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {live.token}"},
                           excluded_checks=excluded)


def test_every_json_body_gets_hostile_ones():
    hostile = {r.ok().label for r in hostile_schema.get_all_operations()}
    assert len(hostile) >= 10 and hostile == {f"{m} {p}" for m, p in JSON_BODIES}


def test_every_route_but_streams_is_fuzzed():
    fuzzed = {tuple(label.split(" ", 1)) for label in labels()}
    assert len(fuzzed) >= 30
    assert fuzzed == {(m, p) for m, p, _ in ROUTES} - STREAMS


# ---- hostile bodies: the same operations, with what a JSON parser accepts but nothing after
# it can store or walk. Every answer must still be a documented 4xx in the error shape.

DEEP = 10_000  # past Python's recursion limit, where json.loads itself gives up
HOSTILE_EXAMPLES = max(2, MAX_EXAMPLES // 3)
JSON_BODIES = {(method.upper(), path)
               for path, item in build_document(ROUTES)["paths"].items()
               for method, op in item.items()
               if "application/json" in op.get("requestBody", {}).get("content", {})}
hostile_schema = schema.exclude(func=lambda ctx: (
    ctx.operation.method.upper(), ctx.operation.path) not in JSON_BODIES)


def with_surrogates(value):
    """Every string value (not key: those name fields) with a lone surrogate appended."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, list):
        return [with_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: with_surrogates(v) for k, v in value.items()}
    return value


def holds_text(value) -> bool:
    if isinstance(value, dict):
        return any(holds_text(v) for v in value.values())
    return isinstance(value, str) or (isinstance(value, list) and any(map(holds_text, value)))


def deep_body(body) -> bytes:
    """The case's body with one more field nested DEEP levels: JSON text written by hand,
    since json.dumps itself cannot go that deep."""
    nested = "[" * DEEP + "]" * DEEP
    if isinstance(body, dict):
        inner = json.dumps(body)[1:-1]
        return ("{" + inner + ("," if inner else "") + f'"deep":{nested}' + "}").encode()
    return nested.encode()


def hostile_check(case, response) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
        status_code_conformance,
    )

    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             response_schema_conformance])


@hostile_schema.parametrize()
@settings(max_examples=HOSTILE_EXAMPLES, deadline=None, derandomize=not EXPLORE, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_hostile_bodies_answer_4xx(case, live, calls):
    calls.append(case.operation.label)
    if case.method.upper() == "OPTIONS":
        return  # a probe of another method: OPTIONS answers 204 with Allow, reads no body
    if case.media_type != "application/json":
        case.media_type = "application/json"  # the YAML form of templates is tested alike
    # Sent as text written here: schemathesis re-checks a case's body, and its validator
    # cannot take a str that is not Unicode; json.dumps writes each one as \ud800.
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    bodies = [deep_body(case.body)]
    if holds_text(case.body):
        bodies.append(json.dumps(with_surrogates(case.body)).encode())
    for body in bodies:
        response = case.call(base_url=live.url, data=body, headers=headers)
        hostile_check(case, response)
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])

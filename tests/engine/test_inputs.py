"""A run's input against the template's variables: coercion table, defaults, all errors at once."""

from __future__ import annotations

import pytest

from wfe.engine.inputs import coerce_value, validate_inputs
from wfe.engine.spec import Variable
from wfe.errors import ValidationFailed


def var(**fields) -> Variable:
    return Variable.model_validate(fields)


@pytest.mark.parametrize("type_,given,expected", [
    ("string", "hello", "hello"),
    ("string", "", ""),
    ("string", " 3 ", " 3 "),                 # strings are kept exactly
    ("integer", 3, 3),
    ("integer", "3", 3),
    ("integer", " -12 ", -12),
    ("integer", "+7", 7),
    ("integer", 4.0, 4),
    ("number", 2.5, 2.5),
    ("number", "2.5", 2.5),
    ("number", "3", 3),
    ("number", 3, 3),
    ("number", "1e3", 1000.0),
    ("number", "-.5", -0.5),
    ("boolean", True, True),
    ("boolean", "true", True),
    ("boolean", "TRUE", True),
    ("boolean", "Yes", True),
    ("boolean", "1", True),
    ("boolean", "false", False),
    ("boolean", "no", False),
    ("boolean", "0", False),
    ("boolean", " On ", True),     # the one table of boolean words: also on/off
    ("boolean", "OFF", False),
    ("boolean", 1, True),          # JSON 1 and 0, as the words "1" and "0" are
    ("boolean", 0, False),
    ("object", {"a": 1}, {"a": 1}),
    ("object", '{"a": [1, 2]}', {"a": [1, 2]}),
    ("array", [1, "x"], [1, "x"]),
    ("array", "[1, 2]", [1, 2]),
])
def test_coerces(type_, given, expected):
    value = coerce_value(type_, given)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("type_,given,fragment", [
    ("string", 3, "expected a string, got an integer"),
    ("string", None, "got null"),
    ("integer", True, "expected an integer, got a boolean"),   # booleans are not integers
    ("integer", "3.5", "expected an integer"),
    ("integer", 3.5, "expected an integer"),
    ("integer", "three", "expected an integer, got 'three'"),
    ("integer", "", "expected an integer"),
    ("number", False, "expected a number"),
    ("number", "1,5", "expected a number"),
    ("number", "nan", "expected a number"),
    ("number", float("inf"), "finite"),
    ("boolean", 2, "expected a boolean"),
    ("boolean", "t", "expected a boolean"),
    ("boolean", "maybe", "expected a boolean"),
    ("object", "[1]", "expected an object, got an array"),
    ("object", "{nope", "expected an object as JSON text"),
    ("object", [1], "expected an object"),
    ("array", '{"a": 1}', "expected an array, got an object"),
    ("array", "x", "expected an array as JSON text"),
])
def test_refuses(type_, given, fragment):
    with pytest.raises(ValueError, match=fragment):
        coerce_value(type_, given)


def test_text_is_not_read_for_defaults():
    with pytest.raises(ValueError):
        coerce_value("integer", "3", from_text=False)
    with pytest.raises(ValueError):
        coerce_value("boolean", "yes", from_text=False)


@pytest.mark.parametrize("values,given,expected", [
    (["a", "b"], "a", "a"),
    ([1, 2, 3], 2, 2),
    ([1, 2, 3], "2", 2),          # the CLI sends text
    ([True, False], "false", False),
])
def test_enum_accepts(values, given, expected):
    assert coerce_value("enum", given, values) == expected


@pytest.mark.parametrize("values,given", [
    (["a", "b"], "c"),
    (["a", "b"], "A"),
    ([1, 2], True),               # True == 1 in Python; not here
    ([1, 2], 1.0),
])
def test_enum_refuses(values, given):
    with pytest.raises(ValueError, match="must be one of"):
        coerce_value("enum", given, values)


VARIABLES = {
    "who": var(default="world"),
    "n": var(type="integer"),
    "ratio": var(type="number", default=0.5),
    "deploy": var(type="boolean", required=False),
    "level": var(type="enum", values=["low", "high"], default="low"),
    "tags": var(type="array", default=["a"]),
}


def test_defaults_are_applied_and_every_variable_is_present():
    out = validate_inputs(VARIABLES, {"n": "3"})
    assert out == {"who": "world", "n": 3, "ratio": 0.5, "deploy": None, "level": "low",
                   "tags": ["a"]}


def test_defaults_are_copies():
    out = validate_inputs(VARIABLES, {"n": 1})
    out["tags"].append("b")
    assert VARIABLES["tags"].default == ["a"]


def test_null_asks_for_the_default():
    assert validate_inputs(VARIABLES, {"n": 1, "who": None})["who"] == "world"


def test_given_values_win():
    out = validate_inputs(VARIABLES, {"who": "ada", "n": 2, "deploy": "yes", "level": "high",
                                      "tags": '["x", "y"]'})
    assert (out["who"], out["deploy"], out["level"], out["tags"]) == ("ada", True, "high",
                                                                       ["x", "y"])


def test_every_problem_in_one_error():
    with pytest.raises(ValidationFailed) as exc:
        validate_inputs(VARIABLES, {"nope": 1, "ratio": "lots", "level": "medium",
                                    "deploy": 2, "zzz": "x"})
    err = exc.value
    assert err.message == "invalid input"
    assert err.http_status == 422
    paths = {d["path"]: d["message"] for d in err.details}
    assert set(paths) == {"input.nope", "input.zzz", "input.n", "input.ratio", "input.level",
                          "input.deploy"}
    assert paths["input.n"] == "required"
    assert paths["input.nope"].startswith("unknown variable; expected one of: who, n")
    assert "must be one of: low, high" in paths["input.level"]


@pytest.mark.parametrize("given", [None, {}])
def test_no_variables_no_input(given):
    assert validate_inputs({}, given) == {}


def test_input_for_a_template_without_variables():
    with pytest.raises(ValidationFailed) as exc:
        validate_inputs({}, {"x": 1})
    assert exc.value.details == [
        {"path": "input.x", "message": "unknown variable; this template takes no input"}
    ]


@pytest.mark.parametrize("given", [[1], "x", 3])
def test_input_must_be_an_object(given):
    with pytest.raises(ValidationFailed) as exc:
        validate_inputs(VARIABLES, given)
    assert exc.value.details == [{"path": "input", "message": "must be an object"}]


def test_an_optional_variable_without_a_default_is_null():
    out = validate_inputs({"x": var(type="integer", required=False)}, {})
    assert out == {"x": None}

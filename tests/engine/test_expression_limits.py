"""Expressions with bounded cost: every operation that builds a value is checked before it
allocates, and each rendered value is capped (max_expression_bytes)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfe.engine.expr_syntax import ExpressionTooLarge
from wfe.engine.expressions import (
    ExpressionError,
    check,
    evaluate,
    render,
    render_shell,
)
from wfe.engine.spec import parse_template
from wfe.errors import ValidationFailed

CTX = {"input": {"x": "hello", "n": 3, "list": ["a", "b"], "obj": {"a": 1}}, "steps": {}, "run": {}}
PEAK = 4 * 1024 * 1024  # a memory bound, not a time bound: nothing near a huge value is built

HOSTILE = [
    "'x'|center(200000000)",
    "'x'.center(200000000)",
    "'x'.ljust(10**9)",
    "'x'.rjust(10**9, '*')",
    "'x'.zfill(10**9)",
    "'x'|indent(10**9)",
    "('\\n' * 1000)|indent(10**6)",
    "'x' * 10**9",
    "10**9 * ['x']",
    "[1] * 10**8",
    "('x' * 1000000)|replace('x', 'yy')",
    "('x' * 1000000).replace('x', 'yyyy')",
    "(['x'] * 100000)|join('y' * 1000)",
    "('y' * 1000).join(['x'] * 100000)",
    "'%1000000000s' % 'x'",
    "'%.1000000000f' % 1.5",
    "'%s'|format('x')|center(10**9)",
    "'%1000000000d'|format(1)",
    "'{:>1000000000}'.format(1)",
    "'{0}{0}{0}{0}{0}{0}'.format('x' * 300000)",
    "'x' * 1000000 ~ 'x' * 1000000",
    "('x' * 600000) + ('y' * 600000)",
    "[1]|batch(10**9, 'x')|list",
    "[1]|slice(10**9)|list",
    "('x' * 900000)|list",
    "('x' * 900000)|sort",
    "(',' * 900000).split(',')",
    "('a\\n' * 500000).splitlines()",
    "('a ' * 400000)|wordwrap(1, wrapstring='x' * 100)",
    "{'a': 1}|tojson(10**9)",
    "(2**60000) * (2**60000)",
    "2 ** 100000",
    "[('x' * 900000), ('x' * 900000), ('x' * 900000), ('x' * 900000), ('x' * 900000)]",
    "(['x'] * 1000)|map('center', 100000)|join",
    "(['x'] * 1000)|map('center', 100000)|list",
    "('[],' * 300000)|fromjson",
    "('ab' * 500000)[::1] ~ ('ab' * 500000)[::-1]",
    "'%*d' % (10**9, 1)",
    "'x'.expandtabs(10**9)",
    "'x'.format_map({})",
    "[1, 2]|sum(start=[])",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_expressions_fail_naming_the_expression_without_allocating(source):
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError) as exc:
            evaluate(source, CTX)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"'${{{{ {source} }}}}'" in exc.value.message
    assert peak < PEAK, f"{source}: peak {peak} bytes"


@pytest.mark.parametrize("source", ["'x'|center(2000)", "'x' * 2000", "'x'.ljust(2000)",
                                    "(['ab'] * 1000)|join(',')", "'%2000s' % 'x'"])
def test_the_limit_is_a_parameter(source):
    assert len(str(evaluate(source, CTX))) >= 2000  # under the default limit
    with pytest.raises(ExpressionTooLarge, match=r"over the limit of 1000 \(max_expression_bytes"):
        evaluate(source, CTX, limit=1000)


def test_a_value_from_the_context_over_the_limit_fails():
    with pytest.raises(ExpressionTooLarge, match=r"input\.x"):
        evaluate("input.x", {"input": {"x": "y" * 2000}}, limit=1000)


def test_the_values_spliced_into_one_string_are_capped_together():
    ctx = {"input": {"a": "a" * 600, "b": "b" * 600}}
    assert len(render("${{ input.a }}", ctx, 1000)) == 600
    with pytest.raises(ExpressionTooLarge, match=r"input\.b"):
        render("${{ input.a }} and ${{ input.b }}", ctx, 1000)
    with pytest.raises(ExpressionTooLarge, match=r"input\.b"):
        render_shell("echo ${{ input.a }} ${{ input.b }}", ctx, 1000)


@pytest.mark.parametrize("source,expected", [
    ("input.list|map('upper')|list", ["A", "B"]),
    ("input.list|join(',')|upper", "A,B"),
    ("'a' ~ input.n ~ 'b'", "a3b"),
    ("'%05d' % 42", "00042"),
    ("'%s-%s'|format('a', 1)", "a-1"),
    ("'{}-{}'.format(1, 'a')", "1-a"),
    ("input.x.center(9, '*')", "**hello**"),
    ("input.x.split('l')", ["he", "", "o"]),
    ("input.obj.items()|list", [["a", 1]]),
    ("[1, 2, 3]|batch(2)|list", [[1, 2], [3]]),
    ("[1, 2, 3]|slice(2)|list", [[1, 2], [3]]),
    ("input.x[::-1]", "olleh"),
    ("input.x|replace('l', 'L')", "heLLo"),
    ("[3, 1, 2]|sum", 6),
    ("input.x|wordwrap(2)", "he\nll\no"),
    ("input.list|map('center', 3)|join", " a  b "),
    ("'{\"a\": [1]}'|fromjson", {"a": [1]}),
    ("input.obj|tojson(2)", '{\n  "a": 1\n}'),
    ("[1, 2, 3]|select('odd')|list", [1, 3]),
    ("input.list|length", 2),
])
def test_ordinary_expressions_still_work(source, expected):
    assert evaluate(source, CTX) == expected


@pytest.mark.parametrize("source", ["input.x.expandtabs(4)", "input.x.encode()",
                                    "input.x.format_map({})", "input.obj.pop('a')"])
def test_methods_outside_the_whitelist_are_refused(source):
    with pytest.raises(ExpressionError, match=r"unsafe|cannot be called"):
        evaluate(source, CTX)


@pytest.mark.parametrize("name", ["random", "pprint", "xmlattr", "urlize", "attr", "safe"])
def test_filters_outside_the_whitelist_do_not_exist(name):
    with pytest.raises(ExpressionError, match=f"No filter named '{name}'"):
        evaluate(f"input.x|{name}", CTX)


def test_a_constant_expression_over_the_limit_is_refused_when_the_template_is_checked():
    problems = check("${{ 'x'|center(200000000) }}", set(), set(), set())
    assert problems and "'${{ 'x'|center(200000000) }}' is too large" in problems[0]
    assert check("${{ 'x'|center(2000) }}", set(), set(), set(), limit=1000)
    assert check("${{ 'x'|center(2000) }}", set(), set(), set()) == []
    # Reading data: only a run knows how large it is.
    assert check("${{ input.x|center(10**9) }}", {"x"}, set(), set()) == []


def test_parse_template_refuses_a_constant_over_the_limit_with_its_path():
    data = {"name": "t", "steps": [{"name": "a", "run": "echo ${{ 'x' * 2000 }}"},
                                   {"name": "b", "set": {"v": "${{ 'y'|center(2000) }}"}},
                                   {"name": "c", "run": "true", "if": "${{ 'z' * 2000 }}"}]}
    parse_template(data)  # the default limit is 1 MiB
    with pytest.raises(ValidationFailed) as exc:
        parse_template(data, max_expression_bytes=1000)
    paths = [d["path"] for d in exc.value.details]
    assert paths == ["steps[0].run", "steps[1].set.v", "steps[2].if"]
    assert all("too large" in d["message"] for d in exc.value.details)


# -- random filter chains -----------------------------------------------------------------

LIMIT = 32 * 1024
SIZES = st.one_of(st.integers(-3, 40), st.sampled_from([10**3, 10**5, 10**7, 10**9, 10**18]))
TEXT = st.sampled_from(["'x'", "'ab'", "'a b\\nc'", "','", "''", "'{}'", "'%s'", "'[1]'"])
VALUE = st.one_of(
    TEXT, st.sampled_from(["input.x", "input.list", "input.obj", "[1, 2, 3]", "['a', 'b']",
                           "42", "1.5", "none", "[[1], [2]]"]),
    st.builds(lambda t, n: f"({t} * {n})", TEXT, SIZES),
)
FILTER = st.one_of(
    st.sampled_from(["upper", "lower", "title", "capitalize", "trim", "list", "sort", "unique",
                     "reverse", "first", "last", "length", "string", "tojson", "fromjson",
                     "items", "sum", "min", "max", "wordcount", "urlencode", "dictsort",
                     "int", "float", "abs", "round", "default('d')"]),
    st.builds("center({})".format, SIZES),
    st.builds("indent({})".format, SIZES),
    st.builds("wordwrap({})".format, SIZES),
    st.builds("truncate({})".format, SIZES),
    st.builds("batch({})".format, SIZES),
    st.builds("batch({}, 'x')".format, SIZES),
    st.builds("slice({})".format, SIZES),
    st.builds("join({} * 'y')".format, SIZES),
    st.builds("replace('x', {} * 'yz')".format, SIZES),
    st.builds("replace('', {} * 'q')".format, SIZES),
    st.builds("format({} * 'z')".format, SIZES),
    st.builds("tojson({})".format, SIZES),
    st.builds("map('center', {})".format, SIZES),
    st.builds("map('indent', {})".format, SIZES),
    st.builds(lambda a, b: f"map('replace', 'x', {a} * 'w')|batch({b}, 0)", SIZES, SIZES),
)
TAIL = st.one_of(
    st.builds(" * {}".format, SIZES), st.builds(" ~ ('v' * {})".format, SIZES),
    st.builds(" + ('v' * {})".format, SIZES), st.builds(".center({})".format, SIZES),
    st.builds(".ljust({})".format, SIZES), st.builds(".split('x')".format),
    st.builds(".replace('x', 'ww' * {})".format, SIZES),
    st.builds(".join(['a'] * {})".format, SIZES),
    st.builds("[::{}]".format, st.sampled_from([1, -1, 2])), st.just(""),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUE, st.lists(FILTER, min_size=1, max_size=5), TAIL)
def test_random_filter_chains_give_a_bounded_value_or_the_expression_error(value, chain, tail):
    source = f"({value}|{'|'.join(chain)}){tail}"
    tracemalloc.start()
    try:
        try:
            got = evaluate(source, CTX, limit=LIMIT)
        except ExpressionError as e:
            assert f"'${{{{ {source} }}}}'" in e.message
        else:
            assert len(str(got)) <= 8 * LIMIT
            try:
                text = render("${{ " + source + " }}!", CTX, LIMIT)
            except ExpressionError as e:  # the value's JSON text can be longer than its weight
                assert "is too large" in e.message
            else:
                assert len(text) <= LIMIT + 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * LIMIT, f"{source}: peak {peak} bytes"

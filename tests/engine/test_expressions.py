"""Expressions: checking names, rendering values, and quoting them for a real /bin/sh."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfe.engine.expressions import (
    ExpressionError,
    check,
    check_condition,
    check_shell,
    evaluate_condition,
    render,
    render_argv,
    render_shell,
    to_text,
)
from wfe.errors import ValidationFailed

CTX = {
    "input": {"who": "world", "n": 3, "ratio": 2.5, "flag": True, "off": False, "none": None,
              "obj": {"a": 1, "b": [1, 2]}, "list": ["x", "y"], "items": [3, 1, 2],
              "hyphen-ated": "h"},
    "steps": {
        "build": {"output": {"text": "built", "ok": "false", "n": "7"}, "status": "succeeded",
                  "callback_url": None},
        "hook": {"output": {}, "status": "pending", "callback_url": "http://127.0.0.1/cb/t"},
    },
    "run": {"id": "r-1", "template": "hello", "version": 2, "owner": "ada"},
}
VARS = {"who", "n", "ratio", "flag", "off", "none", "obj", "list", "items", "hyphen-ated"}


# --- render ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("plain text", "plain text"),
    ("", ""),
    ("${{ input.who }}", "world"),
    ("${{input.who}}", "world"),
    ("${{ input.n }}", 3),                       # one whole expression: the native value
    ("${{ input.ratio }}", 2.5),
    ("${{ input.flag }}", True),
    ("${{ input.none }}", None),
    ("${{ input.obj }}", {"a": 1, "b": [1, 2]}),
    ("${{ input.list }}", ["x", "y"]),
    ("${{ input.n + 1 }}", 4),
    ("${{ {'k': input.n} }}", {"k": 3}),         # braces inside the region
    ("${{ '}}' }}", "}}"),                       # and a closing pair inside a string
    ("${{ input['hyphen-ated'] }}", "h"),
    ("n=${{ input.n }}", "n=3"),                 # interpolated: text
    ("${{ input.n }}${{ input.n }}", "33"),
    (" ${{ input.n }}", " 3"),
    ("${{ input.flag }}/${{ input.off }}", "true/false"),
    ("[${{ input.none }}]", "[]"),
    ("obj=${{ input.obj }}", 'obj={"a": 1, "b": [1, 2]}'),
    ("l=${{ input.list }}", 'l=["x", "y"]'),
    ("r=${{ input.ratio }}", "r=2.5"),
    ("${{ steps.build.output.text | upper }}", "BUILT"),
    ("${{ steps.build.status }}", "succeeded"),
    ("${{ run.id }}-${{ run.version }}", "r-1-2"),
    ("${{ input.items | sort }}", [1, 2, 3]),
    ("${{ input.list | map('upper') }}", ["X", "Y"]),   # a generator becomes a list
    ("${{ input.obj | tojson }}", '{"a": 1, "b": [1, 2]}'),
    ("${{ '{\"z\": 1}' | fromjson }}", {"z": 1}),
    ("${{ input.missing | default('d') }}", "d"),
    ("${{ input.missing is defined }}", False),
    ("{{ input.who }} {% if x %}", "{{ input.who }} {% if x %}"),   # only ${{ }} is special
    ("$ {{ input.who }}", "$ {{ input.who }}"),
])
def test_render_string(text, expected):
    result = render(text, CTX)
    assert result == expected
    assert type(result) is type(expected)


def test_render_walks_dicts_and_lists_but_not_keys():
    value = {"a": ["${{ input.n }}", {"b": "x${{ input.who }}"}], "${{ k }}": 5, "n": None}
    assert render(value, CTX) == {"a": [3, {"b": "xworld"}], "${{ k }}": 5, "n": None}


def test_values_are_never_rendered_twice():
    ctx = {"input": {"x": "${{ input.y }}", "y": "secret"}}
    assert render("${{ input.x }}", ctx) == "${{ input.y }}"
    assert render("a ${{ input.x }}", ctx) == "a ${{ input.y }}"


@pytest.mark.parametrize("value,text", [
    (None, ""), (True, "true"), (False, "false"), (3, "3"), (2.5, "2.5"), ("s", "s"),
    ({"a": "é"}, '{"a": "é"}'), ([1], "[1]"),
])
def test_to_text(value, text):
    assert to_text(value) == text


@pytest.mark.parametrize("text,message", [
    ("${{ steps.build.output.x }}", "'steps.build.output.x' is undefined"),
    ("${{ steps.build.output.x | upper }}",
     "'steps.build.output.x' is undefined in '${{ steps.build.output.x | upper }}'"),
    ("a ${{ input.nope }} b", "'input.nope' is undefined"),
    ("${{ steps.gone.status }}", "'steps.gone' is undefined"),
    ("${{ input.list[5] }}", "'input.list[5]' is undefined"),
    ("${{ 1 / 0 }}", "'${{ 1 / 0 }}' failed: division by zero"),
    ("${{ input.who.__class__ }}", "unsafe"),
    ("${{ input.who.upper.__globals__ }}", "no attribute '__globals__'"),
    ("${{ 'x' * 100000000 }}", "'${{ 'x' * 100000000 }}' is too large"),
    ("${{ 2 ** 100000 }}", "is too large: it would build a number of about"),
    ("${{ input.list.append(1) }}", "unsafe"),
    ("${{ x + }}", "invalid expression '${{ x + }}'"),
    ("${{ input.who", "unterminated expression"),
    ("${{ }}", "the expression is empty"),
])
def test_render_errors_name_the_expression(text, message):
    with pytest.raises(ExpressionError) as exc:
        render(text, CTX)
    assert message in exc.value.message
    assert isinstance(exc.value, ValidationFailed)
    assert exc.value.details == [{"path": "expression", "message": exc.value.message}]


def test_a_failed_render_does_not_mutate_the_context():
    before = repr(CTX)
    with pytest.raises(ExpressionError):
        render("${{ input.obj.update({'a': 2}) }}", CTX)
    assert repr(CTX) == before


def test_render_argv_gives_one_string_per_element():
    argv = ["echo", "${{ input.n }}", "${{ input.obj }}", "-- ${{ input.who }}", 7]
    assert render_argv(argv, CTX) == ["echo", "3", '{"a": 1, "b": [1, 2]}', "-- world", "7"]


# --- conditions ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("${{ input.flag }}", True),
    ("${{ input.off }}", False),
    ("input.n > 2", True),                # bare expressions are allowed in if:
    ("  ${{ input.n > 5 }}  ", False),
    ("${{ input.who != 'nobody' }}", True),
    ("${{ steps.build.output.ok }}", False),    # the text "false" is false
    ("${{ steps.build.output.text }}", True),
    ("${{ steps.build.output.n == '7' }}", True),
    ("${{ input.none }}", False),
    ("${{ input.list }}", True),
    ("${{ '' }}", False),
    ("${{ 'No' }}", False),
    ("${{ '0' }}", False),
    ("${{ 0 }}", False),
    (True, True),
    (False, False),
])
def test_conditions(text, expected):
    assert evaluate_condition(text, CTX) is expected


def test_a_condition_is_one_expression():
    with pytest.raises(ExpressionError, match="single expression"):
        evaluate_condition("${{ input.flag }} and ${{ input.off }}", CTX)


def test_a_condition_on_something_undefined_fails_loudly():
    with pytest.raises(ExpressionError, match=r"'steps\.build\.output\.nope' is undefined"):
        evaluate_condition("${{ steps.build.output.nope }}", CTX)


# --- check -----------------------------------------------------------------------------------

def run_check(text: str, before=("build",), callbacks=("hook",)) -> list[str]:
    return check(text, VARS, set(before), set(callbacks))


@pytest.mark.parametrize("text", [
    "no expressions at all",
    "${{ input.who }} ${{ input['hyphen-ated'] }} ${{ input }}",
    "${{ steps.build.output.anything.deep }} ${{ steps.build.status }}",
    "${{ steps['build'].output }}",
    "${{ steps.hook.callback_url }}",            # a later callback step's URL is fine
    "${{ run.id }} ${{ run.template }} ${{ run.version }} ${{ run.owner }} ${{ run }}",
    "${{ input.list | join(',') | upper }}",
    "${{ input.obj[input.who] }}",
    "${{ input.n if input.flag else 0 }}",
    "${{ [1, 2] | length }} ${{ true }} ${{ none }} ${{ True }}",
    "{{ not_checked }} {% also not %}",
])
def test_check_accepts(text):
    assert run_check(text) == []


@pytest.mark.parametrize("text,message", [
    ("${{ input.nope }}", "'input.nope' is not a declared variable (declared: flag, hyphen-ated"),
    ("${{ steps.later.output.x }}", "'steps.later' does not name an earlier step"),
    ("${{ steps.hook.output.x }}",
     "'steps.hook' is not an earlier step; only its callback_url can be used here"),
    ("${{ steps.build.callback_url }}",
     "step 'build' is not a callback step, so it has no callback_url"),
    ("${{ steps.build.outputs }}",
     "'steps.build.outputs' is unknown; expected output, status or callback_url"),
    ("${{ steps }}", "'steps' must be followed by a step name"),
    ("${{ steps[input.who].output }}", "'steps' must be followed by a step name"),
    ("${{ run.nope }}", "'run.nope' is unknown; expected one of: run.id, run.template"),
    ("${{ foo }}", "unknown name 'foo'; expressions can use input, steps and run"),
    ("${{ range(3) }}", "unknown name 'range'"),
    ("${{ input.who.__class__ }}", "'__class__' is private"),
    ("${{ input.who | nosuchfilter }}", "No filter named 'nosuchfilter'"),
    ("${{ input.who is nosuchtest }}", "No test named 'nosuchtest'"),
    ("${{ input.who input.n }}", "unexpected"),
    ("${{ input.who", "unterminated expression"),
    ("${{ }}", "the expression is empty"),
    ("${{ 'a' ~ input.nope }}",
     "'input.nope' is not a declared variable (declared: flag, hyphen-ated, items, list, n, "
     "none, obj, off, ratio, who) in '${{ 'a' ~ input.nope }}'"),
])
def test_check_refuses(text, message):
    errors = run_check(text)
    assert len(errors) == 1, errors
    assert message in errors[0]


def test_check_lists_every_problem():
    errors = run_check("${{ input.a }} ${{ input.b }} ${{ foo.x }} ${{ input.a }}")
    assert len(errors) == 3


def test_check_the_step_itself_is_not_earlier():
    assert run_check("${{ steps.build.status }}", before=()) != []


@pytest.mark.parametrize("text,ok", [
    ("${{ input.flag }}", True),
    ("input.flag and steps.build.status == 'succeeded'", True),
    (True, True),
    ("input.nope", False),
    ("${{ input.flag }} ${{ input.off }}", False),
])
def test_check_condition(text, ok):
    assert (check_condition(text, VARS, {"build"}, set()) == []) is ok


# --- the shell -------------------------------------------------------------------------------

def sh(command: str, cwd: Path | None = None) -> bytes:
    # One argument may not exceed 128 KiB on Linux; a longer script goes in on stdin instead.
    if len(command.encode()) < 100_000:
        argv, stdin = ["/bin/sh", "-c", command], None
    else:
        argv, stdin = ["/bin/sh", "-s"], command.encode()
    done = subprocess.run(argv, input=stdin, capture_output=True, cwd=cwd, timeout=20)
    assert done.returncode == 0, (command[:500], done.stderr[:500])
    return done.stdout


def ctx_with(value: str) -> dict:
    return {"input": {"x": value}, "steps": {}, "run": {}}


# Each command prints the value (and fixed text) with printf, with the expression placed in a
# different quoting context; the function gives what it must print.
SHELL_CASES = [
    ("printf '%s' ${{ input.x }}", lambda v: v),
    ("printf '%s' \"${{ input.x }}\"", lambda v: v),
    ("printf '%s' '${{ input.x }}'", lambda v: v),
    ("printf '%s' \"hello ${{ input.x }}!\"", lambda v: f"hello {v}!"),
    ("printf '%s' a\"b${{ input.x }}c\"'d'${{ input.x }}e", lambda v: f"ab{v}cd{v}e"),
    ("printf '%s' \"$(printf '%s' \"${{ input.x }}\")\"", lambda v: v.rstrip("\n")),
    ("printf '%s' \"$(printf '%s' ${{ input.x }})\"", lambda v: v.rstrip("\n")),
    ("printf '%s' \"$(printf '%s' '${{ input.x }}')\"", lambda v: v.rstrip("\n")),
    ("x=${{ input.x }}; printf '%s' \"$x\"", lambda v: v),
    ("printf '%s' ok # ${{ input.x }}", lambda v: "ok"),
    ("printf '%s' \\\"${{ input.x }}", lambda v: f'"{v}'),
    ("printf '%s' \"\\$${{ input.x }}\"", lambda v: f"${v}"),
    ("printf '%s' \"${HOME+set}${{ input.x }}\"", lambda v: f"set{v}"),
    ("printf '%s' $((1 + 2))${{ input.x }}", lambda v: f"3{v}"),
    ("cat <<'EOF'\n$HOME # it's \"literal\n EOF\nEOF\nprintf '%s' ${{ input.x }}",
     lambda v: f"$HOME # it's \"literal\n EOF\n{v}"),
    ("cat <<-X; printf '%s' \"${{ input.x }}\"\n\t'(\n\tX\n", lambda v: f"'(\n{v}"),
    ("cat <<EOF\n$((1+1))\nEOF\nprintf '%s' \"${{ input.x }}\"", lambda v: f"2\n{v}"),
    ("case a in (a) printf '%s' \"${{ input.x }}\";; esac", lambda v: v),
]


@pytest.mark.parametrize("command,expected", SHELL_CASES)
@pytest.mark.parametrize("value", ["plain", "", "it's \"quoted\" $HOME `id` \\ \n end", "-n"])
def test_render_shell_contexts(command, expected, value):
    assert sh(render_shell(command, ctx_with(value))) == expected(value).encode()


# Any text but NUL (which no shell argument can hold), weighted towards shell syntax.
SHELL_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("'\"$`\\\n\t ;&|(){}[]#*?~!<>=-%")),
        st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    ),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(value=SHELL_TEXT)
def test_render_shell_passes_any_text_byte_for_byte(value):
    for command, expected in SHELL_CASES:
        assert sh(render_shell(command, ctx_with(value))) == expected(value).encode(), command


HOSTILE = [
    "$(touch {canary})",
    "`touch {canary}`",
    "; touch {canary}",
    "&& touch {canary}",
    "| touch {canary}",
    "'; touch {canary}; '",
    "\"; touch {canary}; \"",
    "'\"; touch {canary}; #",
    "\\'; touch {canary}; '",
    "\\\"; touch {canary}; \\\"",
    "x\ntouch {canary}\n",
    "x\rtouch {canary}",
    "$( touch {canary} )\\",
    "${{IFS}}touch${{IFS}}{canary}",
    "--rm",
    "-rf /",
    "${{ input.x }}",
    "${{ run.id }}$(touch {canary})",
    "*",
    "~root",
    "{a,b}",
    "$HOME $0 $$ $? $!",
    "\\",
    "'",
    "\"",
    "x" * 100_000 + "$(touch {canary})",
    "é日本\u200b\x01\x7f",
]


@pytest.mark.parametrize("command,expected", SHELL_CASES)
def test_hostile_values_run_nothing(tmp_path, command, expected):
    canary = tmp_path / "PWNED"
    for template in HOSTILE:
        value = template.replace("{canary}", str(canary))
        assert sh(render_shell(command, ctx_with(value)), cwd=tmp_path) == expected(value).encode()
        assert not canary.exists(), (command, value[:80])


def test_hostile_values_in_a_comment_run_nothing(tmp_path):
    canary = tmp_path / "PWNED"
    value = f"x\ntouch {canary}\n"
    out = sh(render_shell("echo ok # note: ${{ input.x }}\necho done", ctx_with(value)))
    assert out == b"ok\ndone\n"
    assert not canary.exists()


def test_a_nul_cannot_be_passed_to_a_shell():
    with pytest.raises(ExpressionError, match="NUL"):
        render_shell("echo ${{ input.x }}", ctx_with("a\x00b"))


def test_non_string_values_are_quoted_as_their_text():
    ctx = {"input": {"n": 3, "obj": {"a": "b c"}, "flag": False, "none": None}}
    out = sh(render_shell("printf '%s|' ${{ input.n }} ${{ input.obj }} ${{ input.flag }} "
                          "${{ input.none }}", ctx))
    assert out == b'3|{"a": "b c"}|false||'


@pytest.mark.parametrize("command,fragment", [
    ("echo `echo ${{ input.x }}`", "inside `...`"),
    ("echo \"`echo ${{ input.x }}`\"", "inside `...`"),
    ("cat <<EOF\n${{ input.x }}\nEOF", "inside a heredoc"),
    ("cat <<-'END' && echo hi\n\tline ${{ input.x }}\n\tEND", "inside a heredoc"),
    ("cat <<${{ input.x }}\nx", "heredoc delimiter"),
    ("echo $${{ input.x }}", "'$' right before"),
    ("echo \"$${{ input.x }}\"", "'$' right before"),
    ("echo \\${{ input.x }}", "backslash right before"),
    ("echo \"\\${{ input.x }}\"", "backslash right before"),
    ("echo $(( ${{ input.x }} + 1 ))", "inside $((...))"),
    ("echo ${X:-${{ input.x }}}", "inside ${...}"),
    ("echo \"${X:-${{ input.x }}}\"", "inside ${...}"),
    ("echo $'a ${{ input.x }}'", "inside $'...'"),
    ("echo \"$(case a in a) echo;; esac)\" ${{ input.x }}", "case statement inside $(...)"),
    ("echo ${X:-\"}\"} ${{ input.x }}", "inside ${...}"),
    ("echo $'\\'' ${{ input.x }}", "sh and bash read it differently"),
])
def test_check_shell_refuses_places_quoting_cannot_make_safe(command, fragment):
    errors = check_shell(command)
    assert len(errors) == 1 and fragment in errors[0], errors
    with pytest.raises(ExpressionError, match=r"'\$\{\{ input\.x \}\}'"):
        render_shell(command, ctx_with("v"))


@pytest.mark.parametrize("command", [
    "echo ${{ input.x }} \"${{ input.x }}\" '${{ input.x }}'",
    "echo \"loud=$(echo \"${{ input.x }}\" | tr a-z A-Z)\" >> \"$WFE_OUTPUT\"",
    "cat <<EOF\nbody\nEOF\necho ${{ input.x }}",
    "cat <<'A' <<B\n1\nA\n2\nB\necho ${{ input.x }}",
    "echo $((1+2)) ${HOME} $(echo \"(\" ')') ${{ input.x }}",
    "case x in x) echo ${{ input.x }};; esac",
    "echo a#b ${{ input.x }}#c",
    "echo <<<${{ input.x }}",
    "# a comment ${{ input.x }}\necho ${{ input.x }}",
    "echo \\\\${{ input.x }}",
])
def test_check_shell_accepts(command):
    assert check_shell(command) == []


def test_a_value_next_to_a_hash_is_not_a_comment():
    # `'v'#x` is one word for sh; a later value must still be quoted as outside-of-quotes.
    out = sh(render_shell("printf '%s' ${{ input.x }}#${{ input.x }}", ctx_with("a;b")))
    assert out == b"a;b#a;b"

"""Expressions a second interpreter reads again (sh -c, ssh, eval...): found, to warn."""

from __future__ import annotations

import pytest

from wfe.engine.shellnest import nested
from wfe.engine.spec import parse_template, template_warnings

X = "${{ input.x }}"

WARN = [
    (f'sh -c "echo {X}"', "sh"),
    (f"bash -c 'echo {X}'", "bash"),
    (f"bash -ec 'echo {X}'", "bash"),
    (f"/bin/sh -c 'echo {X}'", "sh"),
    (f'ssh host "rm {X}"', "ssh"),
    (f"ssh -p 22 -i key host rm {X}", "ssh"),
    (f"echo {X} | ssh host", "ssh"),
    (f'eval "echo {X}"', "eval"),
    (f"FOO=1 eval {X}", "eval"),
    (f"su -c 'id {X}' bob", "su"),
    (f"su bob --command='id {X}'", "su"),
    (f"find . | xargs sh -c 'grep {X} \"$@\"' sh", "sh"),
    (f"find . -exec sh -c 'rm {X}' \\;", "sh"),
    (f"docker exec ctr sh -c 'ls {X}'", "sh"),
    (f"kubectl exec pod -- bash -c 'ls {X}'", "bash"),
    (f"sudo -u bob bash -c 'echo {X}'", "bash"),
    (f"timeout 5 sh -c 'sleep {X}'", "sh"),
    (f"python3 -c 'print({X})'", "python3"),
    (f"perl -ne 'print if /{X}/' file", "perl"),
    (f"node -e 'console.log({X})'", "node"),
    (f"awk '{{print \"{X}\"}}' file", "awk"),
    (f"echo {X} | sh", "sh"),
    (f"echo {X} 2>&1 | bash -s", "bash"),
    (f"echo $(sh -c 'echo {X}') done", "sh"),
    (f'echo "$(bash -c "echo {X}")"', "bash"),
    (f"watch ls {X}", "watch"),
    (f"true && sh -c 'echo {X}'", "sh"),
]

NO_WARN = [
    f"echo {X}",
    f"echo {X} | grep a",
    f"sh -c 'echo \"$1\"' sh {X}",  # the value is an argument of the script, not its text
    f"ssh {X} uptime",
    f"python3 script.py -c {X}",
    f"awk -v x={X} '{{print x}}' file",
    f"echo {X}; sh -c 'echo hi'",
    f"echo {X} > out.txt && sh < out.txt",
    f"# sh -c {X}\necho hi",
    "echo sh -c 'echo ok'",
    f"grep -e {X} file",
]


@pytest.mark.parametrize("command,program", WARN)
def test_an_expression_inside_a_nested_interpreter_is_found(command, program):
    assert nested(command) == [("input.x", program)]


@pytest.mark.parametrize("command", NO_WARN)
def test_an_expression_the_shell_reads_once_is_not(command):
    assert nested(command) == []


@pytest.mark.parametrize("argv,found", [
    (["echo", X], []),
    (["sh", "-c", f"echo {X}"], [("input.x", "sh")]),
    (["sh", "-c", 'echo "$1"', "sh", X], []),
    (["ssh", "host", f"rm {X}"], [("input.x", "ssh")]),
])
def test_argv_lists(argv, found):
    assert nested(argv) == found


def test_template_warnings_name_the_step_and_the_expression():
    spec = parse_template({"name": "t", "variables": {"x": {"type": "string"}}, "steps": [
        {"name": "plain", "run": f"echo {X}"},
        {"name": "nest", "run": f"bash -c 'echo {X} ${{{{ steps.plain.output.y }}}}'"},
        {"name": "argv", "run": ["echo", X]},
    ]})
    first, second = template_warnings(spec)
    assert first["path"] == "steps[1].run" and first["step"] == "nest"
    assert first["expression"] == X
    assert '"$WFE_INPUT_X"' in first["message"] and "argv list" in first["message"]
    assert second["expression"] == "${{ steps.plain.output.y }}"
    assert "env:" in second["message"]

"""No input ever becomes code: hostile values from inputs, step outputs, callback payloads
and approval comments reach `run` steps (shell strings in every quoting context, env, and
argv lists) byte for byte, and nothing they spell out is ever executed."""

from __future__ import annotations

import shlex
import sys

from tests.conftest import async_wait_until
from tests.support import api_client

V = "/api/v1"
WRITE_ARGS = ("import sys; open(sys.argv[1], 'wb').write(b''.join("
              "a.encode('utf-8', 'surrogateescape') + b'\\0' for a in sys.argv[2:]))")
EMIT = ("import json, os; json.dump({'o%d' % i: os.environ['WFE_INPUT_V%d' % i]"
        " for i in range(int(os.environ['N']))}, open(os.environ['WFE_OUTPUT'], 'w'))")


def corpus(canary: str) -> list[str]:
    c = canary
    return [
        f"$(touch {c}/dollar)", f"`touch {c}/backtick`", f"; touch {c}/semicolon",
        f"&& touch {c}/and", f"|| touch {c}/or", f"| touch {c}/pipe", f"& touch {c}/bg",
        f"' ; touch {c}/squote ; '", f'" ; touch {c}/dquote ; "', f'"$(touch {c}/dq_sub)"',
        f"'$(touch {c}/sq_sub)'", f"line\ntouch {c}/newline", f"\r\ntouch {c}/crlf",
        f"<(touch {c}/procsub)", f">{c}/redirect", f"2>{c}/stderr", "$(</etc/passwd)",
        "--help", "-rf /", f"--output={c}/option", "-", "--", "-e", "-n",
        "${{ input.v0 }}", "${{ run.id }}", "$${{ input.v1 }}", "{{ 7 * 7 }}", "{% raw %}",
        "$HOME", "${PATH}", "$((6 * 7))", "$'\\x41'", "*", "~", "~root", "!!", "{a,b}",
        "\\", "\\'", "'", '"', "''", '""', "#not a comment", "a b  c\t d", "", " ",
        "ü ✓ 😀 \u202e", "\x1b[31mred", "%s%n%x", "x" * 30_000,
    ]


def record(name: str, out, exprs: list[str]) -> dict:
    return {"name": name, "run": "printf '%s\\0' " + " ".join(exprs)
            + f" > {shlex.quote(str(out / name))}"}


def template(n: int, out) -> dict:
    ref = [f"${{{{ input.v{i} }}}}" for i in range(n)]
    outs = [f"${{{{ steps.emit.output.o{i} }}}}" for i in range(n)]
    cbs = [f"\"${{{{ steps.cb.output.c{i} }}}}\"" for i in range(n)]
    comment = "${{ steps.gate.output.comment }}"
    return {"name": "hostile", "variables": {f"v{i}": {"type": "string"} for i in range(n)},
            "steps": [
                record("unquoted", out, ref),
                record("single", out, [f"'{r}'" for r in ref]),
                record("double", out, [f'"{r}"' for r in ref]),
                record("mixed", out, [f"x{r}'y{r}'\"z{r}\"" for r in ref[:3]]),
                {**record("env", out, [f'"$H{i}"' for i in range(n)]),
                 "env": {f"H{i}": r for i, r in enumerate(ref)}},
                {"name": "argv", "run": [sys.executable, "-c", WRITE_ARGS, str(out / "argv"),
                                         *ref]},
                {"name": "literal", "set": {f"s{i}": r for i, r in enumerate(ref)}},
                {"name": "emit", "run": [sys.executable, "-c", EMIT], "env": {"N": str(n)}},
                record("outputs", out, outs),
                {"name": "cb", "callback": {"timeout": "5m"}},
                record("callback", out, cbs),
                {"name": "gate", "approval": {"message": "ok?", "timeout": "5m"}},
                record("comment", out, [comment, f"'{comment}'", f'"{comment}"']),
            ]}


def received(path) -> list[bytes]:
    return path.read_bytes().split(b"\0")[:-1]


async def _at_callback(api, run_id: str) -> dict | None:
    """The run once its callback step waits, or once it has failed before getting there."""
    run = await api.run(run_id)
    cb = next(s for s in run["steps"] if s["name"] == "cb")
    return run if cb["status"] == "waiting" or run["status"] == "failed" else None


async def test_hostile_values_arrive_byte_for_byte_and_never_run(settings, tmp_path):
    canary, out = tmp_path / "canary", tmp_path / "out"
    canary.mkdir()
    out.mkdir()
    values = corpus(str(canary))
    n = len(values)
    comment = "\n".join(values[:20])
    async with api_client(settings) as api:
        await api.template(template(n, out))
        run = await api.start("hostile", **{f"v{i}": v for i, v in enumerate(values)})
        at = await async_wait_until(lambda: _at_callback(api, run["id"]), timeout=30,
                                    message="the callback step")
        assert at["status"] == "running", [(s["name"], s["error"]) for s in at["steps"]]
        payload = {f"c{i}": v for i, v in enumerate(values)}
        await api.post(f"{V}/workflows/{run['id']}/steps/cb/callback", json=payload, expect=202)
        waiting = await api.wait_status(run["id"], "waiting_approval", "failed", timeout=30)
        assert waiting["status"] == "waiting_approval", waiting
        gate = waiting["approvals"][0]["id"]
        await api.post(f"{V}/workflows/{run['id']}/approvals/{gate}/approve",
                       json={"comment": comment}, expect=200)
        done = await api.wait_status(run["id"], "completed", "failed", timeout=30)
    assert done["status"] == "completed", [(s["name"], s["error"]) for s in done["steps"]]
    want = [v.encode() for v in values]
    for name in ("unquoted", "single", "double", "env", "argv", "outputs", "callback"):
        assert received(out / name) == want, name
    assert received(out / "mixed") == [f"x{v}y{v}z{v}".encode() for v in values[:3]]
    assert received(out / "comment") == [comment.encode()] * 3
    literal = next(s for s in done["steps"] if s["name"] == "literal")["output"]
    assert literal == {f"s{i}": v for i, v in enumerate(values)}
    assert list(canary.iterdir()) == [], "a hostile value was executed"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["unquoted", "single", "double", "mixed", "env", "argv", "outputs", "callback",
         "comment"])


async def test_a_nul_byte_fails_the_step_and_runs_nothing(settings, tmp_path):
    canary = tmp_path / "canary"
    canary.mkdir()
    # In an input it is refused at start; in a template's own command, the step fails.
    spec = {"name": "nul", "variables": {"v": {"type": "string"}}, "steps": [
        {"name": "shell", "run": f"touch {canary}/ran ${{{{ input.v }}}}"}]}
    spec_argv = {"name": "nul2", "steps": [
        {"name": "argv", "run": ["touch", f"{canary}/ran2", f"a\x00; touch {canary}/nul"]}]}
    async with api_client(settings) as api:
        await api.template(spec)
        status, body = await api.post("/api/v1/workflows", json={
            "template": "nul", "input": {"v": f"a\x00; touch {canary}/nul"}})
        assert status == 422 and body["error"]["details"][0]["path"] == "input.v", body
        await api.template(spec_argv)
        run = await api.start("nul2")
        done = await api.wait_status(run["id"], "completed", "failed")
        assert done["status"] == "failed"
        assert "argument 2 contains a NUL byte" in done["steps"][0]["error"]
    assert list(canary.iterdir()) == []


async def test_outputs_that_are_not_unicode_or_too_deep_fail_the_step_cleanly(settings, tmp_path):
    """A step's $WFE_OUTPUT is bounded like a request body: it is stored and handed on too."""
    writes = {
        "surrogate": '{"v": "a\\ud800b"}',
        "deep": '{"v": ' + "[" * 10_000 + "]" * 10_000 + "}",
        "deep_objects": '{"v": ' + '{"a": ' * 65 + "1" + "}" * 65 + "}",
    }
    async with api_client(settings) as api:
        for name, text in writes.items():
            source = tmp_path / f"{name}.json"
            source.write_text(text)
            await api.template({"name": f"out-{name.replace('_', '-')}", "steps": [
                {"name": "emit", "run": f"cat {shlex.quote(str(source))} > \"$WFE_OUTPUT\""},
                {"name": "after", "set": {}}]})
            run = await api.start(f"out-{name.replace('_', '-')}")
            done = await api.wait_status(run["id"], "completed", "failed")
            assert done["status"] == "failed", (name, done)
            step = done["steps"][0]
            assert step["status"] == "failed"
            assert "could not read the step's output" in step["error"], step["error"]
            assert ("not valid Unicode (v)" if name == "surrogate" else "nested more than 64") \
                in step["error"]

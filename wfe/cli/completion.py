"""Shell completion: ``wfe completion bash|zsh|fish`` prints the script, and the dynamic
completers of run ids, step names and template names ask the daemon.

typer's ``--show-completion`` only knows the shell it runs in; the scripts of all three are
made here, in one place, from typer's completion module (also what ``completions/`` holds,
checked by tests/cli/test_completion.py). Cheap to import: the typer completion machinery
is loaded only when a script is printed or a shell asks for completions.
"""

from __future__ import annotations

import os

import typer

from wfe import errors

SHELLS = ("bash", "zsh", "fish")
PROG = "wfe"
COMPLETE_VAR = "_WFE_COMPLETE"
FILES = {"bash": "wfe.bash", "zsh": "_wfe", "fish": "wfe.fish"}
HOW = {
    "bash": 'eval "$(wfe completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(wfe completion zsh)"    # in ~/.zshrc, after compinit',
    "fish": "wfe completion fish > ~/.config/fish/completions/wfe.fish",
}


def script(shell: str) -> str:
    if shell not in SHELLS:
        raise errors.UsageError(f"unknown shell {shell!r}: one of {', '.join(SHELLS)}")
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def enable_if_asked() -> None:
    """When a shell asks for completions, register typer's per-shell answer formats (the
    ones the scripts above expect); click's own would not match them."""
    if os.environ.get(COMPLETE_VAR):
        from typer._completion_classes import completion_init

        completion_init()


def completion(shell: str = typer.Argument(..., metavar="SHELL", help="bash, zsh or fish.")):
    """Print the completion script for a shell. Install it with, for example:

    bash: eval "$(wfe completion bash)" in ~/.bashrc;
    zsh: eval "$(wfe completion zsh)" in ~/.zshrc;
    fish: wfe completion fish > ~/.config/fish/completions/wfe.fish
    """
    from wfe.cli import render

    render.text(script(shell))


# -- dynamic completers: never start the daemon, never fail, answer fast --------------------


def _quiet_client():
    from wfe.client import Client

    return Client.from_env(timeout=2)


def complete_run(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    try:
        items = _quiet_client().list_runs(limit=100)["items"]
    except errors.WfeError:
        return []
    out = [("@last", "your newest run")] if "@last".startswith(incomplete) else []
    for r in items:
        ref = r.get("template") or {}
        out.append((r["id"], f"{ref.get('name')}@{ref.get('version')} {r['status']}"))
    return out


def complete_step(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    run_ref = ctx.params.get("run_ref")
    if not run_ref:
        return []
    try:
        from wfe.cli import resolve_run

        c = _quiet_client()
        steps = c.get_run(resolve_run(c, run_ref))["steps"]
    except errors.WfeError:
        return []
    return [(s["name"], f"{s['kind']} {s['status']}") for s in steps]


def complete_template(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    try:
        items = _quiet_client().list_templates(status="published", limit=500)["items"]
    except errors.WfeError:
        return []
    latest: dict[str, dict] = {}
    for t in items:
        latest.setdefault(t["name"], t)
    return [(name, t.get("description") or f"version {t['version']}")
            for name, t in sorted(latest.items())]

"""The root command's class: where every ``wfe`` invocation starts and ends.

It turns a WfeError into one ``error: ...`` line and its exit code (``--debug`` re-raises),
a usage error into one line when no person reads stderr, a reader that left into a quiet
141, and accepts the global flags after the subcommand too (``wfe ls --debug``). It lives
in the group (not only in ``main()``) so that CliRunner-driven tests see what a user sees.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from wfe import errors
from wfe.cli import pipe, render

# Flags of the root that people also type after the subcommand, as with gh and kubectl.
GLOBAL_FLAGS = ("--debug", "--no-color")


def is_debug(ctx: typer.Context | None = None) -> bool:
    root = ctx.find_root() if ctx is not None else None
    asked = bool(root.params.get("debug")) if root is not None else "--debug" in sys.argv
    return asked or os.environ.get("WFE_DEBUG", "") not in ("", "0")


def hoist_global_flags(args: list[str]) -> list[str]:
    """``wfe ls --debug`` as ``wfe --debug ls``: the root's flags move to the front, up to a
    ``--`` (after which everything is an argument)."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in GLOBAL_FLAGS]
    return [*dict.fromkeys(flags), *rest, *args[end:]]


def _wants_json(args: list[str]) -> bool:
    """A script asked for JSON (--json, -o json): it gets every problem of a 422 listed."""
    pairs = zip(args, [*args[1:], ""], strict=True)
    return "--json" in args or any(
        (a in ("-o", "--output") and b in ("json", "jsonl")) or a in ("--output=json", "-ojson")
        for a, b in pairs)


class ErrorBoundary(TyperGroup):
    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        argv = hoist_global_flags(list(sys.argv[1:] if args is None else args))
        self._argv = argv
        if not render.is_terminal(sys.stdout):
            _plain_help(self)  # help read in a pager or grepped: no boxes, no padding
        try:
            code = self._main(argv, prog_name, complete_var, windows_expand_args, **extra)
            sys.stdout.flush()  # `wfe --version | true` fails here, not at interpreter exit
        except (BrokenPipeError, pipe.ReaderLeft):  # in help text, before any command ran
            pipe.quiet_exit()
            code = pipe.EXIT_BROKEN_PIPE
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code

    def _main(self, argv: list[str], prog_name: str | None, complete_var: str | None,
              windows_expand_args: bool, **extra: Any) -> Any:
        try:
            return super().main(argv, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        except typer.TyperException as e:  # click's usage errors
            return _usage_error(e)
        except typer.Abort:
            render.note("aborted")
            return errors.EXIT_FAILED

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # `wfe --help | head -1`: typer would end a broken pipe here with exit 1.
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            raise pipe.ReaderLeft from None

    def invoke(self, ctx):
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # a reader that left shows here, not at interpreter exit
        except (BrokenPipeError, pipe.ReaderLeft):
            # `wfe ls | head -1`: the reader has what it wanted. Like git or ls, which die
            # of SIGPIPE there, say nothing and end with the status a shell reports for that
            # (128 + SIGPIPE), so `set -o pipefail` scripts see the same as for any tool.
            pipe.quiet_exit()
            raise typer.Exit(pipe.EXIT_BROKEN_PIPE) from None
        except errors.WfeError as e:
            if is_debug(ctx):
                render.error(e, full=True)
                raise
            render.error(e, full=_wants_json(getattr(self, "_argv", sys.argv)))
            raise typer.Exit(e.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except Exception as e:
            # A bug, not a user error: keep it short unless asked, but say how to see more.
            if is_debug(ctx):
                raise
            hint = f"unexpected {type(e).__name__}: {e} (rerun with --debug)"
            render.error(errors.InternalError(hint))
            raise typer.Exit(errors.EXIT_FAILED) from None


def _usage_error(e: typer.TyperException) -> int:
    """A person at a terminal gets typer's box (usage, hint, message); a script's log gets
    one line, like every other error."""
    code = getattr(e, "exit_code", errors.EXIT_USAGE)
    ctx = getattr(e, "ctx", None)
    if type(e).__name__ == "NoArgsIsHelpError":  # `wfe template`: the help, shown already
        if not render.is_terminal(sys.stdout):
            render.text(e.format_message())
        return code
    if render.is_terminal(sys.stderr):
        from typer import rich_utils

        rich_utils.rich_format_error(e)  # type: ignore[arg-type]
        return code
    path = ctx.command_path if ctx is not None else "wfe"
    render.usage_error(e.format_message(), f"{path} -h")
    return code


def _plain_help(command) -> None:
    """Help as click writes it (typer's rich panels are for terminals)."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)

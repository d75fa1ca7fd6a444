"""The ``wfe`` typer app: global options, the error boundary, and the nouns' sub-apps."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import typer
from typer.core import TyperGroup

import wfe
from wfe import errors
from wfe.cli import (
    approvals,
    audit,
    auth,
    completion,
    daemon,
    demo,
    history,
    live,
    render,
    runs,
    schedules,
    secrets,
    templates,
    tokens,
    webhooks,
)
from wfe.engine.inputs import parse_boolean


def _debug(ctx: typer.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug")) or os.environ.get("WFE_DEBUG", "") not in ("", "0")


class _ErrorBoundary(TyperGroup):
    """Turns a WfeError into one ``error: ...`` line and its exit code; ``--debug`` re-raises.

    It lives in the group (not only in ``main()``) so that CliRunner-driven tests see exactly
    what a user sees.
    """

    def invoke(self, ctx):
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # a reader that left shows here, not at interpreter exit
        except BrokenPipeError:
            _reader_left()
        except errors.WfeError as e:
            if _debug(ctx):
                raise
            render.error(e)
            raise typer.Exit(e.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as e:
            # A bug, not a user error: keep it short unless asked, but say how to see more.
            if _debug(ctx) or _is_click_error(e):
                raise
            hint = f"unexpected {type(e).__name__}: {e} (rerun with --debug)"
            render.error(errors.InternalError(hint))
            raise typer.Exit(errors.EXIT_FAILED) from None


# ``wfe ls | head -1``: the reader has what it wanted and closed the pipe. Like git or ls,
# which die of SIGPIPE there, say nothing and end with the status a shell reports for that,
# 128 + SIGPIPE, so `set -o pipefail` scripts see the same as for any other tool.
EXIT_BROKEN_PIPE = 141


def _reader_left():
    """Stop quietly: stdout goes to /dev/null so the interpreter's last flush cannot fail
    again (and print "Exception ignored") on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's captured output): nothing left to flush into a pipe
    raise typer.Exit(EXIT_BROKEN_PIPE)


def _is_click_error(e: Exception) -> bool:
    # Usage errors (bad option, missing argument) are click's to print, with exit code 2.
    return type(e).__module__.startswith(("typer", "click"))


def _coerce_plain_params_without_pydantic() -> None:
    """Recent typer coerces every non-bool parameter through a pydantic TypeAdapter, which
    costs ~40 ms of imports on every ``wfe`` call (a third of ``wfe ls --json``). Our
    parameters are plain str / int / float / list[str]: coerce those here, exactly as click
    would, and leave every other annotation to typer.

    typer offers no public hook for this (0.29 dropped ``click_type``; a ``parser`` goes
    through pydantic too), so this patches private names that came in 0.29: pyproject.toml
    pins typer to 0.29.x for that reason. A typer without them keeps its own behaviour;
    tests/cli checks that pydantic stays out and that bad numbers read as click's errors."""
    try:
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = _TyperParameter.get_runtime_param
    if original.__module__ == __name__:  # patched already (this module was reloaded)
        return

    @dataclass(frozen=True)
    class Plain(RuntimeParam):
        def _coerce_value(self, value, param, ctx):
            if isinstance(value, (list, tuple)):
                return [_plain_value(v, str, self.parameter_info) for v in value]
            return _plain_value(value, self.annotation, self.parameter_info)

    def get_runtime_param(self):
        d = self.type_descriptor
        if self._runtime_param is None and _is_plain(d):
            self._runtime_param = Plain(parameter_info=d.parameter_info, annotation=d.annotation)
        return original(self)

    # The patch itself, so mypy's rule against assigning to a method does not apply.
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


def _is_plain(d) -> bool:
    info = d.parameter_info
    if info.parser is not None or d.file_annotation is not None or getattr(info, "clamp", False):
        return False
    return d.annotation in (str, int, float, bool) or d.annotation == list[str]


def _plain_value(value, kind, info):
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if kind is bool:
        if isinstance(value, str) and not value.strip():
            return False  # WFE_DEBUG= (set but empty) is off
        try:
            return parse_boolean(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a valid boolean.") from None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        name = "integer" if kind is int else "float"
        raise typer.BadParameter(f"{value!r} is not a valid {name}.") from None
    low, high = info.min, info.max
    if (low is not None and number < low) or (high is not None and number > high):
        parts = [f"x>={low}" if low is not None else "", f"x<={high}" if high is not None else ""]
        bounds = " and ".join(p for p in parts if p)
        raise typer.BadParameter(f"{number} is not in the range {bounds}.")
    return number


_coerce_plain_params_without_pydantic()

app = typer.Typer(
    cls=_ErrorBoundary,
    name="wfe",
    help="wfe: a durable workflow engine for one machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        render.out(f"wfe {wfe.__version__} (api {wfe.API_VERSION})")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", envvar="WFE_DEBUG", help="Show tracebacks instead of one error line."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (as NO_COLOR=1 does)."),
) -> None:
    """wfe: a durable workflow engine for one machine.

    Try `wfe demo`; then create templates and start runs (the daemon starts on demand).
    Every command takes --json for scripts; exit codes are listed in the README.
    """
    render.configure(color=not no_color)


app.add_typer(daemon.app, name="daemon")
app.add_typer(templates.app, name="template")
app.add_typer(auth.auth_app, name="auth")
app.add_typer(auth.user_app, name="user")
app.add_typer(webhooks.app, name="webhook")
app.add_typer(secrets.secret_app, name="secret")
app.add_typer(secrets.var_app, name="var")
app.add_typer(schedules.app, name="schedule")
app.add_typer(tokens.app, name="token")
app.add_typer(audit.app, name="audit")
runs.register(app)
live.register(app)
approvals.register(app)
history.register(app)
demo.register(app)
app.command("whoami")(auth.whoami)
app.command("completion")(completion.completion)


def main() -> None:
    completion.enable_if_asked()
    try:
        app(prog_name="wfe")
    except BrokenPipeError:  # outside any command (help text, completion): the same quiet end
        try:
            _reader_left()
        except typer.Exit as e:
            sys.exit(e.exit_code)

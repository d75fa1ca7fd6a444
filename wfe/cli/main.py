"""The ``wfe`` typer app: global options, the error boundary, and the nouns' sub-apps."""

from __future__ import annotations

import sys

import typer

import wfe
from wfe.cli import (
    approvals,
    audit,
    auth,
    boundary,
    cluster,
    completion,
    daemon,
    db,
    demo,
    history,
    live,
    pipe,
    render,
    runs,
    schedules,
    secrets,
    templates,
    tokens,
    typer_patches,
    ui,
    webhooks,
)

typer_patches.apply()

app = typer.Typer(
    cls=boundary.ErrorBoundary,
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
app.add_typer(db.app, name="db")
runs.register(app)
live.register(app)
approvals.register(app)
history.register(app)
demo.register(app)
app.command("whoami")(auth.whoami)
app.command("cluster")(cluster.cluster)
app.command("ui")(ui.ui)
app.command("completion")(completion.completion)


def main() -> None:
    completion.enable_if_asked()
    try:
        app(prog_name="wfe")
    except (BrokenPipeError, pipe.ReaderLeft):  # in completion, outside any command
        pipe.quiet_exit()
        sys.exit(pipe.EXIT_BROKEN_PIPE)

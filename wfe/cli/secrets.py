"""``wfe secret ...`` and ``wfe var ...``: stored secrets (write-only) and plain variables
that templates read as ``${{ secrets.NAME }}`` and ``${{ vars.NAME }}``."""

from __future__ import annotations

import getpass
import sys

import typer

from wfe import errors
from wfe.cli import client, read_text, render
from wfe.cli.output import Output, field_opt, output_opt
from wfe.cli.verbs import command

secret_app = typer.Typer(help="Secrets your runs read as ${{ secrets.NAME }} (never shown).",
                         no_args_is_help=True)
var_app = typer.Typer(help="Plain values your runs read as ${{ vars.NAME }}.",
                      no_args_is_help=True)

PAGE = 500
GLOBAL_HELP = "The global scope (admins only): read by every user's runs that have none."
JSON_HELP = "Print the API's JSON."
QUIET_HELP = "Only print its name (its id)."


def _secret_value(from_file: str | None) -> str:
    """From a file, a prompt that does not echo, or stdin when it is not a terminal."""
    if from_file is not None:
        value = read_text(from_file)
    elif sys.stdin.isatty():
        value = getpass.getpass("value: ")
    else:
        value = sys.stdin.read()
    value = value[:-1] if value.endswith("\n") else value  # the newline that ends a line
    if not value:
        raise errors.UsageError("the value is empty")
    return value


@command(secret_app, "create", "set")
def secret_set(
    name: str = typer.Argument(..., help="Letters, digits and _ (read as secrets.NAME)."),
    from_file: str | None = typer.Option(None, "--from-file", metavar="FILE",
                                         help="Read the value from FILE (- for stdin)."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help=QUIET_HELP),
) -> None:
    """Set (or replace) a secret; the value is read without echo, never from the command line."""
    made = client().set_stored("secrets", name, _secret_value(from_file), is_global)
    if as_json:
        render.json_out(made)
    elif quiet:
        render.out(made["name"])
    else:
        render.note(f"set secret {name} ({made['scope']})")


@command(var_app, "create", "set")
def var_set(
    name: str = typer.Argument(..., help="Letters, digits and _ (read as vars.NAME)."),
    value: str = typer.Argument(..., help="The value (not secret: it is shown by ls)."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help=QUIET_HELP),
) -> None:
    """Set (or replace) a variable."""
    made = client().set_stored("vars", name, value, is_global)
    if as_json:
        render.json_out(made)
    elif quiet:
        render.out(made["name"])
    else:
        render.note(f"set variable {name} ({made['scope']})")


def _ls(kind: str, limit: int | None, offset: int | None, how: Output) -> None:
    payload = client().list_stored(kind, limit=limit, offset=offset)
    render.emit(payload, how, render.stored_values, key="name")


def _rm(kind: str, name: str, is_global: bool, as_json: bool) -> None:
    client().remove_stored(kind, name, is_global)
    render.note(f"removed {name}")
    if as_json:
        render.json_out({"removed": name})


@command(secret_app, "ls")
def secret_ls(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the names."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """Your secrets and the global ones: names, scope, who set them and when (no values)."""
    _ls("secrets", limit, offset, Output.of(as_json, quiet, output, field))


@command(var_app, "ls")
def var_ls(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the names."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """Your variables and the global ones, with their values."""
    _ls("vars", limit, offset, Output.of(as_json, quiet, output, field))


@command(var_app, "show")
def var_show(
    name: str = typer.Argument(..., help="The variable's name."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """A variable: its value, scope, who set it and when (yours, else the global one)."""
    how = Output.of(as_json, False, output, field)
    render.emit(_find_stored("vars", name), how, render.stored_value, key="name")


def _find_stored(kind: str, name: str) -> dict:
    """The one your runs read: yours before the global one (the API lists both)."""
    c, offset, seen = client(), 0, []
    while True:
        page = c.list_stored(kind, limit=PAGE, offset=offset)
        seen += [v for v in page["items"] if v["name"] == name]
        offset += len(page["items"])
        if not page["items"] or offset >= page.get("total", 0):
            break
    if not seen:
        raise errors.NotFound(f"no variable {name}")
    return min(seen, key=lambda v: v.get("scope") == "global")


@command(secret_app, "rm")
def secret_rm(
    name: str = typer.Argument(..., help="The secret's name."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"removed": NAME}.'),
) -> None:
    """Remove a secret: steps that read it fail until it is set again."""
    _rm("secrets", name, is_global, as_json)


@command(var_app, "rm")
def var_rm(
    name: str = typer.Argument(..., help="The variable's name."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"removed": NAME}.'),
) -> None:
    """Remove a variable."""
    _rm("vars", name, is_global, as_json)

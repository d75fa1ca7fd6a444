"""``wfe secret ...`` and ``wfe var ...``: stored secrets (write-only) and plain variables
that templates read as ``${{ secrets.NAME }}`` and ``${{ vars.NAME }}``."""

from __future__ import annotations

import getpass
import sys

import typer

from wfe import errors
from wfe.cli import client, read_text, render

secret_app = typer.Typer(help="Secrets your runs read as ${{ secrets.NAME }} (never shown).",
                         no_args_is_help=True)
var_app = typer.Typer(help="Plain values your runs read as ${{ vars.NAME }}.",
                      no_args_is_help=True)

GLOBAL_HELP = "The global scope (admins only): read by every user's runs that have none."
JSON_HELP = "Print the API's JSON."


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


@secret_app.command("set")
def secret_set(
    name: str = typer.Argument(..., help="Letters, digits and _ (read as secrets.NAME)."),
    from_file: str | None = typer.Option(None, "--from-file", metavar="FILE",
                                         help="Read the value from FILE (- for stdin)."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set (or replace) a secret; the value is read without echo, never from the command line."""
    made = client().set_stored("secrets", name, _secret_value(from_file), is_global)
    if as_json:
        render.json_out(made)
    else:
        render.note(f"set secret {name} ({made['scope']})")


@var_app.command("set")
def var_set(
    name: str = typer.Argument(..., help="Letters, digits and _ (read as vars.NAME)."),
    value: str = typer.Argument(..., help="The value (not secret: it is shown by ls)."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set (or replace) a variable."""
    made = client().set_stored("vars", name, value, is_global)
    if as_json:
        render.json_out(made)
    else:
        render.note(f"set variable {name} ({made['scope']})")


def _ls(kind: str, limit: int | None, offset: int | None, as_json: bool, quiet: bool) -> None:
    payload = client().list_stored(kind, limit=limit, offset=offset)
    render.listing(payload, as_json, quiet, render.stored_values, key="name")


def _rm(kind: str, name: str, is_global: bool, as_json: bool) -> None:
    client().remove_stored(kind, name, is_global)
    render.note(f"removed {name}")
    if as_json:
        render.json_out({"removed": name})


@secret_app.command("ls")
def secret_ls(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the names."),
) -> None:
    """Your secrets and the global ones: names, scope, who set them and when (no values)."""
    _ls("secrets", limit, offset, as_json, quiet)


@var_app.command("ls")
def var_ls(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the names."),
) -> None:
    """Your variables and the global ones, with their values."""
    _ls("vars", limit, offset, as_json, quiet)


@secret_app.command("rm")
def secret_rm(
    name: str = typer.Argument(..., help="The secret's name."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"removed": NAME}.'),
) -> None:
    """Remove a secret: steps that read it fail until it is set again."""
    _rm("secrets", name, is_global, as_json)


@var_app.command("rm")
def var_rm(
    name: str = typer.Argument(..., help="The variable's name."),
    is_global: bool = typer.Option(False, "--global", help=GLOBAL_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"removed": NAME}.'),
) -> None:
    """Remove a variable."""
    _rm("vars", name, is_global, as_json)

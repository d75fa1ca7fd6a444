"""``wfe auth token``, ``wfe whoami`` and ``wfe user``: who you are to the daemon, and who
else may use it, with which role."""

from __future__ import annotations

import typer

from wfe import config, errors
from wfe.cli import client, render
from wfe.cli.output import Output, field_opt, output_opt
from wfe.cli.verbs import command
from wfe.client import resolve_token
from wfe.engine.roles import Role

auth_app = typer.Typer(help="Your credentials for the daemon.", no_args_is_help=True)
user_app = typer.Typer(help="Manage the daemon's users and their roles (admins only).",
                       no_args_is_help=True)


@auth_app.command()
def token(as_json: bool = typer.Option(False, "--json", help='Print {"token": "..."}.')) -> None:
    """Print the token this CLI uses (WFE_TOKEN, else the local admin token)."""
    value = resolve_token()
    if not value:
        raise errors.Unauthorized(
            f"no token: set WFE_TOKEN, or start the daemon once (wfe daemon start) so that it "
            f"writes {config.paths().token_file}"
        )
    if as_json:
        render.json_out({"token": value})
    else:
        render.secret(value)


ROLE_HELP = ("admin: everything, users too; author: writes templates (code run as the "
             "daemon's OS user); operator: runs published templates. Default: operator.")


@command(user_app, "create", "add")
def create(
    name: str = typer.Argument(..., help="The new user's name."),
    role: Role | None = typer.Option(None, "--role", help=ROLE_HELP, case_sensitive=False),
    admin: bool = typer.Option(False, "--admin", help="The same as --role admin."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's {user, token} JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet",
                               help="Only print the user's id (their token is then not shown:"
                                    " --json gives both)."),
) -> None:
    """Create a user and print their token (shown once: pass it on now)."""
    if admin and role not in (None, Role.ADMIN):
        raise errors.UsageError(f"--admin contradicts --role {role.value}; give only --role")
    chosen = Role.ADMIN if admin else role
    payload = client().create_user(name, role=chosen.value if chosen else None)
    if as_json:
        render.json_out(payload)
    elif quiet:
        render.out(payload["user"]["id"])
    else:
        render.user_created(payload)


@command(user_app, "ls")
def list_(
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many."),
    offset: int | None = typer.Option(None, "--offset", min=0, help="Skip this many."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only print the users' ids."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """List the daemon's users and their roles, oldest first."""
    how = Output.of(as_json, quiet, output, field)
    render.emit(client().list_users(limit=limit, offset=offset), how, render.users)


@command(user_app, "show")
def show(
    name: str = typer.Argument(..., metavar="NAME", help="The user's name (or id)."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's user JSON."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """A user: name, role, id and since when."""
    how = Output.of(as_json, False, output, field)
    render.emit(client().get_user(name), how, render.user)


@command(user_app, "rm")
def remove(
    name: str = typer.Argument(..., metavar="NAME", help="The user's name (or id)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"removed": NAME}.'),
) -> None:
    """Remove a user: their tokens stop working at once; their runs stay."""
    client().delete_user(name)
    if as_json:
        render.json_out({"removed": name})
    else:
        render.note(f"removed user {name}; their tokens are revoked")


@user_app.command("role")
def set_role(
    name: str = typer.Argument(..., metavar="NAME", help="The user's name (or id)."),
    role: Role = typer.Argument(..., help=ROLE_HELP, case_sensitive=False),
    as_json: bool = typer.Option(False, "--json", help="Print the API's user JSON."),
) -> None:
    """Change a user's role."""
    user = client().update_user(name, role.value)
    if as_json:
        render.json_out(user)
    else:
        render.note(f"{user['name']} is now {user['role']}")


def whoami(
    as_json: bool = typer.Option(False, "--json", help="Print the API's user JSON."),
    output: str | None = output_opt(),
    field: str | None = field_opt(),
) -> None:
    """Who the daemon takes you for: your user name and role."""
    how = Output.of(as_json, False, output, field)
    render.emit(client().me(), how, render.whoami)

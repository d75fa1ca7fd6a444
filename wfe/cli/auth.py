"""``wfe auth token`` and ``wfe user add``: who you are to the daemon, and adding people."""

from __future__ import annotations

import typer

from wfe import config, errors
from wfe.cli import client, render
from wfe.client import resolve_token

auth_app = typer.Typer(help="Your credentials for the daemon.", no_args_is_help=True)
user_app = typer.Typer(help="Manage the daemon's users (admins only).", no_args_is_help=True)


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


@user_app.command()
def add(
    name: str = typer.Argument(..., help="The new user's name."),
    admin: bool = typer.Option(False, "--admin", help="Make the user an admin."),
    as_json: bool = typer.Option(False, "--json", help="Print the API's {user, token} JSON."),
) -> None:
    """Create a user and print their token (shown once: pass it on now)."""
    payload = client().create_user(name, is_admin=admin)
    if as_json:
        render.json_out(payload)
        return
    user = payload.get("user") or {}
    render.note(f"created {'admin' if user.get('is_admin') else 'user'} {user.get('name', name)}")
    render.secret(str(payload.get("token")))

"""``wfe ui``: open the web UI in a browser, signed in with a one-time code (as Jupyter's
token link does); the code is exchanged once for a session cookie, so the link in the
terminal's scrollback is worth nothing after."""

from __future__ import annotations

import os
import sys
import webbrowser

import typer

from wfe.cli import client, render


def _has_display() -> bool:
    # Without a display, webbrowser would fall back to a text browser in this terminal.
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def ui(
    no_browser: bool = typer.Option(False, "--no-browser",
                                    help="Print the sign-in link instead of opening it."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print the API's JSON (code, url, expires_at)."),
) -> None:
    """Open the web UI (runs, graphs, approvals) in your browser, signed in as you.

    The link holds a one-time code: it works once, within a couple of minutes.
    """
    code = client().create_ui_code()
    if as_json:
        render.json_out(code)
        return
    if not no_browser and _has_display() and webbrowser.open(code["url"]):
        render.note("opened the web UI in your browser; if it did not appear, open:")
    render.out(code["url"])

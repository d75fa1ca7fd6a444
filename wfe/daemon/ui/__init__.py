"""The web UI, served by the daemon at /ui/ (see README, Web UI).

Pages are rendered on the server with jinja2 from the API's own answers (each page calls
the API's handlers, so roles and owner scoping are exactly the API's), readable without
JavaScript; a little plain JavaScript (static/app.js) makes them live through the API's
event streams and sends actions to the API with the session cookie. Everything ships in
the package: no CDN, no build step. ``ui = false`` in config.toml leaves every /ui/ path
and the sign-in code endpoint answering 404.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

PREFIX = "/ui"
STATIC = Path(__file__).parent / "static"
# No inline script or style anywhere: every script and stylesheet is a file of static/.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
       " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none';"
       " form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Nothing of a page's URL leaves for other sites; same-origin keeps the Origin header
    # real on form posts (with no-referrer, Chromium sends "Origin: null").
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def is_ui_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


async def _security_headers(request: web.Request, resp: web.StreamResponse) -> None:
    if is_ui_path(request.path):
        for name, value in HEADERS.items():
            resp.headers.setdefault(name, value)
        if not request.path.startswith(PREFIX + "/static/"):
            resp.headers["Cache-Control"] = "no-store"  # pages hold a user's data


def setup(app: web.Application) -> None:
    from wfe.daemon.ui import pages

    for method, path, handler in pages.ROUTES:
        if method == "GET":
            app.router.add_get(path, handler, allow_head=True)
        else:
            app.router.add_route(method, path, handler)
    app.router.add_static(PREFIX + "/static/", STATIC, append_version=True, name="ui_static")
    app.on_response_prepare.append(_security_headers)

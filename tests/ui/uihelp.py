"""Helpers the web UI's tests share: settings, and signing in as a browser would."""

from __future__ import annotations

from http.cookies import SimpleCookie

from tests.conftest import FAST
from tests.support import Api
from wfe.config import Settings, paths

V = "/api/v1"


def ui_settings(home, **extra) -> Settings:
    return Settings.load(paths(), port=0, **{**FAST, **extra})


async def code_for(api: Api, token: str | None = None) -> dict:
    _, code = await api.post(f"{V}/ui/codes", token=token, expect=201)
    return code


async def exchange(api: Api, code: str):
    return await api.client.get(f"/ui/login?code={code}", allow_redirects=False)


def session_of(resp) -> str:
    morsel = SimpleCookie(resp.headers["Set-Cookie"])["wfe_session"]
    return morsel.value


async def sign_in(api: Api, token: str | None = None) -> dict[str, str]:
    """Headers that carry a fresh session's cookie, as a browser would send them."""
    resp = await exchange(api, (await code_for(api, token))["code"])
    assert resp.status == 303, await resp.text()
    return {"Cookie": f"wfe_session={session_of(resp)}"}

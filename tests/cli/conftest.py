"""Helpers for the CLI tests: run ``wfe`` in-process (CliRunner) or as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping

import pytest
from typer.testing import CliRunner

from wfe.cli.main import app

# Variables of the developer's shell that would change what the CLI does.
LEAKY = ("WFE_URL", "WFE_TOKEN", "WFE_DEBUG", "WFE_HOME", "WFE_PORT", "WFE_NO_AUTOSTART",
         "WFE_CA_CERT")


def closed_port() -> int:
    """A port nothing listens on (bound then released; nobody else grabs it this fast)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wfe(env: Mapping[str, str], *args: str, input: str | None = None):
    """Run ``wfe ARGS`` in-process, as a user would see it (stdout and stderr apart)."""
    full = {k: None for k in LEAKY} | {"NO_COLOR": "1", "COLUMNS": "200"} | dict(env)
    return CliRunner().invoke(app, list(args), env=full, input=input)


def wfe_process(env: Mapping[str, str], *args: str, timeout: float = 60, input=None):
    """Run ``python -m wfe ARGS`` as a real process (stdout is then not a terminal)."""
    full = {k: v for k, v in os.environ.items() if k not in LEAKY} | {"NO_COLOR": "1"} | dict(env)
    return subprocess.run(
        [sys.executable, "-m", "wfe", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


@pytest.fixture
def offline_env(tmp_path) -> dict[str, str]:
    """A wfe home with no daemon, and a URL nobody answers on (and no autostart)."""
    return {"WFE_HOME": str(tmp_path / "home"), "WFE_URL": f"http://127.0.0.1:{closed_port()}",
            "WFE_NO_AUTOSTART": "1"}


@pytest.fixture
def cli():
    """``cli(env, *args)``: run wfe in-process (see ``wfe``)."""
    return wfe


@pytest.fixture
def cli_process():
    """``cli_process(env, *args)``: run wfe as a real process (see ``wfe_process``)."""
    return wfe_process

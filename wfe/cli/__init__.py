"""The ``wfe`` command line: one module per noun, one module (render) that prints.

Helpers shared by the command modules live here; they must stay cheap to import, because
every invocation of ``wfe`` pays for them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wfe import errors
from wfe.client import Client


def client(timeout: float = 30) -> Client:
    """The API client for this invocation (WFE_URL / daemon.json, WFE_TOKEN / token file)."""
    return Client.from_env(timeout=timeout)


def read_text(file: str) -> str:
    """A file's text, or stdin's for ``-``; a missing file is the user's error, not a bug."""
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text()
    except OSError as e:
        raise errors.UsageError(f"cannot read {file}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise errors.UsageError(f"cannot read {file}: not UTF-8 text") from None


def content_type_of(file: str, text: str) -> str:
    """JSON for .json files (and JSON piped on stdin), YAML otherwise."""
    if file.lower().endswith(".json") or (file == "-" and text.lstrip().startswith("{")):
        return "application/json"
    return "application/yaml"

"""What the client's modules share: how ids, bodies and answers go over the wire, and the
transport methods (``Requests``) the endpoint mixins call.

Stdlib-only like ``wfe.client``: every CLI invocation imports it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from wfe import errors

if TYPE_CHECKING:
    from wfe import sse

Json = dict[str, Any]


class Requests(Protocol):
    """The transport, as the endpoint mixins see it; ``wfe.client.Transport`` provides it.

    A Protocol rather than the transport itself so that the mixin modules need not import
    ``wfe.client`` (which imports them); mypy checks the two signatures agree where
    ``Client`` inherits both."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Json: ...

    def request_raw(self, method: str, path: str, body: Any = None, *,
                    query: Mapping[str, Any] | None = None,
                    content_type: str = "application/json",
                    accept: str = "application/json",
                    headers: Mapping[str, str] | None = None) -> tuple[int, bytes]: ...

    def open_stream(self, path: str, query: Mapping[str, Any] | None = None,
                    last_event_id: str | None = None) -> sse.Stream: ...


def seg(value: str) -> str:
    # An id from the user goes into the path: keep it one segment whatever it contains.
    return quote(str(value), safe="@")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def encode(body: Any, content_type: str) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if content_type != "application/json":
        raise TypeError("only JSON bodies can be given as objects")
    return json_text(body).encode()


def json_text(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # the daemon would refuse it (422); say so before sending
        raise errors.UsageError("NaN and Infinity are not JSON numbers") from None


def decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None

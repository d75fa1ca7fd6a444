"""Server-Sent Events on the client side: one connection's events, and following a stream
across dropped connections (resuming from the last id received, so nothing is lost).

Stdlib only, like ``wfe.client``: ``wfe events -f`` must start as fast as ``wfe ls``.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from wfe import errors

# The daemon sends a comment every 15 s: a line quiet for longer means a dead connection.
IDLE = 40.0
# How long a follower keeps reconnecting to a daemon that went away (a restart takes ~1 s).
RECONNECT_FOR = 30.0


@dataclass
class Event:
    id: str | None
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


class Broken(Exception):
    """The connection ended before the server closed the stream."""


class Stream:
    """One open SSE response; iterate it for events until the server closes it."""

    def __init__(self, conn: http.client.HTTPConnection, sock: socket.socket,
                 resp: http.client.HTTPResponse) -> None:
        self._conn, self._sock, self._resp = conn, sock, resp
        self.deadline: float | None = None  # time.monotonic() after which reading stops

    def __iter__(self) -> Iterator[Event]:
        fields: dict[str, str] = {}
        data: list[str] = []
        while True:
            line = self._readline()
            if line is None:
                return
            if line == "":  # a blank line dispatches the event
                if data or fields:
                    yield Event(fields.get("id"), fields.get("event") or "message", "\n".join(data))
                fields, data = {}, []
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                elif name in ("id", "event"):
                    fields[name] = value

    def _readline(self) -> str | None:
        """The next line; None at the clean end; Broken or TimeoutError otherwise."""
        wait = IDLE
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError
        self._sock.settimeout(wait)
        try:
            raw = self._resp.readline()
        except TimeoutError:
            raise
        except (OSError, http.client.HTTPException) as e:
            raise Broken(str(e)) from e
        if not raw:
            return None
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def close(self) -> None:
        self._resp.close()
        self._conn.close()


def follow(open_stream: Callable[[str | None], Stream], last_id: str | None = None,
           deadline: float | None = None) -> Iterator[Event]:
    """Every event of a stream until the server ends it, reconnecting (from the last id
    received) when the connection breaks or the daemon restarts.

    ``deadline`` (time.monotonic()) raises WaitTimeout; a daemon unreachable at the start,
    or gone for RECONNECT_FOR seconds later, raises DaemonUnreachable.
    """
    lost_at: float | None = None
    connected = False
    while True:
        try:
            stream = open_stream(last_id)
        except errors.DaemonUnreachable:
            if not connected:  # never there at all: say so now, as any command does
                raise
            lost_at = _lost(lost_at, deadline)
            continue
        lost_at, connected = None, True
        stream.deadline = deadline
        try:
            closing = False
            for ev in stream:
                closing = ev.event == "closing"
                if closing:  # the daemon is stopping: not the end, come back to it
                    continue
                if ev.id is not None:
                    last_id = ev.id
                yield ev
            if not closing:
                return
            lost_at = _lost(lost_at, deadline)
        except TimeoutError:
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.WaitTimeout("timed out waiting") from None
            lost_at = _lost(lost_at, deadline)  # silent past IDLE: a dead connection
        except Broken:
            lost_at = _lost(lost_at, deadline)
        finally:
            stream.close()


def _lost(lost_at: float | None, deadline: float | None) -> float:
    """Note the connection lost, pause before trying again, give up when it is too long."""
    now = time.monotonic()
    lost_at = now if lost_at is None else lost_at
    if now - lost_at > RECONNECT_FOR:
        raise errors.DaemonUnreachable(
            f"lost the wfe daemon for over {RECONNECT_FOR:g}s while following a stream")
    if deadline is not None and now >= deadline:
        raise errors.WaitTimeout("timed out waiting")
    pause = min(1.0, 0.1 * 2 ** min(int(now - lost_at), 4))
    if deadline is not None:
        pause = max(0.0, min(pause, deadline - now))
    time.sleep(pause)
    return lost_at

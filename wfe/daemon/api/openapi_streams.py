"""What the OpenAPI document says of the Server-Sent Events streams: each one's event types,
their ``id:`` and the schema of their ``data:``. OpenAPI 3.1 has no words for a stream of
events, so an operation that answers one is marked ``x-stream: sse`` and lists its events
under ``x-sse-events`` in its text/event-stream response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from wfe import models as m

TAG = {"name": "streams", "description": (
    "Server-Sent Events (text/event-stream): the response stays open and sends events as"
    " they happen. Each event has an `event:` type (none for the default, `message`), an"
    " `id:` where it can be resumed from, and one JSON (or text) `data:`. Reconnect with"
    " `Last-Event-ID` (or `?after=`) to get exactly what came after it. A `: keepalive`"
    " comment comes every 15 s on a quiet stream; `event: closing` means the daemon is"
    " stopping: reconnect once it is back.")}
NOTE = ("A Server-Sent Events stream (text/event-stream, `x-stream: sse`): the response stays"
        " open; `x-sse-events` in the response lists its events. ")


class StreamEvent(m.Event):
    run_id: str


class LogAttempt(m.Response):
    attempt: int = Field(description="the attempt whose lines follow")


class LogEnd(m.Response):
    attempt: int | None = Field(description="null: the run ended without the step starting")
    status: str | None = Field(description="the attempt's status: succeeded, failed,"
                                           " timed_out, cancelled or interrupted")
    lines: int | None = Field(None, description="how many lines the attempt's log has")


class Closing(m.Response):
    reason: Literal["shutdown"]


@dataclass(frozen=True)
class SseEvent:
    name: str  # the event: field; "message" for events sent without one
    id: str  # what the id: field holds ("" when the event has none)
    data: Any  # the data: field's model (str: a line of text)
    description: str


CLOSING = SseEvent("closing", "", Closing, "the daemon is stopping: not the end; reconnect"
                                           " with Last-Event-ID once it is back")
RUN_EVENTS = (
    SseEvent("<event type>", "the event's seq in its run", StreamEvent,
             "one per audit event; `event:` is its type (run.created, step.succeeded...);"
             " the stream ends after the run's terminal event (run.completed, run.failed,"
             " run.cancelled)"),
    CLOSING)
ALL_EVENTS = (
    SseEvent("<event type>", "a global event id", StreamEvent,
             "one per audit event of any of the caller's runs; `event:` is its type"),
    CLOSING)
LOG_EVENTS = (
    SseEvent("attempt", "", LogAttempt, "opens each attempt followed"),
    SseEvent("message", "ATTEMPT:LINE, e.g. 2:15", str,
             "one line of the log (secrets masked), without its line break"),
    SseEvent("end", "ATTEMPT:end", LogEnd,
             "the attempt is over; the stream closes after the last attempt's"),
    CLOSING)


def events_doc(events: tuple[SseEvent, ...], ref) -> list[dict]:
    """The ``x-sse-events`` list; ``ref(model)`` gives a model's schema (or its $ref)."""
    out = []
    for ev in events:
        entry: dict[str, Any] = {"event": ev.name, "description": ev.description,
                                 "data": ref(ev.data)}
        if ev.id:
            entry["id"] = ev.id
        out.append(entry)
    return out

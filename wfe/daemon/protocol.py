"""The error shape for what aiohttp answers before the app sees a request.

A malformed request line or header, a header over the limit, a bad chunked body: aiohttp's
HTTP parser refuses them, and its protocol answers through ``RequestHandler.handle_error``
in text/plain, bypassing every middleware. The documented shape is JSON, always.

aiohttp has no setting for that answer, so the hook is chosen as the least private one:
``AppRunner.server`` (a public property) is the protocol factory TCPSite hands to the
loop, and ``handle_error`` is a public method of the ``RequestHandler`` it makes. The
runner below returns a factory that makes each protocol as aiohttp does, with aiohttp's
own arguments, then gives it a subclass whose ``handle_error`` calls the original (its
logging, its "a response already started" check) and answers JSON instead. The class is
set on the new object rather than constructed, because constructing one needs the
server's private arguments; the subclass adds no fields (``__slots__ = ()``), so the
object's layout is unchanged. The same app served by a plain runner (the in-process tests)
still works, with aiohttp's plain answers.
"""

from __future__ import annotations

import json

from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from wfe.errors import BadRequest, InternalError, WfeError

# What went wrong, by the parser's exception class, in our words: its own messages are
# aiohttp's phrasing and may quote the offending bytes back.
PARSER_ERRORS = (
    (http_exceptions.LineTooLong, "a request line or header field is over 8190 bytes"),
    (http_exceptions.InvalidHeader, "a header field is not valid"),
    (http_exceptions.BadStatusLine, "the request line is not valid"),
    (http_exceptions.InvalidURLError, "the request target is not a valid URL"),
    (http_exceptions.PayloadEncodingError, "the body's framing is not valid (chunks, length"
                                           " or encoding)"),
)


def error_for(status: int, exc: BaseException | None = None) -> WfeError:
    if status >= 500:
        return InternalError()  # never a traceback, whatever aiohttp's debug says
    why = next((text for cls, text in PARSER_ERRORS if isinstance(exc, cls)), None)
    return BadRequest(f"malformed HTTP request: {why}" if why else "malformed HTTP request")


class JsonErrorsHandler(RequestHandler):
    __slots__ = ()

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if one began
        err = error_for(status, exc)
        resp = web.Response(body=json.dumps(err.to_dict(), allow_nan=False), status=status,
                            content_type="application/json")
        resp.force_close()  # the stream's framing is unknown after a parse error
        return resp


class _Factory:
    def __init__(self, server: web.Server) -> None:
        self._server = server

    def __call__(self) -> RequestHandler:
        proto = self._server()
        proto.__class__ = JsonErrorsHandler
        return proto


class JsonErrorsRunner(web.AppRunner):
    """An AppRunner whose sites answer parser-level errors in the JSON error shape."""

    @property
    def server(self):
        server = super().server
        return None if server is None else _Factory(server)

"""The limits of :mod:`.http_limits` for gevent's pywsgi: a mixin for its request handlers.

pywsgi reads requests with no deadline (a client that sends nothing, or its headers a byte at
a time, holds a greenlet and a file descriptor for good). Mixed in front of a ``WSGIHandler``,
:class:`LimitsMixin` reads through the connection's deadline reader, buffers bodies up to
Engine.IO's size limit before the application runs, answers a timed-out request with 408, and
counts the connection in the server's :class:`~.http_limits.ConnectionRegistry`.
"""

from __future__ import annotations

import io
from typing import Any

from .http_limits import (
    Connection,
    ConnectionRegistry,
    HTTPLimits,
    RequestTimeout,
    is_upgrade,
    read_body,
    refuse,
    send_in_chunks,
)

#: the attribute of a pywsgi server holding its registry (set by serving.GeventHandle)
REGISTRY_ATTR = "flask_socketio_registry"


def registry_of(server: Any) -> ConnectionRegistry:
    """The server's registry; a server set up elsewhere gets one with the default limits."""
    registry = getattr(server, REGISTRY_ATTR, None)
    if registry is None:
        registry = ConnectionRegistry(HTTPLimits())
        setattr(server, REGISTRY_ATTR, registry)
    return registry


class LimitsMixin:
    """Put before ``pywsgi.WSGIHandler`` (or a subclass) in the bases of a handler class."""

    # what pywsgi.WSGIHandler provides
    socket: Any
    client_address: Any
    server: Any
    rfile: Any
    environ: dict
    headers_sent: bool
    response_length: int
    content_length: int | None
    close_connection: bool

    _conn: Connection | None = None

    def handle(self) -> Any:
        registry = registry_of(self.server)
        # the makefile() reader is closed (it holds a reference that would keep the fd open)
        self.rfile.close()
        conn = registry.admit(self.socket, self.client_address)
        if conn is None:
            self.rfile = io.BytesIO()
            refuse(self.socket, self.client_address, registry.limits)
            return None  # the server closes the socket
        self._conn = conn
        self.rfile = conn.reader()
        try:
            return super().handle()  # type: ignore[misc]
        finally:
            registry.release(conn)

    def handle_one_request(self) -> Any:
        conn = self._conn
        assert conn is not None
        conn.await_request()
        try:
            result = super().handle_one_request()  # type: ignore[misc]
        except OSError:  # reading the body (get_environ): a timeout, or the client went away
            result = None
        if conn.timed_out is not None:
            conn.close_after_timeout(self.headers_sent or bool(self.response_length))
            return None
        return result

    def read_request(self, raw_requestline: str) -> Any:
        parsed = super().read_request(raw_requestline)  # type: ignore[misc]
        assert self._conn is not None
        self._conn.headers_done()
        return parsed

    def _handle_client_error(self, ex: BaseException) -> Any:
        if isinstance(ex, RequestTimeout):
            return ("408", b"")  # handle_one_request answers and closes (no traceback)
        return super()._handle_client_error(ex)  # type: ignore[misc]

    def get_environ(self) -> dict:
        environ = super().get_environ()  # type: ignore[misc]
        conn = self._conn
        assert conn is not None
        length = self.content_length or 0
        if (
            not is_upgrade(environ.get("HTTP_UPGRADE"))
            and 0 < length <= conn.limits.buffered_body
            and environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked"
        ):
            # read through pywsgi's Input, which answers Expect: 100-continue first
            environ["wsgi.input"] = io.BytesIO(read_body(conn, environ["wsgi.input"], length))
        return environ

    def run_application(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.app_started(is_upgrade(self.environ.get("HTTP_UPGRADE")))
        try:
            super().run_application()  # type: ignore[misc]
        except RequestTimeout:  # the application read a streamed body past the body deadline
            self.close_connection = True
            conn.close_after_timeout(self.headers_sent)
        except TimeoutError:  # the client took no part of the response within send_timeout
            self.close_connection = True
            conn.send_timed_out()

    def _sendall(self, data: Any) -> None:
        # pywsgi's one write path (a private method): 64 KiB at a time, each within the
        # socket's timeout, so a large response to a slow client is not cut as a whole
        send_in_chunks(super()._sendall, data)  # type: ignore[misc]

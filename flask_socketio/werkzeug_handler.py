"""Werkzeug's request handler with the limits of :mod:`.http_limits` and connection tracking.

Werkzeug's development server reads requests with blocking socket reads and no deadline; this
handler reads them through the connection's :class:`~.http_limits.DeadlineReader`, buffers
bodies up to Engine.IO's size limit before the application runs, answers a timed-out request
with 408, and counts itself in the server's :class:`~.http_limits.ConnectionRegistry`.
"""

from __future__ import annotations

import io
import socket
import threading
from typing import Any, ClassVar

from werkzeug.serving import WSGIRequestHandler

from .http_limits import (
    ChunkedWriter,
    Connection,
    ConnectionRegistry,
    is_upgrade,
    read_body,
    refuse,
)


def _no_delay(sock: Any) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not TCP (a Unix socket) or already closed
        pass


class LimitedRequestHandler(WSGIRequestHandler):
    """Deadlines on reading requests, the connection cap, and ``shutdown()`` tracking."""

    registry: ClassVar[ConnectionRegistry]
    connections: ClassVar[set[socket.socket]]
    lock: ClassVar[threading.Lock]
    log_output: ClassVar[bool] = False

    _conn: Connection | None = None
    _response_started = False

    @classmethod
    def bind(
        cls, registry: ConnectionRegistry, connections: set, lock: threading.Lock, log_output: bool
    ) -> type[LimitedRequestHandler]:
        """A handler class for one server (its registry and its set of open connections)."""
        attrs = {
            "registry": registry,
            "connections": connections,
            "lock": lock,
            "log_output": log_output,
        }
        return type("LimitedRequestHandler", (cls,), attrs)

    def setup(self) -> None:
        super().setup()
        _no_delay(self.connection)
        self._conn = self.registry.admit(self.connection, self.client_address)
        if self._conn is None:
            refuse(self.connection, self.client_address, self.registry.limits)
            return
        with self.lock:
            self.connections.add(self.connection)
        # the makefile() reader is closed (it holds a reference that would keep the fd open)
        self.rfile.close()
        self.rfile = self._conn.reader()
        self.wfile = ChunkedWriter(self.connection)

    def handle(self) -> None:
        if self._conn is not None:
            super().handle()

    def handle_one_request(self) -> None:
        conn = self._conn
        assert conn is not None
        conn.await_request()
        self._response_started = False
        super().handle_one_request()  # http.server ends the connection on a TimeoutError
        if conn.timed_out is not None:
            conn.close_after_timeout(self._response_started)
            self.close_connection = True

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if self._conn is not None:
            self._conn.headers_done()
        return parsed

    def make_environ(self) -> Any:
        environ = super().make_environ()
        conn = self._conn
        assert conn is not None
        upgrade = is_upgrade(self.headers.get("Upgrade"))
        length = _declared_length(environ)
        if (
            not upgrade
            and 0 < length <= conn.limits.buffered_body
            and "chunked" not in self.headers.get("Transfer-Encoding", "").lower()
        ):
            environ["wsgi.input"] = io.BytesIO(read_body(conn, self.rfile, length))
        conn.app_started(upgrade)
        return environ

    def run_wsgi(self) -> None:
        super().run_wsgi()
        if is_upgrade(self.headers.get("Upgrade")):
            # the socket carried WebSocket frames: never parse what follows as HTTP
            self.close_connection = True

    def send_response_only(self, code: int, message: str | None = None) -> None:
        if code >= 200:  # not the interim 100 Continue
            self._response_started = True
        super().send_response_only(code, message)

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        conn = self._conn
        if conn is not None and conn.in_app and type(error) is TimeoutError:
            conn.send_timed_out()  # a write the client did not take within send_timeout

    def finish(self) -> None:
        with self.lock:
            self.connections.discard(self.connection)
        try:
            super().finish()
        finally:
            if self._conn is not None:
                self.registry.release(self._conn)

    def log_request(self, *args: Any, **kw: Any) -> None:
        if self.log_output:
            super().log_request(*args, **kw)

    def log_error(self, format: str, *args: Any) -> None:
        # http.server logs "Request timed out" at error level; the registry logs it at debug
        if self._conn is None or self._conn.timed_out is None:
            super().log_error(format, *args)


def _declared_length(environ: dict) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0

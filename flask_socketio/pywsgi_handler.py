"""gevent pywsgi's request handler for :mod:`.transport`: hands over the socket, then is quiet.

The handler puts its connection socket in the environ (``transport.SOCKET_KEY``) so that a
WebSocket request can be taken over by :class:`~.transport.WebSocketTransport`. Once the
transport has switched protocols (``transport.Hijack``), whatever the application
returns or raises is never written to the socket as HTTP: the stream carries WebSocket frames.
The server's header, body, idle and send timeouts and its connection cap come from
:class:`~.pywsgi_limits.LimitsMixin`.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from gevent import pywsgi

from . import request_headers
from .pywsgi_limits import LimitsMixin
from .transport import HIJACKED_KEY, SOCKET_KEY, Hijack

logger = logging.getLogger("flask_socketio")


class TransportHandler(pywsgi.WSGIHandler):
    """pywsgi's handler with ``TCP_NODELAY``, WebSocket hand-over to the transport and a lean
    header parser (:mod:`.request_headers`)."""

    def MessageClass(self, fp: Any, *args: Any) -> request_headers.RequestHeaders:  # noqa: N802
        return request_headers.parse(fp)

    def handle(self) -> Any:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):  # not TCP, or already closed
            pass
        return super().handle()

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ[SOCKET_KEY] = self.socket
        self._hijack = environ[HIJACKED_KEY] = Hijack()
        return environ

    def _hijacked(self) -> bool:
        hijack = getattr(self, "_hijack", None)
        return hijack is not None and hijack.taken

    def run_application(self) -> None:
        try:
            self.result = self.application(self.environ, self.start_response)
        except Exception:
            if not self._hijacked():
                raise
            self.close_connection = True
            logger.exception("error after a WebSocket session (nothing written to the client)")
            return
        if self._hijacked():
            self.close_connection = True
            close = getattr(self.result, "close", None)
            self.result = None
            if close is not None:
                close()
            return
        try:
            self.process_result()
        finally:
            close = getattr(self.result, "close", None)
            self.result = None
            if close is not None:
                close()

    def log_request(self) -> None:
        if not self._hijacked():
            super().log_request()


class WebSocketAwareHandler(LimitsMixin, TransportHandler):
    """:class:`TransportHandler` with the server's HTTP limits (the handler of the gevent mode)."""

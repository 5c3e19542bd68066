"""The python-socketio server that Flask-SocketIO builds, and the WSGI middleware in front of it.

The subclass adds two things to python-socketio's ``Server``:

- in-process peers: a test client registers a callable per Engine.IO session and receives what
  the server would have written to the wire, so test clients and real network clients are served
  side by side by one unchanged server;
- protocol fixes: a CONNECT to an unknown namespace is refused with the payload Socket.IO v5
  specifies (``{"message": "Invalid namespace"}``) instead of a bare string, and the Engine.IO
  server answers malformed HTTP requests as the protocol says (``engineio_server``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
import socketio
from engineio import packet as eio_packet
from socketio import packet

from . import broadcast, ordering, transport
from .engineio_server import EngineIOServer
from .sio_protocol import ProtocolMixin

#: WSGI environ keys set for every request that goes through the middleware.
APP_KEY = "flask.app"
SERVER_KEY = "flask_socketio.server"

Deliver = Callable[[Any], None]


class Server(ProtocolMixin, socketio.Server):
    """python-socketio's server with in-process peers and stricter namespace handling."""

    def __init__(self, *, flask_app: flask.Flask | None = None, **options: Any) -> None:
        self.flask_app = flask_app
        self.extension: Any = None  # the SocketIO object that built this server
        self._inprocess: dict[str, Deliver] = {}
        # python-socketio keeps user sessions in the Engine.IO session, which in-process peers
        # do not have: theirs live here, per Engine.IO sid
        self._inprocess_sessions: dict[str, dict[str, Any]] = {}
        ordered = bool(options.pop(ordering.OPTION, False))
        if options.get("client_manager") is None:  # single process: the tighter broadcast loop
            options["client_manager"] = broadcast.Manager()
        super().__init__(**options)
        transport.install(self.eio)
        self.event_runner = ordering.EventRunner(self, ordered)

    def _engineio_server_class(self) -> type:
        return EngineIOServer

    # -- in-process peers --------------------------------------------------------------------

    def attach_inprocess(self, eio_sid: str, deliver: Deliver) -> None:
        """Deliver every Engine.IO message for ``eio_sid`` to ``deliver`` instead of the wire.

        ``deliver`` receives one payload per call, a ``str`` packet or a ``bytes`` attachment,
        exactly as a network client's Engine.IO layer would. Events from an in-process peer run
        synchronously, so a handler's exception reaches the caller that sent the event.
        """
        self._inprocess[eio_sid] = deliver

    def detach_inprocess(self, eio_sid: str) -> None:
        """Forget an in-process peer registered with :meth:`attach_inprocess`."""
        self._inprocess.pop(eio_sid, None)
        self._inprocess_sessions.pop(eio_sid, None)

    def is_inprocess(self, eio_sid: str) -> bool:
        """Whether ``eio_sid`` belongs to an in-process peer."""
        return eio_sid in self._inprocess

    def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """python-socketio's user session of ``sid``, for network and in-process peers alike."""
        namespace = namespace or "/"
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid not in self._inprocess:
            return super().get_session(sid, namespace=namespace)
        return self._inprocess_sessions.setdefault(eio_sid, {}).setdefault(namespace, {})

    def save_session(self, sid: str, session: dict[str, Any], namespace: str | None = None) -> None:
        """Store ``session`` as the user session of ``sid`` (see :meth:`get_session`)."""
        namespace = namespace or "/"
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid not in self._inprocess:
            super().save_session(sid, session, namespace=namespace)
            return
        self._inprocess_sessions.setdefault(eio_sid, {})[namespace] = session

    def new_eio_sid(self) -> str:
        """A fresh Engine.IO session id, made as the Engine.IO server makes its own."""
        return str(self.eio.generate_id())

    def connect_inprocess(self, eio_sid: str, environ: dict[str, Any]) -> None:
        """Open the Engine.IO session of an attached in-process peer, as a handshake would.

        ``environ`` is the WSGI environ of the handshake request (what handlers see as
        ``request``). Namespaces are connected afterwards with CONNECT packets.
        """
        self._handle_eio_connect(eio_sid, environ)

    def receive_inprocess(self, eio_sid: str, data: str | bytes) -> None:
        """Handle one Engine.IO message (a packet or a binary attachment) from an in-process
        peer, synchronously: a handler's exception propagates to the caller."""
        self._handle_eio_message(eio_sid, data)

    def disconnect_inprocess(self, eio_sid: str) -> None:
        """Close the Engine.IO session of an in-process peer as a client-side disconnect."""
        self._handle_eio_disconnect(eio_sid, self.reason.CLIENT_DISCONNECT)

    def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        encoded = pkt.encode()
        sock = self.eio.sockets.get(eio_sid)
        if sock is not None and not sock.closed:  # a network peer: what eio.send() would do
            if isinstance(encoded, list):
                for part in encoded:
                    sock.send(eio_packet.Packet(eio_packet.MESSAGE, part))
            else:
                sock.send(eio_packet.Packet(eio_packet.MESSAGE, encoded))
            return
        deliver = self._inprocess.get(eio_sid)
        parts = encoded if isinstance(encoded, list) else [encoded]
        for part in parts:
            if deliver is None:
                self.eio.send(eio_sid, part)  # gone: python-engineio warns
            else:
                deliver(part)

    def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        """Hand ``eio_pkt`` to the recipient's socket: a broadcast passes the same packet object
        to every recipient, so the transport frames it once (``transport.frame_for``)."""
        sock = self.eio.sockets.get(eio_sid)
        if sock is not None and not sock.closed:
            sock.send(eio_pkt)
            return
        deliver = self._inprocess.get(eio_sid)
        if deliver is None:
            super()._send_eio_packet(eio_sid, eio_pkt)  # gone: python-engineio warns
        else:
            deliver(eio_pkt.data)

    def _handle_event(self, eio_sid: str, namespace: str, id: Any, data: Any) -> None:
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            self.logger.warning("%s is not connected to namespace %s", sid, namespace)
            return
        self.logger.info('received event "%s" from %s [%s]', data[0], sid, namespace)
        args = (self, sid, eio_sid, data, namespace, id)
        if eio_sid in self._inprocess or not self.async_handlers:
            self._handle_event_internal(*args)
        else:  # its own task, or its connection's queue with ordered_events=True
            self.event_runner.run(eio_sid, self._handle_event_internal, *args)

    # -- connection handling ---------------------------------------------------------------

    def _handle_eio_connect(self, eio_sid: str, environ: dict) -> Any:
        if self.flask_app is not None:
            environ.setdefault(APP_KEY, self.flask_app)
        environ[SERVER_KEY] = self
        return super()._handle_eio_connect(eio_sid, environ)

    def _namespace_exists(self, namespace: str) -> bool:
        return (
            namespace in self.handlers
            or namespace in self.namespace_handlers
            or self.namespaces == "*"
            or namespace in (self.namespaces or ())
        )

    def _handle_connect(self, eio_sid: str, namespace: str, data: Any) -> None:
        namespace = namespace or "/"
        if not self._namespace_exists(namespace):
            self._send_packet(
                eio_sid,
                self.packet_class(
                    packet.CONNECT_ERROR,
                    data={"message": "Invalid namespace"},
                    namespace=namespace,
                ),
            )
            return
        super()._handle_connect(eio_sid, namespace, data)


class Middleware(socketio.WSGIApp):
    """WSGI middleware: Socket.IO traffic goes to the server, everything else to Flask.

    It records the Flask app and the server in the environ, so handlers and ``emit`` calls made
    while serving a request find the server that belongs to that app.
    """

    def __init__(
        self, server: Server, flask_app: flask.Flask, wsgi_app: Any, socketio_path: str
    ) -> None:
        self.flask_app = flask_app
        self.socketio_server = server
        super().__init__(server, wsgi_app, socketio_path=socketio_path)

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        environ = dict(environ)
        environ[APP_KEY] = self.flask_app
        environ[SERVER_KEY] = self.socketio_server
        return super().__call__(environ, start_response)

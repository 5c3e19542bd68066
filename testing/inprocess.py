"""The in-process Socket.IO test client.

``SocketIOTestClient`` talks to the real python-socketio server of a ``SocketIO`` object without
sockets: it registers itself as an in-process peer of the server (``Server.attach_inprocess``),
hands it packets encoded by the server's own packet class (``Server.receive_inprocess``) and
decodes every packet the server hands back. Nothing about how the server treats network clients
changes, so test clients and a live server can share one ``SocketIO`` object.

Events from a test client are dispatched synchronously, so whatever a handler emits in reply is
already queued when ``emit()`` returns, and an exception from a handler without an error handler
is raised by the ``emit()`` (or ``connect()``) that triggered it. Events that arrive later (from
background tasks or other threads) are waited for with ``receive()`` and ``expect()``.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from flask import Flask
from flask.testing import FlaskClient
from socketio import packet as sio_packet

from .base import BaseClient, ack_args, ack_value
from .errors import AckTimeoutError, NotConnectedError, ReceiveTimeoutError
from .flask_client import handshake_environ
from .inbox import MISSING, Inbox
from .interface import ConnectErrorPayload, ReceivedEvent

if TYPE_CHECKING:
    from flask_socketio.server import Server


class ServesApps(Protocol):
    """What the client needs of a ``SocketIO`` object: the server built for an app.

    Structural, so that the harness does not import the extension it is loaded by (upstream's
    ``SocketIO.test_client`` builds this client).
    """

    def server_for(self, app: Flask | None) -> Server: ...


__all__ = ["SocketIOTestClient", "AckTimeoutError", "ReceiveTimeoutError", "NotConnectedError"]

_EVENT_TYPES = (sio_packet.EVENT, sio_packet.BINARY_EVENT)
_ACK_TYPES = (sio_packet.ACK, sio_packet.BINARY_ACK)


class PendingEvents(list[ReceivedEvent]):
    """Upstream's ``client.queue``: the events not read yet; ``clear()`` drops them for good."""

    def __init__(self, events: list[ReceivedEvent], inbox: Inbox) -> None:
        super().__init__(events)
        self._inbox = inbox

    def clear(self) -> None:
        super().clear()
        self._inbox.clear()


class SocketIOTestClient(BaseClient):
    """A Socket.IO client that runs inside the test process, against the real server.

    :param app: the Flask application.
    :param socketio: the application's ``SocketIO`` object.
    :param namespace: namespace to connect on creation (default ``'/'``). Methods given no
        namespace use ``'/'``, as upstream's test client does.
    :param query_string: query string of the handshake request.
    :param headers: HTTP headers of the handshake request.
    :param auth: the CONNECT packet's auth payload.
    :param flask_test_client: a Flask test client whose cookies (session, login) and environ
        the handshake request shares.
    :param name: a label for failure reports.
    :param transcript_limit: how many transcript entries to keep; 0 (the default here) keeps
        none, which keeps many clients cheap. The plugin's fixtures turn it on.
    """

    transport = "inprocess"
    #: every open test client by Engine.IO sid (upstream's class attribute)
    clients: ClassVar[weakref.WeakValueDictionary[str, SocketIOTestClient]] = (
        weakref.WeakValueDictionary()
    )

    def __init__(
        self,
        app: Flask,
        socketio: ServesApps,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        flask_test_client: FlaskClient | None = None,
        *,
        name: str = "inprocess-client",
        transcript_limit: int = 0,
    ) -> None:
        # the server init_app built for this app (one SocketIO object may serve several apps)
        server: Server = socketio.server_for(app)
        # gevent/eventlet without monkey patching: waiting must yield to the loop, not block it
        cooperative = server.async_mode != "threading"
        super().__init__(
            name, "inprocess", "/", transcript_limit, server.sleep if cooperative else None
        )
        self.app = app
        self.socketio = socketio
        self.server = server
        self.flask_test_client = flask_test_client
        self._eio_sid: str = server.new_eio_sid()
        #: namespace -> connected?  (upstream's attribute, kept for compatibility)
        self.connected: dict[str, bool] = {}
        self._sids: dict[str, str | None] = {}
        self._connect_errors: dict[str, ConnectErrorPayload] = {}
        self._acks: dict[tuple[str, int], list[Any]] = {}
        self._awaited_acks: set[tuple[str, int]] = set()
        self._ack_ids = itertools.count(1)  # next() is atomic: threads may emit too
        self._pending: Any = None  # a binary packet waiting for its attachments
        self._packet_class = server.packet_class
        self._receive = server.receive_inprocess
        self._eio_open = False
        #: upstream's attributes: the last ack received and the last ack id used
        self.acks: dict[str, Any] | None = None
        self.callback_counter = 0
        server.attach_inprocess(self._eio_sid, self._deliver)
        SocketIOTestClient.clients[self._eio_sid] = self
        self.connect(namespace=namespace, query_string=query_string, headers=headers, auth=auth)

    @property
    def queue(self) -> PendingEvents:
        """The events received and not read yet (upstream's attribute; prefer get_received)."""
        return PendingEvents(self.inbox.peek(), self.inbox)

    @property
    def eio_sid(self) -> str:
        """The Engine.IO session id of this client."""
        return self._eio_sid

    def close(self) -> None:
        """Disconnect every namespace and end the in-process Engine.IO session (idempotent)."""
        try:
            for namespace in [ns for ns, up in self.connected.items() if up]:
                self.disconnect(namespace)
        finally:
            self._close_eio()
            self.server.detach_inprocess(self._eio_sid)
            SocketIOTestClient.clients.pop(self._eio_sid, None)

    def leaks(self) -> list[str]:
        """Nothing: an in-process client holds no thread or socket."""
        return []

    def __repr__(self) -> str:
        up = [ns for ns, connected in self.connected.items() if connected]
        return f"<SocketIOTestClient {self.name} connected={up}>"

    # -- connection ----------------------------------------------------------------------------

    def is_connected(self, namespace: str | None = None) -> bool:
        """Whether ``namespace`` is connected."""
        return self.connected.get(namespace or self.namespace, False)

    def get_sid(self, namespace: str | None = None) -> str | None:
        """This client's Socket.IO sid in ``namespace``, or None when not connected there."""
        namespace = namespace or self.namespace
        return self._sids.get(namespace) if self.is_connected(namespace) else None

    def get_connect_error(self, namespace: str | None = None) -> ConnectErrorPayload | None:
        """The CONNECT_ERROR payload of the last refused connect to ``namespace``, else None.

        It has the shape a real client receives: ``{'message': ...}`` plus ``'data'`` when the
        server gave data (``ConnectionRefusedError('why', {'retry': 5})``).
        """
        return self._connect_errors.get(namespace or self.namespace)

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        """Connect ``namespace``; a refused connect does not raise (see ``get_connect_error``).

        The first connect opens the Engine.IO session with a handshake request built from
        ``query_string``, ``headers`` and the Flask test client's cookies; later namespaces share
        it, as with a real client (passing ``query_string`` or ``headers`` again replaces it).
        """
        namespace = namespace or self.namespace
        self.transcript.log("connecting", namespace, "inprocess")
        if not self._eio_open or query_string or headers:
            path = "/socket.io"
            if query_string:
                path += query_string if query_string.startswith("?") else "?" + query_string
            environ = handshake_environ(self.app, path, headers, self.flask_test_client)
            self.server.attach_inprocess(self._eio_sid, self._deliver)
            self.server.connect_inprocess(self._eio_sid, environ)
            self._eio_open = True
        self._connect_errors.pop(namespace, None)
        self._send(self._packet_class(sio_packet.CONNECT, auth, namespace=namespace))

    def disconnect(self, namespace: str | None = None) -> None:
        """Disconnect ``namespace``; the Engine.IO session ends with the last namespace."""
        namespace = namespace or self.namespace
        if not self.is_connected(namespace):
            raise NotConnectedError(namespace, "disconnect")
        self.transcript.log("disconnect", namespace, "client disconnect")
        self._send(self._packet_class(sio_packet.DISCONNECT, namespace=namespace))
        self.connected.pop(namespace, None)
        self._sids.pop(namespace, None)
        if not any(self.connected.values()):
            self._close_eio()

    def _close_eio(self) -> None:
        if self._eio_open:
            self._eio_open = False
            self.server.disconnect_inprocess(self._eio_sid)

    # -- sending -------------------------------------------------------------------------------

    def _send_event(self, event: str, args: tuple[Any, ...], namespace: str, callback: bool) -> Any:
        if not callback:
            self._send(self._packet_class(sio_packet.EVENT, [event, *args], namespace=namespace))
            return None
        key = self._send_with_ack(event, args, namespace)
        self._awaited_acks.discard(key)  # events are dispatched synchronously: no ack, no wait
        ack = self._acks.pop(key, MISSING)
        if ack is MISSING:
            self.transcript.log("ack", namespace, {"name": event, "args": None})
            return None
        value = ack_value(ack)
        self.transcript.log("ack", namespace, {"name": event, "args": value})
        return value

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit ``event`` and wait up to ``timeout`` seconds for its ack; return it as ``emit``
        with ``callback=True`` does. Raises ``AckTimeoutError`` when no ack comes.
        """
        namespace = self._emitting("call", event, args, namespace)
        key = self._send_with_ack(event, args, namespace)
        acks = self._acks
        try:
            ack = self.inbox.wait(lambda: acks.pop(key, MISSING), timeout)
        finally:
            self._awaited_acks.discard(key)
            acks.pop(key, None)
        if ack is MISSING:
            self.transcript.log("ack-timeout", namespace, {"name": event, "timeout": timeout})
            raise AckTimeoutError(event, namespace, timeout)
        value = ack_value(ack)
        self.transcript.log("ack", namespace, {"name": event, "args": value})
        return value

    def _send_with_ack(self, event: str, args: tuple[Any, ...], namespace: str) -> tuple[str, int]:
        ack_id = next(self._ack_ids)
        self.callback_counter = ack_id
        key = (namespace, ack_id)
        pkt = self._packet_class(sio_packet.EVENT, [event, *args], namespace=namespace, id=ack_id)
        self._awaited_acks.add(key)
        try:
            self._send(pkt)
        except BaseException:
            self._awaited_acks.discard(key)
            raise
        return key

    def _send(self, pkt: Any) -> None:
        """Encode ``pkt`` and hand it to the server as its Engine.IO layer would."""
        encoded = pkt.encode()
        if isinstance(encoded, list):
            for part in encoded:
                if type(part) is not str and type(part) is not bytes:
                    part = bytes(part)  # a real transport hands the server bytes, never bytearray
                self._receive(self._eio_sid, part)
        else:
            self._receive(self._eio_sid, encoded)

    # -- what the server sends -----------------------------------------------------------------

    def _deliver(self, data: Any) -> None:
        """Receive one Engine.IO message (a packet, or one binary attachment) from the server."""
        if type(data) is list:  # an encoded packet with its attachments
            for part in data:
                self._deliver(part)
            return
        pending = self._pending
        if pending is not None:
            if pending.add_attachment(data):
                self._pending = None
                self._handle_packet(pending)
            return
        pkt = self._packet_class(encoded_packet=data)
        if pkt.attachment_count:
            self._pending = pkt
            return
        self._handle_packet(pkt)

    def _handle_packet(self, pkt: Any) -> None:
        packet_type = pkt.packet_type
        namespace = pkt.namespace or "/"
        if packet_type in _EVENT_TYPES:
            result = self._arrived(namespace, pkt.data)
            if pkt.id is not None:
                self._send(
                    self._packet_class(
                        sio_packet.ACK, ack_args(result), namespace=namespace, id=pkt.id
                    )
                )
        elif packet_type in _ACK_TYPES:
            self.acks = {"args": pkt.data, "namespace": namespace}
            key = (namespace, pkt.id)
            if key in self._awaited_acks:
                self._acks[key] = pkt.data
                self.inbox.wake()
        elif packet_type == sio_packet.CONNECT:
            data = pkt.data if isinstance(pkt.data, dict) else {}
            self._sids[namespace] = data.get("sid")
            self.connected[namespace] = True
            self._connect_errors.pop(namespace, None)
            self.transcript.log("connect", namespace, data.get("sid"))
        elif packet_type == sio_packet.CONNECT_ERROR:
            data = pkt.data
            # servers before protocol v5 send a bare string
            error = cast(ConnectErrorPayload, data if isinstance(data, dict) else {"message": data})
            self._connect_errors[namespace] = error
            self.connected[namespace] = False
            self.transcript.log("connect_error", namespace, error)
        elif packet_type == sio_packet.DISCONNECT:
            self.connected[namespace] = False
            self._sids.pop(namespace, None)
            self.transcript.log("disconnect", namespace, "server disconnect")
            self.inbox.wake()

"""The in-process Socket.IO test client.

``SocketIOTestClient`` talks to the real python-socketio server of a ``SocketIO`` object without
sockets: it registers itself as an in-process Engine.IO peer (``server.attach_inprocess``), sends
packets encoded by the server's own packet class through ``server._handle_eio_message`` and
decodes every packet the server hands back. Nothing about how the server treats network clients
changes, so test clients and a live server can share one ``SocketIO`` object.

Events from a test client are dispatched synchronously, so whatever a handler emits in reply is
already queued when ``emit()`` returns, and an exception from a handler without an error handler
is raised by the ``emit()`` (or ``connect()``) that triggered it. Events that arrive later (from
background tasks or other threads) are waited for with ``receive()`` and ``expect()``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flask.testing import EnvironBuilder
from socketio import packet as sio_packet

from .errors import AckTimeoutError, NotConnectedError, ReceiveTimeoutError

__all__ = ["SocketIOTestClient", "AckTimeoutError"]

Handler = Callable[..., Any]

_MISSING = object()
_EVENT_TYPES = (sio_packet.EVENT, sio_packet.BINARY_EVENT)
_ACK_TYPES = (sio_packet.ACK, sio_packet.BINARY_ACK)


def _ns(namespace: str | None) -> str:
    return namespace or "/"


def _event_dict(data: list, namespace: str) -> dict[str, Any]:
    """The shape upstream's test client records: ``args`` unwrapped for message/json."""
    name = data[0]
    if name == "message" or name == "json":
        args = data[1] if len(data) > 1 else None
    else:
        args = data[1:]
    return {"name": name, "args": args, "namespace": namespace}


def _ack_value(args: list | tuple) -> Any:
    """One ack argument unwrapped, several as a list, ``[]`` for none (as upstream)."""
    return args[0] if len(args) == 1 else list(args)


class SocketIOTestClient:
    """A Socket.IO client that runs inside the test process, against the real server.

    :param app: the Flask application.
    :param socketio: the application's ``SocketIO`` object.
    :param namespace: namespace to connect on creation (default ``'/'``).
    :param query_string: query string of the handshake request.
    :param headers: HTTP headers of the handshake request.
    :param auth: the CONNECT packet's auth payload.
    :param flask_test_client: a Flask test client whose cookies (session, login) and environ
        the handshake request shares.
    """

    def __init__(
        self,
        app: Any,
        socketio: Any,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        flask_test_client: Any = None,
    ) -> None:
        # the server init_app built for this app (one SocketIO object may serve several apps)
        server_for = getattr(socketio, "server_for", None)
        if server_for is not None and getattr(socketio, "server", None) is not None:
            server = server_for(app)
        else:
            server = getattr(socketio, "server", None)
        if server is None:
            raise RuntimeError(
                "This SocketIO object has no server yet: call socketio.init_app(app) "
                "before creating a test client."
            )
        self.app = app
        self.socketio = socketio
        self.server = server
        self.flask_test_client = flask_test_client
        self.eio_sid: str = self._new_eio_sid()
        #: namespace -> connected?  (upstream's attribute, kept for compatibility)
        self.connected: dict[str, bool] = {}
        self._sids: dict[str, str | None] = {}
        self._connect_errors: dict[str, Any] = {}
        self._queues: dict[str, deque] = {}
        self._acks: dict[tuple[str, int], list] = {}
        self._awaited_acks: set[tuple[str, int]] = set()
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._ack_ids = itertools.count(1)  # next() is atomic: threads may emit too
        self._pending: Any = None  # a binary packet waiting for its attachments
        # Deliveries (any thread) only append to deques and dicts, which is atomic; readers
        # serialize on this condition, and deliveries notify it only when someone waits.
        self._cond = threading.Condition(threading.Lock())
        self._waiters = 0
        self._packet_class = server.packet_class
        # gevent/eventlet without monkey patching: waiting must yield to the loop, not block it
        self._cooperative = getattr(server, "async_mode", "threading") != "threading"
        self._eio_open = False
        server.attach_inprocess(self.eio_sid, self._deliver)
        self.connect(namespace=namespace, query_string=query_string, headers=headers, auth=auth)

    def _new_eio_sid(self) -> str:
        generate = getattr(self.server.eio, "generate_id", None)
        if generate is not None:
            return generate()
        import uuid  # pragma: no cover - python-engineio always has generate_id

        return uuid.uuid4().hex  # pragma: no cover

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> SocketIOTestClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect every namespace and end the in-process Engine.IO session."""
        try:
            for namespace in [ns for ns, up in self.connected.items() if up]:
                self.disconnect(namespace)
        finally:
            self._close_eio()
            self.server.detach_inprocess(self.eio_sid)

    # -- connection ----------------------------------------------------------------------------

    def is_connected(self, namespace: str | None = None) -> bool:
        """Whether ``namespace`` (default ``'/'``) is connected."""
        return self.connected.get(_ns(namespace), False)

    def get_sid(self, namespace: str | None = None) -> str | None:
        """This client's Socket.IO sid in ``namespace``, or None when not connected there."""
        namespace = _ns(namespace)
        return self._sids.get(namespace) if self.is_connected(namespace) else None

    def get_connect_error(self, namespace: str | None = None) -> Any:
        """The CONNECT_ERROR payload of the last refused connect to ``namespace``, else None.

        It has the shape a real client receives: ``{'message': ...}`` plus ``'data'`` when the
        server gave data (``ConnectionRefusedError('why', {'retry': 5})``).
        """
        return self._connect_errors.get(_ns(namespace))

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        """Connect ``namespace`` (default ``'/'``).

        The first connect opens the Engine.IO session with a handshake request built from
        ``query_string``, ``headers`` and the Flask test client's cookies; later namespaces share
        it, as with a real client (passing ``query_string`` or ``headers`` again replaces it).
        """
        namespace = _ns(namespace)
        if not self._eio_open or query_string or headers:
            environ = self._build_environ(query_string, headers)
            self.server.attach_inprocess(self.eio_sid, self._deliver)
            self.server._handle_eio_connect(self.eio_sid, environ)
            self._eio_open = True
        self._connect_errors.pop(namespace, None)
        self._send(self._packet_class(sio_packet.CONNECT, auth, namespace=namespace))

    def _build_environ(self, query_string: str | None, headers: dict[str, str] | None) -> dict:
        path = "/socket.io"
        if query_string:
            path += query_string if query_string.startswith("?") else "?" + query_string
        ftc = self.flask_test_client
        if ftc is not None and hasattr(ftc, "_request_from_builder_args"):
            # Flask's own builder applies the test client's environ_base
            request = ftc._request_from_builder_args(
                args=(), kwargs={"path": path, "headers": headers}
            )
            environ = request.environ
        else:
            builder = EnvironBuilder(self.app, path=path, headers=headers)
            try:
                environ = builder.get_environ()
            finally:
                builder.close()
        environ["flask.app"] = self.app
        if ftc is not None:
            if hasattr(ftc, "_add_cookies_to_wsgi"):  # Flask >= 2.3
                ftc._add_cookies_to_wsgi(environ)
            else:  # pragma: no cover - older Flask
                ftc.cookie_jar.inject_wsgi(environ)
        return environ

    def disconnect(self, namespace: str | None = None) -> None:
        """Disconnect ``namespace``; the Engine.IO session ends with the last namespace."""
        namespace = _ns(namespace)
        if not self.is_connected(namespace):
            raise NotConnectedError(namespace, "disconnect")
        self._send(self._packet_class(sio_packet.DISCONNECT, namespace=namespace))
        self.connected.pop(namespace, None)
        self._sids.pop(namespace, None)
        if not any(self.connected.values()):
            self._close_eio()

    def _close_eio(self) -> None:
        if self._eio_open:
            self._eio_open = False
            self.server._handle_eio_disconnect(self.eio_sid, self.server.reason.CLIENT_DISCONNECT)

    # -- sending -------------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        *args: Any,
        callback: bool = False,
        namespace: str | None = None,
        **ignored: Any,
    ) -> Any:
        """Emit ``event`` with ``args``; with ``callback=True`` return the server's ack.

        The ack is returned as upstream does: one value unwrapped, several as a list, ``[]``
        when the handler returned None, and None when the event was not handled. Other keyword
        arguments (upstream's own tests pass ``broadcast=True``) are ignored, as upstream does:
        a client cannot broadcast.
        """
        namespace = namespace or "/"
        if not self.connected.get(namespace):
            raise NotConnectedError(namespace, "emit")
        if not callback:
            self._send(self._packet_class(sio_packet.EVENT, [event, *args], namespace=namespace))
            return None
        key = self._send_with_ack(event, args, namespace)
        self._awaited_acks.discard(key)  # events are dispatched synchronously: no ack, no wait
        ack = self._acks.pop(key, _MISSING)
        return None if ack is _MISSING else _ack_value(ack)

    def send(
        self,
        data: Any,
        json: bool = False,
        callback: bool = False,
        namespace: str | None = None,
    ) -> Any:
        """Send a ``message`` (or ``json`` when ``json=True``) event."""
        event = "json" if json else "message"
        return self.emit(event, data, callback=callback, namespace=namespace)

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit ``event`` and wait up to ``timeout`` seconds for its ack; return it as ``emit``
        with ``callback=True`` does. Raises ``TimeoutError`` when no ack comes.
        """
        namespace = _ns(namespace)
        if not self.is_connected(namespace):
            raise NotConnectedError(namespace, "call")
        key = self._send_with_ack(event, args, namespace)
        try:
            ack = self._wait(lambda: self._acks.pop(key, _MISSING), timeout)
        finally:
            self._awaited_acks.discard(key)
            self._acks.pop(key, None)
        if ack is _MISSING:
            raise AckTimeoutError(event, namespace, timeout)
        return _ack_value(ack)

    def _send_with_ack(self, event: str, args: tuple, namespace: str) -> tuple[str, int]:
        ack_id = next(self._ack_ids)
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
        handle = self.server._handle_eio_message
        if isinstance(encoded, list):
            for part in encoded:
                handle(self.eio_sid, part)
        else:
            handle(self.eio_sid, encoded)

    # -- client-side handlers ------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None, namespace: str | None = None) -> Any:
        """Register a client-side handler for ``event`` (``'*'`` catches all); or decorate.

        The handler runs when the server emits the event (it is also recorded for
        ``get_received``); its return value is the ack when the server asked for one, so a
        server-side ``emit(..., callback=f)`` calls ``f`` and ``socketio.call()`` returns it.
        A ``'*'`` handler receives the event name first.
        """
        namespace = _ns(namespace)

        def register(function: Handler) -> Handler:
            self._handlers[(namespace, event)] = function
            return function

        if handler is None:
            return register
        register(handler)
        return None

    # -- receiving -----------------------------------------------------------------------------

    def get_received(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Remove and return every event received in ``namespace`` so far.

        Each is ``{'name', 'args', 'namespace'}``; ``args`` is the payload itself for
        ``message`` and ``json`` events, otherwise the list of arguments.
        """
        namespace = namespace or "/"
        if not self.connected.get(namespace):
            raise NotConnectedError(namespace, "read events from")
        if self._cooperative:
            self.server.sleep(0)  # let started greenlets run before reading
        queue = self._queues.get(namespace)
        if not queue:
            return []
        received = []
        with self._cond:  # readers hold the lock; deliveries only append, so popleft is safe
            while queue:
                received.append(queue.popleft())  # one at a time: no concurrent append is lost
        return received

    def receive(self, timeout: float = 1.0, namespace: str | None = None) -> dict[str, Any]:
        """Remove and return the next event of ``namespace``, waiting up to ``timeout`` seconds.

        Raises ``TimeoutError`` when none arrives.
        """
        namespace = _ns(namespace)

        def next_event() -> Any:
            queue = self._queues.get(namespace)
            return queue.popleft() if queue else _MISSING

        event = self._wait(next_event, timeout)
        if event is _MISSING:
            raise ReceiveTimeoutError(namespace, timeout)
        return event

    def expect(self, event: str, timeout: float = 1.0, namespace: str | None = None) -> Any:
        """Wait for the first ``event`` in ``namespace`` and return its ``args``.

        Events received before it stay queued. Raises ``AssertionError`` listing what was
        received instead when it does not arrive within ``timeout`` seconds.
        """
        namespace = _ns(namespace)

        def find() -> Any:
            queue = self._queues.get(namespace)
            if queue:
                for index, item in enumerate(queue):
                    if item["name"] == event:
                        del queue[index]
                        return item
            return _MISSING

        found = self._wait(find, timeout)
        if found is _MISSING:
            with self._cond:
                seen = list(self._queues.get(namespace) or ())
            raise AssertionError(
                f"expected event {event!r} on {namespace} within {timeout} s; "
                f"received instead: {self._describe(seen)}"
            )
        return found["args"]

    def assert_nothing_received(self, timeout: float = 0.1, namespace: str | None = None) -> None:
        """Raise ``AssertionError`` naming the events if any arrive in ``namespace`` within
        ``timeout`` seconds (events already queued count too; they stay queued).
        """
        namespace = _ns(namespace)

        def any_event() -> Any:
            queue = self._queues.get(namespace)
            return list(queue) if queue else _MISSING

        seen = self._wait(any_event, timeout)
        if seen is not _MISSING:
            raise AssertionError(
                f"expected nothing on {namespace}, received {self._describe(seen)}"
            )

    @staticmethod
    def _describe(events: list[dict[str, Any]]) -> str:
        if not events:
            return "nothing"
        return ", ".join(f"{e['name']!r} {e['args']!r}" for e in events)

    def _wait(self, check: Callable[[], Any], timeout: float) -> Any:
        """Run ``check`` under the lock until it returns something other than ``_MISSING``."""
        deadline = time.monotonic() + timeout
        while True:
            if self._cooperative:
                self.server.sleep(0)
            with self._cond:
                self._waiters += 1  # before checking, so a delivery after the check notifies
                try:
                    result = check()
                    if result is not _MISSING:
                        return result
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return _MISSING
                    if not self._cooperative:
                        self._cond.wait(min(remaining, 0.05))
                        continue
                finally:
                    self._waiters -= 1
            self.server.sleep(min(remaining, 0.005))

    def _wake(self) -> None:
        if self._waiters:
            with self._cond:
                self._cond.notify_all()

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
            self._handle_event(namespace, pkt.id, pkt.data)
        elif packet_type in _ACK_TYPES:
            key = (namespace, pkt.id)
            if key in self._awaited_acks:
                self._acks[key] = pkt.data
                self._wake()
        elif packet_type == sio_packet.CONNECT:
            data = pkt.data if isinstance(pkt.data, dict) else {}
            self._sids[namespace] = data.get("sid")
            self.connected[namespace] = True
            self._connect_errors.pop(namespace, None)
        elif packet_type == sio_packet.CONNECT_ERROR:
            data = pkt.data
            if not isinstance(data, dict):  # servers before protocol v5 send a bare string
                data = {"message": data}
            self._connect_errors[namespace] = data
            self.connected[namespace] = False
        elif packet_type == sio_packet.DISCONNECT:
            self.connected[namespace] = False
            self._sids.pop(namespace, None)

    def _handle_event(self, namespace: str, ack_id: int | None, data: list) -> None:
        event = _event_dict(data, namespace)
        queue = self._queues.get(namespace)
        if queue is None:
            queue = self._queues.setdefault(namespace, deque())
        queue.append(event)
        if self._waiters:
            self._wake()
        handlers = self._handlers
        result = None
        if handlers:
            handler = handlers.get((namespace, data[0]))
            if handler is not None:
                result = handler(*data[1:])
            else:
                handler = handlers.get((namespace, "*"))
                if handler is not None:
                    result = handler(*data)
        if ack_id is not None:
            # like python-socketio's Client: tuples expand to several ack arguments
            if result is None:
                args = []
            elif isinstance(result, tuple):
                args = list(result)
            else:
                args = [result]
            self._send(self._packet_class(sio_packet.ACK, args, namespace=namespace, id=ack_id))

"""A network Socket.IO client with the same interface as the in-process test client.

``Client`` drives python-socketio's ``Client`` (real Engine.IO over polling or websocket) and
adds what tests need: the shared inbox with blocking ``receive``/``expect`` that take timeouts,
acks returned by ``emit(..., callback=True)`` and ``call``, connect errors kept instead of
raised, ``drop()`` to simulate a lost network, and a transcript of everything the client saw.
The python-socketio internals it needs are behind :class:`~.sio_client.SioClient`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlencode

from socketio import exceptions as sio_exceptions

from ._optional import missing_package

try:
    import requests
    import urllib3  # noqa: F401 - the connection pool sio_client tracks
    import websocket  # noqa: F401 - python-socketio's WebSocket transport (websocket-client)
except ImportError as exc:
    raise missing_package(exc, extra="testing", needed_by="flask_socketio_testing.Client") from exc

from .base import BaseClient, ack_value
from .errors import AckTimeoutError, NotConnectedError, ReceiveTimeoutError
from .interface import ConnectErrorPayload
from .sio_client import SioClient, TrackingAdapter

__all__ = ["Client", "AckTimeoutError", "ReceiveTimeoutError", "NotConnectedError"]

_RESERVED = {"connect", "connect_error", "disconnect", "__disconnect_final"}
_NO_ACK = object()

Auth = dict[str, Any] | Callable[[], dict[str, Any]] | None


class Client(BaseClient):
    """A Socket.IO client over the network with the in-process test client's interface.

    ``Client(url, transport='websocket')`` does not connect on creation; call ``connect()``
    (the pytest fixtures do) or use it as a context manager. ``namespace`` is the namespace it
    connects and the one methods use when given none. Received events queue up per namespace
    until read with ``get_received``, ``receive`` or ``expect``. ``transcript`` lists everything
    the client sent, received and acknowledged, in order (the last ``transcript_limit``).
    """

    def __init__(
        self,
        url: str,
        transport: str = "websocket",
        namespace: str | None = "/",
        auth: Auth = None,
        headers: dict[str, str] | None = None,
        query_string: str | dict[str, str] | None = None,
        reconnection: bool = True,
        *,
        reconnection_delay: float = 0.1,
        reconnection_delay_max: float = 1.0,
        connect_timeout: float = 5.0,
        ack_timeout: float = 5.0,
        name: str | None = None,
        transcript_limit: int = 1000,
    ) -> None:
        if transport not in ("websocket", "polling"):
            raise ValueError(f"transport must be 'websocket' or 'polling', not {transport!r}")
        super().__init__(name or f"{transport}-client", transport, namespace, transcript_limit)
        self.url = url.rstrip("/")
        self.auth = auth
        self.headers = dict(headers or {})
        self.query_string = query_string
        self.reconnection = reconnection
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.connect_count = 0
        self.disconnect_count = 0
        self._reconnect_mark = 0
        # connection state changes from python-socketio's threads; drop() serializes on it too
        self._state = threading.Lock()
        self._connect_errors: dict[str, ConnectErrorPayload] = {}
        self._connected_ns: set[str] = set()
        self._adapter = TrackingAdapter()
        session = requests.Session()
        session.mount("http://", self._adapter)
        self._session = session
        #: the python-socketio client (its private parts are used only in sio_client)
        self._sio = SioClient(
            self._dispatch,
            self._adapter,
            reconnection=reconnection,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
            http_session=session,
            handle_sigint=False,
        )

    # -- what python-socketio dispatches -------------------------------------------------------

    def _dispatch(self, event: str, namespace: str, args: tuple[Any, ...]) -> Any:
        namespace = namespace or "/"
        if event == "connect":
            with self._state:
                self._connected_ns.add(namespace)
                self._connect_errors.pop(namespace, None)
                if namespace == self.namespace:
                    self.connect_count += 1
            self.transcript.log("connect", namespace, self._sio.sid_in(namespace))
            self.inbox.wake()
            return None
        if event == "connect_error":
            data = args[0] if len(args) == 1 else (list(args) if args else None)
            error = cast(ConnectErrorPayload, data if isinstance(data, dict) else {"message": data})
            with self._state:
                self._connect_errors[namespace] = error
                self._connected_ns.discard(namespace)
            self.transcript.log("connect_error", namespace, error)
            self.inbox.wake()
            return None
        if event == "disconnect":
            with self._state:
                self._adapter.failing = False
                self._connected_ns.discard(namespace)
                if namespace == self.namespace:
                    self.disconnect_count += 1
                    self._reconnect_mark = self.connect_count
            self.transcript.log("disconnect", namespace, args[0] if args else None)
            self.inbox.wake()
            return None
        if event in _RESERVED:
            return None
        return self._arrived(namespace, (event, *args))

    # -- connection ----------------------------------------------------------------------------

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: Auth = None,
    ) -> None:
        """Connect ``namespace`` (default: the client's namespace).

        The first connect opens the Engine.IO connection; later ones add namespaces to it. A
        refused connect does not raise: ``get_connect_error(namespace)`` returns the server's
        payload and ``is_connected(namespace)`` is False. Transport failures raise
        ``ConnectionError``.
        """
        namespace = namespace or self.namespace
        auth = auth if auth is not None else self.auth
        with self._state:
            self._connect_errors.pop(namespace, None)
        if self._sio.transport_open:
            self._connect_namespace(namespace, auth)
            return
        self.transcript.log("connecting", namespace, self.transport)
        self._sio.reconnection = False  # a refused first connect must not start reconnecting
        self._adapter.failing = False
        try:
            self._sio.connect(
                self._full_url(query_string),
                headers={**self.headers, **(headers or {})},
                auth=auth,
                transports=[self.transport],
                namespaces=[namespace],
                wait=True,
                wait_timeout=self.connect_timeout,
            )
        except sio_exceptions.ConnectionError as exc:
            self._sio.stop_reconnecting()
            if namespace in self._connect_errors:
                return  # refused by the server: keep the payload for get_connect_error()
            raise ConnectionError(
                f"could not connect to {self.url} over {self.transport}: {exc}"
            ) from exc
        self._sio.reconnection = self.reconnection

    def _full_url(self, query_string: str | dict[str, str] | None) -> str:
        qs = query_string if query_string is not None else self.query_string
        if not qs:
            return self.url
        if isinstance(qs, dict):
            qs = urlencode(qs)
        return f"{self.url}?{qs.lstrip('?')}"

    def _connect_namespace(self, namespace: str, auth: Any) -> None:
        if self._sio.sid_in(namespace) is not None:
            return
        self.transcript.log("connecting", namespace, self.transport)
        self._sio.connect_namespace(namespace, auth)
        answered = self.inbox.wait_until(
            lambda: namespace in self._connected_ns or namespace in self._connect_errors,
            self.connect_timeout,
        )
        if not answered:
            raise ConnectionError(
                f"namespace {namespace} did not answer the connect in {self.connect_timeout} s"
            )
        if namespace in self._connect_errors:
            self._sio.forget_namespace(namespace)

    def disconnect(self, namespace: str | None = None) -> None:
        """Disconnect ``namespace`` (default: the client's); the connection closes (and stops
        reconnecting) with its last namespace. Raises ``NotConnectedError`` when ``namespace``
        was not connected (a reconnection in progress is stopped first)."""
        namespace = namespace or self.namespace
        connected = self.is_connected(namespace)
        others = [ns for ns in self._connected_ns if ns != namespace]
        if connected and others:
            self.transcript.log("disconnect", namespace, "client disconnect")
            self._sio.disconnect_namespace(namespace)
            with self._state:
                self._connected_ns.discard(namespace)
            return
        if connected or not others:
            if connected:
                self.transcript.log("disconnect", namespace, "client disconnect")
            self._disconnect_all()
        if not connected:
            raise NotConnectedError(namespace, "disconnect")

    def _disconnect_all(self) -> None:
        sio = self._sio
        sio.reconnection = False
        self._adapter.failing = False  # the CLOSE packet must get through

        def cut() -> None:
            self.transcript.log("disconnect", "*", "not closed in time: cutting the transport")

        try:
            sio.close_bounded(2.0, cut)
            sio.stop_reconnecting()
            sio.close_bounded(2.0, cut)  # a reconnect may have succeeded while being stopped
        finally:
            with self._state:
                self._connected_ns.clear()

    def close(self) -> None:
        """Disconnect everything and release the HTTP session (idempotent)."""
        if self._connected_ns:
            self.transcript.log("disconnect", "*", "client close")
        self._disconnect_all()
        self._session.close()

    def stop_reconnecting(self, timeout: float = 5.0) -> None:
        """Turn reconnection off and stop a reconnection attempt in progress (bounded)."""
        self._sio.stop_reconnecting(timeout)

    def drop(self) -> None:
        """Kill the transport without a Socket.IO disconnect, as a lost network does.

        The server sees its transport close; the client reconnects when ``reconnection`` is on.
        Returns once the client has seen the loss (bounded: 2 s).
        """
        self.transcript.log("drop", "*", self.transport)
        with self._state:
            self._reconnect_mark = self.connect_count
            disconnects = self.disconnect_count
        if not self._sio.connected:
            return
        for _ in range(40):  # 40 x 0.05 s
            # cut again until the loss is seen: a polling request may be between creating its
            # connection and connecting its socket. Under the lock, so that no cut can hit the
            # next connection (reconnection starts after the disconnect handler took the lock).
            with self._state:
                if self.disconnect_count > disconnects:
                    return
                self._sio.cut_transport()
            if self.inbox.wait_until(lambda: self.disconnect_count > disconnects, 0.05):
                return

    def wait_disconnected(self, timeout: float = 5.0, namespace: str | None = None) -> bool:
        """Wait until the client has seen ``namespace`` disconnect (e.g. a server stop)."""
        namespace = namespace or self.namespace
        return self.inbox.wait_until(lambda: namespace not in self._connected_ns, timeout)

    def wait_reconnected(self, timeout: float = 10.0, namespace: str | None = None) -> bool:
        """Wait until ``namespace`` connected again after the last ``drop()`` or disconnect.

        After a server restart, a client may not have noticed the disconnect yet; call
        ``wait_disconnected()`` first, or compare ``connect_count`` yourself.
        """
        namespace = namespace or self.namespace
        return self.inbox.wait_until(
            lambda: namespace in self._connected_ns and self.connect_count > self._reconnect_mark,
            timeout,
        )

    def leaks(self) -> list[str]:
        """Threads or connections this client still holds after ``close()`` (empty if none)."""
        return self._sio.leaks(self.name)

    def is_connected(self, namespace: str | None = None) -> bool:
        """Whether ``namespace`` (default: the client's namespace) is connected."""
        return (namespace or self.namespace) in self._connected_ns

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The Socket.IO sid of this client in ``namespace``, None when not connected there."""
        return self._sio.sid_in(namespace or self.namespace)

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the current connection."""
        return self._sio.eio_sid

    def get_connect_error(self, namespace: str | None = None) -> ConnectErrorPayload | None:
        """The CONNECT_ERROR payload of the last refused connect, or None after a success."""
        with self._state:
            return self._connect_errors.get(namespace or self.namespace)

    # -- sending -------------------------------------------------------------------------------

    def _send_event(self, event: str, args: tuple[Any, ...], namespace: str, callback: bool) -> Any:
        if not callback:
            self._sio.emit(event, args, namespace=namespace)
            return None
        return self._emit_with_ack(event, args, namespace, self.ack_timeout)

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit and return the ack; ``AckTimeoutError`` when none arrives in ``timeout``."""
        namespace = self._emitting("call", event, args, namespace)
        return self._emit_with_ack(event, args, namespace, timeout)

    def _emit_with_ack(
        self, event: str, args: tuple[Any, ...], namespace: str, timeout: float
    ) -> Any:
        done = threading.Event()
        result: list[Any] = [_NO_ACK]

        def on_ack(*ack_args: Any) -> None:
            result[0] = ack_args
            done.set()

        self._sio.emit(event, args, namespace=namespace, callback=on_ack)
        if not done.wait(timeout):
            self.transcript.log("ack-timeout", namespace, {"name": event, "timeout": timeout})
            raise AckTimeoutError(event, namespace, timeout)
        value = ack_value(result[0])
        self.transcript.log("ack", namespace, {"name": event, "args": value})
        return value

    # -- context manager -----------------------------------------------------------------------

    def __enter__(self) -> Client:
        if not self._sio.connected:
            self.connect()
        return self

    def __repr__(self) -> str:
        state = "connected" if self._connected_ns else "disconnected"
        return f"<Client {self.name} {self.url} {self.transport} {state}>"

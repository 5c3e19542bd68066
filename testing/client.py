"""A network Socket.IO client with the same interface as the in-process test client.

``Client`` wraps python-socketio's ``Client`` (real Engine.IO over polling or websocket) and adds
what tests need: a queue of received events with blocking ``receive``/``expect`` that take
timeouts, acks returned by ``emit(..., callback=True)`` and ``call``, connect errors kept instead of
raised, ``drop()`` to simulate a lost network, and a transcript of everything the client saw.
"""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import socketio
from socketio import exceptions as sio_exceptions
from socketio import packet as sio_packet

from ._optional import missing_package
from .inprocess import AckTimeoutError, _ack_value, _event_dict

try:
    import requests
    import websocket  # noqa: F401 - python-socketio's WebSocket transport (websocket-client)
    from urllib3.connectionpool import HTTPConnectionPool
except ImportError as exc:
    raise missing_package(exc, extra="testing", needed_by="flask_socketio_testing.Client") from exc

__all__ = ["Client", "AckTimeoutError"]


_RESERVED = {"connect", "connect_error", "disconnect", "__disconnect_final"}
_NO_ACK = object()


class _TrackingPool(HTTPConnectionPool):
    """Connection pool that remembers its connections so ``drop()`` can cut them."""

    tracked: weakref.WeakSet

    def _new_conn(self):  # type: ignore[no-untyped-def]
        conn = super()._new_conn()
        self.tracked.add(conn)
        return conn


class _TrackingAdapter(requests.adapters.HTTPAdapter):
    """requests adapter whose HTTP pools track their connections (polling transport only)."""

    def __init__(self) -> None:
        self.tracked: weakref.WeakSet = weakref.WeakSet()
        self.failing = False
        super().__init__()

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if self.failing:  # dropped: every request fails until the client saw the disconnect
            raise requests.ConnectionError("connection dropped by Client.drop()")
        return super().send(request, *args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        tracked = self.tracked
        pool_cls = type("TrackingPool", (_TrackingPool,), {"tracked": tracked})
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": pool_cls,
        }

    def cut(self) -> int:
        """Fail requests and shut down every open socket; return how many were open."""
        self.failing = True
        count = 0
        for conn in list(self.tracked):
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    count += 1
                except OSError:
                    pass
        return count


class _SioClient(socketio.Client):
    """python-socketio client that hands every event to its owning ``Client`` first."""

    def __init__(self, owner: Client, **kwargs: Any) -> None:
        self._owner = owner
        super().__init__(**kwargs)

    def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        return self._owner._dispatch(event, namespace, args)


class Client:
    """A Socket.IO client over the network with the in-process test client's interface.

    ``Client(url, transport='websocket')`` does not connect on creation; call ``connect()``
    (the pytest fixtures do). Received events queue up per namespace until read with
    ``get_received``, ``receive`` or ``expect``. ``transcript`` lists everything the client sent,
    received and acknowledged, in order, with times relative to its creation (the last
    ``transcript_limit`` entries).
    """

    def __init__(
        self,
        url: str,
        transport: str = "websocket",
        namespace: str | None = "/",
        auth: dict | Callable[[], dict] | None = None,
        headers: dict | None = None,
        query_string: str | dict | None = None,
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
        self.url = url.rstrip("/")
        self.transport = transport
        self.namespace = namespace or "/"
        self.auth = auth
        self.headers = dict(headers or {})
        self.query_string = query_string
        self.reconnection = reconnection
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.name = name or f"{transport}-client"
        self.transcript: deque[tuple[float, str, str, Any]] = deque(maxlen=transcript_limit)
        self.connect_count = 0
        self.disconnect_count = 0
        self._reconnect_mark = 0
        self._t0 = time.monotonic()
        self._cond = threading.Condition()
        self._queues: dict[str, list[dict]] = {}
        self._handlers: dict[tuple[str, str], Callable[..., Any]] = {}
        self._connect_errors: dict[str, Any] = {}
        self._connected_ns: set[str] = set()
        self._adapter = _TrackingAdapter()
        session = requests.Session()
        session.mount("http://", self._adapter)
        self._sio = _SioClient(
            self,
            reconnection=reconnection,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
            http_session=session,
            handle_sigint=False,
        )
        self._session = session

    # -- internals -------------------------------------------------------------------------

    def _log(self, kind: str, namespace: str, detail: Any) -> None:
        self.transcript.append((time.monotonic() - self._t0, kind, namespace, detail))

    def _dispatch(self, event: str, namespace: str, args: tuple) -> Any:
        namespace = namespace or "/"
        if event == "connect":
            with self._cond:
                self._connected_ns.add(namespace)
                self._connect_errors.pop(namespace, None)
                if namespace == self.namespace:
                    self.connect_count += 1
                self._cond.notify_all()
            self._log("connect", namespace, self._sio.namespaces.get(namespace))
            return None
        if event == "connect_error":
            data = args[0] if len(args) == 1 else (list(args) if args else None)
            with self._cond:
                self._connect_errors[namespace] = data
                self._connected_ns.discard(namespace)
                self._cond.notify_all()
            self._log("connect_error", namespace, data)
            return None
        if event == "disconnect":
            with self._cond:
                self._adapter.failing = False
                self._connected_ns.discard(namespace)
                if namespace == self.namespace:
                    self.disconnect_count += 1
                    self._reconnect_mark = self.connect_count
                self._cond.notify_all()
            self._log("disconnect", namespace, args[0] if args else None)
            return None
        if event in _RESERVED:
            return None
        record = _event_dict([event, *args], namespace)
        self._log("received", namespace, {"name": event, "args": record["args"]})
        with self._cond:
            self._queues.setdefault(namespace, []).append(record)
            self._cond.notify_all()
        handler = self._handlers.get((namespace, event))
        if handler is None:
            return None
        return handler(*args)

    def _full_url(self, query_string: str | dict | None) -> str:
        qs = query_string if query_string is not None else self.query_string
        if not qs:
            return self.url
        if isinstance(qs, dict):
            qs = urlencode(qs)
        qs = qs.lstrip("?")
        return f"{self.url}?{qs}"

    def _wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    # -- connection ------------------------------------------------------------------------

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | dict | None = None,
        headers: dict | None = None,
        auth: dict | Callable[[], dict] | None = None,
    ) -> None:
        """Connect ``namespace`` (default: the client's namespace).

        The first connect opens the Engine.IO connection; later ones add namespaces to it. A
        refused connect does not raise: ``get_connect_error(namespace)`` returns the server's
        payload and ``is_connected(namespace)`` is False. Transport failures raise
        ``ConnectionError``.
        """
        namespace = namespace or self.namespace
        auth = auth if auth is not None else self.auth
        with self._cond:
            self._connect_errors.pop(namespace, None)
        if self._sio.connected and self._sio.eio.state == "connected":
            self._connect_namespace(namespace, auth)
            return
        all_headers = {**self.headers, **(headers or {})}
        self._log("connecting", namespace, self.transport)
        self._sio.reconnection = False  # a refused first connect must not start reconnecting
        self._adapter.failing = False
        try:
            self._sio.connect(
                self._full_url(query_string),
                headers=all_headers,
                auth=auth,
                transports=[self.transport],
                namespaces=[namespace],
                wait=True,
                wait_timeout=self.connect_timeout,
            )
        except sio_exceptions.ConnectionError as exc:
            self._stop_reconnecting()
            if namespace in self._connect_errors:
                return  # refused by the server: keep the payload for get_connect_error()
            raise ConnectionError(
                f"could not connect to {self.url} over {self.transport}: {exc}"
            ) from exc
        self._sio.reconnection = self.reconnection

    def _stop_reconnecting(self, timeout: float = 5.0) -> None:
        """Stop a running reconnection task (bounded); new ones cannot start afterwards."""
        sio = self._sio
        sio.reconnection = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = getattr(sio, "_reconnect_task", None)
            if task is None or not task.is_alive():
                return
            if sio._reconnect_abort is not None:
                sio._reconnect_abort.set()  # set again: the task clears it when it starts
            task.join(0.1)

    def _connect_namespace(self, namespace: str, auth: Any) -> None:
        sio = self._sio
        if namespace in sio.namespaces:
            return
        if namespace not in sio.connection_namespaces:
            sio.connection_namespaces = [*sio.connection_namespaces, namespace]
        real_auth = auth() if callable(auth) else (auth or {})
        sio._send_packet(sio.packet_class(sio_packet.CONNECT, data=real_auth, namespace=namespace))
        ok = self._wait_for(
            lambda: namespace in self._connected_ns or namespace in self._connect_errors,
            self.connect_timeout,
        )
        if not ok:
            raise ConnectionError(
                f"namespace {namespace} did not answer the connect in {self.connect_timeout} s"
            )
        if namespace in self._connect_errors:
            sio.connection_namespaces = [n for n in sio.connection_namespaces if n != namespace]

    def disconnect(self, namespace: str | None = None) -> None:
        """Disconnect one namespace, or everything (and stop reconnecting) when none is given."""
        sio = self._sio
        if namespace is not None and len(sio.namespaces) > 1 and namespace in sio.namespaces:
            sio._send_packet(sio.packet_class(sio_packet.DISCONNECT, namespace=namespace))
            del sio.namespaces[namespace]
            sio.connection_namespaces = [n for n in sio.connection_namespaces if n != namespace]
            with self._cond:
                self._connected_ns.discard(namespace)
            self._log("disconnect", namespace, "client disconnect")
            return
        self._log("disconnect", namespace or "*", "client disconnect")
        sio.reconnection = False
        self._adapter.failing = False  # the CLOSE packet must get through
        try:
            self._close_connection()
            self._stop_reconnecting()
            self._close_connection()  # a reconnect may have succeeded while being stopped
        finally:
            with self._cond:
                self._connected_ns.clear()

    def _close_connection(self, grace: float = 2.0) -> None:
        """Disconnect like python-socketio does, but bounded in time.

        python-socketio's ``disconnect()`` joins the read loop without a timeout; a polling GET
        the server does not release would block it for a whole ping interval. It runs in a
        helper thread here, and the transport is cut if it has not finished after ``grace``.
        """
        sio = self._sio
        if not sio.connected and sio.eio.state != "connected":
            return

        def run() -> None:
            try:
                if sio.connected:
                    sio.disconnect()
                elif sio.eio.state == "connected":
                    sio.eio.disconnect()
            except Exception:  # noqa: BLE001 - the connection is going away anyway
                pass

        helper = threading.Thread(target=run, name=f"{self.name}-disconnect", daemon=True)
        helper.start()
        helper.join(grace)
        if helper.is_alive():
            self._log("disconnect", "*", f"not closed after {grace} s: cutting the transport")
            self._cut_transport()
            helper.join(3.0)
        self._adapter.failing = False

    def close(self) -> None:
        """Disconnect everything and release the HTTP session (idempotent)."""
        self.disconnect()
        self._session.close()

    def drop(self) -> None:
        """Kill the transport without a Socket.IO disconnect, as a lost network does.

        The server sees its transport close; the client reconnects when ``reconnection`` is on.
        Returns once the client has seen the loss (bounded: 2 s).
        """
        self._log("drop", "*", self.transport)
        with self._cond:
            self._reconnect_mark = self.connect_count
            disconnects = self.disconnect_count
        if not self._sio.connected:
            return
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            # cut again until the loss is seen: a polling request may be between creating its
            # connection and connecting its socket. Under the lock, so that no cut can hit the
            # next connection (reconnection starts after the disconnect handler took the lock).
            with self._cond:
                if self.disconnect_count > disconnects:
                    return
                self._cut_transport()
            if self._wait_for(lambda: self.disconnect_count > disconnects, 0.05):
                return

    def _cut_transport(self) -> None:
        eio = self._sio.eio
        if eio.current_transport == "polling":
            self._adapter.cut()
            return
        ws = getattr(eio, "ws", None)
        if ws is not None and getattr(ws, "sock", None) is not None:
            try:
                ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait_disconnected(self, timeout: float = 5.0, namespace: str | None = None) -> bool:
        """Wait until the client has seen ``namespace`` disconnect (e.g. a server stop)."""
        namespace = namespace or self.namespace
        return self._wait_for(lambda: namespace not in self._connected_ns, timeout)

    def wait_reconnected(self, timeout: float = 10.0, namespace: str | None = None) -> bool:
        """Wait until ``namespace`` connected again after the last ``drop()`` or disconnect.

        After a server restart, a client may not have noticed the disconnect yet; call
        ``wait_disconnected()`` first, or compare ``connect_count`` yourself.
        """
        namespace = namespace or self.namespace
        return self._wait_for(
            lambda: namespace in self._connected_ns and self.connect_count > self._reconnect_mark,
            timeout,
        )

    def leaks(self) -> list[str]:
        """Threads or connections this client still holds after ``close()`` (empty if none)."""
        found = []
        sio, eio = self._sio, self._sio.eio
        if eio.state != "disconnected":
            found.append(f"{self.name}: Engine.IO state {eio.state!r}")
        task = getattr(sio, "_reconnect_task", None)
        if task is not None and task.is_alive():
            found.append(f"{self.name}: reconnection task still running")
        for attr in ("read_loop_task", "write_loop_task"):
            task = getattr(eio, attr, None)
            if task is not None and getattr(task, "is_alive", lambda: False)():
                found.append(f"{self.name}: Engine.IO {attr} thread {task.name!r} alive")
        return found

    def is_connected(self, namespace: str | None = None) -> bool:
        """True when ``namespace`` (default: the client's namespace) is connected."""
        return (namespace or self.namespace) in self._connected_ns

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The Socket.IO sid of this client in ``namespace``."""
        return self._sio.namespaces.get(namespace or self.namespace)

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the current connection."""
        return self._sio.eio.sid

    def get_connect_error(self, namespace: str | None = None) -> Any:
        """The CONNECT_ERROR payload of the last refused connect, or None after a success."""
        with self._cond:
            return self._connect_errors.get(namespace or self.namespace)

    # -- sending -----------------------------------------------------------------------------

    def emit(
        self, event: str, *args: Any, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Emit ``event`` with ``args``; with ``callback=True`` wait for and return the ack."""
        namespace = namespace or self.namespace
        self._log("emit", namespace, {"name": event, "args": list(args)})
        if not callback:
            self._sio.emit(event, tuple(args), namespace=namespace)
            return None
        return self._emit_with_ack(event, args, namespace, self.ack_timeout)

    def _emit_with_ack(self, event: str, args: tuple, namespace: str, timeout: float) -> Any:
        done = threading.Event()
        result: list[Any] = [_NO_ACK]

        def on_ack(*ack_args: Any) -> None:
            result[0] = ack_args
            done.set()

        self._sio.emit(event, tuple(args), namespace=namespace, callback=on_ack)
        if not done.wait(timeout):
            self._log("ack-timeout", namespace, {"name": event, "timeout": timeout})
            raise AckTimeoutError(f"no ack for {event!r} on {namespace} within {timeout} s")
        value = _ack_value(result[0])
        self._log("ack", namespace, {"name": event, "args": value})
        return value

    def send(
        self, data: Any, json: bool = False, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Send a ``message`` (or ``json`` with ``json=True``) event."""
        return self.emit(
            "json" if json else "message", data, callback=callback, namespace=namespace
        )

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit and return the ack; raise ``TimeoutError`` when none arrives in ``timeout``."""
        namespace = namespace or self.namespace
        self._log("emit", namespace, {"name": event, "args": list(args)})
        return self._emit_with_ack(event, args, namespace, timeout)

    # -- receiving ---------------------------------------------------------------------------

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        """Register a client-side handler (also usable as a decorator).

        Its return value is the ack when the server asked for one. The event is still queued
        for ``get_received``/``receive``.
        """
        namespace = namespace or self.namespace

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._handlers[(namespace, event)] = fn
            return fn

        if handler is None:
            return register
        register(handler)
        return None

    def get_received(self, namespace: str | None = None) -> list[dict]:
        """Remove and return every event received so far in ``namespace``."""
        namespace = namespace or self.namespace
        with self._cond:
            events = self._queues.get(namespace, [])
            self._queues[namespace] = []
        return events

    def receive(self, timeout: float = 1.0, namespace: str | None = None) -> dict:
        """Remove and return the next event of ``namespace``, waiting up to ``timeout``."""
        namespace = namespace or self.namespace
        if not self._wait_for(lambda: bool(self._queues.get(namespace)), timeout):
            raise TimeoutError(f"nothing received on {namespace} within {timeout} s")
        with self._cond:
            return self._queues[namespace].pop(0)

    def expect(self, event: str, timeout: float = 1.0, namespace: str | None = None) -> Any:
        """Wait for the first ``event`` and return its args; earlier events stay queued."""
        namespace = namespace or self.namespace

        def find() -> int | None:
            for i, record in enumerate(self._queues.get(namespace, [])):
                if record["name"] == event:
                    return i
            return None

        if not self._wait_for(lambda: find() is not None, timeout):
            with self._cond:
                seen = [r["name"] for r in self._queues.get(namespace, [])]
            raise AssertionError(
                f"expected {event!r} on {namespace} within {timeout} s; "
                f"received instead: {seen or 'nothing'}"
            )
        with self._cond:
            index = find()
            assert index is not None
            return self._queues[namespace].pop(index)["args"]

    def assert_nothing_received(self, timeout: float = 0.1, namespace: str | None = None) -> None:
        """Raise ``AssertionError`` naming the events if any arrive within ``timeout``."""
        namespace = namespace or self.namespace
        self._wait_for(lambda: bool(self._queues.get(namespace)), timeout)
        with self._cond:
            events = list(self._queues.get(namespace, []))
        if events:
            names = [e["name"] for e in events]
            raise AssertionError(f"expected nothing on {namespace}, received {names}: {events}")

    # -- context manager ---------------------------------------------------------------------

    def __enter__(self) -> Client:
        if not self._sio.connected:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self._connected_ns else "disconnected"
        return f"<Client {self.name} {self.url} {self.transport} {state}>"

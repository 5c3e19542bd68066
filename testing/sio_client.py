"""python-socketio's ``Client`` with the few extra powers a test client needs.

The network ``Client`` must add a namespace to a live connection, drop one, stop a reconnection
in progress, close in bounded time and cut the transport as a lost network would. python-socketio
has no public API for these, so every use of its client's (and requests'/urllib3's) private
parts is in this module, behind the public methods of :class:`SioClient`.
"""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import requests
import socketio
from socketio import packet as sio_packet
from urllib3.connectionpool import HTTPConnectionPool

__all__ = ["SioClient", "TrackingAdapter"]

#: called for every event python-socketio would dispatch: (event, namespace, args) -> ack
Dispatch = Callable[[str, str, tuple[Any, ...]], Any]


class _TrackingPool(HTTPConnectionPool):
    """Connection pool that remembers its connections so that they can be cut."""

    tracked: weakref.WeakSet[Any]  # urllib3 connections

    def _new_conn(self) -> Any:
        conn = super()._new_conn()
        self.tracked.add(conn)
        return conn


class TrackingAdapter(requests.adapters.HTTPAdapter):
    """requests adapter whose HTTP pools track their connections (polling transport only)."""

    def __init__(self) -> None:
        self.tracked: weakref.WeakSet[Any] = weakref.WeakSet()
        #: while True every request fails (a dropped network), until the disconnect is seen
        self.failing = False
        super().__init__()

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if self.failing:
            raise requests.ConnectionError("connection dropped by Client.drop()")
        return super().send(request, *args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pool_cls = type("TrackingPool", (_TrackingPool,), {"tracked": self.tracked})
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


class SioClient(socketio.Client):
    """python-socketio client that hands every event to ``dispatch`` and can be steered."""

    connection_namespaces: list[str]

    def __init__(self, dispatch: Dispatch, adapter: TrackingAdapter, **kwargs: Any) -> None:
        self._dispatch_to = dispatch
        self._adapter = adapter
        super().__init__(**kwargs)

    def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        return self._dispatch_to(event, namespace, args)

    # -- state --------------------------------------------------------------------------------

    @property
    def transport_open(self) -> bool:
        """Whether the Engine.IO connection is up."""
        return bool(self.connected and self.eio.state == "connected")

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the current connection."""
        sid = self.eio.sid
        return str(sid) if sid is not None else None

    def sid_in(self, namespace: str) -> str | None:
        """The Socket.IO sid in ``namespace``, None when not connected there."""
        sid = self.namespaces.get(namespace)
        return str(sid) if sid is not None else None

    # -- namespaces on a live connection ------------------------------------------------------

    def connect_namespace(self, namespace: str, auth: Any) -> None:
        """Send a CONNECT for ``namespace`` over the open connection (the answer is dispatched)."""
        if namespace not in self.connection_namespaces:
            self.connection_namespaces = [*self.connection_namespaces, namespace]
        data = auth() if callable(auth) else (auth or {})
        self._send_packet(self.packet_class(sio_packet.CONNECT, data=data, namespace=namespace))

    def forget_namespace(self, namespace: str) -> None:
        """Stop reconnecting ``namespace`` (after a refusal or a disconnect)."""
        self.connection_namespaces = [n for n in self.connection_namespaces if n != namespace]

    def disconnect_namespace(self, namespace: str) -> None:
        """Leave one namespace, keeping the connection and the other namespaces."""
        self._send_packet(self.packet_class(sio_packet.DISCONNECT, namespace=namespace))
        self.namespaces.pop(namespace, None)
        self.forget_namespace(namespace)

    # -- ending -------------------------------------------------------------------------------

    def stop_reconnecting(self, timeout: float = 5.0) -> None:
        """Stop a running reconnection task (bounded); new ones cannot start afterwards."""
        self.reconnection = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self._reconnect_task
            if task is None or not task.is_alive():
                return
            if self._reconnect_abort is not None:
                self._reconnect_abort.set()  # set again: the task clears it when it starts
            task.join(0.1)

    def close_bounded(self, grace: float, on_cut: Callable[[], None]) -> None:
        """Disconnect like ``disconnect()`` does, but bounded in time.

        python-socketio's ``disconnect()`` joins the read loop without a timeout; a polling GET
        the server does not release would block it for a whole ping interval. It runs in a
        helper thread here, and the transport is cut (``on_cut`` is told) after ``grace``.
        """
        if not self.connected and self.eio.state != "connected":
            return

        def run() -> None:
            try:
                if self.connected:
                    self.disconnect()
                elif self.eio.state == "connected":
                    self.eio.disconnect()
            except Exception:  # noqa: BLE001 - the connection is going away anyway
                pass

        helper = threading.Thread(target=run, name="socketio-client-disconnect", daemon=True)
        helper.start()
        helper.join(grace)
        if helper.is_alive():
            on_cut()
            self.cut_transport()
            helper.join(3.0)
        self._adapter.failing = False

    def cut_transport(self) -> None:
        """Shut the transport's sockets down without a close handshake (a lost network)."""
        eio = self.eio
        if eio.current_transport == "polling":
            self._adapter.cut()
            return
        ws = getattr(eio, "ws", None)
        if ws is not None and getattr(ws, "sock", None) is not None:
            try:
                ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def leaks(self, label: str) -> list[str]:
        """Threads or connection state still alive (empty after a clean close)."""
        found = []
        eio = self.eio
        if eio.state != "disconnected":
            found.append(f"{label}: Engine.IO state {eio.state!r}")
        task = self._reconnect_task
        if task is not None and task.is_alive():
            found.append(f"{label}: reconnection task still running")
        for attr in ("read_loop_task", "write_loop_task"):
            task = getattr(eio, attr, None)
            if task is not None and getattr(task, "is_alive", lambda: False)():
                found.append(f"{label}: Engine.IO {attr} thread {task.name!r} alive")
        return found

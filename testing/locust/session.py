"""The Locust user's Socket.IO connection: a python-socketio ``Client`` tuned for load.

The user keeps a connection of its own (not the harness's network client): received messages are
handled inline on the reader greenlet and timed where they arrive, and a refused connect raises
:class:`ConnectRefused` with the server's reason instead of python-socketio's "One or more
namespaces failed to connect".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import engineio
import socketio

__all__ = ["ConnectRefused", "open_connection"]


class ConnectRefused(ConnectionError):
    """The server refused the Socket.IO connect; the message carries the server's reason."""


class _InlineEngineIOClient(engineio.Client):
    """Handles each received message on the reader greenlet instead of a new thread per message.

    python-engineio starts a thread (a greenlet under gevent) for every message; doing it inline
    halves the load generator's CPU per delivery (measured: 125 -> 66 us) and times the receipt
    where it happened. Handlers must therefore not block (no ``call()`` inside ``on_event``).
    """

    #: bytes read per socket read on the WebSocket (see _connect_websocket)
    READ_CHUNK = 8192

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)

    def _connect_websocket(self, *args: Any, **kwargs: Any) -> Any:
        # websocket-client reads each frame with 2-4 exact-size socket reads (header, length,
        # payload); its frame buffer keeps any surplus, so reading whole chunks saves most of
        # those reads (each a gevent wait with a timeout) when frames queue up under load
        ok = super()._connect_websocket(*args, **kwargs)
        ws = getattr(self, "ws", None)
        buffer = getattr(ws, "frame_buffer", None)
        raw = getattr(ws, "_recv", None)
        if ok and buffer is not None and raw is not None:
            buffer.recv = lambda _size, _raw=raw, _n=self.READ_CHUNK: _raw(_n)
        return ok


class _Client(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InlineEngineIOClient


def _reason(data: tuple[Any, ...]) -> str:
    # the server's connect_error payload: {"message": ..., "data": ...}, a string, or nothing
    if not data:
        return "no reason given"
    first = data[0]
    if isinstance(first, dict) and "message" in first:
        extra = first.get("data")
        return str(first["message"]) + (f" ({extra!r})" if extra is not None else "")
    return ", ".join(str(d) for d in data)


def open_connection(
    url: str,
    *,
    namespace: str,
    auth: Any,
    headers: dict[str, str],
    transports: list[str],
    socketio_path: str,
    timeout: float,
    on_any: Callable[..., None],
    on_disconnect: Callable[..., None],
) -> socketio.Client:
    """Connect a load client to ``namespace`` at ``url``; raises on any failure.

    ``on_any(event, *args)`` is called for every received event, on the reader greenlet.
    """
    # websocket-client checks UTF-8 of every text frame in pure Python (half the load
    # generator's CPU); the frame is decoded as UTF-8 anyway, which still rejects bad data
    client = _Client(reconnection=False, websocket_extra_options={"skip_utf8_validation": True})
    refused: list[str] = []
    client.on("connect_error", lambda *data: refused.append(_reason(data)), namespace=namespace)
    client.on("*", on_any, namespace=namespace)
    client.on("disconnect", on_disconnect, namespace=namespace)
    try:
        client.connect(
            url,
            headers=headers,
            auth=auth,
            transports=transports,
            namespaces=[namespace],
            socketio_path=socketio_path,
            wait_timeout=timeout,
        )
    except socketio.exceptions.ConnectionError as exc:
        _close_quietly(client)
        if refused:
            raise ConnectRefused(
                f"{url} refused the connect to {namespace!r}: {refused[-1]}"
            ) from exc
        raise
    except Exception:
        _close_quietly(client)
        raise
    return client


def _close_quietly(client: socketio.Client) -> None:
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001 - closing a half-open client; the connect error matters
        pass

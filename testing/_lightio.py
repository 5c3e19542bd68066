"""The asyncio side of light swarm clients: one loop, one HTTP session, python-socketio clients.

Every python-socketio / python-engineio internal the light engine relies on lives in this module,
so that a new python-socketio release has one place to be checked against. What is changed:

* the Engine.IO read loop awaits each websocket frame directly: no ``asyncio.wait_for`` (a task
  and a timer per frame on Python 3.11) and no task per incoming message for plain events; one
  watchdog per loop closes connections that stopped talking (ping interval + ping timeout), which
  is what the per-frame timeout was for;
* every client shares the loop's ``aiohttp.ClientSession`` (one connector, no per-client session)
  and the session outlives the clients (python-engineio would close it when a client is freed);
* events go to the owner's ``dispatch(event, namespace, args)`` on the loop thread;
* one packet codec for all of them, with stdlib ``json``'s C decoder.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from ._optional import missing_package

try:
    import aiohttp
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise missing_package(exc, extra="testing", needed_by="the light swarm engine") from exc
import engineio
import socketio
from engineio import packet as eio_packet
from engineio import payload as eio_payload

__all__ = ["LightSocketIO", "Owner", "light_socketio"]

# python-socketio encodes a plain event as "2" + optional namespace + JSON; those are the frames
# handled inline (connect, disconnect, acks and binary keep python-engineio's own path)
_EVENT_PREFIX = "42"


class _SwarmPacket(socketio.packet.Packet):
    """The swarm's one Socket.IO packet codec: stdlib ``json`` as is.

    python-engineio's json wrapper adds a Python ``parse_int`` hook, so every decode builds a new
    decoder; a subclass (not ``AsyncClient(json=...)``, which patches the shared ``Packet``
    class, servers included) gives swarm clients the C decoder without touching anyone else.
    """

    json = json


class Owner(Protocol):
    """What a light Socket.IO client reports to (the swarm client wrapping it)."""

    def dispatch(self, event: str, namespace: str, args: tuple) -> Any: ...


class _LeanQueue:
    """The part of ``asyncio.Queue`` python-engineio uses, without its four deques (~3 KiB)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def task_done(self) -> None:
        pass

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class _LeanEvent(asyncio.Event):
    """``asyncio.Event`` keeping its waiters in a list (an empty deque costs 760 bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self._waiters = []  # type: ignore[assignment]


_NO_HEADERS: Any = None


def _forget_handshake(ws: Any) -> None:
    """Drop the handshake's request and response headers once the websocket is open (~1.5 KiB).

    aiohttp keeps them on the response object for the connection's life; nothing reads them
    after the handshake.
    """
    global _NO_HEADERS
    response = getattr(ws, "_response", None)
    if response is None or not hasattr(response, "_raw_headers"):
        return
    if _NO_HEADERS is None:
        from multidict import CIMultiDict, CIMultiDictProxy

        _NO_HEADERS = CIMultiDictProxy(CIMultiDict())
    response._headers = _NO_HEADERS
    response._raw_headers = ()
    response._cache = {}
    info = getattr(response, "_request_info", None)
    if info is not None and hasattr(info, "_replace"):  # the request's headers, kept likewise
        response._request_info = info._replace(headers=_NO_HEADERS)


class _LightEngineIO(engineio.AsyncClient):
    """python-engineio's asyncio client with lean loops, queue and events (see module doc)."""

    last_seen: float = 0.0

    def __del__(self) -> None:  # the shared HTTP session is the loop's to close, not ours
        pass

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        return _LeanQueue()

    async def _connect_websocket(self, url: str, headers: dict, engineio_path: str) -> bool:
        ok: bool = await super()._connect_websocket(url, headers, engineio_path)
        _forget_handshake(self.ws)
        return ok

    def create_event(self, *args: Any, **kwargs: Any) -> Any:
        return _LeanEvent()

    async def _write_loop(self) -> None:
        # python-engineio's own loop waits with asyncio.wait_for (a task and a timer per wait on
        # Python 3.11); a dead connection is found by the read loop and the watchdog instead
        while self.state == "connected":
            packets = [await self.queue.get()]
            while packets[-1] is not None:
                try:
                    packets.append(self.queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            closing = packets[-1] is None
            packets = [p for p in packets if p is not None]
            if packets and not await self._write(packets):
                break
            if closing:
                break
        self.write_loop_task = None

    async def _write(self, packets: list[Any]) -> bool:
        """Send ``packets`` over the current transport; False when the connection is gone."""
        if self.current_transport == "polling":
            body = eio_payload.Payload(packets=packets).encode()
            r = await self._send_request(
                "POST",
                self.base_url,
                body=body,
                headers={"Content-Type": "text/plain"},
                timeout=self.request_timeout,
            )
            return r is not None and not isinstance(r, str) and 200 <= r.status < 300
        try:
            for pkt in packets:
                if pkt.binary:
                    await self.ws.send_bytes(pkt.encode())
                else:
                    await self.ws.send_str(pkt.encode())
        except (aiohttp.ClientError, OSError, ConnectionError):
            return False
        return True

    async def _read_loop_websocket(self) -> None:
        loop = asyncio.get_running_loop()
        ws = self.ws
        while self.state == "connected" and self.write_loop_task:
            try:
                message = await ws.receive()
            except Exception:  # noqa: BLE001 - any failure ends this connection
                message = None
            data = None if message is None else message.data
            if not isinstance(data, (str, bytes)):
                await self.queue.put(None)
                break
            self.last_seen = loop.time()
            if isinstance(data, str) and data.startswith(_EVENT_PREFIX):
                try:  # the Socket.IO client's dispatcher, awaited in place
                    await self.handlers["message"](data[1:])
                except Exception:  # noqa: BLE001 - one bad event must not end the connection
                    self.logger.exception("light client: event handling failed")
                continue
            try:
                pkt = eio_packet.Packet(encoded_packet=data)
            except Exception:  # noqa: BLE001 - a frame we cannot decode ends the connection
                await self.queue.put(None)
                break
            await self._receive_packet(pkt)
        if self.write_loop_task:
            await self.write_loop_task
        if self.state == "connected":
            await self._trigger_event("disconnect", self.reason.TRANSPORT_ERROR, run_async=False)
            try:
                engineio.base_client.connected_clients.remove(self)
            except ValueError:
                pass
            await self._reset()

    def silent_for(self, now: float) -> float:
        """Seconds since the last frame (0 when not on an open websocket)."""
        if self.state != "connected" or self.current_transport != "websocket" or not self.ws:
            return 0.0
        return now - (self.last_seen or now)

    def deadline(self) -> float:
        """How long the server may stay silent before the connection counts as dead."""
        return (self.ping_interval or 25.0) + (self.ping_timeout or 20.0)

    def kill(self) -> None:
        """Close the transport at once (no Engine.IO close): the read loop then ends."""
        ws = self.ws
        transport = getattr(getattr(ws, "_response", None), "connection", None)
        transport = getattr(transport, "transport", None)
        if transport is not None:
            transport.abort()
        elif ws is not None:
            asyncio.ensure_future(ws.close())


class LightSocketIO(socketio.AsyncClient):
    """python-socketio's ``AsyncClient`` that hands every event to its owner, synchronously."""

    def __init__(self, owner: Owner, **kwargs: Any) -> None:
        self._owner = owner
        super().__init__(**kwargs)

    def _engineio_client_class(self) -> type:
        return _LightEngineIO

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        return self._owner.dispatch(event, namespace, args)

    def silent_for(self, now: float) -> float:
        return self.eio.silent_for(now)

    def kill(self) -> None:
        """Cut the transport without a goodbye, as a lost network does."""
        self.eio.kill()

    def tasks(self) -> list[tuple[str, Any]]:
        """The asyncio tasks this client runs (for leak checks)."""
        eio = self.eio
        return [
            ("read loop", eio.read_loop_task),
            ("write loop", eio.write_loop_task),
            ("reconnect", self._reconnect_task),
        ]

    async def stop(self) -> None:
        """Disconnect and stop reconnecting; returns when no task of this client runs."""
        self.reconnection = False
        if self._reconnect_task is not None and self._reconnect_abort is not None:
            self._reconnect_abort.set()
        if self.connected:
            await self.disconnect()
        elif self.eio.state == "connected":
            await self.eio.disconnect()
        task = self._reconnect_task
        if task is not None and not task.done():
            if self._reconnect_abort is not None:
                self._reconnect_abort.set()
            await asyncio.wait([task], timeout=2.0)
        if self.connected:  # a reconnect finished while it was being stopped
            await self.disconnect()


def light_socketio(owner: Owner, session: aiohttp.ClientSession, **kwargs: Any) -> LightSocketIO:
    """A light python-socketio ``AsyncClient`` for ``owner`` on a shared HTTP session."""
    return LightSocketIO(
        owner, http_session=session, handle_sigint=False, serializer=_SwarmPacket, **kwargs
    )

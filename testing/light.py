"""Light swarm clients: thousands of Socket.IO clients on one asyncio loop, used synchronously.

A :class:`LightClient` is a python-socketio ``AsyncClient`` (aiohttp websocket or polling) running
on a :class:`~flask_socketio_testing.light_loop.LightLoop` shared by a whole swarm: no thread per
client, no thread or task per message. Its methods are the network ``Client``'s that swarms use
(``emit``, ``call``, ``on``, ``receive``, ``expect``, ``is_connected``, ``drop``, ``close``) and are
called from any thread; handlers registered with ``on`` run on the loop thread, so they must
return quickly and never block on another client of the same swarm.

Each client costs a few KiB: no transcript, and at most ``inbox`` received events kept for
``receive``/``expect`` (the oldest are dropped; with ``inbox=0`` only handlers see events).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ._lightio import LightSocketIO
from .base import SendsMessages, ack_value, event_record, register_or_decorate
from .errors import AckTimeoutError, ExpectationError, ReceiveTimeoutError
from .interface import ReceivedEvent
from .light_loop import LightLoop
from .stamp import find_stamp

__all__ = ["LightClient", "LightLoop"]

_RESERVED = frozenset({"connect", "connect_error", "disconnect", "__disconnect_final"})
StateCallback = Callable[[int, bool], None]


class LightClient(SendsMessages):
    """One swarm client on a shared loop (see the module docstring).

    ``on_state(index, up)`` is called on the loop thread when the client's namespace connects
    (``up``) or disconnects. ``cond`` is the condition shared by the swarm's clients: waiting
    readers are woken through it.
    """

    __slots__ = (
        "loop",
        "url",
        "transport",
        "namespace",
        "auth",
        "headers",
        "reconnection",
        "connect_timeout",
        "ack_timeout",
        "name",
        "index",
        "connect_count",
        "disconnect_count",
        "_sio",
        "_cond",
        "_inbox",
        "_inbox_size",
        "_handlers",
        "_connected",
        "_connect_error",
        "_on_state",
    )

    def __init__(
        self,
        loop: LightLoop,
        url: str,
        *,
        index: int = 0,
        transport: str = "websocket",
        namespace: str = "/",
        auth: dict | Callable[[], dict] | None = None,
        headers: dict | None = None,
        name: str | None = None,
        inbox: int = 100,
        connect_timeout: float = 10.0,
        ack_timeout: float = 5.0,
        reconnection: bool = True,
        reconnection_delay: float = 0.1,
        reconnection_delay_max: float = 1.0,
        cond: threading.Condition | None = None,
        on_state: StateCallback | None = None,
    ) -> None:
        if transport not in ("websocket", "polling"):
            raise ValueError(f"transport must be 'websocket' or 'polling', not {transport!r}")
        self.loop = loop
        self.url = url.rstrip("/")
        self.transport = transport
        self.namespace = namespace or "/"
        self.auth = auth
        self.headers = dict(headers) if headers else {}
        self.reconnection = reconnection
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.name = name or f"light-{index}"
        self.index = index
        self.connect_count = 0
        self.disconnect_count = 0
        self._cond = cond or threading.Condition()
        self._inbox: deque[ReceivedEvent] | None = None
        self._inbox_size = max(0, int(inbox))
        self._handlers: dict[tuple[str, str], Callable[..., Any]] | None = None
        self._connected = False
        self._connect_error: Any = None
        self._on_state = on_state
        self._sio: LightSocketIO = loop.new_client(
            self,
            reconnection=reconnection,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
        )

    # -- events from the loop -----------------------------------------------------------------

    def dispatch(self, event: str, namespace: str, args: tuple) -> Any:
        """Called by python-socketio on the loop thread for every event of this client."""
        namespace = namespace or "/"
        if event in _RESERVED:
            if namespace == self.namespace:
                self._state(event, args)
            return None
        handler = self._handlers.get((namespace, event)) if self._handlers else None
        if self._inbox_size and (namespace == self.namespace or handler is None):
            with self._cond:
                if self._inbox is None:
                    self._inbox = deque(maxlen=self._inbox_size)
                self._inbox.append(event_record([event, *args], namespace))
                self._cond.notify_all()
        if handler is None:
            return None
        try:
            return handler(*args)
        except Exception:  # noqa: BLE001 - a failing handler must not kill the read loop
            return None

    def _state(self, event: str, args: tuple) -> None:
        if event == "connect":
            with self._cond:
                self._connected = True
                self._connect_error = None
                self.connect_count += 1
                self._cond.notify_all()
            if self._on_state is not None:
                self._on_state(self.index, True)
        elif event == "connect_error":
            with self._cond:
                self._connect_error = args[0] if len(args) == 1 else list(args)
                self._connected = False
                self._cond.notify_all()
        elif event == "disconnect":
            with self._cond:
                was = self._connected
                self._connected = False
                if was:
                    self.disconnect_count += 1
                self._cond.notify_all()
            if was and self._on_state is not None:
                self._on_state(self.index, False)

    # -- connection ----------------------------------------------------------------------------

    async def aconnect(self) -> None:
        """Connect on the loop (what :meth:`connect` runs); raises ``ConnectionError``."""
        import socketio

        sio = self._sio
        sio.reconnection = False  # a refused first connect must not start reconnecting
        self._connect_error = None
        try:
            await sio.connect(
                self.url,
                headers=self.headers,
                auth=self.auth,
                transports=[self.transport],
                namespaces=[self.namespace],
                wait=True,
                wait_timeout=self.connect_timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            if self._connect_error is not None:
                raise ConnectionRefusedError(f"connect refused: {self._connect_error!r}") from exc
            raise ConnectionError(
                f"could not connect to {self.url} over {self.transport}: {exc}"
            ) from exc
        sio.reconnection = self.reconnection

    def connect(self) -> None:
        """Connect now (blocking, bounded by ``connect_timeout``)."""
        self.loop.run(self.aconnect(), self.connect_timeout + 5.0)

    def is_connected(self, namespace: str | None = None) -> bool:
        """True when the client's namespace is connected."""
        return self._connected and (namespace or self.namespace) == self.namespace

    def get_connect_error(self, namespace: str | None = None) -> Any:
        """The CONNECT_ERROR payload of the last refused connect, or None."""
        return self._connect_error

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The Socket.IO sid of this client in its namespace."""
        return self._sio.namespaces.get(namespace or self.namespace)

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the current connection."""
        return self._sio.eio.sid

    def drop(self) -> None:
        """Kill the transport without a Socket.IO disconnect, as a lost network does."""
        self.loop.call(self._sio.kill)

    async def astop(self) -> None:
        await self._sio.stop()
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def disconnect(self, namespace: str | None = None) -> None:
        """Disconnect and stop reconnecting (bounded: 10 s)."""
        self.loop.run(self.astop(), 10.0)

    close = disconnect

    def leaks(self) -> list[str]:
        """Tasks of this client still running (empty after a clean ``close``)."""
        return [
            f"{self.name}: {label} task {task!r}"
            for label, task in self._sio.tasks()
            if task is not None and not task.done()
        ]

    # -- sending -------------------------------------------------------------------------------

    def emit(
        self, event: str, *args: Any, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Emit ``event`` with ``args``; with ``callback=True`` wait for and return the ack."""
        namespace = namespace or self.namespace
        if callback:
            return self._call(event, args, namespace, self.ack_timeout)
        self.loop.submit(self._sio.emit(event, args, namespace=namespace))
        return None

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit and return the ack; raise ``AckTimeoutError`` when none arrives in ``timeout``."""
        return self._call(event, args, namespace or self.namespace, timeout)

    def _call(self, event: str, args: tuple, namespace: str, timeout: float) -> Any:
        if threading.current_thread() is self.loop.thread:
            raise RuntimeError("a light client cannot wait for an ack inside one of its handlers")
        done = threading.Event()
        result: list[Any] = []

        def on_ack(*ack: Any) -> None:
            result.append(ack)
            done.set()

        self.loop.submit(self._sio.emit(event, args, namespace=namespace, callback=on_ack))
        if not done.wait(timeout):
            raise AckTimeoutError(event, namespace, timeout)
        return ack_value(result[0])

    # -- receiving -----------------------------------------------------------------------------

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        """Register a handler, run on the loop thread; its return value is the ack."""
        key = (namespace or self.namespace, event)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if self._handlers is None:
                self._handlers = {}
            self._handlers[key] = fn
            return fn

        return register_or_decorate(handler, register)

    def on_stamp(
        self,
        event: str,
        handler: Callable[[dict, float], None],
        namespace: str | None = None,
    ) -> None:
        """Call ``handler(stamp, receive_time)`` for each stamped arrival of ``event``.

        The receive time (``time.time()``) is taken on arrival; unstamped arrivals are skipped.
        The delivery ledger uses this to record arrivals without keeping their payloads.
        """

        def on_event(*args: Any) -> None:
            now = time.time()
            stamp = find_stamp(args[0] if len(args) == 1 else args)  # one argument: fast path
            if stamp is not None:
                handler(stamp, now)

        self.on(event, on_event, namespace=namespace)

    def _wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def get_received(self, namespace: str | None = None) -> list[ReceivedEvent]:
        """Remove and return every event kept so far (at most ``inbox``)."""
        with self._cond:
            events = list(self._inbox or ())
            if self._inbox:
                self._inbox.clear()
        return events

    def receive(self, timeout: float = 1.0, namespace: str | None = None) -> ReceivedEvent:
        """Remove and return the next kept event, waiting up to ``timeout``."""
        if not self._wait_for(lambda: bool(self._inbox), timeout):
            raise ReceiveTimeoutError(self.namespace, timeout)
        with self._cond:
            assert self._inbox is not None
            return self._inbox.popleft()

    def expect(self, event: str, timeout: float = 1.0, namespace: str | None = None) -> Any:
        """Wait for the first ``event`` and return its args; earlier events stay queued."""

        def find() -> ReceivedEvent | None:
            return next((r for r in self._inbox or () if r["name"] == event), None)

        if not self._wait_for(lambda: find() is not None, timeout):
            with self._cond:
                seen = [(r["name"], r["args"]) for r in self._inbox or ()]
            raise ExpectationError(
                f"{self.name}: expected {event!r} on {self.namespace} within {timeout} s; "
                f"received instead: {seen or 'nothing'}",
                self.namespace,
                list(self._inbox or ()),
            )
        with self._cond:
            record = find()
            assert record is not None and self._inbox is not None
            self._inbox.remove(record)
            return record["args"]

    def assert_nothing_received(self, timeout: float = 0.1, namespace: str | None = None) -> None:
        """Raise ``AssertionError`` naming the events if any arrive within ``timeout``."""
        self._wait_for(lambda: bool(self._inbox), timeout)
        with self._cond:
            events = list(self._inbox or ())
        if events:
            raise ExpectationError(
                f"{self.name}: expected nothing, received {events}", self.namespace, events
            )

    def pending(self) -> list[ReceivedEvent]:
        """The kept events not read yet, without removing them."""
        with self._cond:
            return list(self._inbox or ())

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<LightClient {self.name} {self.url} {self.transport} {state}>"

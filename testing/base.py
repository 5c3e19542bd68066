"""What every test client shares, whatever carries its packets.

``BaseClient`` holds the inbox, the transcript and the client-side handlers, and implements the
reading half of :class:`~flask_socketio_testing.interface.SocketIOClient` (``get_received``,
``receive``, ``expect``, ``assert_nothing_received``) plus ``send`` and ``on``, so the in-process
and the network client cannot drift apart there. A subclass carries packets: it connects,
emits, and calls :meth:`BaseClient._arrived` for every event the server sends.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from .errors import ExpectationError, NotConnectedError
from .inbox import Inbox
from .interface import EventHandler, ReceivedEvent
from .transcript import Transcript

__all__ = [
    "BaseClient",
    "SendsMessages",
    "ack_value",
    "event_record",
    "message_event",
    "register_or_decorate",
]

_Self = TypeVar("_Self", bound="BaseClient")


def event_record(data: list[Any] | tuple[Any, ...], namespace: str) -> ReceivedEvent:
    """An event as upstream's test client records it: ``args`` unwrapped for message/json."""
    name = data[0]
    if name == "message" or name == "json":
        args = data[1] if len(data) > 1 else None
    else:
        args = list(data[1:])
    return {"name": name, "args": args, "namespace": namespace}


def ack_value(args: list[Any] | tuple[Any, ...]) -> Any:
    """One ack argument unwrapped, several as a list, ``[]`` for none (as upstream)."""
    return args[0] if len(args) == 1 else list(args)


def ack_args(result: Any) -> list[Any]:
    """A client-side handler's return value as ack arguments (tuples expand, as in
    python-socketio's ``Client``)."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


def message_event(json: bool) -> str:
    """The event name ``send`` uses: ``json`` for JSON payloads, else ``message``."""
    return "json" if json else "message"


_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def register_or_decorate(handler: _Fn | None, register: Callable[[_Fn], _Fn]) -> Any:
    """``on(event, handler)`` registers and returns None; ``on(event)`` returns the decorator."""
    if handler is None:
        return register
    register(handler)
    return None


class SendsMessages:
    """``send`` for any client with an ``emit``: a ``message`` or ``json`` event."""

    __slots__ = ()  # light clients keep __slots__

    def emit(
        self, event: str, *args: Any, callback: bool = False, namespace: str | None = None
    ) -> Any:  # pragma: no cover - every client defines it
        raise NotImplementedError

    def send(
        self, data: Any, json: bool = False, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Send a ``message`` event (``json`` with ``json=True``)."""
        return self.emit(message_event(json), data, callback=callback, namespace=namespace)


class BaseClient(SendsMessages):
    """The inbox, transcript, handlers and reads every client shares (see the module)."""

    #: a label for reports
    name: str
    #: ``'inprocess'``, ``'polling'`` or ``'websocket'``
    transport: str
    #: the namespace used when a method gets ``namespace=None``
    namespace: str

    def __init__(
        self,
        name: str,
        transport: str,
        namespace: str | None,
        transcript_limit: int = 1000,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.namespace = namespace or "/"
        self.inbox = Inbox(sleep)
        self.transcript = Transcript(transcript_limit)
        self._handlers: dict[tuple[str, str], EventHandler] = {}

    # -- what subclasses provide --------------------------------------------------------------

    def is_connected(self, namespace: str | None = None) -> bool:  # pragma: no cover
        raise NotImplementedError

    def _send_event(
        self, event: str, args: tuple[Any, ...], namespace: str, callback: bool
    ) -> Any:  # pragma: no cover
        """Carry an EVENT packet; with ``callback`` return the ack (``emit`` checked the rest)."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover
        raise NotImplementedError

    # -- arrivals -----------------------------------------------------------------------------

    def _arrived(self, namespace: str, data: list[Any] | tuple[Any, ...]) -> Any:
        """Queue an event the server sent, log it, and run its client-side handler.

        ``data`` is ``[name, *args]``. Returns the handler's result (the ack), None without one.
        """
        record = event_record(data, namespace)
        self.transcript.log("received", namespace, record)
        self.inbox.put(record)
        handlers = self._handlers
        if not handlers:
            return None
        handler = handlers.get((namespace, data[0]))
        if handler is not None:
            return handler(*data[1:])
        handler = handlers.get((namespace, "*"))
        if handler is not None:
            return handler(*data)
        return None

    # -- sending ------------------------------------------------------------------------------

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
        when the handler returned None, and None when the event was not handled (the network
        client waits ``ack_timeout`` seconds for it). Other keyword arguments (upstream's own
        tests pass ``broadcast=True``) are ignored, as upstream does: a client cannot broadcast.
        """
        namespace = self._emitting("emit", event, args, namespace)
        return self._send_event(event, args, namespace, callback)

    def _emitting(
        self, action: str, event: str, args: tuple[Any, ...], namespace: str | None
    ) -> str:
        """Check ``namespace`` is connected and log the emit; return the namespace to use."""
        namespace = namespace or self.namespace
        if not self.is_connected(namespace):
            raise NotConnectedError(namespace, f"{action} {event!r}")
        self.transcript.log("emit", namespace, {"name": event, "args": args})
        return namespace

    def on(
        self, event: str, handler: EventHandler | None = None, namespace: str | None = None
    ) -> Any:
        """Register a client-side handler for ``event`` (``'*'`` catches all); or decorate.

        The handler runs when the server emits the event, which is still queued for
        ``get_received``/``receive``/``expect``. Its return value is the ack when the server
        asked for one (a tuple gives several arguments). A ``'*'`` handler gets the event
        name first.
        """
        key = (namespace or self.namespace, event)

        def register(function: EventHandler) -> EventHandler:
            self._handlers[key] = function
            return function

        return register_or_decorate(handler, register)

    # -- reading ------------------------------------------------------------------------------

    def get_received(self, namespace: str | None = None) -> list[ReceivedEvent]:
        """Remove and return every event received in ``namespace`` so far.

        Each is ``{'name', 'args', 'namespace'}``; ``args`` is the payload itself for
        ``message`` and ``json`` events, otherwise the list of arguments. Raises
        ``NotConnectedError`` when the namespace is not connected.
        """
        namespace = namespace or self.namespace
        if not self.is_connected(namespace):
            raise NotConnectedError(namespace, "read events from it")
        return self.inbox.take_all(namespace)

    def receive(self, timeout: float = 1.0, namespace: str | None = None) -> ReceivedEvent:
        """Remove and return the next event of ``namespace``, waiting up to ``timeout`` seconds.

        Raises ``ReceiveTimeoutError`` (a ``TimeoutError``) when none arrives.
        """
        return self.inbox.receive(namespace or self.namespace, timeout)

    def expect(self, event: str, timeout: float = 1.0, namespace: str | None = None) -> Any:
        """Wait for the first ``event`` in ``namespace`` and return its ``args``.

        Events received before it stay queued. Raises ``ExpectationError`` (an
        ``AssertionError``) listing what arrived instead, with arguments; the failure is also
        in the transcript.
        """
        namespace = namespace or self.namespace
        try:
            return self.inbox.expect(event, namespace, timeout)["args"]
        except ExpectationError as exc:
            self.transcript.log("expect-failed", namespace, {"name": event, "error": str(exc)})
            raise

    def assert_nothing_received(self, timeout: float = 0.1, namespace: str | None = None) -> None:
        """Raise ``ExpectationError`` naming the events if any arrive in ``namespace`` within
        ``timeout`` seconds (events already queued count too; they stay queued)."""
        namespace = namespace or self.namespace
        try:
            self.inbox.assert_nothing(namespace, timeout)
        except ExpectationError as exc:
            self.transcript.log("expect-failed", namespace, {"name": None, "error": str(exc)})
            raise

    def pending(self) -> list[ReceivedEvent]:
        """Every event queued and not yet read, in all namespaces (nothing is removed)."""
        return self.inbox.peek()

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""The interface every test client has, in-process or over the network.

``SocketIOClient`` is a ``typing.Protocol``: the in-process ``SocketIOTestClient`` and the network
``Client`` both satisfy it, and so do the clients the pytest fixtures return. Write helpers and
fixtures against it and they run over every transport. ``ReceivedEvent`` is the one message
format of every inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

from .transcript import Transcript

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["SocketIOClient", "ReceivedEvent", "ConnectErrorPayload", "EventHandler"]

#: a client-side handler: called with the event's arguments, returns the ack (or None)
EventHandler = Callable[..., Any]


class ReceivedEvent(TypedDict):
    """One event the server sent, as upstream's test client records it.

    ``args`` is the list of arguments, except for ``message`` and ``json`` events, whose
    ``args`` is the payload itself.
    """

    name: str
    args: Any
    namespace: str


class ConnectOptions(TypedDict, total=False):
    """The handshake options of ``connect`` besides the namespace."""

    query_string: str | None
    headers: dict[str, str] | None
    auth: Any


class ConnectErrorPayload(TypedDict, total=False):
    """What a refused connect carries: ``message``, plus ``data`` when the server gave some."""

    message: Any
    data: Any


@runtime_checkable
class SocketIOClient(Protocol):
    """A Socket.IO client for tests: connect, emit, call, and read what arrived, with timeouts.

    ``namespace=None`` means the client's default namespace (``'/'`` unless the client was made
    for another one). Every blocking read takes a timeout in seconds.
    """

    #: a label for reports ("client-1-websocket")
    name: str
    #: ``'inprocess'``, ``'polling'`` or ``'websocket'``
    transport: str
    #: what the client sent, received and got acknowledged, in order
    transcript: Transcript

    @property
    def eio_sid(self) -> str | None:
        """The Engine.IO session id of the current connection, None before the first."""
        ...

    # -- connection ---------------------------------------------------------------------------

    def connect(self, namespace: str | None = None, **options: Unpack[ConnectOptions]) -> None:
        """Connect ``namespace``; a refused connect does not raise (see ``get_connect_error``).

        ``options``: ``query_string``, ``headers`` and ``auth`` of the handshake.
        """
        ...

    def disconnect(self, namespace: str | None = None) -> None:
        """Disconnect ``namespace``; the connection closes with its last namespace.

        Raises ``NotConnectedError`` when the namespace is not connected.
        """
        ...

    def close(self) -> None:
        """Disconnect everything and release what the client holds (idempotent)."""
        ...

    def is_connected(self, namespace: str | None = None) -> bool:
        """Whether ``namespace`` is connected."""
        ...

    def get_sid(self, namespace: str | None = None) -> str | None:
        """The Socket.IO sid in ``namespace``, None when not connected there."""
        ...

    def get_connect_error(self, namespace: str | None = None) -> ConnectErrorPayload | None:
        """The CONNECT_ERROR payload of the last refused connect to ``namespace``, else None."""
        ...

    def leaks(self) -> list[str]:
        """Threads or connections still held after ``close()`` (empty when none)."""
        ...

    # -- sending ------------------------------------------------------------------------------

    def emit(
        self, event: str, *args: Any, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Emit ``event``; with ``callback=True`` return the server's ack (see ``call``)."""
        ...

    def send(
        self, data: Any, json: bool = False, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Send a ``message`` event (``json`` with ``json=True``)."""
        ...

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit ``event`` and return its ack: one value unwrapped, several as a list, ``[]`` for
        none. Raises ``AckTimeoutError`` when none comes within ``timeout``."""
        ...

    def on(
        self, event: str, handler: EventHandler | None = None, namespace: str | None = None
    ) -> Any:
        """Register a client-side handler (or decorate one); its return value is the ack."""
        ...

    # -- receiving ----------------------------------------------------------------------------

    def get_received(self, namespace: str | None = None) -> list[ReceivedEvent]:
        """Remove and return every event received in ``namespace`` so far."""
        ...

    def receive(self, timeout: float = 1.0, namespace: str | None = None) -> ReceivedEvent:
        """Remove and return the next event; ``ReceiveTimeoutError`` when none comes."""
        ...

    def expect(self, event: str, timeout: float = 1.0, namespace: str | None = None) -> Any:
        """Wait for the first ``event`` and return its ``args``; ``ExpectationError`` (an
        ``AssertionError`` listing what arrived instead) when it does not come."""
        ...

    def assert_nothing_received(self, timeout: float = 0.1, namespace: str | None = None) -> None:
        """``ExpectationError`` listing the events if any arrive within ``timeout``."""
        ...

    def pending(self) -> list[ReceivedEvent]:
        """Every event queued and not yet read, in all namespaces (nothing is removed)."""
        ...

    # -- context manager ----------------------------------------------------------------------

    def __enter__(self) -> SocketIOClient: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

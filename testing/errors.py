"""The exceptions every test client raises, whatever its transport.

Each is also an instance of the built-in (or python-socketio) class that code written for the
upstream test client or for python-socketio's ``Client`` already catches, so switching a test
from one client to another never changes which ``except`` clause runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socketio import exceptions as sio_exceptions

if TYPE_CHECKING:
    from .interface import ReceivedEvent

__all__ = [
    "ClientError",
    "NotConnectedError",
    "ClientTimeoutError",
    "AckTimeoutError",
    "ReceiveTimeoutError",
    "ExpectationError",
]


class ClientError(Exception):
    """Base class of the errors raised by the test clients of this package."""


class NotConnectedError(ClientError, RuntimeError, sio_exceptions.BadNamespaceError):
    """The namespace is not connected (emit, call, disconnect or read on a closed namespace).

    A ``RuntimeError`` (what the upstream test client raised) and python-socketio's
    ``BadNamespaceError`` (what its ``Client.emit`` raises).
    """

    def __init__(self, namespace: str, action: str = "use the namespace") -> None:
        self.namespace = namespace
        super().__init__(
            f"cannot {action}: not connected to namespace {namespace} "
            f"(connect({namespace!r}) first; get_connect_error({namespace!r}) says why a "
            "connect was refused)"
        )


class ClientTimeoutError(ClientError, sio_exceptions.TimeoutError, TimeoutError):
    """Something the client waited for did not come in time.

    Both the built-in ``TimeoutError`` and python-socketio's ``TimeoutError``.
    """


class AckTimeoutError(ClientTimeoutError):
    """The server did not acknowledge an event within the timeout."""

    def __init__(self, event: str, namespace: str, timeout: float) -> None:
        self.event = event
        self.namespace = namespace
        self.timeout = timeout
        super().__init__(f"no ack for {event!r} on {namespace} within {timeout} s")


class ReceiveTimeoutError(ClientTimeoutError):
    """``receive()`` found no event within the timeout."""

    def __init__(self, namespace: str, timeout: float) -> None:
        self.namespace = namespace
        self.timeout = timeout
        super().__init__(f"no event received on {namespace} within {timeout} s")


class ExpectationError(ClientError, AssertionError):
    """``expect()`` or ``assert_nothing_received()`` failed; an ``AssertionError``.

    ``received`` holds the events that arrived instead (names and arguments), so that pytest's
    report and the client's transcript say what the server did send.
    """

    def __init__(self, message: str, namespace: str, received: list[ReceivedEvent]) -> None:
        self.namespace = namespace
        self.received = received
        super().__init__(message)

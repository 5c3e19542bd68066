"""Socket.IO for Flask: real-time, bidirectional events between a Flask app and its clients.

``SocketIO(app)`` adds a python-socketio server to the app; handlers registered with
``@socketio.on(...)`` run inside the Flask context of their connection. See the README.
"""

from __future__ import annotations

from typing import Any

from socketio.exceptions import ConnectionRefusedError

from .context import call, close_room, disconnect, emit, join_room, leave_room, rooms, send
from .extension import SocketIO
from .namespace import Namespace

__all__ = [
    "SocketIO",
    "Namespace",
    "SocketIOTestClient",
    "ConnectionRefusedError",
    "emit",
    "send",
    "call",
    "join_room",
    "leave_room",
    "close_room",
    "rooms",
    "disconnect",
]


def __getattr__(name: str) -> Any:
    # the test client lives in flask_socketio_testing; loaded on first use to keep imports light
    if name == "SocketIOTestClient":
        from flask_socketio_testing.inprocess import SocketIOTestClient

        return SocketIOTestClient
    raise AttributeError(f"module 'flask_socketio' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the lazily loaded SocketIOTestClient is listed too, as a plain import would be
    return sorted(set(globals()) | set(__all__))

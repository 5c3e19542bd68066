"""The Flask-SocketIO app under load: rooms, a relay to rooms, an echo.

Uses only upstream Flask-SocketIO 5.6's API, so the same app runs against this project and against
upstream (the side-by-side capacity comparison). Every handler that changes state acks, so the
Locust user knows when a join or leave took effect.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify

from flask_socketio import SocketIO, emit, join_room, leave_room

FAULTS = ("misdeliver", "drop")


def create_app(
    message_queue: str | None = None,
    channel: str = "flask-socketio-load",
    async_mode: str = "gevent",
    fault: str | None = None,
) -> tuple[Flask, SocketIO]:
    """Build the load app; ``message_queue`` (e.g. a Redis URL) connects several nodes.

    ``fault`` breaks the relay on purpose, to prove the load checks catch it: ``misdeliver``
    sends room messages to everyone, ``drop`` silently drops every 20th message.
    """
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
    relayed = [0]
    app = Flask(__name__)
    socketio = SocketIO(
        app,
        async_mode=async_mode,
        message_queue=message_queue,
        channel=channel,
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
    )

    @app.get("/")
    def index() -> Any:
        import flask_socketio

        return jsonify(
            pid=os.getpid(), flask_socketio=getattr(flask_socketio, "__version__", "unknown")
        )

    @socketio.on("join")
    def on_join(room: str) -> bool:
        join_room(room)
        return True

    @socketio.on("leave")
    def on_leave(room: str) -> bool:
        leave_room(room)
        return True

    @socketio.on("chat")
    def on_chat(payload: dict[str, Any]) -> bool:
        # relay to the room named in the payload, sender included
        relayed[0] += 1
        if fault == "misdeliver":
            emit("chat", payload, broadcast=True)
        elif fault == "drop" and relayed[0] % 20 == 0:
            pass
        else:
            emit("chat", payload, to=payload["room"])
        return True

    @socketio.on("echo")
    def on_echo(payload: Any) -> Any:
        return payload

    return app, socketio


def create_load_app(
    message_queue: str | None = None,
    channel: str = "flask-socketio-load",
    fault: str | None = None,
) -> Flask:
    """The load app on gevent, as the server launcher loads it (``_app.py:create_load_app()``)."""
    return create_app(message_queue, channel, async_mode="gevent", fault=fault)[0]

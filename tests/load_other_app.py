"""A forum app with a protocol of its own, unlike load/_app.py: what a user's app looks like.

Namespace ``/forum`` only; the connect needs ``auth={"token": "letmein", "name": ...}`` and is
refused with a reason otherwise; ``enter`` / ``exit`` take ``{"topic": ...}`` and ack
``{"ok": True}``; ``say`` takes ``{"topic": ..., "body": ...}`` and relays a *wrapped*
payload, ``post`` = ``{"by": name, "body": body}``, to the topic. Served by the load launcher::

    python -m flask_socketio_testing.locust.server tests/load_other_app.py:create_app
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room, leave_room

TOKEN = "letmein"


def create_app() -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent", logger=False, engineio_logger=False)
    names: dict[str, str] = {}

    @socketio.on("connect", namespace="/forum")
    def on_connect(auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != TOKEN:
            raise ConnectionRefusedError("forum: bad or missing token")
        names[request.sid] = str(auth.get("name", "anonymous"))  # type: ignore[attr-defined]

    @socketio.on("disconnect", namespace="/forum")
    def on_disconnect(*_reason: Any) -> None:
        names.pop(request.sid, None)  # type: ignore[attr-defined]

    @socketio.on("enter", namespace="/forum")
    def on_enter(data: dict[str, Any]) -> dict[str, Any]:
        join_room(f"topic:{data['topic']}")
        return {"ok": True, "topic": data["topic"]}

    @socketio.on("exit", namespace="/forum")
    def on_exit(data: dict[str, Any]) -> dict[str, Any]:
        leave_room(f"topic:{data['topic']}")
        return {"ok": True}

    @socketio.on("say", namespace="/forum")
    def on_say(data: dict[str, Any]) -> dict[str, Any]:
        by = names.get(request.sid, "?")  # type: ignore[attr-defined]
        emit("post", {"by": by, "body": data["body"]}, to=f"topic:{data['topic']}")
        return {"ok": True}

    return app

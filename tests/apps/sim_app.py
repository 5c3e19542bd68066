"""The app the simulation tests serve (in-process, in a thread, or by a gevent subprocess).

Clients join the room named in their connect ``auth`` (so membership survives reconnection);
``broadcast`` re-emits a payload to a room or to everyone; ``POST /emit`` does the same from
outside any Socket.IO connection; ``GET /stats`` tells what the server saw (connects,
disconnects with their reasons and times), so tests can check server-side detection.
"""

from __future__ import annotations

import os
import threading
import time

from flask import Flask, jsonify, request

from flask_socketio import SocketIO, emit, join_room


def create_app(async_mode: str = "threading", **socketio_kwargs: object) -> Flask:
    """Build the simulation app; ``SIM_PING_INTERVAL``/``SIM_PING_TIMEOUT`` set the pings."""
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "sim-secret"
    options: dict = {
        "ping_interval": float(os.environ.get("SIM_PING_INTERVAL", "25")),
        "ping_timeout": float(os.environ.get("SIM_PING_TIMEOUT", "20")),
    }
    options.update(socketio_kwargs)
    socketio = SocketIO(app, async_mode=async_mode, **options)
    lock = threading.Lock()
    stats: dict = {"connects": 0, "connected": 0, "disconnects": []}
    app.config["SIM_STATS"] = stats

    @app.get("/stats")
    def get_stats():  # type: ignore[no-untyped-def]
        with lock:
            return jsonify(stats)

    @app.post("/emit")
    def post_emit():  # type: ignore[no-untyped-def]
        body = request.get_json()
        socketio.emit(body.get("event", "news"), body.get("payload"), to=body.get("room"))
        return "ok"

    @socketio.on("connect")
    def on_connect(auth: dict | None = None) -> None:
        if auth and auth.get("room"):
            join_room(auth["room"])
        with lock:
            stats["connects"] += 1
            stats["connected"] += 1

    @socketio.on("disconnect")
    def on_disconnect(reason: object = None) -> None:
        with lock:
            stats["connected"] -= 1
            stats["disconnects"].append([time.time(), str(reason)])

    @socketio.on("join")
    def on_join(room: str) -> str:
        join_room(room)
        return room

    @socketio.on("broadcast")
    def on_broadcast(data: dict) -> None:
        emit(
            data.get("event", "news"),
            data.get("payload"),
            to=data.get("room"),
            broadcast=data.get("room") is None,
        )

    return app


def create_gevent_app() -> Flask:
    """The app built for gevent directly (a live server need not re-init it; see BUG-sim-1)."""
    return create_app(async_mode="gevent")

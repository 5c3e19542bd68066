"""The app of the transport tests (tests/test_perf_transport.py), importable by a gevent
subprocess without the test module's own imports."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from flask_socketio import SocketIO, emit

LIMIT = 1000  # max_http_buffer_size of the app


def create_app(async_mode: str = "threading") -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=async_mode, max_http_buffer_size=LIMIT)

    @socketio.on("echo")
    def on_echo(data: Any) -> Any:
        return data

    @socketio.on("flood")
    def on_flood(count: int) -> None:
        for n in range(count):
            emit("n", n)

    @socketio.on("bye")
    def on_bye() -> None:
        # the whole Engine.IO connection, not just the namespace (disconnect() sends only 41)
        server = socketio.server
        server.eio.disconnect(server.manager.eio_sid_from_sid(request.sid, "/"))

    @socketio.on("blob")
    def on_blob() -> None:
        emit("blob", bytearray(b"\x01\x02\x03"))

    @socketio.on("boom")
    def on_boom() -> None:
        raise RuntimeError("handler failed")

    return app


def create_gevent_app() -> Flask:
    return create_app("gevent")

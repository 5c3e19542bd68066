"""The app of the direct write path tests (tests/test_perf_direct.py), importable by a gevent
subprocess without the test module's own imports."""

from __future__ import annotations

from flask import Flask

from flask_socketio import SocketIO, emit, join_room

BIG = 40_000  # bytes of every fifth burst message: enough to fill the kernel's buffers


def create_app(async_mode: str = "threading") -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=async_mode)

    @socketio.on("join")
    def on_join() -> str:
        join_room("r")
        return "joined"

    @socketio.on("burst")
    def on_burst(count: int) -> None:
        # big and small frames: some leave directly, some wait for the writer
        for n in range(count):
            emit("n", [n, "x" * BIG if n % 5 == 0 else ""])

    @socketio.on("spam")
    def on_spam(count: int, size: int) -> None:
        for n in range(count):
            emit("s", [n, "y" * size], to="r")

    @socketio.on("echo")
    def on_echo(data: object) -> object:
        return data

    return app


def create_gevent_app() -> Flask:
    return create_app("gevent")


def create_gevent_direct_app() -> Flask:
    """gevent with the direct path on (off by default there): it runs in its own process."""
    from flask_socketio import eio_socket

    eio_socket.Socket.direct_modes = frozenset({"threading", "gevent"})
    eio_socket.Socket.direct_broadcast_modes = frozenset({"threading", "gevent"})
    return create_app("gevent")

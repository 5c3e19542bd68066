"""Handlers are never lost: every server that init_app builds gets every handler, ever."""

from __future__ import annotations

from core_support import ASYNC_MODE
from flask import Flask

from flask_socketio import Namespace, SocketIO, emit


def _create_app(socketio: SocketIO) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "factory"
    socketio.init_app(app, async_mode=ASYNC_MODE)
    return app


def test_handler_registered_before_init_app_reaches_every_app():
    socketio = SocketIO()

    @socketio.on("echo")
    def echo(data):
        return data

    for _ in range(3):  # an app factory per test, as pytest suites do
        app = _create_app(socketio)
        client = socketio.test_client(app)
        assert client.emit("echo", "hi", callback=True) == "hi"
        client.disconnect()


def test_handler_registered_after_init_app_reaches_earlier_and_later_servers():
    socketio = SocketIO()
    first = _create_app(socketio)

    @socketio.on("late")
    def late(data):
        emit("late reply", data)

    second = _create_app(socketio)
    for app in (first, second):
        client = socketio.test_client(app)
        client.emit("late", 42)
        assert client.get_received() == [{"name": "late reply", "args": [42], "namespace": "/"}]
        client.disconnect()


def test_namespace_object_serves_every_server():
    socketio = SocketIO()
    calls = []

    class Counter(Namespace):
        def on_count(self, data):
            calls.append(data)
            self.emit("counted", len(calls))

    first = _create_app(socketio)
    socketio.on_namespace(Counter("/count"))
    second = _create_app(socketio)
    for app in (first, second):
        client = socketio.test_client(app, namespace="/count")
        client.emit("count", "x", namespace="/count")
        received = client.get_received("/count")
        assert received[-1]["name"] == "counted"
        client.disconnect(namespace="/count")
    assert calls == ["x", "x"]


def test_emit_from_http_route_goes_to_that_apps_server():
    socketio = SocketIO()

    @socketio.on("connect")
    def on_connect():
        pass

    apps = [_create_app(socketio) for _ in range(2)]
    for index, app in enumerate(apps):

        @app.route("/notify")
        def notify(index=index):
            socketio.emit("note", index)
            return "ok"

    clients = [socketio.test_client(app) for app in apps]
    assert apps[0].test_client().get("/notify").status_code == 200
    assert clients[0].get_received() == [{"name": "note", "args": [0], "namespace": "/"}]
    assert clients[1].get_received() == []
    for client in clients:
        client.disconnect()


def test_extension_registered_on_app():
    socketio = SocketIO()
    app = _create_app(socketio)
    assert app.extensions["socketio"] is socketio
    assert socketio.server is not None
    assert socketio.async_mode == ASYNC_MODE

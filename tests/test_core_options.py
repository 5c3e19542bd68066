"""Constructor and init_app options, serializers and clear configuration errors."""

from __future__ import annotations

import pytest
import socketio as socketio_pkg
from core_support import ASYNC_MODE, live_server, make_app
from flask import Flask
from flask import json as flask_json

import flask_socketio.queues
from flask_socketio import SocketIO
from flask_socketio.queues import MessageQueueError


def test_options_merge_later_wins():
    socketio = SocketIO(ping_interval=5, ping_timeout=7, manage_session=False)
    app = Flask(__name__)
    socketio.init_app(app, ping_interval=9, async_mode=ASYNC_MODE)
    assert socketio.manage_session is False
    assert socketio.server.eio.ping_interval == 9
    assert socketio.server.eio.ping_timeout == 7


def test_reason_exposes_disconnect_reasons():
    assert SocketIO.reason.CLIENT_DISCONNECT == "client disconnect"
    assert SocketIO.reason.SERVER_DISCONNECT == "server disconnect"


@pytest.mark.parametrize("key", ["path", "resource"])
def test_custom_path_serves_socketio_there(key):
    app, socketio = make_app(**{key: "/custom-io"})

    @socketio.on("echo")
    def echo(data):
        return data

    with live_server(app, socketio) as url:
        client = socketio_pkg.Client()
        client.connect(url, socketio_path="custom-io", transports=["polling"], wait_timeout=5)
        try:
            assert client.call("echo", "via custom path", timeout=5) == "via custom path"
        finally:
            client.disconnect()


def test_flask_json_runs_in_app_context():
    app, socketio = make_app(json=flask_json)
    app.json.sort_keys = True

    @socketio.on("echo")
    def echo(data):
        return data

    client = socketio.test_client(app)
    assert client.emit("echo", {"b": 1, "a": 2}, callback=True) == {"a": 2, "b": 1}


def test_msgpack_serializer_over_the_wire():
    app, socketio = make_app(serializer="msgpack")

    @socketio.on("echo")
    def echo(data):
        return data

    with live_server(app, socketio) as url:
        client = socketio_pkg.Client(serializer="msgpack")
        client.connect(url, transports=["websocket"], wait_timeout=5)
        try:
            payload = {"bytes": b"\x00\x01\xff", "list": [1, 2.5, None]}
            assert client.call("echo", payload, timeout=5) == payload
        finally:
            client.disconnect()


def test_unknown_async_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown async_mode 'tornado'.*threading"):
        SocketIO(Flask(__name__), async_mode="tornado")


def test_unknown_message_queue_scheme_is_a_clear_error():
    with pytest.raises(MessageQueueError, match="Unknown message queue URL scheme 'nosuch'"):
        SocketIO(message_queue="nosuch://127.0.0.1:1")


def test_missing_message_queue_library_names_the_package(monkeypatch):
    # simulated: pretend the kafka client library is not importable (it is not a test service)
    real_find_spec = flask_socketio.queues.importlib.util.find_spec
    monkeypatch.setattr(
        flask_socketio.queues.importlib.util,
        "find_spec",
        lambda name: None if name == "kafka" else real_find_spec(name),
    )
    with pytest.raises(MessageQueueError, match="pip install kafka-python"):
        SocketIO(message_queue="kafka://127.0.0.1:9092")


def test_write_only_emitter_without_app():
    emitter = SocketIO(message_queue="redis://127.0.0.1:6379/0", channel="write-only-test")
    manager = emitter.server.manager
    assert isinstance(manager, socketio_pkg.RedisManager)
    assert manager.write_only is True
    assert manager.channel == "write-only-test"


def test_server_options_pass_through():
    app, socketio = make_app(
        ping_interval=3,
        max_http_buffer_size=1234,
        cors_allowed_origins=["http://example.test"],
        always_connect=True,
        async_handlers=False,
    )
    assert socketio.server.eio.max_http_buffer_size == 1234
    assert socketio.server.eio.cors_allowed_origins == ["http://example.test"]
    assert socketio.server.always_connect is True
    assert socketio.server.async_handlers is False


def test_context_functions_and_emit_need_a_server():
    socketio = SocketIO()
    with pytest.raises(RuntimeError, match="init_app"):
        socketio.emit("x")


def test_json_option_stays_with_its_own_server():
    plain_app, plain = make_app("plain")
    flask_json_app, with_flask_json = make_app("flask-json", json=flask_json)
    assert plain.server.packet_class is not with_flask_json.server.packet_class
    assert plain.server.packet_class.json is not with_flask_json.server.packet_class.json


def test_served_connections_send_small_writes_at_once():
    import socket

    app, socketio = make_app()
    with live_server(app, socketio) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    # the accepted socket's option is checked through the server's handler class
    from flask_socketio import serving

    probe = socket.socket()
    serving._no_delay(probe)
    assert probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    probe.close()

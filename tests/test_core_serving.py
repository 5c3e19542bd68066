"""socketio.run() / stop() in every async mode, and the web server handles behind them."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import socketio as socketio_pkg
from core_support import ASYNC_MODE, live_server, make_app

pytestmark = pytest.mark.skipif(
    ASYNC_MODE != "threading", reason="drives a threading server; gevent runs in a subprocess test"
)


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_run_refuses_werkzeug_without_a_terminal(monkeypatch):
    app, socketio = make_app()
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    with pytest.raises(RuntimeError, match="allow_unsafe_werkzeug=True"):
        socketio.run(app, port=0)


def test_run_and_stop_from_a_handler_in_threading_mode(monkeypatch):
    app, socketio = make_app()
    monkeypatch.setattr(sys, "stdin", io.StringIO())

    @socketio.on("shutdown")
    def shutdown():
        socketio.stop()

    runner = threading.Thread(
        target=socketio.run, args=(app,), kwargs={"port": 0, "allow_unsafe_werkzeug": True}
    )
    runner.start()
    assert _wait_for(lambda: socketio.wsgi_server is not None)
    client = socketio_pkg.Client(reconnection=False)
    client.connect(f"http://127.0.0.1:{socketio.wsgi_server.port}", transports=["websocket"])
    client.emit("shutdown")
    runner.join(5)
    assert not runner.is_alive()
    client.disconnect()
    assert socketio.wsgi_server is None


def test_stop_without_a_running_server_is_a_clear_error():
    _, socketio = make_app()
    with pytest.raises(RuntimeError, match="has not started one"):
        socketio.stop()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_live_threading_server_both_transports(transport):
    app, socketio = make_app()

    @socketio.on("echo")
    def echo(data):
        return data

    with live_server(app, socketio) as url:
        client = socketio_pkg.Client(reconnection=False)
        client.connect(url, transports=[transport], wait_timeout=5)
        try:
            payload = {"bytes": b"\x00\xff", "nested": [{"b": b"x"}]}
            assert client.call("echo", payload, timeout=5) == payload
            assert client.transport() == transport
        finally:
            client.disconnect()


def test_unknown_namespace_on_the_wire_gets_protocol_payload():
    app, socketio = make_app()
    errors = []
    with live_server(app, socketio) as url:
        client = socketio_pkg.Client(reconnection=False)
        client.on("connect_error", lambda data: errors.append(data), namespace="/missing")
        with pytest.raises(socketio_pkg.exceptions.ConnectionError):
            client.connect(url, namespaces=["/missing"], transports=["websocket"], wait_timeout=5)
        client.disconnect()
    assert errors == [{"message": "Invalid namespace"}]


GEVENT_RUN_STOP = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import gevent, socketio, sys
    from flask import Flask
    from flask_socketio import SocketIO

    app = Flask(__name__)
    sio = SocketIO(app, async_mode="gevent")

    @sio.on("echo")
    def echo(data):
        return data

    @sio.on("shutdown")
    def shutdown():
        sio.stop()

    runner = gevent.spawn(sio.run, app, port=0)
    while sio.wsgi_server is None:
        gevent.sleep(0.01)
    client = socketio.Client(reconnection=False)
    client.connect("http://127.0.0.1:%d" % sio.wsgi_server.port, transports=["websocket"])
    answer = client.call("echo", "gevent", timeout=5)
    # a WebSocket from a foreign origin is refused before the upgrade, with a plain 400
    import socket
    raw = socket.create_connection(("127.0.0.1", sio.wsgi_server.port))
    raw.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n"
        b"Origin: http://elsewhere.test\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n"
        b"Sec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n"
    )
    status = raw.recv(4096).split(b"\\r\\n", 1)[0].decode()
    raw.close()
    client.emit("shutdown")
    runner.join(5)
    print(answer, runner.dead, sio.async_mode, status.replace(" ", "_"))
    """
)


def test_run_and_stop_in_gevent_mode():
    pytest.importorskip("gevent")
    result = subprocess.run(
        [sys.executable, "-c", GEVENT_RUN_STOP], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["gevent", "True", "gevent", "HTTP/1.1_400_BAD_REQUEST"]

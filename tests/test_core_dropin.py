"""What real third-party code does with Flask-SocketIO, beyond upstream's own test module.

Each test reproduces a pattern found in public apps and extensions: decorators around connect
handlers, subclasses that wrap ``SocketIO.on``, python-socketio's helpers on a class-based
``Namespace``, stopping ``run()`` from another thread, upstream's module paths.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import socketio as socketio_pkg
from core_support import ASYNC_MODE, make_app
from flask import request

from flask_socketio import Namespace, SocketIO


def forwarding(function: Any) -> Any:
    """A decorator as many apps write it: it forwards everything and hides the signature."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return wrapper


# -- Flask < 2.3 without blinker -------------------------------------------------------------


class SignalWithoutReceivers:
    """What Flask 2.2 puts in ``flask.signals`` when blinker is missing: no ``receivers``."""

    def send(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_handlers_run_when_flask_signals_have_no_receivers(monkeypatch):
    # the compatibility matrix runs the real Flask 2.2 without blinker; this pins the cause
    from flask_socketio import flask_context

    for name in ("request_tearing_down", "appcontext_tearing_down", "appcontext_popped"):
        monkeypatch.setattr(flask_context.signals, name, SignalWithoutReceivers())
    app, socketio = make_app()

    @socketio.on("echo")
    def echo(data):
        return data

    client = socketio.test_client(app)
    assert client.emit("echo", "still works", callback=True) == "still works"


# -- connect / disconnect handlers behind decorators -----------------------------------------


def test_connect_and_disconnect_handlers_behind_a_forwarding_decorator():
    app, socketio = make_app()
    calls = []

    @socketio.on("connect")
    @forwarding
    def on_connect():
        calls.append("connect")

    @socketio.on("connect", namespace="/auth")
    @forwarding
    def on_connect_auth(auth):
        calls.append(("auth", auth))

    @socketio.on("disconnect")
    @forwarding
    def on_disconnect():
        calls.append("disconnect")

    client = socketio.test_client(app)
    client.connect("/auth", auth={"token": "t"})
    assert client.is_connected()
    client.disconnect()
    assert calls == ["connect", ("auth", {"token": "t"}), "disconnect"]


def test_a_type_error_inside_a_connect_handler_is_raised_once_not_retried():
    app, socketio = make_app()
    runs = []

    @socketio.on("connect")
    def on_connect(auth):
        runs.append(auth)
        raise TypeError("a bug in the handler")

    @socketio.on("connect", namespace="/wrapped")
    @forwarding
    def on_connect_wrapped():
        runs.append("wrapped")
        return len(5)  # type: ignore[arg-type]  # TypeError from the handler's own code

    with pytest.raises(TypeError, match="a bug in the handler"):
        socketio.test_client(app, auth={"k": 1})
    assert runs == [{"k": 1}]
    client = socketio.test_client(app, namespace="/other")
    with pytest.raises(TypeError, match="has no len"):
        client.connect("/wrapped")
    assert runs == [{"k": 1}, "wrapped"]


def test_a_type_error_inside_a_disconnect_handler_is_not_retried():
    app, socketio = make_app()
    runs = []

    @socketio.on("disconnect")
    def on_disconnect(reason):
        runs.append(reason)
        raise TypeError("broken disconnect handler")

    client = socketio.test_client(app)
    with pytest.raises(TypeError, match="broken disconnect handler"):
        client.disconnect()
    assert len(runs) == 1


# -- the handler python-socketio holds --------------------------------------------------------


class TracingSocketIO(SocketIO):
    """An extension that subclasses SocketIO and wraps ``on()``, as AsyncAPI generators do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.documented: dict[str, Any] = {}
        super().__init__(*args, **kwargs)

    def on(self, message: str, namespace: str | None = None) -> Any:
        register = super().on(message, namespace)

        def decorator(handler: Any) -> Any:
            self.documented[message] = handler
            return register(handler)

        return decorator


def test_registered_handlers_unwrap_to_the_user_function():
    from flask import Flask

    app = Flask(__name__)
    socketio = TracingSocketIO(app, async_mode=ASYNC_MODE)

    @socketio.on("chat")
    def chat(message: str) -> str:
        """Relay a chat line."""
        return message.upper()

    held = socketio.server.handlers["/"]["chat"]
    assert held.__wrapped__ is chat
    assert inspect.unwrap(held) is chat
    assert held.__name__ == "chat" and held.__doc__ == "Relay a chat line."
    assert list(inspect.signature(held).parameters) == ["message"]
    assert socketio.documented == {"chat": chat}
    client = socketio.test_client(app)
    assert client.emit("chat", "hi", callback=True) == "HI"


# -- class-based namespaces and python-socketio's helpers on self ------------------------------


class RoomsNamespace(Namespace):
    def on_join(self, room):
        self.enter_room(request.sid, room)
        return sorted(self.rooms(request.sid))

    def on_leave(self, room):
        self.leave_room(request.sid, room)
        return sorted(self.rooms(request.sid))

    def on_remember(self, value):
        self.save_session(request.sid, {"value": value})
        return self.get_session(request.sid)

    def on_recall(self):
        with self.session(request.sid) as session:
            return session.get("value")

    def on_kick(self):
        self.disconnect(request.sid)


def test_namespace_helpers_on_self_use_the_dispatching_server():
    app, socketio = make_app()
    handler = RoomsNamespace("/rooms")
    socketio.on_namespace(handler)
    assert handler.server is socketio.server
    client = socketio.test_client(app, namespace="/rooms")
    sid = client.get_sid("/rooms")
    assert client.emit("join", "red", namespace="/rooms", callback=True) == sorted([sid, "red"])
    assert client.emit("leave", "red", namespace="/rooms", callback=True) == [sid]
    assert client.emit("remember", 42, namespace="/rooms", callback=True) == {"value": 42}
    assert client.emit("recall", namespace="/rooms", callback=True) == 42
    client.emit("kick", namespace="/rooms")
    assert not client.is_connected("/rooms")


def test_one_namespace_object_serves_the_servers_of_two_apps():
    from flask import Flask

    socketio = SocketIO(async_mode=ASYNC_MODE)
    handler = RoomsNamespace("/rooms")
    socketio.on_namespace(handler)
    first, second = Flask("first"), Flask("second")
    socketio.init_app(first)
    first_server = socketio.server
    socketio.init_app(second)
    client = socketio.test_client(first, namespace="/rooms")
    sid = client.get_sid("/rooms")
    assert client.emit("join", "blue", namespace="/rooms", callback=True) == sorted([sid, "blue"])
    assert "blue" in first_server.rooms(sid, namespace="/rooms")
    assert handler.server is socketio.server  # outside a dispatch: the latest server


# -- stopping run() from another thread through wsgi_server ----------------------------------


@pytest.mark.skipif(ASYNC_MODE != "threading", reason="a thread runs Werkzeug; gevent below")
def test_wsgi_server_stop_ends_run_in_another_thread():
    app, socketio = make_app()

    @socketio.on("echo")
    def echo(data):
        return data

    runner = threading.Thread(
        target=socketio.run,
        args=(app,),
        kwargs={"port": 0, "allow_unsafe_werkzeug": True},
        daemon=True,
    )
    runner.start()
    deadline = time.monotonic() + 10
    while socketio.wsgi_server is None and time.monotonic() < deadline:
        time.sleep(0.01)
    server = socketio.wsgi_server
    assert server is not None
    assert server.server_port == server.port  # the real server's attributes show through
    client = socketio_pkg.Client(reconnection=False)
    client.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"], wait_timeout=5)
    assert client.call("echo", "up", timeout=5) == "up"
    server.stop()
    runner.join(10)
    assert not runner.is_alive()
    client.disconnect()


GEVENT_STOP_FROM_ANOTHER_GREENLET = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import threading, time
    import socketio
    from flask import Flask
    from flask_socketio import SocketIO

    app = Flask(__name__)
    sio = SocketIO(app, async_mode="gevent")
    sio.on_event("echo", lambda data: data)
    runner = threading.Thread(target=sio.run, args=(app,), kwargs={"port": 0})
    runner.start()
    deadline = time.monotonic() + 10
    while sio.wsgi_server is None and time.monotonic() < deadline:
        time.sleep(0.01)
    port = sio.wsgi_server.server_port
    client = socketio.Client(reconnection=False)
    client.connect("http://127.0.0.1:%d" % port, transports=["websocket"], wait_timeout=5)
    answer = client.call("echo", "gevent", timeout=5)
    sio.wsgi_server.stop()
    runner.join(10)
    print(answer, runner.is_alive())
    client.disconnect()
    """
)


@pytest.mark.skipif(ASYNC_MODE != "threading", reason="this test starts its own gevent process")
def test_wsgi_server_stop_ends_run_in_gevent_mode():
    pytest.importorskip("gevent", reason="gevent mode needs gevent (pip install gevent)")
    result = subprocess.run(
        [sys.executable, "-c", GEVENT_STOP_FROM_ANOTHER_GREENLET],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["gevent", "False"]


# -- upstream's module paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("flask_socketio", ["SocketIO", "Namespace", "SocketIOTestClient", "emit", "send"]),
        ("flask_socketio.namespace", ["Namespace"]),
        ("flask_socketio.test_client", ["SocketIOTestClient"]),
    ],
)
def test_upstream_module_paths_import(module, names):
    imported = importlib.import_module(module)
    for name in names:
        assert getattr(imported, name) is not None


def test_test_client_module_gives_the_same_class():
    import flask_socketio
    from flask_socketio.test_client import SocketIOTestClient

    app, socketio = make_app()
    client = socketio.test_client(app)
    assert isinstance(client, SocketIOTestClient)
    assert flask_socketio.SocketIOTestClient is SocketIOTestClient

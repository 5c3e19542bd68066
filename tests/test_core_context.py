"""Context functions, rooms, sessions and Flask-Login inside Socket.IO handlers."""

from __future__ import annotations

import flask_login
import pytest
from core_support import live_server, make_app
from flask import request, session

from flask_socketio import (
    call,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)


def _names(client, namespace=None):
    return [(e["name"], e["args"]) for e in client.get_received(namespace)]


@pytest.fixture
def chat():
    app, socketio = make_app()

    @socketio.on("join")
    def on_join(room):
        join_room(room)
        return sorted(rooms())

    @socketio.on("leave")
    def on_leave(room):
        leave_room(room)

    @socketio.on("say")
    def on_say(room, text):
        emit("said", text, to=room)

    @socketio.on("say others")
    def on_say_others(room, text):
        emit("said", text, to=room, include_self=False)

    @socketio.on("shout")
    def on_shout(text):
        emit("shouted", text, broadcast=True)

    @socketio.on("shout skip")
    def on_shout_skip(text, skip):
        send(text, broadcast=True, skip_sid=skip)

    @socketio.on("close")
    def on_close(room):
        close_room(room)

    @socketio.on("kick")
    def on_kick(sid):
        disconnect(sid)

    return app, socketio


def test_rooms_join_leave_emit_to_room(chat):
    app, socketio = chat
    alice, bob, carol = (socketio.test_client(app) for _ in range(3))
    assert alice.emit("join", "r", callback=True) == sorted(["r", alice.get_sid()])
    bob.emit("join", "r")
    alice.emit("say", "r", "hello")
    assert _names(alice) == [("said", ["hello"])]
    assert _names(bob) == [("said", ["hello"])]
    assert _names(carol) == []
    bob.emit("leave", "r")
    alice.emit("say", "r", "again")
    assert _names(alice) == [("said", ["again"])]
    assert _names(bob) == []
    alice.emit("say others", "r", "not me")
    assert _names(alice) == []


def test_broadcast_skip_sid_and_close_room(chat):
    app, socketio = chat
    alice, bob = socketio.test_client(app), socketio.test_client(app)
    alice.emit("shout", "all")
    assert _names(alice) == _names(bob) == [("shouted", ["all"])]
    alice.emit("shout skip", "not bob", bob.get_sid())
    assert _names(alice) == [("message", "not bob")]
    assert _names(bob) == []
    for client in (alice, bob):
        client.emit("join", "gone")
    alice.emit("close", "gone")
    alice.emit("say", "gone", "anyone?")
    assert _names(alice) == _names(bob) == []


def test_server_side_disconnect(chat):
    app, socketio = chat
    alice, bob = socketio.test_client(app), socketio.test_client(app)
    alice.emit("kick", bob.get_sid())
    assert not bob.is_connected()
    assert alice.is_connected()


def test_server_call_and_emit_callback_reach_client_handler():
    app, socketio = make_app()
    acks = []

    @socketio.on("ask")
    def on_ask():
        emit("question", 20, callback=lambda answer: acks.append((answer, request.sid)))
        return call("question", 1, timeout=2)

    client = socketio.test_client(app)
    client.on("question", lambda value: value + 1)
    assert client.emit("ask", callback=True) == 2
    assert acks == [(21, client.get_sid())]
    assert socketio.call("question", 41, to=client.get_sid(), timeout=2) == 42


@pytest.mark.parametrize(
    ("function", "args", "hint"),
    [
        (emit, ("x", 1), "namespace="),
        (send, ("x",), "namespace="),
        (call, ("x",), "namespace="),
        (join_room, ("r",), "sid="),
        (leave_room, ("r",), "sid="),
        (rooms, (), "sid="),
        (disconnect, (), "sid="),
        (close_room, ("r",), "namespace="),
    ],
)
def test_context_functions_outside_a_socketio_request_say_what_to_pass(function, args, hint):
    app, _ = make_app()
    with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="outside a Socket.IO event handler") as info:
            function(*args)
    assert hint in str(info.value)


def test_emit_outside_request_with_explicit_target_works():
    app, socketio = make_app()
    client = socketio.test_client(app)
    with app.app_context():
        emit("direct", 1, namespace="/", to=client.get_sid())
        emit("everyone", 2, namespace="/", broadcast=True)
    assert _names(client) == [("direct", [1]), ("everyone", [2])]


def test_managed_session_forks_at_connect_and_persists():
    app, socketio = make_app()

    @app.route("/login/<name>")
    def login(name):
        session["user"] = name
        return "ok"

    @app.route("/whoami")
    def whoami():
        return session.get("user", "-") + "/" + str(session.get("count", 0))

    @socketio.on("count")
    def count():
        session["count"] = session.get("count", 0) + 1
        return [session["user"], session["count"]]

    http = app.test_client()
    http.get("/login/ann")
    client = socketio.test_client(app, flask_test_client=http)
    assert client.emit("count", callback=True) == ["ann", 1]
    assert client.emit("count", callback=True) == ["ann", 2]
    # changes made by Socket.IO handlers never reach HTTP routes
    assert http.get("/whoami").text == "ann/0"


def test_unmanaged_session_uses_flask_session_interface():
    app, socketio = make_app(manage_session=False)
    saved = []

    class RecordingInterface(type(app.session_interface)):
        def save_session(self, app, session, response):
            saved.append(dict(session))
            return super().save_session(app, session, response)

    app.session_interface = RecordingInterface()

    @socketio.on("touch")
    def touch():
        session["touched"] = True

    client = socketio.test_client(app)
    client.emit("touch")
    assert saved and saved[-1]["touched"] is True


def test_flask_login_current_user_in_handlers():
    app, socketio = make_app()
    login_manager = flask_login.LoginManager(app)

    class User(flask_login.UserMixin):
        def __init__(self, user_id):
            self.id = user_id

    @login_manager.user_loader
    def load_user(user_id):
        return User(user_id)

    @app.route("/login")
    def login():
        flask_login.login_user(User("u1"))
        return "ok"

    @socketio.on("me")
    def me():
        user = flask_login.current_user
        return user.get_id() if user.is_authenticated else "anonymous"

    anonymous = socketio.test_client(app)
    assert anonymous.emit("me", callback=True) == "anonymous"
    http = app.test_client()
    http.get("/login")
    client = socketio.test_client(app, flask_test_client=http)
    assert client.emit("me", callback=True) == "u1"


def test_each_event_gets_a_fresh_request_with_the_handshake_state():
    app, socketio = make_app()
    seen = []

    @socketio.on("look")
    def on_look():
        seen.append(
            (getattr(request, "note", None), request.args.get("token"), request.path, request.sid)
        )
        request.note = "set by the previous event"  # must not reach the next event
        return request.event["message"]

    client = socketio.test_client(app, query_string="token=abc")
    assert client.emit("look", callback=True) == "look"
    assert client.emit("look", callback=True) == "look"
    assert seen[0] == seen[1]
    note, token, path, sid = seen[0]
    assert (note, token, sid) == (None, "abc", client.get_sid())
    assert path.startswith("/socket.io")


def _broadcast_receipts(manager_class):
    """Who receives what for a set of emits, the server's manager replaced by ``manager_class``."""
    app, socketio = make_app()
    socketio.server.manager = manager_class()
    socketio.server.manager.set_server(socketio.server)
    socketio.server.manager.initialize()

    @socketio.on("join")
    def on_join(*names):
        for name in names:
            join_room(name)
        return request.sid

    @socketio.on("fan")
    def on_fan(to, skip, data):
        socketio.emit("fanned", data, to=to, skip_sid=skip)

    clients = [socketio.test_client(app) for _ in range(4)]
    sids = [
        clients[0].emit("join", "a", callback=True),
        clients[1].emit("join", "a", "b", callback=True),
        clients[2].emit("join", "b", callback=True),
        clients[3].emit("join", callback=True),
    ]
    cases = [
        (None, None, "everyone"),
        ("a", None, {"to": "a"}),
        (["a", "b"], None, ["rooms", 1]),
        ("b", sids[1], "skip one"),
        (None, [sids[0], sids[3]], "skip a list"),
        ("nobody", None, "no such room"),
        (sids[2], None, "one client by sid"),
        ("a", None, {"binary": b"\x00\x01", "nested": [b"\xff"]}),
    ]
    for to, skip, data in cases:
        clients[0].emit("fan", to, skip, data)
    assert isinstance(socketio.server.manager, manager_class)
    return [[(e["name"], e["args"]) for e in client.get_received()] for client in clients]


def test_broadcast_manager_delivers_as_python_socketios_manager():
    import socketio as socketio_pkg

    from flask_socketio.broadcast import Manager

    ours = _broadcast_receipts(Manager)
    assert ours == _broadcast_receipts(socketio_pkg.Manager)
    assert [len(received) for received in ours] == [4, 5, 5, 1]


def test_broadcast_over_the_network_reaches_the_room_but_the_skipped():
    import socketio as socketio_pkg

    app, socketio = make_app()
    assert type(socketio.server.manager).__module__ == "flask_socketio.broadcast"

    @socketio.on("join")
    def on_join(room):
        join_room(room)
        return request.sid

    @socketio.on("fan")
    def on_fan(data, skip):
        emit("fanned", data, to="r", skip_sid=skip)

    with live_server(app, socketio) as url:
        clients = [socketio_pkg.SimpleClient() for _ in range(3)]
        try:
            for client in clients:
                client.connect(url, transports=["websocket"], wait_timeout=5)
            sids = [client.call("join", "r", timeout=5) for client in clients]
            clients[0].emit("fan", ({"bin": b"\x01\x02", "n": 1}, sids[2]))
            for client in clients[:2]:
                assert client.receive(timeout=5) == ["fanned", {"bin": b"\x01\x02", "n": 1}]
            clients[0].emit("fan", ("text", None))
            for client in clients:
                assert client.receive(timeout=5) == ["fanned", "text"]
        finally:
            for client in clients:
                client.disconnect()

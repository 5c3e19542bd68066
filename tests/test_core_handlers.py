"""Handler registration forms, reserved events, catch-alls, acks and error handling."""

from __future__ import annotations

import pytest
from core_support import make_app
from flask import request

from flask_socketio import ConnectionRefusedError, Namespace, emit, send


def test_registration_forms():
    app, socketio = make_app()

    @socketio.on("decorated")
    def decorated(data):
        return "on:" + data

    @socketio.event
    def bare(data):
        return "event:" + data

    @socketio.event(namespace="/ns")
    def with_args(data):
        return "event-ns:" + data

    def plain(data):
        return "on_event:" + data

    socketio.on_event("plain", plain)
    client = socketio.test_client(app)
    client.connect("/ns")
    assert client.emit("decorated", "a", callback=True) == "on:a"
    assert client.emit("bare", "b", callback=True) == "event:b"
    assert client.emit("plain", "c", callback=True) == "on_event:c"
    assert client.emit("with_args", "d", callback=True, namespace="/ns") == "event-ns:d"


def test_connect_handler_with_auth_or_without():
    app, socketio = make_app()
    seen = []

    @socketio.on("connect")
    def with_auth(auth):
        seen.append(("/", auth))

    @socketio.on("connect", namespace="/plain")
    def without_auth():
        seen.append(("/plain", None))

    client = socketio.test_client(app, auth={"token": "t"})
    client.connect("/plain")
    assert seen == [("/", {"token": "t"}), ("/plain", None)]


def test_disconnect_handler_with_reason_or_without():
    app, socketio = make_app()
    seen = []

    @socketio.on("disconnect")
    def with_reason(reason):
        seen.append(reason)

    @socketio.on("disconnect", namespace="/plain")
    def without_reason():
        seen.append("plain")

    client = socketio.test_client(app)
    client.connect("/plain")
    client.disconnect("/plain")
    client.disconnect()
    assert seen == ["plain", socketio.reason.CLIENT_DISCONNECT]


def test_connect_refused_with_payload_and_false():
    app, socketio = make_app()

    @socketio.on("connect")
    def refuse(auth):
        if auth == "false":
            return False
        raise ConnectionRefusedError("not allowed", {"retry": 5})

    client = socketio.test_client(app, auth={"x": 1})
    assert not client.is_connected()
    assert client.get_connect_error() == {"message": "not allowed", "data": {"retry": 5}}
    client = socketio.test_client(app, auth="false")
    assert not client.is_connected()


def test_catch_all_event_and_namespace():
    app, socketio = make_app(namespaces="*")

    @socketio.on("*")
    def any_event(event, data):
        emit("caught", [event, data, request.event["message"]])

    @socketio.on("ping", namespace="*")
    def any_namespace(data):
        emit("pong", [request.namespace, data], namespace=request.namespace)

    client = socketio.test_client(app)
    client.emit("whatever", 1)
    assert client.get_received() == [
        {"name": "caught", "args": [["whatever", 1, "whatever"]], "namespace": "/"}
    ]
    client.connect("/room-7")
    client.emit("ping", 2, namespace="/room-7")
    assert client.get_received("/room-7") == [
        {"name": "pong", "args": [["/room-7", 2]], "namespace": "/room-7"}
    ]


def test_request_attributes_in_handlers():
    app, socketio = make_app()

    @socketio.on("who")
    def who(*args):
        event = request.event
        return [request.sid, request.namespace, event["message"], list(event["args"])]

    client = socketio.test_client(app)
    sid, namespace, message, args = client.emit("who", 1, 2, callback=True)
    assert sid == client.get_sid()
    assert (namespace, message, args) == ("/", "who", [1, 2])


def test_ack_shapes_and_several_arguments():
    app, socketio = make_app()

    @socketio.on("pair")
    def pair(a, b):
        emit("both", a, b)
        return a, b

    @socketio.on("nothing")
    def nothing():
        return None

    client = socketio.test_client(app)
    assert client.emit("pair", 1, 2, callback=True) == [1, 2]
    assert client.emit("nothing", callback=True) == []
    assert client.get_received() == [{"name": "both", "args": [1, 2], "namespace": "/"}]


def test_error_handlers_namespace_default_and_namespace_class_hook():
    app, socketio = make_app()

    @socketio.on("boom")
    def boom():
        raise ValueError("root")

    @socketio.on("boom", namespace="/other")
    def boom_other():
        raise KeyError("other")

    @socketio.on_error()
    def root_error(exc):
        return "root handled: " + str(exc)

    @socketio.on_error_default
    def default_error(exc):
        return "default handled: " + type(exc).__name__

    class Hooked(Namespace):
        def on_boom(self):
            raise RuntimeError("class")

        def error(self, exc):
            return "class hook: " + str(exc)

    socketio.on_namespace(Hooked("/hooked"))
    client = socketio.test_client(app)
    client.connect("/other")
    client.connect("/hooked")
    assert client.emit("boom", callback=True) == "root handled: root"
    assert client.emit("boom", callback=True, namespace="/other") == "default handled: KeyError"
    assert client.emit("boom", callback=True, namespace="/hooked") == "class hook: class"


def test_unhandled_exception_reaches_the_test():
    app, socketio = make_app()

    @socketio.on("boom")
    def boom():
        raise ZeroDivisionError("unhandled")

    client = socketio.test_client(app)
    with pytest.raises(ZeroDivisionError, match="unhandled"):
        client.emit("boom")


def test_on_error_rejects_non_callables():
    _, socketio = make_app()
    with pytest.raises(ValueError):
        socketio.on_error()("not callable")
    with pytest.raises(ValueError):
        socketio.on_error_default("not callable")
    with pytest.raises(ValueError):
        socketio.on_namespace(object())


def test_namespace_class_emit_send_close_room():
    app, socketio = make_app()

    class Chat(Namespace):
        def on_connect(self):
            pass

        def on_say(self, text):
            self.emit("said", text)
            self.send("plain " + text)

        def on_close(self, room):
            self.close_room(room)

    socketio.on_namespace(Chat("/chat"))
    client = socketio.test_client(app, namespace="/chat")
    client.emit("say", "hi", namespace="/chat")
    assert client.get_received("/chat") == [
        {"name": "said", "args": ["hi"], "namespace": "/chat"},
        {"name": "message", "args": "plain hi", "namespace": "/chat"},
    ]


def test_send_json_and_message_handlers():
    app, socketio = make_app()

    @socketio.on("message")
    def on_message(msg):
        send(msg)

    @socketio.on("json")
    def on_json(data):
        send(data, json=True)

    client = socketio.test_client(app)
    client.send("text")
    client.send({"a": 1}, json=True)
    assert client.get_received() == [
        {"name": "message", "args": "text", "namespace": "/"},
        {"name": "json", "args": {"a": 1}, "namespace": "/"},
    ]


def test_unknown_namespace_is_refused_with_protocol_payload():
    app, socketio = make_app()
    client = socketio.test_client(app)
    client.connect("/nowhere")
    assert not client.is_connected("/nowhere")
    assert client.get_connect_error("/nowhere") == {"message": "Invalid namespace"}


def test_background_task_emits_reach_the_client():
    app, socketio = make_app()

    @socketio.on("start")
    def start(count):
        def work():
            for index in range(count):
                socketio.sleep(0.01)
                socketio.emit("tick", index)

        socketio.start_background_task(work)

    client = socketio.test_client(app)
    client.emit("start", 3)
    assert [client.expect("tick", timeout=3) for _ in range(3)] == [[0], [1], [2]]


def test_server_send_and_close_room_outside_handlers():
    app, socketio = make_app()

    @socketio.on("join")
    def on_join(room):
        from flask_socketio import join_room

        join_room(room)

    alice, bob = socketio.test_client(app), socketio.test_client(app)
    alice.emit("join", "team")
    socketio.send("to the team", to="team")
    socketio.send({"json": True}, json=True)
    assert [e["args"] for e in alice.get_received()] == ["to the team", {"json": True}]
    assert [e["args"] for e in bob.get_received()] == [{"json": True}]
    socketio.close_room("team")
    socketio.send("nobody", to="team")
    assert alice.get_received() == []

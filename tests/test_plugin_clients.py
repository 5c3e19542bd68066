"""Client-behaviour tests through the plugin's fixtures.

They run in-process by default and once per transport with ``--socketio-transport=all``
(the ids then name the transport): the same test over inprocess, polling and websocket.
"""

from __future__ import annotations

import time

import pytest


def test_connect_and_welcome(socketio_client, socketio_transport):
    assert socketio_client.is_connected()
    sid = socketio_client.get_sid()
    assert sid
    assert socketio_client.expect("welcome") == [{"sid": sid, "user": None}]


def test_echo_keeps_types_and_bytes(socketio_client):
    payload = {"n": 1, "nested": [b"\x00\x01", {"deep": b"bytes"}], "s": "text"}
    socketio_client.emit("echo", payload)
    assert socketio_client.expect("echo") == [payload]


def test_acks_unwrap_like_the_test_client(socketio_client):
    assert socketio_client.emit("add", 2, 3, callback=True) == 5
    assert socketio_client.call("pair") == ["left", "right"]
    assert socketio_client.call("leave", "nowhere") == []


def test_send_message_and_json(socketio_client):
    socketio_client.get_received()
    socketio_client.send("hello")
    socketio_client.send({"a": 1}, json=True)
    assert socketio_client.receive() == {"name": "message", "args": "hello", "namespace": "/"}
    assert socketio_client.receive() == {"name": "json", "args": {"a": 1}, "namespace": "/"}


def test_receive_times_out(socketio_client):
    socketio_client.get_received()
    with pytest.raises(TimeoutError):
        socketio_client.receive(timeout=0.05)
    socketio_client.assert_nothing_received(timeout=0.05)


def test_expect_failure_lists_what_arrived(socketio_client):
    with pytest.raises(AssertionError, match="welcome"):
        socketio_client.expect("never", timeout=0.05)


def test_broadcast_and_rooms(socketio_client_factory):
    a, b, c = (socketio_client_factory() for _ in range(3))
    for client in (a, b, c):
        client.get_received()
    assert a.call("join", "red") == "red"
    assert b.call("join", "red") == "red"
    c.emit("to_room", "red", {"hi": 1})
    assert a.expect("room_message") == [{"hi": 1}]
    assert b.expect("room_message") == [{"hi": 1}]
    c.assert_nothing_received(timeout=0.1)
    a.emit("shout", "all")
    for client in (a, b, c):
        assert client.expect("shout") == ["all"]


def test_server_to_client_ack(socketio_client):
    @socketio_client.on("question")
    def answer(question):
        return question.upper()

    socketio_client.emit("ask", "why")
    assert socketio_client.expect("answer") == ["WHY"]
    assert socketio_client.expect("question") == ["why"]  # handled events are recorded too


@pytest.mark.socketio_client(auth={"token": "bad"})
def test_refused_connect_keeps_payload(socketio_client):
    assert not socketio_client.is_connected()
    error = socketio_client.get_connect_error()
    assert error is not None and "bad token" in str(error["message"])


@pytest.mark.socketio_client(namespace="/chat")
def test_marker_namespace(socketio_client):
    assert socketio_client.is_connected("/chat")
    socketio_client.emit("say", "yo", namespace="/chat")
    assert socketio_client.expect("said", namespace="/chat") == ["yo"]


def test_second_namespace_and_refusal(socketio_client):
    socketio_client.connect("/chat")
    assert socketio_client.is_connected("/chat")
    assert socketio_client.get_sid("/chat") != socketio_client.get_sid("/")
    socketio_client.disconnect("/chat")
    assert not socketio_client.is_connected("/chat")
    assert socketio_client.is_connected("/")
    socketio_client.connect("/chat", auth={"deny": True})
    assert not socketio_client.is_connected("/chat")
    assert socketio_client.get_connect_error("/chat") is not None


def test_flask_session_through_test_client(app, socketio_client_factory):
    flask_client = app.test_client()
    assert flask_client.get("/login/ada").status_code == 200
    client = socketio_client_factory(flask_test_client=flask_client)
    assert client.call("whoami")["user"] == "ada"


def test_query_string_and_headers(socketio_client_factory):
    client = socketio_client_factory(query_string="x=1", headers={"X-Test": "yes"})
    assert client.is_connected()


@pytest.mark.socketio_transports("inprocess")
def test_inprocess_only(socketio_client, socketio_transport):
    assert socketio_transport == "inprocess"


@pytest.mark.socketio_transports("polling", "websocket")
def test_network_only(socketio_client, socketio_transport, socketio_live_server):
    assert socketio_transport in ("polling", "websocket")
    assert socketio_client.url == socketio_live_server.url


def test_disconnect_then_connect_again(socketio_client):
    first = socketio_client.get_sid()
    socketio_client.disconnect()
    assert not socketio_client.is_connected()
    socketio_client.connect()
    assert socketio_client.is_connected()
    assert socketio_client.get_sid() != first
    assert socketio_client.call("add", 1, 2) == 3


def test_network_client_context_manager_and_transcript(socketio_live_server):
    from flask_socketio_testing import Client

    with Client(socketio_live_server.url, transport="polling", transcript_limit=5) as client:
        assert client.is_connected() and client.eio_sid
        for i in range(10):
            client.emit("echo", i)
        for i in range(10):
            assert client.expect("echo") == [i]
        assert len(client.transcript) == 5
        assert client.transcript[-1][1] == "received"
    assert not client.is_connected()
    assert client.leaks() == []


def test_server_side_disconnect(socketio_client):
    socketio_client.emit("kick")
    deadline = time.monotonic() + 5
    while socketio_client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not socketio_client.is_connected()


def test_background_task_emit_is_awaited(socketio_client):
    socketio_client.emit("later", 0.2)
    assert socketio_client.expect("done", timeout=3) == [{"after": 0.2}]


def test_binary_ack(socketio_client):
    socketio_client.emit("echo", b"\x00\xff")
    assert socketio_client.expect("echo") == [b"\x00\xff"]

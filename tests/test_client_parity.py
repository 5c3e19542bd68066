"""Parity: the same assertions on the in-process, polling and websocket clients.

Every test here runs once per kind of client, whatever ``--socketio-transport`` says: the
clients come from the plugin's ``SocketIOClientFactory`` for a transport fixed by this module's
parametrized ``make`` fixture (network clients connect to ``socketio_live_server``). What a
client returns, raises and writes in its transcript must not depend on how its packets travel.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_socketio_testing import (
    AckTimeoutError,
    ExpectationError,
    NotConnectedError,
    ReceiveTimeoutError,
    SocketIOClient,
)
from pytest_flask_socketio.clients import SocketIOClientFactory
from pytest_flask_socketio.transcript import format_transcript
from pytest_flask_socketio.transports import TRANSPORTS

from flask_socketio import SocketIO


@pytest.fixture(params=TRANSPORTS)
def make(request: pytest.FixtureRequest, app: Flask, socketio: SocketIO) -> Iterator[Any]:
    """A client factory for one transport (the parameter), closing its clients afterwards."""
    factory = SocketIOClientFactory(request, app, socketio, request.param)
    yield factory
    factory.close_all()


@pytest.fixture
def client(make: SocketIOClientFactory) -> SocketIOClient:
    """A connected client with its ``welcome`` already read."""
    connected = make()
    connected.expect("welcome")
    return connected


def test_every_client_satisfies_the_protocol(make: SocketIOClientFactory) -> None:
    client = make()
    assert isinstance(client, SocketIOClient)
    assert client.transport == make.transport
    assert client.is_connected() and client.is_connected("/")
    assert isinstance(client.get_sid(), str) and isinstance(client.eio_sid, str)
    assert client.get_connect_error() is None
    assert client.expect("welcome") == [{"sid": client.get_sid(), "user": None}]


def test_messages_have_one_format(client: SocketIOClient) -> None:
    client.send("hello")
    client.send({"a": 1}, json=True)
    client.emit("echo", 1, b"\x00\xff", {"nested": [b"x"]})
    assert client.receive() == {"name": "message", "args": "hello", "namespace": "/"}
    assert client.receive() == {"name": "json", "args": {"a": 1}, "namespace": "/"}
    # the handler emits its arguments as a tuple, which arrives as several arguments
    expected = {"name": "echo", "args": [1, b"\x00\xff", {"nested": [b"x"]}], "namespace": "/"}
    assert client.receive() == expected
    client.emit("echo", "again")
    assert client.expect("echo") == ["again"]
    assert client.get_received() == []


def test_acks_unwrap_the_same_way(client: SocketIOClient) -> None:
    assert client.emit("add", 2, 3, callback=True) == 5
    assert client.call("add", 20, 22) == 42
    assert client.call("pair") == ["left", "right"]
    assert client.call("leave", "nowhere") == []
    assert client.send("hi", callback=True) == []
    with pytest.raises(AckTimeoutError, match="no ack for 'not handled' on / within 0.1 s"):
        client.call("not handled", timeout=0.1)


def test_timeouts_raise_the_same_errors(client: SocketIOClient) -> None:
    with pytest.raises(ReceiveTimeoutError, match="no event received on / within 0.05 s"):
        client.receive(timeout=0.05)
    with pytest.raises(TimeoutError):
        client.receive(timeout=0.01)
    client.assert_nothing_received(timeout=0.05)


def test_failed_expect_lists_names_with_arguments(client: SocketIOClient) -> None:
    client.emit("echo", {"x": 41})
    client.emit("echo", "second")
    with pytest.raises(ExpectationError) as info:
        client.expect("never", timeout=0.2)
    message = str(info.value)
    assert message.startswith("expected 'never' on / within 0.2 s; received instead: ")
    assert "'echo' [{'x': 41}], 'echo' ['second']" in message
    assert isinstance(info.value, AssertionError)
    assert [e["args"] for e in info.value.received] == [[{"x": 41}], ["second"]]
    # the failure is in the transcript, and what was left unread is in the report
    assert "expect-failed" in client.transcript.kinds()
    report = format_transcript(client)
    assert "expect-failed" in report and "expected 'never'" in report
    assert "queued, never read by the test:" in report
    with pytest.raises(ExpectationError, match=r"received 'echo' \[\{'x': 41\}\]"):
        client.assert_nothing_received(timeout=0.05)
    assert client.expect("echo") == [{"x": 41}]  # earlier events stayed queued


def test_transcript_records_the_traffic(client: SocketIOClient) -> None:
    client.emit("echo", "t")
    client.expect("echo")
    assert client.call("add", 1, 1) == 2
    kinds = client.transcript.kinds()
    for kind in ("connecting", "connect", "emit", "received", "ack"):
        assert kind in kinds, kinds
    report = format_transcript(client)
    assert f"transport={client.transport}" in report
    assert "add args=[1, 1]" in report and "welcome args=" in report


def test_not_connected_raises_the_same_error(client: SocketIOClient) -> None:
    assert not client.is_connected("/chat")
    for action in (
        lambda: client.emit("say", "x", namespace="/chat"),
        lambda: client.call("say", "x", namespace="/chat"),
        lambda: client.get_received("/chat"),
        lambda: client.disconnect("/chat"),
    ):
        with pytest.raises(NotConnectedError, match="not connected to namespace /chat"):
            action()
    with pytest.raises(RuntimeError):  # what the upstream test client raised
        client.emit("echo", namespace="/chat")
    client.disconnect()
    assert not client.is_connected() and client.get_sid() is None
    with pytest.raises(NotConnectedError):
        client.emit("echo", 1)
    with pytest.raises(NotConnectedError):
        client.get_received()


def test_namespaces_and_refusals(make: SocketIOClientFactory) -> None:
    client = make()
    client.connect("/chat")
    assert client.is_connected("/chat") and client.get_sid("/chat") != client.get_sid()
    client.emit("say", "yo", namespace="/chat")
    assert client.expect("said", namespace="/chat") == ["yo"]
    with pytest.raises(ExpectationError, match="queued in other namespaces: 1 on /"):
        client.expect("said", namespace="/chat", timeout=0.05)  # welcome waits on /
    client.disconnect("/chat")
    assert not client.is_connected("/chat") and client.is_connected()
    client.connect("/chat", auth={"deny": True})
    assert not client.is_connected("/chat")
    assert client.get_connect_error("/chat") is not None
    refused = make(auth={"token": "bad"})
    assert not refused.is_connected()
    error = refused.get_connect_error()
    assert error is not None and "bad token" in str(error["message"])


def test_client_side_handlers_answer_the_server(client: SocketIOClient) -> None:
    seen: list[tuple[Any, ...]] = []

    @client.on("question")
    def answer(question: str) -> str:
        return question.upper()

    client.on("*", lambda name, *args: seen.append((name, *args)))
    client.emit("ask", "why")
    assert client.expect("answer", timeout=2) == ["WHY"]
    assert client.expect("question") == ["why"]  # handled events are queued too
    assert ("answer", "WHY") in seen


def test_events_from_background_tasks_are_waited_for(client: SocketIOClient) -> None:
    client.emit("later", 0.1)
    assert client.get_received() == []
    assert client.expect("done", timeout=3) == [{"after": 0.1}]


def test_broadcast_and_rooms(make: SocketIOClientFactory) -> None:
    a, b, c = (make() for _ in range(3))
    for each in (a, b, c):
        each.expect("welcome")
    assert a.call("join", "red") == "red" and b.call("join", "red") == "red"
    c.emit("to_room", "red", {"hi": 1})
    assert a.expect("room_message") == [{"hi": 1}] and b.expect("room_message") == [{"hi": 1}]
    c.assert_nothing_received(timeout=0.1)
    a.emit("shout", "all")
    assert [each.expect("shout") for each in (a, b, c)] == [["all"]] * 3


def test_close_is_idempotent_and_leaves_nothing(make: SocketIOClientFactory) -> None:
    client = make()
    with client:
        assert client.is_connected()
    assert not client.is_connected()
    client.close()
    assert client.leaks() == []
    assert client.transcript.kinds().count("disconnect") >= 1

"""Testing a Flask-SocketIO app with the pytest plugin."""

import pytest
from flask_socketio_testing import Client


def test_hello(socketio_client):
    # in-process by default; over polling and websocket too with --socketio-transport=all
    assert socketio_client.is_connected()
    assert socketio_client.expect("hello") == [{"sid": socketio_client.get_sid()}]


def test_ack(socketio_client):
    assert socketio_client.call("add", 2, 3) == 5
    assert socketio_client.emit("add", 1, 1, callback=True) == 2


@pytest.mark.socketio_client(auth={"token": "wrong"})
def test_refused(socketio_client):
    assert not socketio_client.is_connected()
    assert socketio_client.get_connect_error() is not None


def test_room_chat(socketio_client_factory):
    alice, bob, eve = (socketio_client_factory(auth={"token": "letmein"}) for _ in range(3))
    eve.expect("hello")  # the connect handler's emit follows the CONNECT answer
    assert alice.call("join", "lobby") == "joined lobby"
    assert bob.call("join", "lobby") == "joined lobby"
    alice.emit("say", "lobby", "hi bob")
    assert bob.expect("said") == [{"room": "lobby", "text": "hi bob"}]
    assert alice.expect("said") == [{"room": "lobby", "text": "hi bob"}]
    eve.assert_nothing_received(timeout=0.2)


@pytest.mark.socketio_transports("inprocess")
def test_inprocess_only(socketio_client, socketio_transport):
    assert socketio_transport == "inprocess"


def test_live_server_restart(socketio_live_server):
    with Client(socketio_live_server.url) as client:
        port = socketio_live_server.port
        socketio_live_server.restart()
        assert socketio_live_server.port == port  # same port: clients come back
        assert client.wait_disconnected(5) and client.wait_reconnected(10)
        assert client.call("add", 1, 2) == 3


@pytest.mark.socketio_server(async_mode="gevent")
def test_gevent_server(socketio_live_server):
    assert socketio_live_server.async_mode == "gevent"
    with Client(socketio_live_server.url, transport="websocket") as client:
        assert client.call("add", 40, 2) == 42


@pytest.mark.socketio_cluster(nodes=2, message_queue="redis")
def test_cluster(socketio_cluster):
    alice = socketio_cluster.client(node=0)
    bob = socketio_cluster.client(node=1, transport="polling")
    assert alice.call("join", "lobby") == "joined lobby"
    assert bob.call("join", "lobby") == "joined lobby"
    alice.emit("say", "lobby", "across nodes")
    assert bob.expect("said", timeout=5) == [{"room": "lobby", "text": "across nodes"}]

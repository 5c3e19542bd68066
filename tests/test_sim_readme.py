"""The README's "Simulating many clients" example, verbatim, so that the documentation runs."""

import pytest
from flask import Flask
from flask_socketio_testing import DeliveryLedger

from flask_socketio import SocketIO, emit, join_room


def create_app() -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")

    @socketio.on("connect")
    def on_connect(auth):
        # joining in the connect handler puts a reconnected client back in its room
        join_room(auth["room"])

    @socketio.on("announce")
    def on_announce(data):
        emit("news", data["payload"], to=data["room"])

    return app


@pytest.fixture
def app():
    return create_app()


def test_room_broadcast_survives_a_network_cut(socketio_swarm_factory, socketio_fault_proxy):
    # 200 clients reach the live server through a fault proxy: 150 in "lobby", 50 in "other"
    swarm = socketio_swarm_factory(
        200, socketio_fault_proxy, auth=lambda i: {"room": "lobby" if i < 150 else "other"}
    )
    ledger = DeliveryLedger()
    ledger.attach(swarm, "news")  # record every "news" event at every client
    ledger.expect_room("lobby", swarm.clients[:150])
    announcer = swarm[0]

    def announce():
        payload = ledger.stamp({"text": "hello"}, sender=announcer, recipients="lobby")
        announcer.emit("announce", {"room": "lobby", "payload": payload})

    announce()
    report = ledger.verify(timeout=10)
    assert report.ok, str(report)  # each lobby member got it once, "other" got nothing
    assert report.delivered == 150

    swarm.mark()  # the reconnection report counts from here
    socketio_fault_proxy.cut()  # every connection drops at once
    back = swarm.wait_reconnected(timeout=20, ledger=ledger)
    assert back.all_back, str(back)
    print(back)  # time until all 200 were back, messages lost while they were gone

    since = ledger.mark()
    announce()
    report = ledger.verify(timeout=10, since=since)
    assert report.ok, str(report)
    print(report)

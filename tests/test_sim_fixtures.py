"""The plugin's simulation fixtures: socketio_swarm_factory and socketio_fault_proxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask_socketio_testing.ledger import DeliveryLedger
from flask_socketio_testing.swarm import Swarm

GEVENT_APP = "tests.apps.sim_app:create_gevent_app()"


@pytest.fixture
def app() -> Iterator[Flask]:
    """The simulation app instead of the repository's default test app."""
    from tests.apps.sim_app import create_app

    yield create_app()


def post_emit(server: Any, payload: Any, room: str | None = None) -> None:
    body = {"event": "news", "payload": payload, "room": room}
    requests.post(server.url + "/emit", json=body, timeout=5).raise_for_status()


def _room_broadcast(swarm: Swarm, server: Any) -> None:
    ledger = DeliveryLedger()
    ledger.attach(swarm.clients, "news")
    ledger.expect_room("lobby", swarm.clients)
    post_emit(server, ledger.stamp({"hello": "lobby"}, recipients="lobby"), room="lobby")
    report = ledger.verify(timeout=10)
    assert report.ok, str(report)


def test_swarm_factory_defaults_to_the_live_server(
    socketio_swarm_factory: Any, socketio_live_server: Any
) -> None:
    swarm = socketio_swarm_factory(30, auth={"room": "lobby"})
    assert swarm.target == socketio_live_server.url
    assert swarm.connected_count() == 30
    _room_broadcast(swarm, socketio_live_server)


@pytest.mark.socketio_server(async_mode="gevent", app=GEVENT_APP)
def test_swarm_factory_on_a_gevent_live_server(
    socketio_swarm_factory: Any, socketio_live_server: Any
) -> None:
    assert socketio_live_server.async_mode == "gevent"
    swarm = socketio_swarm_factory(50, auth={"room": "lobby"})
    _room_broadcast(swarm, socketio_live_server)


def test_swarm_factory_in_process(socketio_swarm_factory: Any, app: Flask) -> None:
    swarm = socketio_swarm_factory(10, app, auth={"room": "lobby"})
    assert swarm.inprocess
    ledger = DeliveryLedger()
    ledger.attach(swarm, "news")
    ledger.expect_room("lobby", swarm.clients)
    swarm[0].emit(
        "broadcast",
        {"event": "news", "room": "lobby", "payload": ledger.stamp({}, recipients="lobby")},
    )
    assert ledger.verify(timeout=5).ok


def test_fault_proxy_cut_then_server_restart(
    socketio_swarm_factory: Any, socketio_fault_proxy: Any, socketio_live_server: Any
) -> None:
    swarm = socketio_swarm_factory(20, socketio_fault_proxy, auth={"room": "lobby"})
    assert socketio_fault_proxy.connections == 20
    socketio_fault_proxy.cut()
    report = swarm.wait_reconnected(timeout=15)
    assert report.all_back, str(report)
    _room_broadcast(swarm, socketio_live_server)

    socketio_live_server.restart()
    report = swarm.wait_reconnected(timeout=20)
    assert report.all_back, str(report)
    _room_broadcast(swarm, socketio_live_server)


def test_swarm_factory_fails_the_test_when_clients_cannot_connect(pytester: Any) -> None:
    pytester.makepyfile(
        """
        import socket

        def test_refused(socketio_swarm_factory):
            with socket.socket() as bound:
                bound.bind(("127.0.0.1", 0))
                url = "http://127.0.0.1:%d" % bound.getsockname()[1]
                socketio_swarm_factory(3, url, connect_timeout=1, reconnection=False)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the swarm did not connect*", "*0/3 connected*"])

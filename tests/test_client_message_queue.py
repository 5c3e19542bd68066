"""A message queue in the app's config does not stop the in-process test client."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_socketio import SocketIO, emit


def _app(url: str, channel: str) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(app, message_queue=url, channel=channel, async_mode="threading")

    @socketio.on("echo")
    def echo(data: Any) -> None:
        emit("echo", data)

    @socketio.on("broadcast")
    def broadcast(data: Any) -> None:
        emit("broadcast", data, broadcast=True)

    @socketio.on("ack")
    def ack(data: Any) -> Any:
        return data

    return app, socketio


@pytest.mark.parametrize("queue", ["redis_url", "amqp_url"])
def test_test_client_with_message_queue(
    queue: str, request: pytest.FixtureRequest, socketio_channel: str
) -> None:
    url = request.getfixturevalue(queue)
    app, socketio = _app(url, socketio_channel)
    payload = {"raw": b"\x00\x01", "n": [1, {"b": b"x"}]}
    with socketio.test_client(app) as one, socketio.test_client(app) as two:
        one.emit("echo", payload)
        assert one.get_received() == [{"name": "echo", "args": [payload], "namespace": "/"}]
        assert one.emit("ack", payload, callback=True) == payload
        one.emit("broadcast", payload)
        for client in (one, two):
            assert client.expect("broadcast", timeout=5) == [payload]
        # an external, write-only emitter (a worker process) reaches the test clients
        worker = SocketIO(message_queue=url, channel=socketio_channel)
        worker.emit("from worker", {"n": 1})
        for client in (one, two):
            assert client.expect("from worker", timeout=5) == [{"n": 1}]
        one.assert_nothing_received(timeout=0.2)

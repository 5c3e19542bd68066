"""A message queue in the app's config does not stop the in-process test client."""

from __future__ import annotations

import time
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
        # an external, write-only emitter (a worker process) reaches the test clients, once the
        # server's queue listener (a background thread) has subscribed: probe until it has
        worker = SocketIO(message_queue=url, channel=socketio_channel)
        deadline = time.monotonic() + 10
        while True:
            worker.emit("probe")
            try:
                one.expect("probe", timeout=0.5)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        two.expect("probe", timeout=5)
        worker.emit("from worker", {"n": 1})
        for client in (one, two):
            assert client.expect("from worker", timeout=5) == [{"n": 1}]
        time.sleep(0.2)
        for client in (one, two):  # delivered exactly once (late probes may still trickle in)
            assert [e for e in client.get_received() if e["name"] != "probe"] == []

"""A Redis outage mid-broadcast: every lost message is reported, none lost in silence, and the
listener is back within a second of the broker's return.

The test starts its own ``redis-server`` (a free port, its own process), a server node with a
connected python-socketio client, and a write-only emitter broadcasting a numbered message every
10 ms; it kills the broker, restarts it on the same port and keeps broadcasting.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
import socketio as socketio_pkg
from core_support import ASYNC_MODE, live_server, make_app

from flask_socketio import SocketIO

pytestmark = pytest.mark.skipif(ASYNC_MODE != "threading", reason="uses an in-thread server")

INTERVAL = 0.01
RECOVERY = 1.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, on a port of its own."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("SOCKETIO_REQUIRE_SERVICES") == "1":
                pytest.fail("redis-server is not on PATH (apt-get install redis-server)")
            pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
        self.binary = binary
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


@pytest.fixture
def redis_server():
    broker = PrivateRedis()
    broker.start()
    yield broker
    broker.kill()


def test_a_broker_restart_mid_broadcast_loses_nothing_in_silence(redis_server):
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    app, node = make_app("mq-faults", message_queue=url)
    emitter = SocketIO(message_queue=url)
    reported: list[int] = []
    emitter.server.manager.on_publish_error(lambda message, error: reported.append(_seq(message)))
    received: dict[int, float] = {}

    with live_server(app, node) as base:
        client = socketio_pkg.Client(reconnection=False)
        client.on("tick", lambda data: received.setdefault(data["seq"], time.monotonic()))
        client.connect(base, transports=["websocket"], wait_timeout=10)
        _wait_until_listening(emitter, received)
        received.clear()
        sent: dict[int, float] = {}
        events: dict[str, float] = {}

        def broadcast() -> None:
            for seq in range(400):  # 4 s at 10 ms
                sent[seq] = time.monotonic()
                emitter.emit("tick", {"seq": seq})
                time.sleep(INTERVAL)

        sender = threading.Thread(target=broadcast)
        sender.start()
        time.sleep(1.0)
        events["killed"] = time.monotonic()
        redis_server.kill()
        time.sleep(1.0)
        redis_server.start()
        events["back"] = time.monotonic()
        sender.join(30)
        time.sleep(1.0)  # the last messages in flight
        client.disconnect()

    lost = sorted(set(sent) - set(received))
    silent = sorted(set(lost) - set(reported))
    assert lost, "the outage lost nothing: the test did not exercise it"
    assert silent == [], f"lost without a report: {silent}"
    late = [s for s in lost if sent[s] > events["back"] + RECOVERY]
    assert late == [], f"still losing {RECOVERY} s after the broker returned: {late}"
    window = max(sent[s] for s in lost) - events["killed"]
    outage = events["back"] - events["killed"]
    print(
        f"\nsent {len(sent)}, received {len(received)}, lost {len(lost)} (all reported), "
        f"outage {outage:.2f} s, loss window {window:.2f} s "
        f"({window - outage:.2f} s after the broker returned)"
    )


def _seq(message: dict) -> int:
    data = message.get("data") or [{}]
    return data[0].get("seq", -1) if isinstance(data[0], dict) else -1


def _wait_until_listening(emitter: SocketIO, received: dict) -> None:
    """Probe until the node's listener has subscribed (a publish before that reaches nobody)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        emitter.emit("tick", {"seq": -1})
        time.sleep(0.05)
        if -1 in received:
            return
    raise AssertionError("the node never received from the queue")

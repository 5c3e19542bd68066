"""``ordered_events=True``: one connection's events are handled in arrival order, over the network.

The app's handler sleeps a random 0-2 ms before it broadcasts, and the delivery ledger counts
every arrival that comes before an older message of the same sender. With the option, the count
must be zero while two senders still run side by side. Without it, the same run must show
reordering, so that the test can tell the two apart: there every tenth message's handler waits
until a newer message of the same sender went out before it broadcasts (bounded). Sleeps alone
no longer show it reliably: under threading, fan-outs that wait for their turn go in arrival
order (``flask_socketio.fanout``), and on a busy machine the events arrive too far apart.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_socketio_testing.ledger import DeliveryLedger
from flask_socketio_testing.stamp import STAMP_KEY
from flask_socketio_testing.swarm import Swarm

from flask_socketio import SocketIO, emit

MESSAGES = 150  # per sender
CLIENTS = 10


def create_app(async_mode: str = "threading", ordered: bool = True) -> Flask:
    """The jittery broadcast app (``ordered`` sets ``ordered_events``; without it, every tenth
    message of a sender is held back until a newer one of that sender went out, or for a
    second at most)."""
    newest: dict[str, int] = {}  # sender -> the highest sequence number broadcast so far
    progress = threading.Condition()  # gevent's under the gevent server (patched)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "perf"
    socketio = SocketIO(app, async_mode=async_mode, ordered_events=ordered)

    @socketio.on("broadcast")
    def on_broadcast(payload: dict) -> None:
        stamp = payload[STAMP_KEY]
        sender, seq = stamp["sender"], stamp["seq"]
        if not ordered and seq % 10 == 5:
            with progress:  # until a newer message of this sender went out
                progress.wait_for(lambda: newest.get(sender, -1) > seq, timeout=1)
        else:
            socketio.sleep(random.random() * 0.002)
        emit("news", payload, broadcast=True)
        with progress:
            newest[sender] = max(newest.get(sender, -1), seq)
            progress.notify_all()

    @socketio.on("slow")
    def on_slow(seconds: float) -> str:
        socketio.sleep(seconds)
        return "done"

    @socketio.on("quick")
    def on_quick() -> str:
        return "quick"

    return app


def create_gevent_ordered_app() -> Flask:
    return create_app("gevent", ordered=True)


def create_gevent_unordered_app() -> Flask:
    return create_app("gevent", ordered=False)


def _serve(mode: str, ordered: bool) -> Iterator[Any]:
    # imported here: the gevent server subprocess imports this module for its app factory,
    # without the tests' support folder on its path
    from protocol_support import mode_server

    kind = "ordered" if ordered else "unordered"
    spec = f"tests.test_perf_ordering:create_gevent_{kind}_app()"
    with mode_server(mode, lambda: create_app("threading", ordered), spec, f"perf-{kind}") as srv:
        yield srv


@pytest.fixture(params=["threading", "gevent"])
def ordered_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _serve(request.param, ordered=True)


@pytest.fixture(params=["threading", "gevent"])
def unordered_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from _serve(request.param, ordered=False)


def _broadcast_run(url: str) -> Any:
    """Two senders each emit MESSAGES broadcasts back to back; the ledger's report."""
    with Swarm(url, CLIENTS) as swarm:
        assert swarm.connect().ok
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        senders = swarm.clients[:2]
        for _ in range(MESSAGES):
            for sender in senders:
                payload = ledger.stamp({"text": "x"}, sender=sender, recipients=swarm.clients)
                sender.emit("broadcast", payload)
        return ledger.verify(timeout=60, settle=0.2)


def test_ordered_events_keep_each_senders_order(ordered_server: Any) -> None:
    report = _broadcast_run(ordered_server.url)
    assert report.expected == report.delivered == 2 * MESSAGES * CLIENTS
    assert report.out_of_order == [], str(report)
    assert report.ok, str(report)


def test_without_the_option_broadcasts_overtake_each_other(unordered_server: Any) -> None:
    report = _broadcast_run(unordered_server.url)
    assert report.delivered == 2 * MESSAGES * CLIENTS
    assert len(report.out_of_order) > 0, "the jittery handler should reorder some broadcasts"


def test_a_slow_handler_delays_only_its_own_connection(ordered_server: Any) -> None:
    with Swarm(ordered_server.url, 2) as swarm:
        assert swarm.connect().ok
        slow, other = swarm.clients
        started = time.monotonic()
        slow.emit("slow", 1.0)
        assert other.call("quick", timeout=10) == "quick"  # another connection: not delayed
        assert time.monotonic() - started < 0.8
        assert slow.call("quick", timeout=10) == "quick"  # queued behind the slow one
        assert time.monotonic() - started >= 0.9

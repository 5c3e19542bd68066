"""Swarms against real servers (threading in a thread, gevent in a subprocess), verified by the
delivery ledger, through a FaultProxy that cuts, delays and blackholes, and across restarts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask_socketio_testing.faults import FaultProxy
from flask_socketio_testing.ledger import DeliveryLedger
from flask_socketio_testing.stamp import read_stamp
from flask_socketio_testing.swarm import Swarm
from protocol_support import running
from pytest_flask_socketio.live_server import ProcessLiveServer, ThreadLiveServer

from tests.apps.sim_app import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# short pings for the blackhole tests only: elsewhere a busy machine must not look like a
# dead client (the default 25 s / 20 s applies)
PING_INTERVAL = 1.0
PING_TIMEOUT = 1.0
FAST_PINGS = {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT}


def _thread_server(**options: Any) -> ThreadLiveServer:
    app = create_app(**options)
    return ThreadLiveServer(app, app.extensions["socketio"])


def _gevent_server(**options: Any) -> ProcessLiveServer:
    env = {f"SIM_{k.upper()}": str(v) for k, v in options.items()}
    return ProcessLiveServer(
        "tests.apps.sim_app:create_gevent_app()", "gevent", cwd=ROOT, env=env, name="sim"
    )


def _serve(mode: str, options: dict) -> Iterator[Any]:
    srv = _thread_server(**options) if mode == "threading" else _gevent_server(**options)
    with running(srv):
        yield srv


@pytest.fixture(params=["threading", "gevent"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A live server of the simulation app, in each async mode."""
    yield from _serve(request.param, {})


@pytest.fixture(params=["threading", "gevent"])
def fast_ping_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The same with 1 s ping interval and timeout (for the blackhole tests)."""
    yield from _serve(request.param, FAST_PINGS)


def post_emit(server: Any, payload: Any, room: str | None = None, event: str = "news") -> None:
    """Emit from the server itself (an HTTP route), not through any client or proxy."""
    body = {"event": event, "payload": payload, "room": room}
    requests.post(server.url + "/emit", json=body, timeout=5).raise_for_status()


def server_stats(server: Any) -> dict:
    return requests.get(server.url + "/stats", timeout=5).json()


def test_broadcast_reaches_every_client_once(server: Any) -> None:
    with Swarm(server.url, 50) as swarm:
        stats = swarm.connect()
        assert stats.ok, str(stats)
        assert stats.p50 is not None and stats.total < 30
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        sender = swarm.clients[0]
        for _ in range(3):
            payload = ledger.stamp({"text": "hello"}, sender=sender, recipients=swarm.clients)
            sender.emit("broadcast", {"event": "news", "payload": payload})
        report = ledger.verify(timeout=10)
        assert report.ok, str(report)
        assert report.expected == report.delivered == 150
        assert 0 <= report.p50 <= report.p99 <= report.max < 5


def test_room_broadcast_reaches_members_only(server: Any) -> None:
    rooms = {i: ("red" if i % 3 == 0 else "blue") for i in range(30)}
    with Swarm(server.url, 30, auth=lambda i: {"room": rooms[i]}) as swarm:
        assert swarm.connect().ok
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        red = [c for i, c in enumerate(swarm.clients) if rooms[i] == "red"]
        ledger.expect_room("red", red)
        post_emit(server, ledger.stamp({"for": "red"}, recipients="red"), room="red")
        report = ledger.verify(timeout=10, settle=0.3)
        assert report.ok, str(report)
        assert report.expected == len(red) == 10

        # a room that does not match what the server does shows up as misdelivered + missing
        ledger.expect_room("wrong", swarm.clients[:5])
        mark = ledger.mark()
        post_emit(server, ledger.stamp({"for": "red"}, recipients="wrong"), room="red")
        report = ledger.verify(timeout=1, since=mark, settle=0.3)
        assert not report.ok
        assert report.misdelivered and report.missing


def test_inprocess_swarm_with_the_same_ledger() -> None:
    app = create_app()
    with Swarm(app, 20, auth=lambda i: {"room": "even" if i % 2 == 0 else "odd"}) as swarm:
        stats = swarm.connect()
        assert stats.ok, str(stats)
        assert swarm.inprocess and len(swarm) == 20
        ledger = DeliveryLedger()
        ledger.attach(swarm, "news")
        ledger.expect_room("even", swarm.clients[::2])
        swarm[1].emit(
            "broadcast",
            {"event": "news", "room": "even", "payload": ledger.stamp({}, recipients="even")},
        )
        report = ledger.verify(timeout=5)
        assert report.ok, str(report)
        assert report.delivered == 10


def test_connect_failures_are_bounded_and_reported() -> None:
    import socket

    with socket.socket() as bound:  # bound, never listening: every connect is refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        t0 = time.monotonic()
        with Swarm(url, 5, connect_timeout=2, reconnection=False) as swarm:
            stats = swarm.connect(timeout=10)
        assert time.monotonic() - t0 < 15
    assert not stats.ok and stats.connected == 0 and len(stats.failed) == 5
    assert "failed" in str(stats)


def test_refused_clients_are_reported(server: Any) -> None:
    # the app refuses nothing by auth; a namespace nobody serves is refused by the server
    with Swarm(server.url, 3, namespace="/nowhere", reconnection=False) as swarm:
        stats = swarm.connect(timeout=20)
    assert stats.connected == 0 and len(stats.failed) == 3


def test_no_thread_outlives_its_swarm_or_proxy(server: Any) -> None:
    before = set(threading.enumerate())
    with FaultProxy(server.url) as proxy, Swarm(proxy.url, 20) as swarm:
        assert swarm.connect().ok
        proxy.cut()
        assert swarm.wait_reconnected(timeout=15).all_back
    assert swarm.leaks(timeout=5) == []
    assert not proxy.running

    def new_threads() -> set:
        # the in-thread server's own threads are not the swarm's: its Engine.IO monitor starts
        # with the first client, and each session's ping task sleeps out its ping interval
        now = set(threading.enumerate()) - before
        return {t for t in now if not t.name.endswith(("(_service_task)", "(_send_ping)"))}

    deadline = time.monotonic() + 10
    while new_threads() and time.monotonic() < deadline:
        time.sleep(0.05)  # the threading server's connection threads end as clients leave
    assert new_threads() == set()


def test_cut_reconnect_report_counts_lost_messages(server: Any) -> None:
    with FaultProxy(server.url) as proxy, Swarm(proxy.url, 40, auth={"room": "lobby"}) as swarm:
        assert swarm.connect().ok
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        ledger.expect_room("lobby", swarm.clients)
        post_emit(server, ledger.stamp({"n": 0}, recipients="lobby"), room="lobby")
        assert ledger.verify(timeout=10).ok

        swarm.mark()
        assert proxy.cut() == 40
        gone = ledger.mark()
        for n in range(3):  # sent while the clients are away
            post_emit(server, ledger.stamp({"n": n}, recipients="lobby"), room="lobby")
        report = swarm.wait_reconnected(timeout=15, ledger=ledger)
        assert report.all_back, str(report)
        assert report.reconnected == 40
        assert report.time_to_all_back is not None and 0 < report.time_to_all_back < 15
        assert report.downtime_max is not None
        assert 0 < report.messages_lost <= 3 * 40
        missing = {(c, m) for c, m in ledger.report(since=gone).missing}
        for index, ids in report.lost.items():
            for msg_id in ids:
                assert (swarm[index].name, msg_id) in missing
        assert "messages lost while gone" in str(report)

        # back in the room (joined again by the connect handler): the next broadcast arrives
        mark = ledger.mark()
        post_emit(server, ledger.stamp({"n": 99}, recipients="lobby"), room="lobby")
        after = ledger.verify(timeout=10, since=mark)
        assert after.ok, str(after)


def test_server_restart_reconnect_report(server: Any) -> None:
    with Swarm(server.url, 30, auth={"room": "lobby"}) as swarm:
        assert swarm.connect().ok
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        ledger.expect_room("lobby", swarm.clients)
        server.restart()
        report = swarm.wait_reconnected(timeout=20, ledger=ledger)
        assert report.all_back, str(report)
        assert report.time_to_all_back is not None
        assert swarm.last_reconnect is report
        post_emit(server, ledger.stamp({"after": "restart"}, recipients="lobby"), room="lobby")
        result = ledger.verify(timeout=10)
        assert result.ok, str(result)


def test_proxy_latency_shows_in_the_ledger(server: Any) -> None:
    # the same broadcasts reach 5 clients directly and 5 through a proxy adding 50 ms, each
    # group with its own ledger: per message, the proxied p50 is 50 ms later (within a few ms)
    with (
        FaultProxy(server.url, latency=0.05) as proxy,
        Swarm(server.url, 5, name="direct") as direct,
        Swarm(proxy.url, 5, name="proxied") as proxied,
    ):
        assert direct.connect().ok and proxied.connect().ok
        near, far = DeliveryLedger(), DeliveryLedger()
        near.attach(direct, "news")
        far.attach(proxied, "news")
        differences = []
        for _ in range(7):
            mark = near.mark()
            payload = near.stamp({}, recipients=direct.clients)
            far.expect(payload["_ledger"], proxied.clients)
            post_emit(server, payload)
            a = near.verify(timeout=10, since=mark, settle=0)
            b = far.verify(timeout=10, since=mark, settle=0)
            assert a.ok and b.ok, (str(a), str(b))
            assert b.min >= 0.05
            differences.append(b.p50 - a.p50)
        differences.sort()
        assert differences[3] == pytest.approx(0.05, abs=0.01), differences
        assert far.report().p50 >= 0.05


def _wait_disconnects(server: Any, count: int, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        disconnects = server_stats(server)["disconnects"]
        if len(disconnects) >= count:
            return disconnects
        time.sleep(0.05)
    return server_stats(server)["disconnects"]


def test_blackhole_dead_clients_detected_within_ping_interval_plus_timeout(
    fast_ping_server: Any,
) -> None:
    server = fast_ping_server
    size = 10
    with FaultProxy(server.url) as proxy, Swarm(proxy.url, size) as swarm:
        assert swarm.connect().ok
        time.sleep(0.3)
        start = time.time()
        proxy.blackhole()
        disconnects = _wait_disconnects(server, size, timeout=10)
        assert len(disconnects) == size
        assert {reason for _, reason in disconnects} == {"ping timeout"}
        detected = max(t for t, _ in disconnects) - start
        assert detected <= PING_INTERVAL + PING_TIMEOUT + 0.2, detected
        proxy.restore()
        assert swarm.wait_reconnected(timeout=15).all_back


def test_500_websocket_clients_on_gevent_each_get_the_broadcast_once() -> None:
    srv = _gevent_server()
    srv.start()
    try:
        with Swarm(srv.url, 500, concurrency=50, connect_timeout=20) as swarm:
            stats = swarm.connect(timeout=120)
            assert stats.ok, str(stats)
            ledger = DeliveryLedger()
            ledger.attach(swarm.clients, "news")
            post_emit(srv, ledger.stamp({"to": "all"}, recipients=swarm.clients))
            report = ledger.verify(timeout=30, settle=0.5)
            assert report.ok, str(report)
            assert report.delivered == 500 and not report.duplicated
            print(f"\n{stats}\n{report}")
        assert swarm.leaks(timeout=10) == []
    finally:
        srv.stop()
        srv.close()


def test_swarm_of_greenlets_in_a_gevent_patched_process() -> None:
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "support", "sim_gevent_check.py"), "swarm"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "swarm ok" in out.stdout


def test_stamps_survive_the_wire(server: Any) -> None:
    with Swarm(server.url, 2) as swarm:
        assert swarm.connect().ok
        ledger = DeliveryLedger()
        payload = ledger.stamp("plain text", recipients=[swarm[1]])
        swarm[0].emit("broadcast", {"event": "news", "payload": payload})
        args = swarm[1].expect("news", timeout=5)
        assert read_stamp(args) == payload["_ledger"]


def test_polling_swarm_and_concurrency_limit(server: Any) -> None:
    with Swarm(server.url, 12, transport="polling", concurrency=4, auth={"room": "p"}) as swarm:
        stats = swarm.connect()
        assert stats.ok, str(stats)
        assert stats.concurrency == 4
        assert all(c.transport == "polling" for c in swarm)
        ledger = DeliveryLedger()
        ledger.attach(swarm, "news")
        ledger.expect_room("p", swarm.clients)
        for n in range(3):
            post_emit(server, ledger.stamp({"n": n}, recipients="p"), room="p")
        report = ledger.verify(timeout=10)
        assert report.ok, str(report)
        assert report.delivered == 36
    assert swarm.leaks(timeout=5) == []


def test_light_swarm_shares_one_loop_thread(server: Any) -> None:
    before = set(threading.enumerate())
    with Swarm(server.url, 60, auth={"room": "lobby"}, name="crowd") as swarm:
        assert swarm.engine == "light"
        assert swarm.connect().ok
        # one event loop thread for the whole swarm (the in-thread server adds its own threads)
        new = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("crowd")]
        assert new == ["crowd-loop"]
        ledger = DeliveryLedger()
        ledger.attach(swarm, "news")
        ledger.expect_room("lobby", swarm.clients)
        for n in range(5):
            post_emit(server, {"wrapped": ledger.stamp({"n": n}, recipients="lobby")}, "lobby")
        report = ledger.verify(timeout=20).assert_ok()
        assert report.delivered == 300
        assert swarm[3].call("join", "extra", timeout=5) == "extra"
    assert swarm.leaks(timeout=5) == []


def test_client_engine_is_still_available(server: Any) -> None:
    with Swarm(server.url, 5, engine="client") as swarm:
        assert swarm.connect().ok
        assert all(type(c).__name__ == "_SwarmClient" for c in swarm)
        ledger = DeliveryLedger()
        ledger.attach(swarm, "news")
        post_emit(server, ledger.stamp({}, recipients=swarm.clients))
        ledger.verify(timeout=10).assert_ok()
    assert swarm.leaks(timeout=5) == []
    with pytest.raises(ValueError, match="engine must be one of"):
        Swarm(server.url, 1, engine="bogus")


def test_swarm_across_processes_merges_connects_arrivals_and_reconnects() -> None:
    srv = _gevent_server()
    srv.start()
    try:
        t0 = time.monotonic()
        with (
            FaultProxy(srv.url) as proxy,
            Swarm(proxy.url, 100, processes=2, auth={"room": "lobby"}) as swarm,
        ):
            stats = swarm.connect(timeout=60)
            assert stats.ok and stats.connected == 100, str(stats)
            pids = swarm.worker_pids
            assert len(set(pids)) == 2 and os.getpid() not in pids
            assert swarm[0].name == "swarm-0" and swarm[99].name == "swarm-99"
            ledger = DeliveryLedger()
            ledger.attach(swarm.clients, "news")
            ledger.expect_room("lobby", swarm.clients)
            post_emit(srv, ledger.stamp({"from": "server"}, recipients="lobby"), room="lobby")
            sender = swarm[75]  # a client in the second worker
            payload = ledger.stamp({"from": "client"}, sender=sender, recipients="lobby")
            sender.emit("broadcast", {"event": "news", "room": "lobby", "payload": payload})
            assert ledger.verify(timeout=20).assert_ok().delivered == 200
            assert swarm[10].call("join", "side", timeout=5) == "side"
            with pytest.raises(NotImplementedError, match="worker process"):
                swarm[1].expect("news")

            swarm.mark()
            assert proxy.cut() == 100
            report = swarm.wait_reconnected(timeout=30, ledger=ledger)
            assert report.all_back and report.reconnected == 100, str(report)
            mark = ledger.mark()
            post_emit(srv, ledger.stamp({"after": "cut"}, recipients="lobby"), room="lobby")
            ledger.verify(timeout=20, since=mark).assert_ok()
        assert swarm.leaks(timeout=10) == []
        assert time.monotonic() - t0 < 90
    finally:
        srv.stop()
        srv.close()

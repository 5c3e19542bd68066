"""Run the simulation tools inside a gevent-patched process (used by tests/test_sim_*.py).

``python tests/support/sim_gevent_check.py proxy``: FaultProxy against a greenlet echo server.
``python tests/support/sim_gevent_check.py swarm``: a swarm of greenlet clients through a
FaultProxy to a gevent live server, a ledger-verified broadcast, a cut and the reconnection.
Each mode prints ``<mode> ok`` and exits 0, or raises. Both check that no greenlet survives.
"""

from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def live_greenlets() -> int:
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, greenlet.greenlet)
        and not o.dead
        and o is not greenlet.getcurrent()
        and not isinstance(o, gevent.hub.Hub)
    )


def wait_no_greenlets(baseline: int, what: str) -> None:
    deadline = time.monotonic() + 5
    while live_greenlets() > baseline and time.monotonic() < deadline:
        gevent.sleep(0.05)
    left = live_greenlets()
    assert left <= baseline, f"{left - baseline} greenlets outlived the {what}"


def check_proxy() -> None:
    from flask_socketio_testing.faults import FaultProxy

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve() -> None:
        conn, _ = srv.accept()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.close()

    server = gevent.spawn(serve)
    baseline = live_greenlets()
    with FaultProxy(f"http://127.0.0.1:{srv.getsockname()[1]}") as proxy:
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        s.sendall(b"a")
        assert s.recv(10) == b"a"
        proxy.latency = 0.05
        t0 = time.perf_counter()
        s.sendall(b"b")
        assert s.recv(10) == b"b"
        assert time.perf_counter() - t0 >= 0.099
        proxy.latency = 0
        proxy.blackhole()
        s.sendall(b"c")
        s.settimeout(0.3)
        try:
            s.recv(10)
            raise AssertionError("bytes crossed a blackhole")
        except TimeoutError:
            pass
        proxy.restore()
        s.settimeout(3)
        assert s.recv(10) == b"c"
        assert proxy.cut() == 1
        assert s.recv(10) == b""
        s.close()
    assert not proxy.running
    server.join(5)
    srv.close()
    wait_no_greenlets(baseline - 1, "proxy")  # the echo greenlet ended too
    print("proxy ok")


def check_swarm() -> None:
    sys.path.insert(0, ROOT)
    import requests
    from flask_socketio_testing.faults import FaultProxy
    from flask_socketio_testing.ledger import DeliveryLedger
    from flask_socketio_testing.swarm import Swarm
    from pytest_flask_socketio.live_server import ProcessLiveServer

    size = int(os.environ.get("SIM_SWARM_SIZE", "100"))
    server = ProcessLiveServer("tests.apps.sim_app:create_gevent_app()", "gevent", cwd=ROOT)
    server.start()
    try:
        baseline = live_greenlets()
        threads_before = set(threading.enumerate())
        with FaultProxy(server.url) as proxy, Swarm(proxy.url, size, auth={"room": "r"}) as swarm:
            stats = swarm.connect()
            assert stats.ok, str(stats)
            ledger = DeliveryLedger()
            ledger.attach(swarm.clients, "news")
            ledger.expect_room("r", swarm.clients)

            def post() -> None:
                payload = ledger.stamp({"x": 1}, recipients="r")
                body = {"event": "news", "payload": payload, "room": "r"}
                requests.post(server.url + "/emit", json=body, timeout=5).raise_for_status()

            post()
            report = ledger.verify(timeout=10)
            assert report.ok, str(report)
            swarm.mark()
            proxy.cut()
            back = swarm.wait_reconnected(timeout=15, ledger=ledger)
            assert back.all_back, str(back)
            mark = ledger.mark()
            post()
            report = ledger.verify(timeout=10, since=mark)
            assert report.ok, str(report)
            print(f"connect: {stats}")
            print(f"reconnect: {back}")
        assert swarm.leaks(timeout=5) == []
        assert not proxy.running
        deadline = time.monotonic() + 5
        while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not set(threading.enumerate()) - threads_before, "threads outlived the swarm"
        wait_no_greenlets(baseline, "swarm")
    finally:
        server.stop()
    print("swarm ok")


if __name__ == "__main__":
    {"proxy": check_proxy, "swarm": check_swarm}[sys.argv[1]]()

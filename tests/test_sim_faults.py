"""FaultProxy over plain TCP: latency, jitter, cut, blackhole, and a clean stop.

Also run inside a gevent-patched subprocess, since tests and Locust users may patch.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from flask_socketio_testing.faults import FaultProxy

HERE = os.path.dirname(os.path.abspath(__file__))


class EchoServer:
    """A tiny threaded TCP echo server on 127.0.0.1, port 0."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def _connect(proxy: FaultProxy) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _roundtrip(s: socket.socket, data: bytes = b"ping") -> float:
    t0 = time.perf_counter()
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        got += chunk
    assert got == data
    return time.perf_counter() - t0


def test_url_keeps_scheme_and_path(echo: EchoServer) -> None:
    with FaultProxy(f"ws://127.0.0.1:{echo.port}/socket.io") as proxy:
        assert proxy.url == f"ws://127.0.0.1:{proxy.port}/socket.io"
        assert proxy.port != echo.port
    with pytest.raises(ValueError):
        FaultProxy("http://127.0.0.1")


def test_forwards_both_ways_and_large_payloads(echo: EchoServer) -> None:
    with FaultProxy(echo.url) as proxy, _connect(proxy) as s:
        assert _roundtrip(s) < 0.5
        big = os.urandom(3_000_000)
        sender = threading.Thread(target=s.sendall, args=(big,))
        sender.start()
        got = bytearray()
        while len(got) < len(big):
            got += s.recv(1 << 20)
        sender.join(5)
        assert bytes(got) == big
        assert proxy.connections == 1 and proxy.accepted == 1


def test_latency_is_added_to_each_direction_and_settable_live(echo: EchoServer) -> None:
    with FaultProxy(echo.url) as proxy, _connect(proxy) as s:
        base = min(_roundtrip(s) for _ in range(5))
        proxy.latency = 0.05
        delayed = [_roundtrip(s) for _ in range(5)]
        # 50 ms each way: a round trip takes 100 ms more, within a few ms
        assert all(0.099 <= d for d in delayed)
        assert min(delayed) - base < 0.115
        proxy.latency = 0
        assert _roundtrip(s) < 0.05


def test_jitter_never_reorders_bytes(echo: EchoServer) -> None:
    with FaultProxy(echo.url, latency=0.01, jitter=0.01, seed=1) as proxy, _connect(proxy) as s:
        expected = b"".join(b"%05d" % i for i in range(200))
        for i in range(200):
            s.sendall(b"%05d" % i)
            time.sleep(0.0005)
        got = b""
        s.settimeout(5)
        while len(got) < len(expected):
            got += s.recv(65536)
        assert got == expected


def test_cut_closes_every_connection_and_accepts_new_ones(echo: EchoServer) -> None:
    with FaultProxy(echo.url) as proxy:
        socks = [_connect(proxy) for _ in range(5)]
        for s in socks:
            _roundtrip(s)
        assert proxy.cut() == 5
        for s in socks:
            s.settimeout(2)
            assert s.recv(10) == b""  # closed by the proxy
            s.close()
        assert proxy.connections == 0
        with _connect(proxy) as again:
            assert _roundtrip(again) < 0.5


def test_blackhole_holds_bytes_until_restore(echo: EchoServer) -> None:
    with FaultProxy(echo.url) as proxy, _connect(proxy) as s:
        _roundtrip(s)
        proxy.blackhole()
        assert proxy.blackholed
        s.sendall(b"held")
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(10)
        assert proxy.connections == 1  # nothing was closed
        proxy.restore()
        s.settimeout(2)
        assert s.recv(10) == b"held"


def test_server_closing_is_forwarded(echo: EchoServer) -> None:
    with FaultProxy(echo.url) as proxy, _connect(proxy) as s:
        _roundtrip(s)
        echo.close()
        s.settimeout(2)
        assert s.recv(10) == b""


def test_refused_upstream_closes_the_client() -> None:
    with socket.socket() as bound:  # bound, not listening: connecting to it is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with FaultProxy(f"http://127.0.0.1:{port}") as proxy, _connect(proxy) as s:
            s.settimeout(2)
            try:
                assert s.recv(10) == b""
            except ConnectionResetError:
                pass
            time.sleep(0.05)
            assert proxy.connections == 0


def test_close_stops_the_thread_and_the_listener(echo: EchoServer) -> None:
    before = set(threading.enumerate())
    proxy = FaultProxy(echo.url)
    s = _connect(proxy)
    _roundtrip(s)
    proxy.close()
    proxy.close()  # idempotent
    assert not proxy.running
    deadline = time.monotonic() + 5  # the echo server's own thread ends once the proxy hung up
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - before == set()
    s.settimeout(2)
    assert s.recv(10) == b""
    s.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()


def test_works_in_a_gevent_patched_process() -> None:
    script = os.path.join(HERE, "support", "sim_gevent_check.py")
    out = subprocess.run(
        [sys.executable, script, "proxy"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "proxy ok" in out.stdout

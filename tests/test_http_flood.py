"""A flood of silent, slow and bad connections cannot exhaust a server's file descriptors.

The server runs in a subprocess under ``RLIMIT_NOFILE`` 1024 (tests/support/flood_server.py),
in gevent and threading mode. More connections than it may hold are opened and left open:
silent ones, slowloris ones, slow bodies and tiny bad POSTs. A real client must still connect
and get its acked echo while the flood holds its sockets, the server's descriptors (read from
/proc) must stay under the limit, and they must come back to the baseline after the timeouts.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import socketio
from core_support import ASYNC_MODE

from flask_socketio.http_limits import EVICTING_MAX

pytestmark = [
    pytest.mark.skipif(ASYNC_MODE != "threading", reason="starts a server per mode itself"),
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/<pid>/fd"),
]

SUPPORT = Path(__file__).parent / "support"
SILENT = 1100
#: then slowloris headers, slow bodies and tiny bad POSTs (answered 400, kept open)
WAVES = [
    (200, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 1"),
    (100, b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99\r\n\r\nab"),
    (
        300,
        b"POST /socket.io/?EIO=4&transport=polling&sid=nosuchsession HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nContent-Length: 2\r\n\r\n40",
    ),
]


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _connect_all(port: int, count: int, first_bytes: bytes, timeout: float) -> list[socket.socket]:
    """``count`` connections opened at once (non-blocking connects), each sending
    ``first_bytes`` once connected; those that connected."""
    pending = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        pending.append(sock)
    connected: list[socket.socket] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for sock in pending:
            selector.register(sock, selectors.EVENT_WRITE)
        while len(selector.get_map()) and time.monotonic() < deadline:
            for key, _ in selector.select(0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                selector.unregister(sock)
                try:
                    if first_bytes:
                        sock.send(first_bytes)
                    connected.append(sock)
                except OSError:  # refused or reset: the server is full, which is allowed
                    sock.close()
    for sock in set(pending) - set(connected):
        sock.close()
    return connected


def _flood(port: int, waves: list[tuple[int, bytes]], batch: int = 100) -> list[socket.socket]:
    """Open the connections of ``waves`` ``batch`` at a time, each batch once the server has
    accepted the previous one (a full listen queue would leave connections the client thinks
    open but the server never sees); returns the open sockets."""
    held: list[socket.socket] = []
    accepted = _stats(port)["accepted"]
    for count, first_bytes in waves:
        for offset in range(0, count, batch):
            opened = _connect_all(port, min(batch, count - offset), first_bytes, 5.0)
            held += opened
            accepted += len(opened) + 1  # and the stats request
            _wait(lambda target=accepted: _stats(port)["accepted"] >= target, 5.0)
    return held


def _echo(port: int) -> object:
    client = socketio.Client(reconnection=False)
    try:
        client.connect(f"http://127.0.0.1:{port}", wait_timeout=10)
        return client.call("echo", {"through": "the flood"}, timeout=10)
    finally:
        client.disconnect()


def _stats(port: int) -> dict:
    """The server's registry counters. At the cap the stats request itself may be refused (503,
    or closed), which the server is allowed to do: it is asked again, at most 50 times."""
    answer = None
    for _ in range(50):
        try:
            answer = requests.get(f"http://127.0.0.1:{port}/stats", timeout=10)
        except requests.ConnectionError:
            answer = None
        if answer is not None and answer.status_code == 200:
            return answer.json()
        time.sleep(0.1)
    raise AssertionError(f"the stats request was refused 50 times (last: {answer})")


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class _FdSampler(threading.Thread):
    """The most descriptors the server held, read every 10 ms (bounded: 3,000 reads)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = _fds(pid)
        self.running = True

    def run(self) -> None:
        for _ in range(3000):
            if not self.running:
                return
            try:
                self.peak = max(self.peak, _fds(self.pid))
            except FileNotFoundError:  # the server is gone; the test says why
                return
            time.sleep(0.01)


@contextmanager
def _flood_server(mode: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int, int]]:
    """The flood server in ``mode``: the process, its port and its connection cap; its stderr
    must hold no traceback."""
    path = os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])
    with (tmp_path / "server.err").open("w+") as stderr:
        server = subprocess.Popen(
            [sys.executable, str(SUPPORT / "flood_server.py"), mode],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=dict(os.environ, PYTHONPATH=path),
        )
        try:
            assert server.stdout is not None
            port, cap = (int(word) for word in server.stdout.readline().split())
            yield server, port, cap
        finally:
            server.kill()
            server.wait(10)
        stderr.seek(0)
        errors = stderr.read()
    assert "Traceback" not in errors, errors[-3000:]


@pytest.mark.parametrize("mode", ["threading", "gevent"])
def test_a_flood_cannot_lock_clients_out_and_fds_come_back(mode, tmp_path):
    if mode == "gevent":
        pytest.importorskip("gevent")
    held: list[socket.socket] = []
    with _flood_server(mode, tmp_path) as (server, port, cap):
        assert cap == 1024 - 128  # RLIMIT_NOFILE minus the reserve
        assert _echo(port) == {"through": "the flood"}
        time.sleep(0.3)
        baseline = _fds(server.pid)
        accepted = _stats(port)["accepted"]
        sampler = _FdSampler(server.pid)
        sampler.start()
        started = time.monotonic()
        try:
            held += _flood(port, [(SILENT, b"")])
            seen = _stats(port)
            assert len(held) > cap and seen["accepted"] > accepted + len(held), seen
            # a silent connection ends only by eviction, refusal or its idle timeout: unless
            # some timed out before the server had accepted them all, the cap made room
            assert seen["timed_out"] or seen["evicted"] + seen["refused"] >= len(held) - cap, seen
            held += _flood(port, WAVES)
            flood_seconds = time.monotonic() - started
            # the flood still holds its sockets: a real client gets in and is answered
            assert _echo(port) == {"through": "the flood"}
            # and the server closes every flood connection within its timeouts (4 s)
            _wait(lambda: _fds(server.pid) <= baseline + 2, 10)
            after = _fds(server.pid)
            stats = _stats(port)
        finally:
            sampler.running = False
            sampler.join(5)
            for sock in held:
                sock.close()
        print(
            f"\n{mode}: {len(held)} flood connections opened in {flood_seconds:.1f} s; server "
            f"fds baseline {baseline}, peak {sampler.peak}, after {after}; registry {stats}"
        )
        assert sampler.peak < 1024
        assert stats["peak"] <= cap + EVICTING_MAX
        assert after <= baseline + 2, (baseline, after)
        assert stats["timed_out"] > 0 and stats["open"] <= 1
        assert _echo(port) == {"through": "the flood"}

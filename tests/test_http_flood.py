"""A flood of silent, slow and bad connections cannot exhaust a server's file descriptors.

The server runs in a subprocess under ``RLIMIT_NOFILE`` 1024 (tests/support/flood_server.py),
in gevent and threading mode. More connections than it may hold are opened and left open:
silent ones, slowloris ones, slow bodies and tiny bad POSTs. A real client must still connect
and get its acked echo while the flood holds its sockets, the server's descriptors (read from
/proc) must stay under the limit, and they must come back to the baseline after the timeouts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import socketio
from core_support import ASYNC_MODE

pytestmark = [
    pytest.mark.skipif(ASYNC_MODE != "threading", reason="starts a server per mode itself"),
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/<pid>/fd"),
]

SUPPORT = Path(__file__).parent / "support"
SILENT, SLOW_HEADERS, SLOW_BODIES, BAD_POSTS = 800, 200, 100, 300
BAD_POST = (
    b"POST /socket.io/?EIO=4&transport=polling&sid=nosuchsession HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nContent-Length: 2\r\n\r\n40"
)


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _open(port: int, first_bytes: bytes = b"") -> socket.socket | None:
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        return sock
    except OSError:  # refused or reset: the server is full, which is allowed
        return None


def _echo(port: int) -> object:
    client = socketio.Client(reconnection=False)
    try:
        client.connect(f"http://127.0.0.1:{port}", wait_timeout=10)
        return client.call("echo", {"through": "the flood"}, timeout=10)
    finally:
        client.disconnect()


@pytest.mark.parametrize("mode", ["threading", "gevent"])
def test_a_flood_cannot_lock_clients_out_and_fds_come_back(mode, tmp_path):
    if mode == "gevent":
        pytest.importorskip("gevent")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])
    )
    stderr = (tmp_path / "server.err").open("w+")
    server = subprocess.Popen(
        [sys.executable, str(SUPPORT / "flood_server.py"), mode],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
    )
    held: list[socket.socket] = []
    try:
        assert server.stdout is not None
        port, cap = (int(word) for word in server.stdout.readline().split())
        assert cap == 1024 - 128  # RLIMIT_NOFILE minus the reserve
        assert _echo(port) == {"through": "the flood"}
        time.sleep(0.3)
        baseline = _fds(server.pid)

        peak = [baseline]
        flooding = threading.Event()
        flooding.set()

        def sample() -> None:
            for _ in range(2000):  # bounded: 2000 x 10 ms
                if not flooding.is_set():
                    return
                peak[0] = max(peak[0], _fds(server.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        waves = [
            (SILENT, b""),
            (SLOW_HEADERS, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 1"),
            (SLOW_BODIES, b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99\r\n\r\nab"),
            (BAD_POSTS, BAD_POST),
        ]
        for count, first_bytes in waves:
            for _ in range(count):
                sock = _open(port, first_bytes)
                if sock is not None:
                    held.append(sock)
        flood_seconds = time.monotonic() - started
        # the flood still holds its sockets: a real client gets in and is answered
        assert _echo(port) == {"through": "the flood"}
        assert server.poll() is None

        # every flood connection is closed by the server within its timeout (2 s at most)
        deadline = time.monotonic() + 10
        while _fds(server.pid) > baseline + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        flooding.clear()
        sampler.join(5)
        after = _fds(server.pid)
        print(
            f"\n{mode}: {len(held)} flood connections held in {flood_seconds:.1f} s, "
            f"server fds baseline {baseline}, peak {peak[0]}, after {after}"
        )
        assert peak[0] < 1024
        assert after <= baseline + 2, (baseline, after)
        assert _echo(port) == {"through": "the flood"}
    finally:
        for sock in held:
            sock.close()
        server.kill()
        server.wait(10)
        stderr.seek(0)
        errors = stderr.read()
        stderr.close()
    assert "Traceback" not in errors, errors[-3000:]

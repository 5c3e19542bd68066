"""The web servers' header, body and idle timeouts and their connection cap, over real sockets.

Runs in the async mode under test (threading by default); the last test runs this module again
in gevent mode, in a process that gevent patched first. The flood test (many connections under
``RLIMIT_NOFILE`` 1024) is in tests/test_http_flood.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket
from core_support import ASYNC_MODE
from limits_support import (
    EIO_PATH,
    LIMITS,
    connect,
    dribble,
    handshake,
    limited_server,
    read_answer,
    read_until_closed,
    request,
)

from flask_socketio.http_limits import HTTPLimits, default_max_connections

HERE = Path(__file__).parent
TIMEOUT = LIMITS["header_timeout"]
#: how late a timeout may fire on a loaded machine (2 cores shared by several test runs)
LATE = 2.0


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _assert_408(data: bytes) -> None:
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data
    assert b"Connection: close" in data


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout():
    with limited_server() as (server, _):
        sock = connect(server.port)
        data, seconds = read_until_closed(sock, TIMEOUT + LATE)
        assert data == b""  # no request started: closed without an answer
        assert seconds >= TIMEOUT * 0.8


def test_half_a_request_line_gets_408_after_the_header_timeout():
    with limited_server() as (server, _):
        sock = connect(server.port)
        sock.sendall(b"GET /socket.io/?EIO=4&tra")
        data, seconds = read_until_closed(sock, TIMEOUT + LATE)
        _assert_408(data)
        assert seconds >= TIMEOUT * 0.8


def test_headers_sent_a_byte_at_a_time_are_cut_at_the_header_timeout():
    """Slowloris: every byte arrives well within any per-read timeout, the whole never."""
    with limited_server() as (server, _):
        sock = connect(server.port)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        seconds = dribble(sock, b"X-Slow: x\r\n" * 200, 0.05, TIMEOUT + LATE)
        data, _ = read_until_closed(sock, LATE)
        _assert_408(data)
        assert TIMEOUT * 0.8 <= seconds <= TIMEOUT + LATE


def test_a_body_sent_slowly_gets_408_after_the_body_timeout():
    with limited_server() as (server, socketio):
        sid, _ = handshake(f"http://127.0.0.1:{server.port}")
        sock = connect(server.port)
        head = (
            f"POST {EIO_PATH}&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n\r\n"
        )
        sock.sendall(head.encode())
        seconds = dribble(sock, b'42["echo","a body that never ends"]' * 2, 0.05, TIMEOUT + LATE)
        data, _ = read_until_closed(sock, LATE)
        _assert_408(data)
        assert TIMEOUT * 0.8 <= seconds <= TIMEOUT + LATE
        # the application never saw the request: the session is still open
        assert sid in socketio.server.eio.sockets


def test_a_streamed_body_past_the_body_timeout_raises_timeout_error_in_the_view():
    """Bodies over ``buffered_body`` go to the application as they arrive; a read past the
    body deadline raises TimeoutError there, and the connection is closed afterwards."""
    limits = HTTPLimits(buffered_body=10, **LIMITS)
    with limited_server(http_limits=limits) as (server, _):
        sock = connect(server.port)
        head = "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
        sock.sendall(head.encode() + b"x" * 20)
        data, seconds = read_until_closed(sock, TIMEOUT + LATE)
        assert data.startswith(b"HTTP/1.1 408 ") and data.endswith(b"saw the body timeout"), data
        assert seconds >= TIMEOUT * 0.8
    with limited_server(http_limits=limits) as (server, _):  # a body that arrives is read
        sock = connect(server.port)
        assert request(sock, "POST", "/upload", b"y" * 1000) == (200, b"1000 bytes")


def test_a_body_after_100_continue_is_read_by_the_server_and_handled():
    """Bodies are read before the application runs: Expect: 100-continue still works."""
    with limited_server() as (server, _):
        sid, _ = handshake(f"http://127.0.0.1:{server.port}")
        sock = connect(server.port)
        body = b'42["echo","after continue"]'
        head = f"POST {EIO_PATH}&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        head += f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        sock.sendall(head.encode())
        sock.settimeout(5)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        assert read_answer(sock) == (200, b"ok")


def test_a_keep_alive_connection_idle_between_requests_is_closed():
    with limited_server() as (server, _):
        sock = connect(server.port)
        assert request(sock, "GET", EIO_PATH)[0] == 200
        if ASYNC_MODE == "gevent":  # pywsgi keeps the connection; Werkzeug closes after each
            time.sleep(TIMEOUT / 3)
            assert request(sock, "GET", EIO_PATH)[0] == 200  # reused within the idle timeout
        data, seconds = read_until_closed(sock, TIMEOUT + LATE)
        assert data == b""
        if ASYNC_MODE == "gevent":
            assert seconds >= TIMEOUT * 0.8


def test_a_client_that_reads_no_response_is_closed_after_the_send_timeout():
    with limited_server() as (server, _):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /big/16000000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _wait(lambda: server.registry.count == 1, LATE)
        started = time.monotonic()
        assert _wait(lambda: server.registry.count == 0, TIMEOUT + LATE), "still held"
        assert time.monotonic() - started >= TIMEOUT * 0.5
        assert server.registry.stats["timed_out"] == 1
        sock.close()


def test_a_slow_reader_gets_a_large_response_whole():
    """The send timeout bounds each part of a response, not the whole: 12 MB read at about
    10 MB/s takes longer than the timeout and is not cut."""
    size = 12_000_000
    with limited_server() as (server, _):
        sock = connect(server.port)
        sock.sendall(f"GET /big/{size} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        started = time.monotonic()
        received = b""
        for _ in range(400):  # bounded: reads of at most 1 MiB with pauses under the timeout
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
            if len(received.partition(b"\r\n\r\n")[2]) >= size:
                break
            time.sleep(TIMEOUT / 5)
        assert received.partition(b"\r\n\r\n")[2] == b"x" * size
        assert time.monotonic() - started > TIMEOUT  # longer than the timeout, yet not cut
        sock.close()


def test_a_long_polling_get_outlives_the_timeouts_and_gets_its_packet():
    with limited_server() as (server, socketio):
        base = f"http://127.0.0.1:{server.port}"
        sid, namespace_sid = handshake(base)
        answers: list[requests.Response] = []
        poll = threading.Thread(
            target=lambda: answers.append(
                requests.get(
                    base + "/socket.io/",
                    params={"EIO": "4", "transport": "polling", "sid": sid},
                    timeout=10,
                )
            )
        )
        poll.start()
        time.sleep(3 * TIMEOUT)  # the GET waits longer than every timeout
        assert not answers, "the GET was answered before there was a packet"
        socketio.emit("late", "news", to=namespace_sid)
        poll.join(5)
        assert answers and answers[0].status_code == 200
        assert answers[0].text == '42["late","news"]'


def test_a_quiet_websocket_outlives_the_timeouts():
    with limited_server() as (server, _):
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=5
        )
        try:
            assert ws.recv().startswith("0{")
            ws.send("40")
            assert ws.recv().startswith("40")
            time.sleep(3 * TIMEOUT)  # quiet for longer than every timeout
            ws.send('421["echo",{"still":"here"}]')
            assert json.loads(ws.recv()[3:]) == [{"still": "here"}]
        finally:
            ws.close()


def test_at_the_cap_the_oldest_idle_connection_makes_room():
    with limited_server(max_connections=4, idle_timeout=30) as (server, _):
        silent = [connect(server.port) for _ in range(4)]
        time.sleep(0.2)  # all four accepted and waiting for a request
        base = f"http://127.0.0.1:{server.port}"
        assert handshake(base)  # three requests, each on a new connection: room made each time
        data, seconds = read_until_closed(silent[0], LATE)
        assert data == b"" and seconds < LATE  # evicted, long before its idle timeout
        assert server.registry.count <= 4 + 1
        for sock in silent:
            sock.close()


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503():
    with limited_server(max_connections=3, body_timeout=30) as (server, _):
        busy = []
        for _ in range(3):  # each holds a request whose body has not arrived yet
            sock = connect(server.port)
            sock.sendall(b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n")
            busy.append(sock)
        time.sleep(0.2)
        refused = connect(server.port)
        refused.sendall(f"GET {EIO_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data, seconds = read_until_closed(refused, LATE)  # the 503 arrives (no reset)
        assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), data
        assert b"Retry-After: 1" in data and seconds < LATE
        for sock in busy:
            sock.close()
        deadline = time.monotonic() + 5
        while server.registry.count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.registry.count == 0
        assert handshake(f"http://127.0.0.1:{server.port}")  # served again


def test_the_limits_are_checked_and_have_documented_defaults():
    limits = HTTPLimits()
    assert (limits.header_timeout, limits.body_timeout, limits.idle_timeout) == (10, 30, 60)
    assert limits.send_timeout == 60
    assert limits.connection_cap == default_max_connections() >= 16
    assert HTTPLimits(idle_timeout=None).idle_timeout is None
    with pytest.raises(ValueError, match="header_timeout must be a number of seconds"):
        HTTPLimits(header_timeout=0)
    with pytest.raises(ValueError, match="max_connections must be a whole number"):
        HTTPLimits(max_connections=2.5)  # type: ignore[arg-type]
    kwargs = {"idle_timeout": 5, "max_connections": 10, "other": 1}
    limits = HTTPLimits.pop_from(kwargs)
    assert (limits.idle_timeout, limits.connection_cap, kwargs) == (5, 10, {"other": 1})


@pytest.mark.skipif(ASYNC_MODE != "threading", reason="this is the launcher of the gevent run")
def test_this_module_passes_in_gevent_mode():
    pytest.importorskip("gevent", reason="gevent mode needs gevent (pip install gevent)")
    runner = "from gevent import monkey\nmonkey.patch_all()\nimport sys, pytest\n"
    runner += "sys.exit(pytest.main(sys.argv[1:]))\n"
    env = dict(os.environ, FLASK_SOCKETIO_TEST_ASYNC_MODE="gevent")
    env.pop("PYTEST_XDIST_WORKER", None)
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:flask_socketio"]
    args += ["--noconftest", "--rootdir", str(HERE.parent), str(Path(__file__))]
    result = subprocess.run(
        [sys.executable, "-c", runner, *args],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout

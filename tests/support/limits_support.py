"""Servers with small HTTP limits and raw-socket clients for tests/test_http_limits.py."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import flask
import requests
from core_support import ASYNC_MODE, make_app

from flask_socketio import SocketIO
from flask_socketio.serving import ServerHandle, make_server

#: small limits, so that each test takes about a second
LIMITS = {"header_timeout": 0.5, "body_timeout": 0.5, "idle_timeout": 0.5, "send_timeout": 0.5}
EIO_PATH = "/socket.io/?EIO=4&transport=polling"


def echo_app(**options: Any) -> tuple[Any, SocketIO]:
    """An app whose ``echo`` event is acked with its argument (heartbeat long enough that a
    pending GET is not answered by a ping during a test)."""
    options.setdefault("ping_interval", 5)
    options.setdefault("ping_timeout", 5)
    app, socketio = make_app("limits", **options)

    @socketio.on("echo")
    def echo(data: Any) -> Any:
        return data

    @app.route("/upload", methods=["POST"])
    def upload() -> tuple[str, int]:
        """Reads the raw WSGI input (Flask's request.get_data() turns a failed read into 400)."""
        environ = flask.request.environ
        try:
            data = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        except TimeoutError:  # a body the server streams (over buffered_body) came too slowly
            return "the view saw the body timeout", 408
        return f"{len(data)} bytes", 200

    @app.route("/big/<int:size>")
    def big(size: int) -> bytes:
        return b"x" * size

    return app, socketio


@contextmanager
def limited_server(**limits: Any) -> Iterator[tuple[ServerHandle, SocketIO]]:
    """The echo app served in the async mode under test with ``limits`` (default: LIMITS)."""
    app, socketio = echo_app()
    handle = make_server(app, socketio, "127.0.0.1", 0, **(limits or LIMITS))
    if ASYNC_MODE == "gevent":
        import gevent

        runner: Any = gevent.spawn(handle.serve_forever)
    else:
        runner = threading.Thread(target=handle.serve_forever, daemon=True)
        runner.start()
    try:
        yield handle, socketio
    finally:
        handle.shutdown()
        runner.join(5)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and the seconds that took (raises if the
    connection is still open after ``timeout``)."""
    start = time.monotonic()
    data = b""
    sock.settimeout(timeout)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            raise AssertionError(f"still open after {timeout} s; received {data!r}") from None
        if not chunk:
            break
        data += chunk
        sock.settimeout(max(0.01, timeout - (time.monotonic() - start)))
    return data, time.monotonic() - start


def dribble(sock: socket.socket, data: bytes, interval: float, timeout: float) -> float:
    """Send ``data`` a byte every ``interval`` s until the server answers or closes; returns
    the seconds until then (raises if it never does within ``timeout``)."""
    start = time.monotonic()
    for byte in data:
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return time.monotonic() - start
        try:
            sock.send(bytes([byte]))
        except OSError:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            break
    raise AssertionError(f"the server neither answered nor closed within {timeout} s")


def request(sock: socket.socket, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 request on ``sock``; the status and body of the answer."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    sock.sendall(head.encode() + body)
    return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """The status and body of the next final answer on ``sock`` (Content-Length or chunked;
    interim 1xx answers are skipped: Werkzeug sends ``100 Continue`` twice)."""
    sock.settimeout(10)
    data = b""
    status = 100
    while status < 200:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed before the answer's headers: {data!r}"
            data += chunk
        header, _, data = data.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
    rest = data
    fields = {}
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip().lower()
    if fields.get(b"transfer-encoding") == b"chunked":  # Werkzeug: chunks, then it closes
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "closed in the answer's body"
            rest += chunk
        return status, _dechunk(rest)
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed in the answer's body"
        rest += chunk
    return status, rest


def _dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if not size:
            return body
        body, data = body + data[:size], data[size + 2 :]


def handshake(base: str) -> tuple[str, str]:
    """Open an Engine.IO polling session at ``base`` and join ``/``; returns the Engine.IO sid
    and the Socket.IO one."""
    url = base + "/socket.io/"
    query = {"EIO": "4", "transport": "polling"}
    answer = requests.get(url, params=query, timeout=10)
    assert answer.status_code == 200 and answer.text.startswith("0"), answer.text
    query["sid"] = json.loads(answer.text[1:])["sid"]
    assert requests.post(url, params=query, data="40", timeout=10).text == "ok"
    answer = requests.get(url, params=query, timeout=10)
    assert answer.status_code == 200 and answer.text.startswith("40"), answer.text
    return query["sid"], json.loads(answer.text[2:])["sid"]

"""The WebSocket handshake of the served transport (``flask_socketio.transport``), over raw TCP.

The request reaches websockets' ``accept()`` as a ``Request`` built from the WSGI environ (not
re-parsed from text): these tests check that its refusals still reach the client with their
status and body, and that a good handshake still answers 101 with the RFC 6455 accept key,
against the threading server in this process and the gevent server in a subprocess.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from protocol_support import mode_server

from flask_socketio.transport import _handshake_request
from tests.apps.transport_app import create_app

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


@pytest.fixture(scope="module", params=["threading", "gevent"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    gevent_spec = "tests.apps.transport_app:create_gevent_app()"
    with mode_server(request.param, create_app, gevent_spec, "ws-handshake") as srv:
        yield srv


def handshake(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """Send a WebSocket handshake with ``headers``; (status line, headers, body) of the answer.

    A 101 is returned at once (its body is the start of the stream); another answer is read
    up to its Content-Length or its last chunk (the body is then returned with its chunk
    sizes, enough to look for a message in it).
    """
    host, port = url.split("//", 1)[1].split(":")
    lines = ["GET /socket.io/?EIO=4&transport=websocket HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        for _ in range(100):  # bounded: each read waits at most the socket timeout
            if b"\r\n\r\n" in data:
                break
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        status, *fields = head.decode("latin-1").split("\r\n")
        answer = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        if not status.startswith("HTTP/1.1 101"):
            length = int(answer.get("content-length", "-1"))
            for _ in range(100):
                if 0 <= length <= len(body) or (length < 0 and body.endswith(b"0\r\n\r\n")):
                    break
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
    return status, answer, body


def good_headers() -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }


def test_a_good_handshake_answers_101_with_the_accept_key(server: Any) -> None:
    headers = good_headers()
    status, answer, _ = handshake(server.url, headers)
    assert status.startswith("HTTP/1.1 101"), status
    digest = hashlib.sha1((headers["Sec-WebSocket-Key"] + _GUID).encode()).digest()
    assert answer["sec-websocket-accept"] == base64.b64encode(digest).decode()
    assert answer["upgrade"].lower() == "websocket"


def test_a_missing_key_is_refused_with_400(server: Any) -> None:
    headers = good_headers()
    del headers["Sec-WebSocket-Key"]
    status, _, body = handshake(server.url, headers)
    assert status.startswith("HTTP/1.1 400"), status
    assert b"missing Sec-WebSocket-Key header" in body, body


def test_a_key_that_is_not_16_bytes_is_refused_with_400(server: Any) -> None:
    headers = good_headers()
    headers["Sec-WebSocket-Key"] = base64.b64encode(b"short").decode()
    status, _, body = handshake(server.url, headers)
    assert status.startswith("HTTP/1.1 400"), status
    assert b"invalid Sec-WebSocket-Key header" in body, body


def test_a_wrong_version_is_refused_with_400(server: Any) -> None:
    headers = good_headers()
    headers["Sec-WebSocket-Version"] = "8"
    status, _, body = handshake(server.url, headers)
    assert status.startswith("HTTP/1.1 400"), status
    assert b"invalid Sec-WebSocket-Version header: 8" in body, body


def test_a_request_for_another_protocol_is_refused_with_400(server: Any) -> None:
    headers = good_headers()
    headers["Upgrade"] = "websocket, h2c"
    status, _, _ = handshake(server.url, headers)
    assert status.upper().startswith("HTTP/1.1 400 BAD REQUEST"), status


def test_a_request_without_connection_upgrade_is_refused_with_400(server: Any) -> None:
    headers = good_headers()
    headers["Connection"] = "keep-alive"
    status, _, body = handshake(server.url, headers)
    assert status.upper().startswith("HTTP/1.1 400 BAD REQUEST"), status
    assert b"Invalid websocket upgrade" in body, body


def test_the_request_is_built_from_the_environ_headers() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=websocket",
        "HTTP_SEC_WEBSOCKET_KEY": "abc",
        "HTTP_UPGRADE": "websocket",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "HTTP_COOKIE": "a=b",  # accept() does not read it: left out
        "CONTENT_TYPE": "text/plain",
    }
    request = _handshake_request(environ)
    assert request.path == "/socket.io/?EIO=4&transport=websocket"
    assert request.headers["Sec-WebSocket-Key"] == "abc"
    assert request.headers["upgrade"] == "websocket"
    assert request.headers["Sec-WebSocket-Version"] == "13"
    assert "Cookie" not in request.headers and "Content-Type" not in request.headers
    assert (request.method, request.protocol) == ("GET", "HTTP/1.1")

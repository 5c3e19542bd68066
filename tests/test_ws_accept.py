"""The plain-handshake answer of ``ws_accept``: the same accept key as websockets' ``accept()``
for the forms it takes, and ``None`` (so that ``accept()`` decides) for every other form."""

from __future__ import annotations

import base64
import os

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from flask_socketio.ws_accept import switching_protocols


def handshake(**overrides: str | None) -> dict:
    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": base64.b64encode(os.urandom(16)).decode(),
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    for key, value in overrides.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return environ


def websockets_accept_key(environ: dict) -> str:
    headers = Headers()
    headers["Upgrade"] = environ["HTTP_UPGRADE"]
    headers["Connection"] = environ["HTTP_CONNECTION"]
    headers["Sec-WebSocket-Key"] = environ["HTTP_SEC_WEBSOCKET_KEY"]
    headers["Sec-WebSocket-Version"] = environ["HTTP_SEC_WEBSOCKET_VERSION"]
    response = ServerProtocol(state=State.OPEN).accept(Request("/", headers))
    assert response.status_code == 101
    return response.headers["Sec-WebSocket-Accept"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"HTTP_CONNECTION": "keep-alive, Upgrade"},  # Firefox
        {"HTTP_CONNECTION": "Upgrade,\tHTTP2-Settings"},
        {"HTTP_UPGRADE": "WebSocket", "HTTP_CONNECTION": "upgrade"},
        {"HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate"},  # offered, none negotiated
        {"HTTP_ORIGIN": "http://example.com"},  # Engine.IO checks origins before this
    ],
)
def test_a_plain_handshake_gets_the_accept_key_websockets_computes(overrides):
    environ = handshake(**overrides)
    answer = switching_protocols(environ)
    assert answer is not None
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert rest == b""
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 101 Switching Protocols"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["Upgrade"] == "websocket" and fields["Connection"] == "Upgrade"
    assert fields["Sec-WebSocket-Accept"] == websockets_accept_key(environ)
    assert "Sec-WebSocket-Extensions" not in fields


@pytest.mark.parametrize(
    "overrides",
    [
        {"HTTP_SEC_WEBSOCKET_KEY": None},
        {"HTTP_SEC_WEBSOCKET_KEY": "not base64 at all, 24 ch"},
        {"HTTP_SEC_WEBSOCKET_KEY": base64.b64encode(os.urandom(18)).decode()},  # 24 chars
        {"HTTP_SEC_WEBSOCKET_VERSION": "8"},
        {"HTTP_SEC_WEBSOCKET_VERSION": None},
        {"HTTP_UPGRADE": "h2c"},
        {"HTTP_UPGRADE": None},
        {"HTTP_CONNECTION": "keep-alive"},
        {"HTTP_CONNECTION": None},
        {"HTTP_SEC_WEBSOCKET_PROTOCOL": "chat"},
        {"REQUEST_METHOD": "POST"},
        {"SERVER_PROTOCOL": "HTTP/1.0"},
        {"HTTP_CONNECTION": "bad token, Upgrade"},  # not a token list: websockets refuses it
        {"HTTP_CONNECTION": "keep-alive,\xa0Upgrade"},
        {"HTTP_ORIGIN": "http://example.com\x01"},  # a forbidden character: websockets' 400
        {"HTTP_SEC_WEBSOCKET_EXTENSIONS": "permessage-deflate\x7f"},
    ],
)
def test_any_other_handshake_is_left_to_websockets(overrides):
    assert switching_protocols(handshake(**overrides)) is None

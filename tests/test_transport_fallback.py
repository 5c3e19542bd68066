"""python-engineio's own WebSocket driver, used when the project's transport cannot take the
socket over (an Engine.IO server without ``transport.install``, another web server): the
session's writer must still send binary data as binary frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import engineio
import pytest
from core_support import ASYNC_MODE, live_server
from flask import Flask
from protocol_support import RawWebSocket

from flask_socketio import SocketIO
from flask_socketio.engineio_server import EngineIOServer

pytestmark = pytest.mark.skipif(
    ASYNC_MODE != "threading", reason="simple-websocket is the threading driver"
)


@pytest.fixture
def base() -> Iterator[str]:
    """An Engine.IO server answering a message with a bytearray and a text message, served
    by python-engineio's own driver."""
    eio = EngineIOServer(async_mode="threading")  # no transport.install: the fallback driver

    @eio.on("message")
    def message(sid: str, data: Any) -> None:
        eio.send(sid, bytearray(b"\x01\x02"))
        eio.send(sid, "text")

    app = Flask("fallback")
    socketio = SocketIO(app, async_mode="threading")  # only for make_server's choice
    app.wsgi_app = engineio.WSGIApp(eio, engineio_path="socket.io")  # type: ignore[method-assign]
    with live_server(app, socketio) as url:
        yield url


def test_a_bytearray_goes_as_a_binary_frame(base: str) -> None:
    ws = RawWebSocket(base)
    ws.send_frame(b"4go")
    assert ws.frame() == (2, b"\x01\x02")
    assert ws.frame() == (1, b"4text")  # and the connection is still up
    ws.close()

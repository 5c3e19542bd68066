"""Raw Engine.IO / Socket.IO clients and servers for the protocol tests (no client library: the
tests speak the wire format themselves, so they can break it on purpose)."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
import websocket
from core_support import ASYNC_MODE, live_server, make_app
from flask import Flask

from flask_socketio import SocketIO, emit

SHORT = {"ping_interval": 0.3, "ping_timeout": 0.2}
LONG = {"ping_interval": 25, "ping_timeout": 20}
CLOSED = "closed"


def reference_app(**options: Any) -> tuple[Flask, SocketIO]:
    """The app the socket.io-protocol suite describes: auth echo, message-back, acks, /custom."""
    options.setdefault("cors_allowed_origins", "*")
    options.setdefault("always_connect", True)  # CONNECT answered before the handler's emits
    app, socketio = make_app("protocol", **options)

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        emit("auth", auth or {})

    @socketio.on("connect", namespace="/custom")
    def connect_custom(auth: Any = None) -> None:
        emit("auth", auth or {})

    @socketio.on("message")
    def message(*args: Any) -> None:
        emit("message-back", *args)

    @socketio.on("message-with-ack")
    def message_with_ack(*args: Any) -> Any:
        return args

    return app, socketio


@contextmanager
def serve(**options: Any) -> Iterator[Server]:
    """Serve the reference app in the async mode under test; yields a :class:`Server`."""
    app, socketio = reference_app(**options)
    with live_server(app, socketio) as base:
        yield Server(base, socketio)


#: the repository's root: the working folder of gevent server subprocesses
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextmanager
def running(srv: Any) -> Iterator[Any]:
    """Start a live server, yield it, stop it; a subprocess server's log file goes too."""
    from pytest_flask_socketio.live_server import ProcessLiveServer

    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if isinstance(srv, ProcessLiveServer):
            srv.close()


@contextmanager
def mode_server(
    mode: str, create_app: Callable[[], Flask], gevent_spec: str, name: str
) -> Iterator[Any]:
    """A live server for ``mode``: threading serves ``create_app()`` from a thread here, gevent
    serves ``gevent_spec`` (``module:factory()``) from a subprocess (gevent must patch first)."""
    from pytest_flask_socketio.live_server import ProcessLiveServer, ThreadLiveServer

    srv: Any
    if mode == "threading":
        app = create_app()
        srv = ThreadLiveServer(app, app.extensions["socketio"])
    else:
        srv = ProcessLiveServer(gevent_spec, "gevent", cwd=ROOT, name=name)
    with running(srv):
        yield srv


class Server:
    """URLs and raw requests for one live server."""

    def __init__(self, base: str, socketio: SocketIO) -> None:
        self.base = base
        self.url = base + "/socket.io/"
        self.ws_url = self.url.replace("http", "ws", 1)
        self.socketio = socketio

    def get(self, sid: str | None = None, **params: Any) -> requests.Response:
        query = {"EIO": "4", "transport": "polling", **params}
        if sid:
            query["sid"] = sid
        return requests.get(self.url, params=query, timeout=10)

    def post(self, sid: str, body: str | bytes, **kw: Any) -> requests.Response:
        query = {"EIO": "4", "transport": "polling", "sid": sid}
        return requests.post(self.url, params=query, data=body, timeout=10, **kw)

    def open_polling(self) -> tuple[str, dict]:
        response = self.get()
        assert response.status_code == 200 and response.text.startswith("0"), response.text
        handshake = json.loads(response.text[1:])
        return handshake["sid"], handshake

    def websocket(self, sid: str | None = None) -> WS:
        url = self.ws_url + "?EIO=4&transport=websocket" + (f"&sid={sid}" if sid else "")
        return WS(websocket.create_connection(url, timeout=10))

    def open_websocket(self) -> tuple[WS, dict]:
        ws = self.websocket()
        first = ws.next()
        assert isinstance(first, str) and first.startswith("0"), first
        return ws, json.loads(first[1:])

    def connect_socketio(self, transport: str = "websocket") -> Any:
        """An Engine.IO session joined to ``/``, past the CONNECT answer and the auth event."""
        if transport == "websocket":
            ws, _ = self.open_websocket()
            ws.send("40")
            assert ws.next().startswith("40")
            assert ws.next() == '42["auth",{}]'
            return ws
        sid, _ = self.open_polling()
        assert self.post(sid, "40").text == "ok"
        packets = self.poll(sid)
        while len(packets) < 2:
            packets += self.poll(sid)
        assert packets[0].startswith('40{"sid":') and packets[1] == '42["auth",{}]', packets
        return sid

    def poll(self, sid: str) -> list[str]:
        """One GET, split into its packets."""
        response = self.get(sid)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.text.split("\x1e")

    def wait_closed(self, sid: str, timeout: float = 3.0) -> int:
        """Poll until the session is gone (400); returns how many packet lists came first."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            response = self.get(sid)
            if response.status_code == 400:
                return seen
            seen += 1
        raise AssertionError(f"session {sid} still open after {timeout} s")


class WS:
    """A raw WebSocket that reports the close frame's code instead of raising."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.close_code: int | None = None

    def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def next(self, timeout: float = 5.0, skip_pings: bool = True) -> Any:
        """The next text (str) or binary (bytes) message, or CLOSED once the peer closed."""
        self.ws.settimeout(timeout)
        while True:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                return CLOSED
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                return CLOSED
            if opcode == websocket.ABNF.OPCODE_TEXT:
                text = data.decode()
                if skip_pings and text == "2":
                    self.ws.send("3")
                    continue
                return text
            if opcode == websocket.ABNF.OPCODE_BINARY:
                return bytes(data)

    def until_closed(self, timeout: float = 5.0) -> list:
        """Everything received until the peer closes; fails if it stays open past ``timeout``."""
        deadline = time.monotonic() + timeout
        received = []
        while time.monotonic() < deadline:
            item = self.next(timeout=max(0.05, deadline - time.monotonic()))
            if item == CLOSED:
                return received
            received.append(item)
        raise AssertionError(f"WebSocket still open after {timeout} s: {received}")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


class RawWebSocket:
    """A WebSocket client as bytes: masked frames out, frames parsed from what comes back."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//", 1)[1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        #: what came in the handshake response's read, after it
        self.with_handshake = self.buffer
        opcode, payload = self.frame()
        assert opcode == 1 and payload.startswith(b"0{"), payload  # Engine.IO OPEN

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        return data

    def send_frame(self, payload: bytes, opcode: int = 1, declared: int | None = None) -> None:
        length = len(payload) if declared is None else declared
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def frame(self) -> tuple[int, bytes]:
        while True:
            if len(self.buffer) >= 2:
                length, start = self.buffer[1] & 0x7F, 2
                if length == 126 and len(self.buffer) >= 4:
                    length, start = struct.unpack("!H", self.buffer[2:4])[0], 4
                elif length == 127 and len(self.buffer) >= 10:
                    length, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
                if length < 126 or start > 2:
                    assert not self.buffer[1] & 0x80, "server frames are not masked"
                    if len(self.buffer) >= start + length:
                        opcode = self.buffer[0] & 0x0F
                        payload = self.buffer[start : start + length]
                        self.buffer = self.buffer[start + length :]
                        return opcode, payload
            self.buffer += self._recv()

    def message(self) -> bytes:
        """The next data frame's payload, answering Engine.IO pings on the way."""
        while True:
            opcode, payload = self.frame()
            if opcode == 1 and payload == b"2":
                self.send_frame(b"3")
                continue
            return payload

    def close_code(self) -> int:
        """Skip data frames up to the close frame; its status code."""
        while True:
            opcode, payload = self.frame()
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0]

    def rest(self) -> bytes:
        """Every byte until the server closes the TCP connection."""
        data, self.buffer = self.buffer, b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
        return data

    def connect_namespace(self) -> None:
        self.send_frame(b"40")
        assert self.message().startswith(b"40{")

    def close(self) -> None:
        self.sock.close()


__all__ = ["ASYNC_MODE", "CLOSED", "LONG", "SHORT", "RawWebSocket", "serve"]

"""The served WebSocket path (``flask_socketio.transport``), spoken to over a raw TCP socket.

Each test runs against the threading server in this process and against the gevent server in a
patched subprocess. The client here is a few lines of framing on purpose: the tests look at
the bytes on the wire (close codes, what comes after the session, frame boundaries).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from pytest_flask_socketio.live_server import ProcessLiveServer, ThreadLiveServer

from flask_socketio import SocketIO, emit
from flask_socketio.transport import frame_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 1000  # max_http_buffer_size of the app


def create_app(async_mode: str = "threading") -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=async_mode, max_http_buffer_size=LIMIT)

    @socketio.on("echo")
    def on_echo(data: Any) -> Any:
        return data

    @socketio.on("flood")
    def on_flood(count: int) -> None:
        for n in range(count):
            emit("n", n)

    @socketio.on("bye")
    def on_bye() -> None:
        # the whole Engine.IO connection, not just the namespace (disconnect() sends only 41)
        server = socketio.server
        server.eio.disconnect(server.manager.eio_sid_from_sid(request.sid, "/"))

    @socketio.on("boom")
    def on_boom() -> None:
        raise RuntimeError("handler failed")

    return app


def create_gevent_app() -> Flask:
    return create_app("gevent")


@pytest.fixture(params=["threading", "gevent"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    srv: Any
    if request.param == "threading":
        app = create_app()
        srv = ThreadLiveServer(app, app.extensions["socketio"])
    else:
        spec = "tests.test_perf_transport:create_gevent_app()"
        srv = ProcessLiveServer(spec, "gevent", cwd=ROOT, name="perf-transport")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if isinstance(srv, ProcessLiveServer):
            srv.close()


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


def test_acked_events_round_trip(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    for n in range(20):
        ws.send_frame(f'42{n}["echo",{{"n":{n},"text":"héllo"}}]'.encode())
        assert json.loads(ws.message().decode()[2 + len(str(n)) :]) == [{"n": n, "text": "héllo"}]
    ws.close()


def test_many_queued_packets_arrive_whole_and_in_order(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    ws.send_frame(b'42["flood",500]')
    received = [json.loads(ws.message().decode()[2:])[1] for _ in range(500)]
    assert received == list(range(500))
    ws.close()


def test_a_frame_over_the_limit_is_refused_before_its_payload(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    # the header declares 10 MB and no payload follows: only a check of the declared length
    # can answer now; a server that read the payload first would wait forever
    ws.send_frame(b"", declared=10_000_000)
    assert ws.close_code() == 1009
    ws.close()


def test_text_that_is_not_utf8_closes_with_1007(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    ws.send_frame(b'42["echo","\xff\xfe"]')
    assert ws.close_code() == 1007
    ws.close()


def test_server_disconnect_sends_close_1000_then_ends_the_stream(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    ws.send_frame(b'42["bye"]')
    assert ws.close_code() == 1000
    ws.send_frame(struct.pack("!H", 1000), opcode=8)  # the client's half of the handshake
    rest = ws.rest()
    assert b"HTTP/" not in rest, rest  # nothing but WebSocket frames on an upgraded stream
    ws.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failing_handler_writes_no_http_into_the_stream(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    ws.send_frame(b'42["boom"]')
    ws.send_frame(b'421["echo","still here"]')
    assert ws.message() == b'431["still here"]'
    ws.send_frame(struct.pack("!H", 1000), opcode=8)
    rest = ws.rest()
    assert b"HTTP/" not in rest and b"500" not in rest, rest
    ws.close()


def test_a_broadcast_packet_is_framed_once() -> None:
    from engineio import packet as eio_packet

    pkt = eio_packet.Packet(eio_packet.MESSAGE, '2["news","x"]')
    first = frame_for(pkt)
    assert first == b'\x81\x0e42["news","x"]'
    assert frame_for(pkt) is first  # every recipient's writer reuses the same bytes
    long = eio_packet.Packet(eio_packet.MESSAGE, "x" * 70000)
    assert frame_for(long)[:10] == b"\x81\x7f" + (70001).to_bytes(8, "big")

"""The served WebSocket path (``flask_socketio.transport``), spoken to over a raw TCP socket.

Each test runs against the threading server in this process and against the gevent server in a
patched subprocess. The client here is a few lines of framing on purpose: the tests look at
the bytes on the wire (close codes, what comes after the session, frame boundaries).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from protocol_support import RawWebSocket, mode_server

from flask_socketio.transport import frame_for
from tests.apps.transport_app import create_app


@pytest.fixture(params=["threading", "gevent"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    gevent_spec = "tests.apps.transport_app:create_gevent_app()"
    with mode_server(request.param, create_app, gevent_spec, "perf-transport") as srv:
        yield srv


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


def test_a_bytearray_from_a_handler_is_a_binary_attachment(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    ws.send_frame(b'42["blob"]')
    assert ws.frame() == (1, b'451-["blob",{"_placeholder":true,"num":0}]')
    assert ws.frame() == (2, b"\x01\x02\x03")
    ws.send_frame(b'421["echo","still up"]')
    assert ws.message() == b'431["still up"]'
    ws.close()


def test_a_broadcast_packet_is_framed_once() -> None:
    from engineio import packet as eio_packet

    pkt = eio_packet.Packet(eio_packet.MESSAGE, '2["news","x"]')
    first = frame_for(pkt)
    assert first == b'\x81\x0e42["news","x"]'
    assert frame_for(pkt) is first  # every recipient's writer reuses the same bytes
    long = eio_packet.Packet(eio_packet.MESSAGE, "x" * 70000)
    assert frame_for(long)[:10] == b"\x81\x7f" + (70001).to_bytes(8, "big")

"""The direct write path (``Socket._send_direct``, ``WebSocketTransport.try_send``): frames go
straight to an idle connection, the rest through the writer, in order, and a client that does
not read never holds up a broadcast to the others.

Each served test runs against the threading server in this process and the gevent server in a
patched subprocess (queued as it ships, and with the direct path switched on), with the raw
WebSocket client of the protocol tests.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from engineio import packet as eio_packet
from protocol_support import RawWebSocket, mode_server

from flask_socketio import transport
from tests.apps.direct_app import BIG, create_app


@pytest.fixture(params=["threading", "gevent", "gevent-direct"])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    factory = "create_gevent_app" if request.param == "gevent" else "create_gevent_direct_app"
    mode = "threading" if request.param == "threading" else "gevent"
    with mode_server(mode, create_app, f"tests.apps.direct_app:{factory}()", "perf-direct") as srv:
        yield srv


def _event(ws: RawWebSocket) -> list:
    payload = ws.message().decode()
    assert payload.startswith("42"), payload[:80]
    return json.loads(payload[2:])


def _join(ws: RawWebSocket) -> None:
    ws.connect_namespace()
    ws.send_frame(b'420["join"]')
    assert ws.message() == b'430["joined"]'


def test_order_holds_across_direct_and_queued_writes(server: Any) -> None:
    ws = RawWebSocket(server.url)
    ws.connect_namespace()
    count = 400  # 80 frames of 40 kB among small ones: more than loopback buffers hold
    ws.send_frame(f'42["burst",{count}]'.encode())
    time.sleep(0.5)  # the buffers fill: later frames are refused or cut, and queued
    received = []
    for _ in range(count):
        name, (index, text) = _event(ws)
        assert name == "n" and len(text) == (BIG if index % 5 == 0 else 0)
        received.append(index)
    assert received == list(range(count))
    # the connection is idle again: read as it comes, most frames go direct, still in order
    ws.send_frame(b'42["burst",60]')
    assert [_event(ws)[1][0] for _ in range(60)] == list(range(60))
    ws.close()


def test_a_client_that_does_not_read_does_not_hold_up_a_broadcast(server: Any) -> None:
    stuck = RawWebSocket(server.url)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    _join(stuck)  # and then never reads again
    reader = RawWebSocket(server.url)
    _join(reader)
    count, size = 200, 20_000  # 4 MB for each recipient
    started = time.monotonic()
    reader.send_frame(f'42["spam",{count},{size}]'.encode())
    for n in range(count):
        name, (index, text) = _event(reader)
        assert (name, index, len(text)) == ("s", n, size)
    reader.send_frame(b'421["echo","after"]')
    assert reader.message() == b'431["after"]'
    assert time.monotonic() - started < 15, "the broadcast waited for the client that does not read"
    reader.close()
    stuck.close()


def test_an_idle_websocket_session_writes_directly() -> None:
    with mode_server("threading", create_app, "", "perf-direct") as srv:
        ws = RawWebSocket(srv.url)
        ws.connect_namespace()
        ws.send_frame(b'421["echo","x"]')
        assert ws.message() == b'431["x"]'
        (sock,) = srv.socketio.server.eio.sockets.values()
        deadline = time.monotonic() + 5
        while not sock._direct_idle and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sock._direct is not None and sock._direct_idle
        ws.close()


def _pair(gevent_sockets: bool) -> tuple[Any, Any]:
    if gevent_sockets:
        import gevent.socket

        return gevent.socket.socketpair()
    left, right = socket.socketpair()
    left.settimeout(30)  # as the transport leaves it: non-blocking underneath, with a poll
    return left, right


@pytest.mark.parametrize("gevent_sockets", [False, True], ids=["threading", "gevent"])
def test_try_send_never_waits_and_the_writer_sends_the_rest_first(gevent_sockets: bool) -> None:
    conn, peer = _pair(gevent_sockets)
    ws = transport.WebSocketTransport(lambda _ws: None, object(), None)
    ws._conn = conn
    frame = transport.frame_for(eio_packet.Packet(eio_packet.MESSAGE, "z" * 60_000))
    outcomes = []
    started = time.monotonic()
    for _ in range(200):  # 12 MB: far more than a socketpair buffers
        outcome = ws.try_send(frame)
        outcomes.append(outcome)
        if outcome != transport.SENT:
            break
    assert time.monotonic() - started < 2
    assert outcomes[0] == transport.SENT and outcomes[-1] != transport.SENT
    written = len(frame) * outcomes.count(transport.SENT)
    if outcomes[-1] == transport.OWED:
        written += len(frame)
    assert ws.try_send(frame) == transport.REFUSED  # nothing more until the writer has run
    # the writer's write: the rest of the cut frame first, then its own frame
    tail = transport.frame_for(eio_packet.Packet(eio_packet.MESSAGE, "end"))
    import threading

    received = bytearray()

    def drain() -> None:
        peer.settimeout(10)
        while len(received) < written + len(tail):
            chunk = peer.recv(1 << 20)
            if not chunk:
                break
            received.extend(chunk)

    if gevent_sockets:
        import gevent

        reader = gevent.spawn(drain)
        ws.send_packets([eio_packet.Packet(eio_packet.MESSAGE, "end")])
        reader.join(10)
    else:
        thread = threading.Thread(target=drain)
        thread.start()
        ws.send_packets([eio_packet.Packet(eio_packet.MESSAGE, "end")])
        thread.join(10)
    assert bytes(received) == frame * (written // len(frame)) + tail
    assert ws.try_send(tail) == transport.SENT  # nothing owed any more: direct again
    conn.close()
    peer.close()

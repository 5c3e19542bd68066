"""Socket.IO v5 on the wire: connect, disconnect, events, acks, attachments, bad packets.

Each behaviour the official socket.io-protocol suite checks has a test here, in our words, over
WebSocket and polling where both apply; bad input must close only the offending connection, with
one debug log line. Runs in threading mode and, from test_protocol_gevent.py, under gevent.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from protocol_support import LONG, RawWebSocket, serve

from flask_socketio import eio_socket


@pytest.fixture
def server():
    with serve(connect_timeout=0.5, **LONG) as live:
        yield live


def _connect_ws(server, packet: str):
    ws, _ = server.open_websocket()
    ws.send(packet)
    return ws, ws.next(), ws.next()


# -- connect -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "packet, prefix, auth",
    [
        ("40", "40", "{}"),
        ('40{"token":"123"}', "40", '{"token":"123"}'),
        ("40/custom,", "40/custom,", "{}"),
        ('40/custom,{"token":"abc"}', "40/custom,", '{"token":"abc"}'),
    ],
)
def test_connect_is_answered_before_the_connect_handler_emits(server, packet, prefix, auth):
    ws, answer, event = _connect_ws(server, packet)
    assert answer.startswith(prefix)
    assert set(json.loads(answer[len(prefix) :])) == {"sid"}
    namespace = prefix[2:]
    assert event == f'42{namespace}["auth",{auth}]'
    ws.close()


@pytest.mark.parametrize("packet", ["40", "40/custom,"])
def test_the_connect_answer_has_a_write_of_its_own(server, monkeypatch, packet):
    """The CONNECT answer and the connect handler's emit reach the client in separate reads (a
    client reading one frame per wake-up, like the official suites', keeps both); the emits
    after it have no gap between them."""
    monkeypatch.setattr(eio_socket.Socket, "connect_gap", 0.2)  # wide: a loaded machine
    ws = RawWebSocket(server.base)
    ws.send_frame(packet.encode())
    opcode, answer = ws.frame()
    assert opcode == 1 and answer.startswith(packet.encode() + b'{"sid":'), answer
    assert ws.buffer == b"", "the handler's emit came in the CONNECT answer's read"
    assert ws.message() == f'42{packet[2:]}["auth",{{}}]'.encode()
    if packet == "40":  # the app echoes on "/" only
        started = time.monotonic()
        for n in range(3):
            ws.send_frame(f'42["message",{n}]'.encode())
        for n in range(3):
            assert ws.message() == f'42["message-back",{n}]'.encode()
        assert time.monotonic() - started < 0.2  # no connect gap between ordinary emits
    ws.close()


def test_connect_order_over_polling(server):
    sid, _ = server.open_polling()
    server.post(sid, '40{"token":"p"}')
    packets = server.poll(sid)
    while len(packets) < 2:
        packets += server.poll(sid)
    assert packets[0].startswith('40{"sid":')
    assert packets[1] == '42["auth",{"token":"p"}]'


def test_connect_to_an_unknown_namespace_is_refused(server):
    ws, _ = server.open_websocket()
    ws.send("40/random")
    assert ws.next() == '44/random,{"message":"Invalid namespace"}'
    ws.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_client_that_joins_no_namespace_is_closed_after_connect_timeout(server, transport):
    started = time.monotonic()
    if transport == "websocket":
        ws, _ = server.open_websocket()
        assert ws.until_closed(timeout=5) in ([], ["1"])
    else:
        sid, _ = server.open_polling()
        server.wait_closed(sid, timeout=5)
    assert 0.4 < time.monotonic() - started < 2.5  # connect_timeout=0.5 plus the tick


def test_connect_timeout_defaults_to_45_seconds():
    from core_support import make_app

    _, socketio = make_app()
    assert socketio.server.connect_timeout == 45


# -- disconnect --------------------------------------------------------------------------------


def test_disconnect_from_the_main_namespace(server):
    ws = server.connect_socketio()
    ws.send("41")
    ws.send('42["message","after"]')  # no longer connected: ignored, the connection stays
    ws.send("40")
    assert ws.next().startswith("40")
    assert ws.next() == '42["auth",{}]'
    ws.close()


def test_connect_then_disconnect_a_custom_namespace(server):
    ws = server.connect_socketio()
    ws.send("40/custom")
    assert ws.next().startswith("40/custom,")
    assert ws.next() == '42/custom,["auth",{}]'
    ws.send("41/custom")
    ws.send('42["message","message to main namespace"]')
    assert ws.next() == '42["message-back","message to main namespace"]'
    ws.close()


# -- events and acks ---------------------------------------------------------------------------


def test_event_round_trip(server):
    ws = server.connect_socketio()
    ws.send('42["message",1,"2",{"3":[true]}]')
    assert ws.next() == '42["message-back",1,"2",{"3":[true]}]'
    ws.close()


def test_event_with_binary_attachments(server):
    ws = server.connect_socketio()
    ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    ws.send(b"\x01\x02\x03")
    ws.send(b"\x04\x05\x06")
    assert ws.next() == (
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )
    assert ws.next() == b"\x01\x02\x03"
    assert ws.next() == b"\x04\x05\x06"
    ws.close()


def test_event_with_an_ack(server):
    ws = server.connect_socketio()
    ws.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    assert ws.next() == '43456[1,"2",{"3":[false]}]'
    ws.close()


def test_binary_event_with_an_ack(server):
    ws = server.connect_socketio()
    ws.send(
        '452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    )
    ws.send(b"\x01\x02\x03")
    ws.send(b"\x04\x05\x06")
    assert ws.next() == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert ws.next() == b"\x01\x02\x03"
    assert ws.next() == b"\x04\x05\x06"
    ws.close()


# -- bad input ---------------------------------------------------------------------------------

MALFORMED = {
    "unknown type": "4abc",
    "type 7": "47",
    "payload not an array": "42{}",
    "empty array": "42[]",
    "name not a string": "42[1]",
    "bad ack id": '42abc["message-with-ack",1]',
    "bad json": '42["message",',
    "ack without id": "43[1]",
    "connect payload not an object": '40"token"',
    "disconnect with payload": '41{"x":1}',
    "connect_error from a client": '44{"message":"x"}',
    "reserved connect": '42["connect",{"token":"forged"}]',
    "reserved disconnect": '42["disconnect"]',
    "reserved connect_error": '42["connect_error"]',
    "reserved disconnecting": '42["disconnecting"]',
    "reserved newListener": '42["newListener"]',
    "reserved removeListener": '42["removeListener"]',
}


@pytest.mark.parametrize("packet", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_packet_closes_the_websocket_with_1002(server, packet, caplog):
    bystander = server.connect_socketio()
    ws = server.connect_socketio()
    with caplog.at_level(logging.DEBUG, logger="socketio.server"):
        ws.send(packet)
        assert ws.until_closed(timeout=5) == []
    assert ws.close_code == 1002
    violations = [r for r in caplog.records if "protocol violation" in r.getMessage()]
    assert len(violations) == 1 and violations[0].levelno == logging.DEBUG
    assert not [r for r in caplog.records if r.exc_info], "no traceback for bad input"
    bystander.send('42["message","still here"]')
    assert bystander.next() == '42["message-back","still here"]'
    bystander.close()


@pytest.mark.parametrize("packet", ["4abc", "42{}", '42["connect",{}]'])
def test_a_malformed_packet_over_polling_closes_the_session(server, packet):
    sid = server.connect_socketio("polling")
    assert server.post(sid, packet).text == "ok"  # the Engine.IO payload itself was fine
    server.wait_closed(sid)


def test_reserved_names_never_reach_the_handlers(server):
    ws = server.connect_socketio()
    ws.send('42["connect",{"token":"forged"}]')
    # the connect handler would have answered with '42["auth",{"token":"forged"}]'
    assert ws.until_closed() == []


@pytest.mark.parametrize(
    "frames",
    [
        ['451-["message",{"_placeholder":true,"num":5}]', b"\x00"],  # placeholder out of range
        ['451-["message",{"_placeholder":true,"num":0}]', '42["message",1]'],  # text, not binary
        [b"\x00\x01"],  # an attachment nobody announced
    ],
    ids=["bad-placeholder", "text-instead-of-attachment", "unannounced-attachment"],
)
def test_a_bad_attachment_closes_instead_of_wedging(server, frames):
    ws = server.connect_socketio()
    for frame in frames:
        ws.send(frame)
    assert ws.until_closed(timeout=5) == []
    assert ws.close_code == 1002
    again = server.connect_socketio()  # and the server is fine for the next client
    again.send('42["message",2]')
    assert again.next() == '42["message-back",2]'
    again.close()


def test_an_attachment_error_does_not_leak_into_the_next_packet_of_another_client(server):
    one, two = server.connect_socketio(), server.connect_socketio()
    one.send('451-["message",{"_placeholder":true,"num":0}]')
    two.send('42["message","two"]')
    assert two.next() == '42["message-back","two"]'
    one.send(b"\x07")
    assert one.next() == '451-["message-back",{"_placeholder":true,"num":0}]'
    assert one.next() == b"\x07"
    one.close()
    two.close()

"""Engine.IO v4 on the wire: handshake, payloads, heartbeat, close, upgrade, bad requests.

Each behaviour the official engine.io-protocol suite checks has a test here, in our words, plus
the resource bounds the suite does not check. The module runs in threading mode and, from
test_protocol_gevent.py, in a gevent-patched process.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from protocol_support import CLOSED, LONG, SHORT, RawWebSocket, serve

from flask_socketio import eio_socket

MESSAGE = '42["message","hi"]'
ECHO = '42["message-back","hi"]'


@pytest.fixture
def server():
    with serve(**LONG) as live:
        yield live


@pytest.fixture
def pong_server():
    """Pings every 0.3 s, with a second for the answer (a loaded machine answers late)."""
    with serve(ping_interval=0.3, ping_timeout=1.0) as live:
        yield live


@pytest.fixture
def short_server():
    with serve(**SHORT) as live:
        yield live


# -- handshake ---------------------------------------------------------------------------------


def test_handshake_advertises_the_heartbeat_in_milliseconds(short_server):
    _, polling = short_server.open_polling()
    ws, over_ws = short_server.open_websocket()
    ws.close()
    for handshake, upgrades in ((polling, ["websocket"]), (over_ws, [])):
        assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
        assert (handshake["pingInterval"], handshake["pingTimeout"]) == (300, 200)
        assert handshake["upgrades"] == upgrades
        assert handshake["maxPayload"] == 1_000_000


def test_the_open_packet_comes_after_the_websocket_handshake_response(server, monkeypatch):
    """A session opened on a WebSocket: the 101 response has a read of its own, the OPEN
    packet follows (a client dispatching the rest of that read before its ``open``
    listeners run, like the official suites', would lose the OPEN)."""
    monkeypatch.setattr(eio_socket.Socket, "open_gap", 0.2)  # wide: a loaded machine
    ws = RawWebSocket(server.base)  # reads the 101, then the OPEN packet
    assert ws.with_handshake == b""
    ws.send_frame(b"40")
    assert ws.message().startswith(b"40{")
    ws.close()


@pytest.mark.parametrize(
    "params", [{"transport": "polling"}, {"EIO": "abc", "transport": "polling"}, {"EIO": "4"}]
)
def test_handshake_with_a_bad_query_is_refused(server, params):
    import requests

    assert requests.get(server.url, params=params, timeout=5).status_code == 400
    params = dict(params, transport=params.get("transport", "abc"))
    assert requests.get(server.url, params=params, timeout=5).status_code == 400


def test_handshake_by_post_or_put_is_refused(server):
    import requests

    query = {"EIO": "4", "transport": "polling"}
    assert requests.post(server.url, params=query, timeout=5).status_code == 400
    assert requests.put(server.url, params=query, timeout=5).status_code == 400


# -- payloads ----------------------------------------------------------------------------------


def test_polling_payload_with_several_packets(server):
    sid = server.connect_socketio("polling")
    body = "\x1e".join(f'42["message",{i}]' for i in range(3))
    assert server.post(sid, body).text == "ok"
    assert server.poll(sid) == [f'42["message-back",{i}]' for i in range(3)]


def test_polling_payload_with_a_base64_binary_packet(server):
    sid = server.connect_socketio("polling")
    body = '451-["message",{"_placeholder":true,"num":0}]\x1ebAQIDBA=='
    assert server.post(sid, body).text == "ok"
    assert server.poll(sid) == [
        '451-["message-back",{"_placeholder":true,"num":0}]',
        "bAQIDBA==",
    ]


def test_a_post_of_more_than_16_packets_is_delivered_whole(server):
    sid = server.connect_socketio("polling")
    body = "\x1e".join(f'42["message",{i}]' for i in range(50))
    assert server.post(sid, body).text == "ok"
    received: list[str] = []
    deadline = time.monotonic() + 5
    while len(received) < 50 and time.monotonic() < deadline:
        received += server.poll(sid)
    assert received == [f'42["message-back",{i}]' for i in range(50)]


def test_websocket_text_and_binary_messages(server):
    ws = server.connect_socketio("websocket")
    ws.send(MESSAGE)
    assert ws.next() == ECHO
    ws.send('451-["message",{"_placeholder":true,"num":0}]')
    ws.send(b"\x01\x02\x03\x04")
    assert ws.next() == '451-["message-back",{"_placeholder":true,"num":0}]'
    assert ws.next() == b"\x01\x02\x03\x04"
    ws.close()


# -- malformed Engine.IO -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["abc", "7", "8x", "9", "0", "", "4\ud800".encode("utf-8", "surrogatepass")]
)
def test_a_malformed_post_is_answered_400_and_closes_the_session(server, body):
    sid, _ = server.open_polling()
    response = server.post(sid, body)
    assert response.status_code == 400
    assert server.get(sid).status_code == 400


@pytest.mark.parametrize("frame", ["abc", "7", "9x", "0"])
def test_a_malformed_websocket_frame_closes_with_1002(server, frame):
    ws, _ = server.open_websocket()
    ws.send(frame)
    assert ws.until_closed(timeout=5) == []
    assert ws.close_code == 1002


def test_an_oversized_post_is_answered_at_once_and_released(server):
    sid, _ = server.open_polling()
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    with socket.create_connection((host, port), timeout=5) as raw:
        # declares 2 MB but sends only the headers: the answer must not wait for the body
        raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n".encode())
        started = time.monotonic()
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert time.monotonic() - started < 2
    assert server.get(sid).status_code == 400


def test_an_oversized_websocket_message_closes_with_1009(server):
    ws, _ = server.open_websocket()
    ws.send("4" + "x" * 1_000_001)
    assert ws.until_closed(timeout=5) == []
    assert ws.close_code == 1009


# -- heartbeat ---------------------------------------------------------------------------------


def test_polling_ping_pong(pong_server):
    sid, _ = pong_server.open_polling()
    for _ in range(3):
        assert pong_server.get(sid).text == "2"
        assert pong_server.post(sid, "3").status_code == 200


def test_websocket_ping_pong(pong_server):
    ws, _ = pong_server.open_websocket()
    for _ in range(3):
        assert ws.next(skip_pings=False) == "2"
        ws.send("3")
    ws.close()


def test_a_get_arriving_at_the_ping_deadline_is_refused(short_server):
    sid, _ = short_server.open_polling()
    time.sleep(0.5)  # ping interval + ping timeout, the ping never answered
    assert short_server.get(sid).status_code == 400


def test_a_silent_websocket_is_closed_after_the_ping_timeout(short_server):
    ws, _ = short_server.open_websocket()
    started = time.monotonic()
    received = []
    while (item := ws.next(timeout=3, skip_pings=False)) != CLOSED:
        received.append(item)
    assert time.monotonic() - started < 1.5  # 0.3 + 0.2 s, plus the monitor's tick
    assert received[:1] == ["2"]


# -- close -------------------------------------------------------------------------------------


def test_a_client_close_ends_the_pending_get_with_a_noop(server):
    sid, _ = server.open_polling()
    result = {}
    pending = threading.Thread(target=lambda: result.update(get=server.get(sid)))
    pending.start()
    time.sleep(0.2)  # the GET is waiting
    assert server.post(sid, "1").status_code == 200
    pending.join(5)
    assert (result["get"].status_code, result["get"].text) == (200, "6")
    assert server.get(sid).status_code == 400


def test_a_close_racing_ahead_of_the_get_still_ends_it_with_a_noop(server):
    sid, _ = server.open_polling()
    assert server.post(sid, "1").status_code == 200
    assert server.get(sid).text == "6"
    assert server.get(sid).status_code == 400


def test_a_websocket_close_packet_closes(server):
    ws, _ = server.open_websocket()
    ws.send("1")
    assert ws.until_closed() == []


def test_a_server_disconnect_reaches_a_polling_client_on_its_next_get(server):
    sid = server.connect_socketio("polling")
    sio = server.socketio.server
    sio.emit("bye", to=sio.manager.sid_from_eio_sid(sid, "/"))
    sio.eio.disconnect(sid)  # returns at once: nothing waits for the GET
    assert server.poll(sid) == ['42["bye"]', "1"]
    assert server.get(sid).status_code == 400


def test_a_second_get_closes_the_session(server):
    sid, _ = server.open_polling()
    result = {}
    first = threading.Thread(target=lambda: result.update(first=server.get(sid)))
    first.start()
    time.sleep(0.2)
    second = server.get(sid)
    first.join(5)
    assert second.status_code == 400
    assert (result["first"].status_code, result["first"].text) == (200, "1")
    assert server.get(sid).status_code == 400


# -- upgrade -----------------------------------------------------------------------------------


def _upgrade(server, sid):
    ws = server.websocket(sid)
    ws.send("2probe")
    assert ws.next() == "3probe"
    return ws


def test_upgrade_ends_the_poll_with_a_noop_and_none_goes_over_the_websocket(server):
    sid = server.connect_socketio("polling")
    ws = _upgrade(server, sid)
    assert server.get(sid).text == "6"
    ws.send("5")
    ws.send(MESSAGE)
    assert ws.next() == ECHO  # not a stray "6"
    ws.close()


def test_a_pending_get_is_ended_by_the_probe(server):
    sid = server.connect_socketio("polling")
    result = {}
    pending = threading.Thread(target=lambda: result.update(get=server.get(sid)))
    pending.start()
    time.sleep(0.2)
    ws = _upgrade(server, sid)
    pending.join(5)
    assert result["get"].text == "6"
    ws.send("5")
    ws.send(MESSAGE)
    assert ws.next() == ECHO
    ws.close()


def test_a_get_racing_the_probe_is_refused_once_the_upgrade_is_done(server):
    """A GET sent right after ``2probe`` and ``5`` (before the server read them) takes nothing
    from the session: the upgrade counts from the WebSocket's request."""
    sid = server.connect_socketio("polling")
    for _ in range(5):  # the race is won sometimes either way: try it a few times
        ws = server.websocket(sid)
        ws.send("2probe")
        ws.send("5")
        assert server.get(sid).status_code == 400
        assert ws.next() == "3probe"
        ws.send(MESSAGE)
        assert ws.next() == ECHO
        ws.close()
        sid = server.connect_socketio("polling")


def test_a_websocket_refused_at_its_handshake_leaves_the_session_upgradable(server):
    sid = server.connect_socketio("polling")
    query = {"EIO": "4", "transport": "websocket", "sid": sid}
    headers = {"Connection": "Upgrade", "Upgrade": "websocket"}  # no Sec-WebSocket-Key
    refused = requests.get(server.url, params=query, headers=headers, timeout=10)
    assert refused.status_code == 400
    assert server.post(sid, MESSAGE).text == "ok"
    assert server.poll(sid) == [ECHO]  # polling goes on, with no delay from a stale upgrade
    ws = _upgrade(server, sid)
    ws.send("5")
    ws.send(MESSAGE)
    assert ws.next() == ECHO
    ws.close()


def test_polling_after_the_upgrade_is_refused(server):
    sid = server.connect_socketio("polling")
    ws = _upgrade(server, sid)
    ws.send("5")
    time.sleep(0.1)
    assert server.get(sid).status_code == 400
    assert server.post(sid, MESSAGE).status_code == 400
    ws.send(MESSAGE)
    assert ws.next() == ECHO
    ws.close()


@pytest.mark.parametrize("upgraded", [True, False], ids=["after-upgrade", "during-upgrade"])
def test_a_second_websocket_for_the_session_is_refused(server, upgraded):
    sid = server.connect_socketio("polling")
    ws = _upgrade(server, sid)
    if upgraded:
        ws.send("5")
        time.sleep(0.1)
    second = server.websocket(sid)
    assert second.until_closed(timeout=3) == []
    assert second.close_code == 1008
    if not upgraded:
        ws.send("5")
    ws.send(MESSAGE)
    assert ws.next() == ECHO
    ws.close()


def test_a_racing_websocket_is_refused_once_the_first_upgrade_succeeded(server, monkeypatch):
    """The loser of two WebSockets for one session is refused after the winner's upgrade is
    done, as by socket.io's one-threaded server: the official suite's client expects the
    winner's probe answer before the loser's close."""
    monkeypatch.setattr(eio_socket.Socket, "upgrade_race_limit", 5.0)
    held = threading.Event()
    original = eio_socket.Socket._await_upgrade_outcome

    def holding(self):  # type: ignore[no-untyped-def]
        held.set()
        original(self)

    monkeypatch.setattr(eio_socket.Socket, "_await_upgrade_outcome", holding)
    sid = server.connect_socketio("polling")
    ws = _upgrade(server, sid)
    refused: dict = {}

    def race() -> None:
        second = server.websocket(sid)
        refused["received"] = second.until_closed(timeout=8)
        refused["at"] = time.monotonic()
        refused["code"] = second.close_code

    racer = threading.Thread(target=race)
    racer.start()
    assert held.wait(5), "the racing WebSocket was refused without waiting"
    time.sleep(0.1)
    sent = time.monotonic()
    ws.send("5")
    racer.join(10)
    assert refused["received"] == [] and refused["code"] == 1008
    assert sent <= refused["at"] < sent + 4  # after the "5", and not held until the limit
    ws.send(MESSAGE)
    assert ws.next() == ECHO
    ws.close()


def test_a_failed_upgrade_leaves_polling_working(server):
    sid = server.connect_socketio("polling")
    ws = server.websocket(sid)
    ws.send("4nonsense")  # no probe
    assert ws.until_closed() == []
    assert server.post(sid, MESSAGE).text == "ok"
    assert server.poll(sid) == [ECHO]


def test_unknown_session_is_refused(server):
    assert server.get("nope").status_code == 400
    assert server.post("nope", "40").status_code == 400
    assert json.loads(server.get("nope").text)

"""Per-connect details of :class:`flask_socketio.engineio_server.EngineIOServer`, driven through
its WSGI entry point with real sockets: the OPEN packet, the writer task's primitive, a POST
whose body the web server fails to read."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
from typing import Any

import pytest

from flask_socketio.engineio_server import EngineIOServer


def call(eio: EngineIOServer, method: str, query: str, body: Any = None, length: int = 0) -> tuple:
    """One request through the WSGI interface: (status, headers, body bytes)."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list, *_: Any) -> None:
        answer.update(status=status, headers=headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/engine.io/",
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(length),
        "wsgi.input": body if body is not None else io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }
    chunks = eio.handle_request(environ, start_response)
    return answer["status"], answer["headers"], b"".join(chunks)


def open_polling(eio: EngineIOServer) -> tuple[str, dict]:
    status, _, body = call(eio, "GET", "EIO=4&transport=polling")
    assert status.startswith("200"), status
    assert body[:1] == b"0"
    handshake = json.loads(body[1:])
    return handshake["sid"], handshake


def test_the_open_packet_is_compact_json_with_the_heartbeat_in_milliseconds() -> None:
    eio = EngineIOServer(async_mode="threading", ping_interval=0.3, ping_timeout=0.2)
    try:
        status, _, body = call(eio, "GET", "EIO=4&transport=polling")
        assert status.startswith("200")
        handshake = json.loads(body[1:])
        expected = {
            "sid": handshake["sid"],
            "upgrades": ["websocket"],
            "pingInterval": 300,
            "pingTimeout": 200,
            "maxPayload": eio.max_http_buffer_size,
        }
        assert handshake == expected
        assert body == b"0" + json.dumps(expected, separators=(",", ":")).encode()
    finally:
        eio.shutdown()


def test_an_unreadable_post_body_is_one_debug_line_and_a_400(
    caplog: pytest.LogCaptureFixture,
) -> None:
    eio = EngineIOServer(async_mode="threading")
    reader, writer = socket.socketpair()
    try:
        sid, _ = open_polling(eio)
        writer.sendall(b"4hel")  # 4 of the 20 bytes declared: the read times out
        reader.settimeout(0.2)
        body = reader.makefile("rb")
        with caplog.at_level(logging.DEBUG, logger=eio.logger.name):
            status, headers, _ = call(eio, "POST", f"EIO=4&transport=polling&sid={sid}", body, 20)
        assert status.startswith("400"), status
        assert ("Connection", "close") in headers
        assert sid not in eio.sockets or eio.sockets[sid].closed
        records = [r for r in caplog.records if sid in r.getMessage()]
        assert [r.levelno for r in records] == [logging.DEBUG], records
        assert "POST body unreadable" in records[0].getMessage()
        assert records[0].exc_info is None
        status, _, _ = call(eio, "GET", f"EIO=4&transport=polling&sid={sid}")
        assert not status.startswith("200") or sid not in eio.sockets
    finally:
        reader.close()
        writer.close()
        eio.shutdown()


def test_threading_tasks_stay_python_engineio_threads() -> None:
    eio = EngineIOServer(async_mode="threading")
    task = eio.start_background_task(lambda: None)
    task.join(5)
    assert not task.is_alive()
    assert "start_background_task" not in vars(eio)  # python-engineio's own method


def test_gevent_tasks_are_plain_greenlets() -> None:
    # in a subprocess: gevent must patch before anything imports socket or threading
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import gevent\n"
        "from flask_socketio.engineio_server import EngineIOServer\n"
        "eio = EngineIOServer(async_mode='gevent')\n"
        "task = eio.start_background_task(lambda a, b=0: a + b, 2, b=3)\n"
        "task.join(5)\n"
        "assert type(task) is gevent.Greenlet, type(task)\n"
        "assert task.value == 5, task.value\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]

"""The chat demo (examples/chat): rooms, broadcasts and acks, its page and its JS client.

The chat logic is checked with the in-process test client (``socketio.test_client(app)``), in
the demo's default async mode and in threading mode, and over real WebSockets with python-socketio
clients: against a live server in this process (threading) and against the entry point itself,
``python examples/chat/app.py --port 0``, which is what ``make run`` starts (gevent, patched first).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import socketio

from flask_socketio.serving import make_server

DEMO = Path(__file__).resolve().parent.parent / "examples" / "chat"


def _load_demo() -> ModuleType:
    """Import examples/chat/app.py (not a package) under a name of its own."""
    name = "flask_socketio_chat_demo"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DEMO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def _require_client_build() -> None:
    """The JS client comes from `npm ci` in examples/chat; CI must have it, a dev may not."""
    if (demo.CLIENT_DIST / "socket.io.min.js").is_file():
        return
    message = "socket.io-client is not installed: run `npm ci` in examples/chat (or `make run`)"
    if os.environ.get("CI") or os.environ.get("SOCKETIO_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=["default", "threading"])
def chat(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """The demo app and its SocketIO, in the demo's default async mode and in threading."""
    options = {} if request.param == "default" else {"async_mode": request.param}
    return demo.create_app(**options)


def _chats(client: Any) -> list[dict[str, Any]]:
    """The ``chat`` payloads a test client received so far (other events dropped)."""
    return [e["args"][0] for e in client.get_received() if e["name"] == "chat"]


def test_two_clients_in_a_room_chat_with_acks(chat: tuple[Any, Any]) -> None:
    app, socketio = chat
    ann = socketio.test_client(app)
    bob = socketio.test_client(app)
    cy = socketio.test_client(app)
    try:
        assert ann.call("join", {"name": "ann", "room": "r1"}) == {
            "ok": True,
            "room": "r1",
            "members": ["ann"],
            "online": 3,
        }
        joined = bob.call("join", {"name": "bob", "room": "r1"})
        assert joined["ok"] and joined["members"] == ["ann", "bob"]
        assert cy.call("join", {"name": "cy", "room": "r2"})["members"] == ["cy"]
        # ann heard herself and then bob join her room; cy heard only herself
        assert ann.expect("status") == [{"text": "ann joined", "room": "r1"}]
        assert ann.expect("status") == [{"text": "bob joined", "room": "r1"}]
        statuses = [e["args"] for e in cy.get_received() if e["name"] == "status"]
        assert statuses == [[{"text": "cy joined", "room": "r2"}]]
        for client in (ann, bob, cy):
            client.get_received()

        ack = ann.call("say", {"text": "hello r1"})
        assert ack["ok"] is True and isinstance(ack["id"], int)
        for client in (ann, bob):  # the whole room, sender included
            (message,) = _chats(client)
            assert message["text"] == "hello r1" and message["name"] == "ann"
            assert message["id"] == ack["id"] and message["room"] == "r1"
            assert message["shout"] is False
        assert _chats(cy) == []  # other rooms hear nothing

        shout = cy.call("shout", {"text": "hi everyone"})
        assert shout["ok"] is True
        for client in (ann, bob, cy):  # a broadcast reaches every room
            (message,) = _chats(client)
            assert message == {**message, "text": "hi everyone", "shout": True, "id": shout["id"]}
    finally:
        for client in (ann, bob, cy):
            if client.is_connected():
                client.disconnect()


def test_say_before_join_and_empty_text_are_refused(chat: tuple[Any, Any]) -> None:
    app, socketio = chat
    client = socketio.test_client(app)
    try:
        assert client.call("say", {"text": "hi"}) == {"ok": False, "error": "join a room first"}
        client.call("join", {"name": "x", "room": "r"})
        assert client.call("say", {"text": "   "}) == {"ok": False, "error": "empty message"}
        assert client.call("say", "not a dict") == {"ok": False, "error": "empty message"}
    finally:
        client.disconnect()


def test_moving_rooms_and_leaving_tell_the_room(chat: tuple[Any, Any]) -> None:
    app, socketio = chat
    ann = socketio.test_client(app)
    bob = socketio.test_client(app)
    try:
        ann.call("join", {"name": "ann", "room": "a"})
        bob.call("join", {"name": "bob", "room": "a"})
        ann.get_received()
        bob.call("join", {"name": "bob", "room": "b"})
        assert ann.expect("status") == [{"text": "bob left", "room": "a"}]
        bob.call("say", {"text": "only room b"})
        assert _chats(ann) == []
        bob.disconnect()
        assert ann.expect("online") == [{"count": 1}]
    finally:
        if ann.is_connected():
            ann.disconnect()


def test_page_and_js_client_are_served(chat: tuple[Any, Any]) -> None:
    _require_client_build()
    app, _ = chat
    http = app.test_client()
    page = http.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'<script src="{demo.CLIENT_URL}"></script>' in html
    assert "cdn" not in html.lower()
    js = http.get(demo.CLIENT_URL)
    assert js.status_code == 200
    assert js.mimetype in ("text/javascript", "application/javascript")
    body = js.get_data()
    version = (demo.CLIENT_DIST / ".." / "package.json").resolve().read_text()
    assert b"Socket.IO v4." in body[:200], body[:200]
    assert '"version": "4.' in version
    script = http.get("/static/chat.js")
    assert script.status_code == 200 and b'socket.timeout(5000).emit("join"' in script.get_data()


@pytest.fixture
def live_chat() -> Iterator[str]:
    """The demo served over the network (threading: no monkey patching in the test process)."""
    app, socketio = demo.create_app(async_mode="threading")
    handle = make_server(app, socketio, port=0)
    thread = threading.Thread(target=handle.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{handle.port}"
    finally:
        handle.shutdown()
        thread.join(timeout=5)


def test_two_websocket_clients_chat_over_the_network(live_chat: str) -> None:
    received: dict[str, list[dict[str, Any]]] = {"ann": [], "bob": []}
    clients = {name: socketio.Client(reconnection=False) for name in received}
    try:
        for name, client in clients.items():
            client.on("chat", lambda message, name=name: received[name].append(message))
            client.connect(live_chat, transports=["websocket"], wait_timeout=5)
            assert client.call("join", {"name": name, "room": "net"}, timeout=5)["ok"]
        ack = clients["ann"].call("say", {"text": "over the wire"}, timeout=5)
        assert ack["ok"] is True
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(received.values()):
            time.sleep(0.01)
        for name in received:
            assert [m["text"] for m in received[name]] == ["over the wire"], name
            assert received[name][0]["id"] == ack["id"]
    finally:
        for client in clients.values():
            client.disconnect()


@pytest.fixture
def demo_process(tmp_path: Path) -> Iterator[str]:
    """``python examples/chat/app.py --port 0`` (gevent), stopped with Ctrl-C at teardown."""
    out_path = tmp_path / "demo.out"
    with open(out_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(DEMO / "app.py"), "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = None
        deadline = time.monotonic() + 15
        while url is None and time.monotonic() < deadline and process.poll() is None:
            for line in out_path.read_text().splitlines():
                if line.startswith("Chat demo (gevent) on "):
                    url = line.rsplit(" ", 1)[1].rstrip("/")
            time.sleep(0.05)
        assert url is not None, f"the demo did not start: {out_path.read_text()}"
        yield url
        process.send_signal(signal.SIGINT)  # Ctrl-C ends it cleanly
        # 15 s: under the parallel test run one stop took over 5 s (a CI run; the whole test
        # takes about 1.6 s alone)
        assert process.wait(timeout=15) == 0, out_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_entry_point_serves_page_and_chat_with_gevent(demo_process: str) -> None:
    _require_client_build()
    with urllib.request.urlopen(demo_process + "/", timeout=5) as page:
        assert demo.CLIENT_URL in page.read().decode()
    with urllib.request.urlopen(demo_process + demo.CLIENT_URL, timeout=5) as js:
        assert b"Socket.IO v4." in js.read(200)
    ann = socketio.Client(reconnection=False)
    bob = socketio.Client(reconnection=False)
    heard: list[Any] = []
    bob.on("chat", heard.append)
    try:
        for name, client in (("ann", ann), ("bob", bob)):
            client.connect(demo_process, transports=["websocket"], wait_timeout=5)
            assert client.call("join", {"name": name, "room": "lobby"}, timeout=5)["ok"]
        ack = ann.call("say", {"text": "served by gevent"}, timeout=5)
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [(m["text"], m["id"]) for m in heard] == [("served by gevent", ack["id"])]
    finally:
        ann.disconnect()
        bob.disconnect()

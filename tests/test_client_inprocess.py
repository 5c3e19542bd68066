"""The in-process SocketIOTestClient: upstream's interface, the new methods and its guarantees."""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

import pytest
import socketio as python_socketio
from flask import Flask, request, session
from flask_socketio_testing import SocketIOTestClient

from flask_socketio import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    emit,
    join_room,
    send,
)

BLOB = {"name": "x", "raw": b"\x00\xff", "parts": [b"a", {"deep": bytearray(b"bc")}, 3]}


def make_app(**options: Any) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    options.setdefault("async_mode", "threading")
    socketio = SocketIO(app, **options)
    state: dict[str, Any] = {"received": [], "disconnects": []}
    app.config["STATE"] = state

    @socketio.on("connect")
    def on_connect(auth: Any) -> Any:
        if auth and auth.get("refuse") == "data":
            raise ConnectionRefusedError("nope", {"retry": 5})
        if auth and auth.get("refuse") == "false":
            return False
        if auth and auth.get("crash"):
            raise KeyError("connect crashed")
        send("welcome")
        return None

    @socketio.on("disconnect")
    def on_disconnect(reason: Any) -> None:
        state["disconnects"].append(request.sid)

    @socketio.on("echo")
    def echo(*args: Any) -> None:
        state["received"].append(args)
        emit("echo", args if len(args) != 1 else args[0])

    @socketio.on("ack")
    def ack(*args: Any) -> Any:
        return args[0] if len(args) == 1 else args

    @socketio.on("ack none")
    def ack_none() -> None:
        return None

    @socketio.on("ack many")
    def ack_many() -> tuple:
        return 1, "two", b"3"

    @socketio.on("whoami")
    def whoami() -> str:
        return request.sid

    @socketio.on("join")
    def join(room: str) -> None:
        join_room(room)

    @socketio.on("to room")
    def to_room(room: str, data: Any) -> None:
        emit("room msg", data, to=room)

    @socketio.on("broadcast")
    def broadcast(data: Any) -> None:
        emit("broadcast", data, broadcast=True)

    @socketio.on("later")
    def later(delay: float) -> None:
        def task() -> None:
            socketio.sleep(delay)
            socketio.emit("done", {"after": delay})

        socketio.start_background_task(task)

    @socketio.on("crash")
    def crash() -> None:
        raise ValueError("handler crashed")

    @socketio.on("ask client")
    def ask_client(data: Any) -> Any:
        return socketio.call("question", data, to=request.sid, timeout=2)

    @socketio.on("bad reply")
    def bad_reply() -> None:
        emit("bad", object())

    @socketio.on("session set")
    def session_set(value: str) -> None:
        session["value"] = value

    @socketio.on("session get")
    def session_get() -> Any:
        return session.get("value")

    @app.route("/login")
    def login() -> str:
        session["user"] = "ada"
        return "ok"

    @socketio.on("user")
    def user() -> Any:
        return session.get("user")

    return app, socketio


@pytest.fixture
def pair() -> tuple[Flask, SocketIO]:
    return make_app()


# -- upstream-compatible interface ---------------------------------------------------------------


def test_connect_emit_and_get_received_shapes(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    assert isinstance(client, SocketIOTestClient)
    assert client.is_connected()
    assert client.get_received() == [{"name": "message", "args": "welcome", "namespace": "/"}]
    client.emit("echo", {"a": 1})
    assert client.get_received() == [{"name": "echo", "args": [{"a": 1}], "namespace": "/"}]
    client.send({"j": True}, json=True)  # no json handler: nothing comes back
    assert client.get_received() == []
    assert client.get_received() == []


def test_ack_shapes_match_upstream(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    assert client.emit("ack", {"a": "b"}, callback=True) == {"a": "b"}
    assert client.emit("ack none", callback=True) == []
    assert client.emit("ack many", callback=True) == [1, "two", b"3"]
    assert client.emit("not handled", callback=True) is None
    assert client.emit("ack", "x") is None
    # upstream's own tests pass broadcast=True to the client's emit; it is ignored there too
    client.emit("echo", 1, broadcast=True)
    assert client.get_received()[-1]["args"] == [1]


def test_eio_sid_and_get_sid(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    one, two = socketio.test_client(app), socketio.test_client(app)
    assert one.eio_sid != two.eio_sid
    assert one.get_sid() == one.emit("whoami", callback=True)
    assert two.get_sid() == two.emit("whoami", callback=True)
    assert one.get_sid() != two.get_sid()
    assert one.get_sid("/other") is None
    one.disconnect()
    assert one.get_sid() is None


def test_namespaces_have_their_own_sid_queue_and_acks() -> None:
    app, socketio = make_app()

    class Chat(Namespace):
        def on_connect(self) -> None:
            emit("hello", "chat")

        def on_ping(self, n: int) -> int:
            return n + 1

    socketio.on_namespace(Chat("/chat"))
    client = socketio.test_client(app)
    client.connect("/chat")
    assert client.is_connected("/chat")
    assert client.get_sid("/chat") not in (None, client.get_sid())
    assert client.get_received("/chat") == [
        {"name": "hello", "args": ["chat"], "namespace": "/chat"}
    ]
    assert client.get_received() == [{"name": "message", "args": "welcome", "namespace": "/"}]
    assert client.emit("ping", 1, namespace="/chat", callback=True) == 2
    assert client.call("ping", 41, namespace="/chat") == 42
    client.disconnect("/chat")
    assert not client.is_connected("/chat")
    assert client.is_connected()
    with pytest.raises(RuntimeError, match="not connected"):
        client.emit("ping", 1, namespace="/chat")


def test_disconnect_runs_the_handler_and_closes_the_session(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    sid = client.get_sid()
    client.disconnect()
    assert app.config["STATE"]["disconnects"] == [sid]
    assert not client.is_connected()
    assert client.eio_sid not in socketio.server.environ
    with pytest.raises(RuntimeError):
        client.disconnect()
    client.connect()  # reconnecting opens a new session with a new sid
    assert client.is_connected() and client.get_sid() not in (None, sid)


def test_server_side_disconnect(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    socketio.server.disconnect(client.get_sid())
    assert not client.is_connected()
    with pytest.raises(RuntimeError):
        client.emit("echo", 1)


def test_query_string_headers_and_auth() -> None:
    app, socketio = make_app()
    seen: dict[str, Any] = {}

    @socketio.on("connect", namespace="/q")
    def connect_q(auth: Any) -> None:
        seen.update(args=request.args.to_dict(), header=request.headers.get("X-Test"), auth=auth)

    client = socketio.test_client(
        app, namespace="/q", query_string="a=1&b=2", headers={"X-Test": "yes"}, auth={"t": 1}
    )
    assert client.is_connected("/q")
    assert seen == {"args": {"a": "1", "b": "2"}, "header": "yes", "auth": {"t": 1}}


def test_flask_test_client_cookies_are_shared(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    flask_client = app.test_client()
    assert flask_client.get("/login").status_code == 200
    client = socketio.test_client(app, flask_test_client=flask_client)
    assert client.emit("user", callback=True) == "ada"
    client.emit("session set", "kept")
    assert client.emit("session get", callback=True) == "kept"


# -- refused connections --------------------------------------------------------------------------


def test_get_connect_error_payloads(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    refused = socketio.test_client(app, auth={"refuse": "data"})
    assert not refused.is_connected()
    assert refused.get_connect_error() == {"message": "nope", "data": {"retry": 5}}
    rejected = socketio.test_client(app, auth={"refuse": "false"})
    assert rejected.get_connect_error() == {"message": "Connection rejected by server"}
    ok = socketio.test_client(app)
    assert ok.get_connect_error() is None
    ok.connect("/missing")
    assert ok.get_connect_error("/missing") == {"message": "Invalid namespace"}
    assert ok.is_connected() and not ok.is_connected("/missing")
    refused.connect()  # a later successful connect clears the error
    assert refused.is_connected() and refused.get_connect_error() is None


# -- waiting --------------------------------------------------------------------------------------


def test_receive_waits_for_background_task(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    client.get_received()
    client.emit("later", 0.05)
    assert client.get_received() == []
    started = time.monotonic()
    assert client.receive(timeout=2) == {
        "name": "done",
        "args": [{"after": 0.05}],
        "namespace": "/",
    }
    assert time.monotonic() - started < 1.5


def test_receive_timeout_raises_timeout_error(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    client.get_received()
    with pytest.raises(TimeoutError):
        client.receive(timeout=0.05)
    with pytest.raises(python_socketio.exceptions.TimeoutError):
        client.receive(timeout=0.01)


def test_expect_keeps_earlier_events_and_reports_what_came(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    client.emit("echo", "first")
    client.emit("later", 0.02)
    assert client.expect("done", timeout=2) == [{"after": 0.02}]
    assert [e["name"] for e in client.get_received()] == ["message", "echo"]
    client.emit("echo", "other")
    with pytest.raises(AssertionError) as info:
        client.expect("never", timeout=0.05)
    assert "'never'" in str(info.value) and "'echo'" in str(info.value)
    assert "'other'" in str(info.value)


def test_assert_nothing_received(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    client.get_received()
    client.assert_nothing_received(timeout=0.02)
    client.emit("later", 0.01)
    with pytest.raises(AssertionError, match="'done'"):
        client.assert_nothing_received(timeout=1)


def test_broadcast_from_another_thread_is_waited_for(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    clients = [socketio.test_client(app) for _ in range(3)]
    for c in clients:
        c.get_received()
    thread = threading.Timer(0.05, lambda: socketio.emit("news", {"n": 1}))
    thread.start()
    for c in clients:
        assert c.expect("news", timeout=2) == [{"n": 1}]
    thread.join()


# -- acks both ways -------------------------------------------------------------------------------


def test_call_returns_the_ack_and_times_out(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    assert client.call("ack", {"x": b"1"}) == {"x": b"1"}
    assert client.call("ack none") == []
    with pytest.raises(TimeoutError):
        client.call("not handled", timeout=0.05)


def test_on_handler_answers_server_calls_and_callbacks(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    client.get_received()

    @client.on("question")
    def answer(data: Any) -> Any:
        return {"answer": data["q"] * 2, "raw": b"\x01"}

    # socketio.call() from a handler, reached while the client's event is being handled
    assert client.call("ask client", {"q": 21}) == {"answer": 42, "raw": b"\x01"}
    # socketio.call() from the test itself
    assert socketio.call("question", {"q": 1}, to=client.get_sid()) == {"answer": 2, "raw": b"\x01"}
    # emit(..., callback=f) fires f with the handler's return value
    got: list = []
    socketio.emit("question", {"q": 5}, to=client.get_sid(), callback=lambda *a: got.append(a))
    assert got == [({"answer": 10, "raw": b"\x01"},)]
    # every one of those events is recorded too
    assert [e["name"] for e in client.get_received()] == ["question"] * 3


def test_on_without_decorator_and_catch_all(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    seen: list = []
    client.on("*", lambda event, *args: seen.append((event, args)) or "caught")
    client.on("echo", handler=lambda *args: seen.append(("echo handler", args)))
    client.emit("echo", 1)
    assert socketio.call("anything", 2, to=client.get_sid()) == "caught"
    assert seen == [("echo handler", (1,)), ("anything", (2,))]


def test_unhandled_server_call_gets_an_empty_ack_like_a_real_client(
    pair: tuple[Flask, SocketIO],
) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    assert socketio.call("unknown", to=client.get_sid()) is None


# -- fidelity -------------------------------------------------------------------------------------


def test_unserializable_data_raises_type_error(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    with pytest.raises(TypeError):
        client.emit("echo", {"bad": object()})
    with pytest.raises(TypeError):
        client.emit("bad reply")


def test_payload_is_a_copy_and_bytes_survive(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    client.get_received()
    data = {"blob": BLOB, "list": [1, 2]}
    client.emit("echo", data)
    data["list"].append(3)
    data["blob"]["parts"].clear()
    received = app.config["STATE"]["received"][-1][0]
    assert received == {"blob": BLOB | {"parts": [b"a", {"deep": b"bc"}, 3]}, "list": [1, 2]}
    echoed = client.get_received()[0]["args"][0]
    assert echoed == received
    assert isinstance(echoed["blob"]["raw"], bytes)
    assert client.emit("ack", b"\x00", "two", callback=True) == [b"\x00", "two"]


def test_real_packets_go_through_the_servers_packet_class(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    seen: list = []
    packet_class = socketio.server.packet_class
    original_encode = packet_class.encode

    def spy(self: Any) -> Any:
        encoded = original_encode(self)
        seen.append(encoded)
        return encoded

    client = socketio.test_client(app)
    try:
        packet_class.encode = spy
        client.emit("echo", b"\x01")
    finally:
        packet_class.encode = original_encode
    # the client's event and the server's reply, each with its attachment
    assert seen == [['51-["echo",{"_placeholder":true,"num":0}]', b"\x01"]] * 2


# -- server-side exceptions -----------------------------------------------------------------------


def test_handler_exception_surfaces_with_traceback(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    client = socketio.test_client(app)
    with pytest.raises(ValueError, match="handler crashed") as info:
        client.emit("crash")
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "crash"
    with pytest.raises(KeyError, match="connect crashed"):
        socketio.test_client(app, auth={"crash": True})
    assert client.is_connected()  # the client survives its handler's failure
    assert client.emit("ack", 1, callback=True) == 1


def test_error_handler_swallows_the_exception() -> None:
    app, socketio = make_app()
    caught: list = []

    @socketio.on_error()
    def on_error(exc: Exception) -> str:
        caught.append(exc)
        return "handled"

    client = socketio.test_client(app)
    assert client.emit("crash", callback=True) == "handled"
    assert isinstance(caught[0], ValueError)


# -- many clients, rooms --------------------------------------------------------------------------


def test_rooms_and_broadcasts_reach_exactly_the_right_clients(
    pair: tuple[Flask, SocketIO],
) -> None:
    app, socketio = pair
    clients = [socketio.test_client(app) for _ in range(6)]
    for index, c in enumerate(clients):
        c.get_received()
        c.emit("join", "even" if index % 2 == 0 else "odd")
    clients[1].emit("to room", "even", BLOB)
    for index, c in enumerate(clients):
        expected = (
            [{"name": "room msg", "args": [BLOB], "namespace": "/"}] if index % 2 == 0 else []
        )
        assert c.get_received() == expected
    clients[0].emit("broadcast", 7)
    assert all(
        c.get_received() == [{"name": "broadcast", "args": [7], "namespace": "/"}] for c in clients
    )


# -- context manager, and the server stays untouched ---------------------------------------------


def test_context_manager_disconnects_every_namespace() -> None:
    app, socketio = make_app()
    gone: list = []

    @socketio.on("disconnect", namespace="/two")
    def two_gone() -> None:
        gone.append("/two")

    @socketio.on("connect", namespace="/two")
    def two_connect() -> None:
        pass

    with socketio.test_client(app) as client:
        client.connect("/two")
        sid = client.get_sid()
    assert gone == ["/two"]
    assert app.config["STATE"]["disconnects"] == [sid]
    assert not client.is_connected() and not client.is_connected("/two")
    assert not socketio.server.is_inprocess(client.eio_sid)


def test_server_options_are_left_alone(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    server = socketio.server
    before = (server.async_handlers, server.eio.async_handlers)
    client = socketio.test_client(app)
    client.emit("echo", 1)
    client.close()
    assert (server.async_handlers, server.eio.async_handlers) == before
    assert server.async_handlers is True
    assert "_send_packet" not in vars(server) and "_send_eio_packet" not in vars(server)


def test_live_network_client_and_test_client_side_by_side() -> None:
    from flask_socketio.serving import make_server

    app, socketio = make_app()
    handle = make_server(app, socketio, host="127.0.0.1", port=0)
    thread = threading.Thread(target=handle.serve_forever, daemon=True)
    thread.start()
    network = python_socketio.Client()
    got: list = []
    arrived = threading.Event()

    @network.on("broadcast")
    def on_broadcast(data: Any) -> None:
        got.append(data)
        arrived.set()

    try:
        network.connect(f"http://127.0.0.1:{handle.port}", auth={}, wait_timeout=5)
        with socketio.test_client(app) as client:
            client.emit("broadcast", BLOB)
            assert arrived.wait(5)
            assert got == [BLOB]
            network.emit("broadcast", {"from": "network"})
            assert client.expect("broadcast", timeout=5) == [BLOB]
            assert client.expect("broadcast", timeout=5) == [{"from": "network"}]
            # acks to the network client still work (async handlers untouched)
            assert network.call("ack", {"n": 1}, timeout=5) == {"n": 1}
    finally:
        network.disconnect()
        handle.shutdown()
        thread.join(timeout=5)


def test_msgpack_serializer_is_used_both_ways() -> None:
    app, socketio = make_app(serializer="msgpack")
    assert socketio.server.packet_class.__name__ == "MsgPackPacket"
    client = socketio.test_client(app)
    assert client.get_received() == [{"name": "message", "args": "welcome", "namespace": "/"}]
    client.emit("echo", BLOB)
    assert client.get_received() == [{"name": "echo", "args": [BLOB], "namespace": "/"}]
    assert client.call("ack", BLOB) == BLOB


def test_each_app_gets_its_own_server_with_one_socketio() -> None:
    socketio = SocketIO(async_mode="threading")

    @socketio.on("where")
    def where() -> str:
        return request.host

    apps = []
    for name in ("one", "two"):
        app = Flask(name)
        socketio.init_app(app)
        apps.append(app)
    first, second = (socketio.test_client(app) for app in apps)
    assert first.server is socketio.server_for(apps[0]) is not second.server
    socketio.server_for(apps[0]).emit("only first")
    assert [e["name"] for e in first.get_received()] == ["only first"]
    assert second.get_received() == []
    assert first.call("where") == "localhost"


# -- shared errors, transcripts, handshake environ -----------------------------------------------


def test_errors_are_the_shared_ones(pair: tuple[Flask, SocketIO]) -> None:
    from flask_socketio_testing import (
        AckTimeoutError,
        ExpectationError,
        NotConnectedError,
        ReceiveTimeoutError,
    )

    app, socketio = pair
    client = socketio.test_client(app)
    with pytest.raises(NotConnectedError) as info:
        client.emit("ping", 1, namespace="/nowhere")
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value, python_socketio.exceptions.BadNamespaceError)
    assert info.value.namespace == "/nowhere"
    with pytest.raises(AckTimeoutError):
        client.call("not handled", timeout=0.02)
    client.get_received()
    with pytest.raises(ReceiveTimeoutError):
        client.receive(timeout=0.02)
    client.emit("echo", "x")
    with pytest.raises(ExpectationError) as failed:
        client.expect("never", timeout=0.02)
    assert [e["name"] for e in failed.value.received] == ["echo"]


def test_transcript_is_opt_in_for_plain_test_clients(pair: tuple[Flask, SocketIO]) -> None:
    app, socketio = pair
    plain = socketio.test_client(app)
    plain.emit("echo", 1)
    assert len(plain.transcript) == 0 and plain.transcript.limit == 0
    recorded = SocketIOTestClient(app, socketio, name="rec", transcript_limit=3)
    recorded.emit("echo", 1)
    with pytest.raises(AssertionError):
        recorded.expect("never", timeout=0.01)
    assert recorded.name == "rec" and recorded.transport == "inprocess"
    assert recorded.transcript.kinds() == ["emit", "received", "expect-failed"]  # the last 3
    assert [e["name"] for e in recorded.pending()] == ["message", "echo"]


def test_handshake_environs_are_not_shared() -> None:
    app, socketio = make_app()
    seen: list[dict[str, Any]] = []

    @socketio.on("connect", namespace="/env")
    def on_env_connect() -> None:
        request.environ["mine"] = len(seen)
        seen.append(request.environ)

    first = socketio.test_client(app, namespace="/env")
    second = socketio.test_client(app, namespace="/env")
    assert first.is_connected("/env") and second.is_connected("/env")
    assert seen[0] is not seen[1] and seen[0]["mine"] == 0 and seen[1]["mine"] == 1
    assert seen[0]["wsgi.input"] is not seen[1]["wsgi.input"]
    app.config["SERVER_NAME"] = "example.test"  # a config change gives a new environ
    socketio.test_client(app, namespace="/env")
    assert seen[2]["HTTP_HOST"] == "example.test"
    assert seen[1]["HTTP_HOST"] == "localhost"

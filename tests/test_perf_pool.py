"""The greenlet pool that runs event handlers under gevent (``ordering.GreenletPool``).

It must behave like ``gevent.spawn`` for a handler: a call that blocks does not hold up the
others, each call starts with an empty ``contextvars`` context, a failing call is reported and
does not stop the pool, and idle greenlets are reused up to the bound.
"""

from __future__ import annotations

import contextvars
import gc
import time
import weakref

import pytest

gevent = pytest.importorskip("gevent")

from flask_socketio.ordering import GreenletPool  # noqa: E402

_marker: contextvars.ContextVar[int | None] = contextvars.ContextVar("marker", default=None)


def _settle(seconds: float = 0.05) -> None:
    gevent.sleep(seconds)


def test_a_blocking_call_does_not_hold_up_the_next_ones() -> None:
    pool = GreenletPool()
    order: list[str] = []
    pool.spawn(lambda: (gevent.sleep(0.05), order.append("slow")))
    pool.spawn(order.append, "quick")
    _settle(0.1)
    assert order == ["quick", "slow"]


def test_each_call_starts_with_an_empty_context_and_greenlets_are_reused() -> None:
    pool = GreenletPool()
    seen: list[tuple[int | None, object]] = []

    def call(n: int) -> None:
        seen.append((_marker.get(), gevent.getcurrent()))
        _marker.set(n)

    for n in range(20):
        pool.spawn(call, n)
        _settle(0.001)
    assert [value for value, _ in seen] == [None] * 20
    assert len({id(greenlet) for _, greenlet in seen}) == 1  # one greenlet, handed over


def test_a_failing_call_is_reported_and_the_pool_goes_on() -> None:
    pool = GreenletPool()
    hub = gevent.get_hub()
    reported: list[type] = []
    original = hub.handle_error
    hub.handle_error = lambda context, kind, value, tb: reported.append(kind)  # type: ignore[method-assign]
    try:
        pool.spawn(lambda: 1 / 0)
        _settle()
        done: list[int] = []
        pool.spawn(done.append, 1)
        _settle()
    finally:
        hub.handle_error = original  # type: ignore[method-assign]
    assert reported == [ZeroDivisionError]
    assert done == [1]
    assert len(pool._idle) == 1


def test_idle_greenlets_are_bounded() -> None:
    pool = GreenletPool(max_idle=3)
    for _ in range(10):
        pool.spawn(gevent.sleep, 0.01)
    _settle()
    assert len(pool._idle) == 3


def test_a_started_call_can_be_joined_even_when_it_fails() -> None:
    pool = GreenletPool()
    hub = gevent.get_hub()
    original = hub.handle_error
    hub.handle_error = lambda *_: None  # type: ignore[method-assign]
    try:
        finished: list[str] = []
        task = pool.start(lambda: (gevent.sleep(0.02), finished.append("slow")))
        task.join(timeout=1)
        assert finished == ["slow"]
        started = time.monotonic()
        pool.start(lambda: 1 / 0).join(timeout=2)
        assert time.monotonic() - started < 1  # the call ended, by an exception
        started = time.monotonic()
        pool.start(gevent.sleep, 5).join(timeout=0.05)
        assert time.monotonic() - started < 1
    finally:
        hub.handle_error = original  # type: ignore[method-assign]


def test_a_pooled_greenlet_keeps_nothing_of_its_first_call() -> None:
    """gevent keeps a greenlet's spawn arguments until it ends; a pooled one never ends."""

    class Payload:
        pass

    pool = GreenletPool()
    payload = Payload()
    alive = weakref.ref(payload)
    pool.spawn(lambda _: None, payload)
    del payload
    _settle()
    gc.collect()
    assert len(pool._idle) == 1
    assert alive() is None


def test_a_websocket_session_starts_its_writer_as_a_session_task(monkeypatch) -> None:
    from protocol_support import serve

    from flask_socketio.engineio_server import EngineIOServer

    started: list[str] = []
    original = EngineIOServer.start_session_task

    def recording(self, target, *args):  # type: ignore[no-untyped-def]
        started.append(target.__name__)
        return original(self, target, *args)

    monkeypatch.setattr(EngineIOServer, "start_session_task", recording)
    with serve() as live:
        ws, _ = live.open_websocket()
        ws.close()
    assert started == ["_websocket_writer"]


def test_the_gevent_server_runs_session_writers_in_pooled_greenlets() -> None:
    from flask_socketio.engineio_server import EngineIOServer

    server = EngineIOServer(async_mode="gevent")
    assert isinstance(server.session_tasks, GreenletPool)
    done: list[int] = []
    server.start_session_task(done.append, 1).join(timeout=1)
    assert done == [1]
    assert EngineIOServer(async_mode="threading").session_tasks is None


def _greenlet_of_each_request(handle, requests: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Serve ``handle`` in this process and ask it ``requests`` times, one connection each."""
    from gevent import socket as gsocket

    server = gevent.spawn(handle.serve_forever)
    answers = []
    try:
        for _ in range(requests):
            conn = gsocket.create_connection(("127.0.0.1", handle.port), timeout=5)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
            conn.close()
            answers.append(data.rpartition(b"\r\n\r\n")[2].decode())
            _settle()  # the handler's greenlet goes back to the pool
    finally:
        handle._server.stop(timeout=1)
        server.kill()
    return answers


def test_the_gevent_server_runs_connections_in_pooled_greenlets() -> None:
    """A new greenlet per connection records its spawning stack (gevent's greenlet tree):
    connections reuse finished ones, as session writers do."""
    import flask

    from flask_socketio.serving import GeventHandle

    seen: list = []  # held, so that no later greenlet can have the id of an earlier one

    def who() -> str:
        seen.append(gevent.getcurrent())
        return str(id(seen[-1]))

    app = flask.Flask(__name__)
    app.add_url_rule("/", "who", who)
    answers = _greenlet_of_each_request(GeventHandle(app, "127.0.0.1", 0), 3)
    assert len(seen) == 3 and len(set(answers)) == 1, answers


def test_a_spawn_given_to_the_gevent_server_is_kept() -> None:
    import gevent.pool

    from flask_socketio.serving import GeventHandle

    pool = gevent.pool.Pool(4)
    handle = GeventHandle(lambda environ, start: [], "127.0.0.1", 0, spawn=pool)
    assert handle._server.pool is pool
    handle._server.close()

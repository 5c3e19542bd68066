"""``FanoutTurns``: threading broadcasts take turns, the lowest arrival ticket first; a turn
is re-entrant, and nothing waits for an event that never asked for one."""

from __future__ import annotations

import threading
import time

import pytest
from core_support import ASYNC_MODE

from flask_socketio.fanout import FanoutTurns, new_ticket, run_with_ticket

pytestmark = pytest.mark.skipif(ASYNC_MODE != "threading", reason="threading's fan-out turns")


def _wait_for_waiters(turns: FanoutTurns, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(turns._waiting) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(turns._waiting) == count


def test_waiting_fan_outs_go_lowest_ticket_first() -> None:
    turns = FanoutTurns()
    served: list[int] = []
    tickets = [new_ticket() for _ in range(4)]

    def broadcast() -> None:
        with turns:
            from flask_socketio.fanout import _ticket

            served.append(_ticket.get())  # type: ignore[arg-type]

    with turns:  # a fan-out in progress; the others ask in reverse arrival order
        threads = []
        for waiting, ticket in enumerate(reversed(tickets)):
            thread = threading.Thread(target=run_with_ticket, args=(ticket, broadcast))
            thread.start()
            threads.append(thread)
            _wait_for_waiters(turns, waiting + 1)
    for thread in threads:
        thread.join(5)
    assert served == tickets
    assert turns._owner is None


def test_a_turn_is_reentrant_for_its_thread() -> None:
    turns = FanoutTurns()
    with turns:
        with turns:  # an in-process client's delivery that emitted again
            pass
        assert turns._owner == threading.get_ident()
    assert turns._owner is None


def test_an_emit_outside_a_handler_goes_after_the_events_waiting() -> None:
    turns = FanoutTurns()
    served: list[str] = []
    event_ticket = new_ticket()

    def broadcast(name: str) -> None:
        with turns:
            served.append(name)

    with turns:
        background = threading.Thread(target=broadcast, args=("background task",))
        background.start()
        _wait_for_waiters(turns, 1)
        event = threading.Thread(target=run_with_ticket, args=(event_ticket, broadcast, "event"))
        event.start()
        _wait_for_waiters(turns, 2)
    background.join(5)
    event.join(5)
    assert served == ["event", "background task"]


def test_a_free_turn_is_taken_at_once_whatever_the_ticket() -> None:
    turns = FanoutTurns()
    new_ticket()  # an earlier event that never broadcasts
    done = threading.Event()

    def broadcast() -> None:
        with turns:
            done.set()

    thread = threading.Thread(target=run_with_ticket, args=(new_ticket(), broadcast))
    thread.start()
    assert done.wait(5)
    thread.join(5)


def test_a_client_past_its_ping_deadline_is_closed_after_the_broadcast_loop() -> None:
    """A recipient whose ping deadline passed gets nothing, and its session is closed once
    the loop is over: the app's disconnect handler never runs while a turn is held (a handler
    taking a lock of the app's own could otherwise stall every broadcast)."""
    from core_support import live_server, make_app
    from protocol_support import RawWebSocket

    from flask_socketio import emit

    app, socketio = make_app("fanout", ping_interval=25, ping_timeout=20)
    seen: dict[str, object] = {}

    @socketio.on("go")
    def go() -> None:
        emit("news", "x", broadcast=True)

    @socketio.on("disconnect")
    def disconnect(*_: object) -> None:
        seen["turn held by this thread"] = (
            socketio.server.manager.fanout_turns._owner == threading.get_ident()
        )

    with live_server(app, socketio) as base:
        gone = RawWebSocket(base)
        gone.connect_namespace()
        (stale,) = socketio.server.eio.sockets.values()
        sender = RawWebSocket(base)
        sender.connect_namespace()
        stale.last_ping = time.time() - 60  # a ping that was never answered
        sender.send_frame(b'42["go"]')
        assert sender.message() == b'42["news","x"]'
        deadline = time.monotonic() + 5
        while "turn held by this thread" not in seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == {"turn held by this thread": False}
        assert stale.closed
        sender.close()

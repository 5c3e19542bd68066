"""Broadcast fan-outs under threading: one at a time, in the order their events arrived.

Under threading a broadcast's frames are written straight from the handler's thread, and every
``send`` releases the GIL. Two handlers broadcasting at once would interleave their loops over
the recipients, and python-socketio's thread per event lets a later event's handler reach its
broadcast first. So each network event gets a ticket when it is dispatched (in arrival order,
by the connection's reader), and :class:`FanoutTurns` lets the waiting fan-outs go one at a
time, the lowest ticket first. A fan-out never waits for an event that has not asked for a
turn, so a handler that never broadcasts holds nobody up; an emit outside any handler (a
background task) takes a fresh ticket, after every event dispatched so far.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

_tickets = itertools.count()
_ticket: ContextVar[int | None] = ContextVar("flask_socketio_fanout_ticket", default=None)


def new_ticket() -> int:
    """The next ticket (``itertools.count`` is atomic under the GIL)."""
    return next(_tickets)


def run_with_ticket(ticket: int, call: Callable[..., Any], *args: Any) -> Any:
    """Run ``call(*args)`` with ``ticket`` as the current event's ticket (a handler thread)."""
    _ticket.set(ticket)
    return call(*args)


class FanoutTurns:
    """A re-entrant lock whose waiters get it lowest ticket first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None  # the thread holding the turn
        self._depth = 0
        #: (ticket, thread, its wake-up lock), lowest ticket first (tickets are unique, and
        #: a thread waits for one turn at a time, so the lock is never compared)
        self._waiting: list[tuple[int, int, Any]] = []

    def __enter__(self) -> None:
        me = threading.get_ident()
        ticket = _ticket.get()
        with self._lock:
            if self._owner == me:  # a delivery that emitted again (an in-process client)
                self._depth += 1
                return
            if self._owner is None:
                self._owner, self._depth = me, 1
                return
            wake = threading.Lock()
            wake.acquire()
            if ticket is None:
                ticket = new_ticket()
            entry = (ticket, me, wake)
            heapq.heappush(self._waiting, entry)
        try:
            wake.acquire()  # released by the holder, which made this thread the owner
        except BaseException:  # interrupted while waiting: leave the line, or pass the turn on
            with self._lock:
                if entry in self._waiting:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                    raise
            self.__exit__()
            raise

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth:
                return
            if not self._waiting:
                self._owner = None
                return
            _, thread, wake = heapq.heappop(self._waiting)
            self._owner, self._depth = thread, 1
        wake.release()

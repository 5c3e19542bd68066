"""Events of one connection handled in arrival order (the ``ordered_events=True`` option).

python-socketio starts a task for every incoming event, so two events from one client can be
handled, and their broadcasts sent, in either order. With ``ordered_events=True`` each
connection gets a queue instead: its events run one after another, in the order they arrived,
in a task that lives while the queue has work, and different connections still run
concurrently (socket.io's Node server behaves this way).

The trade-off: a slow handler delays the next events of its own connection (never another
connection's). Acknowledgements from the client are not queued, so a handler may wait for the
answer to a ``call()`` it made to the same client.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .fanout import new_ticket, run_with_ticket

#: the server option's name
OPTION = "ordered_events"


class ConnectionQueues:
    """One queue of pending handler calls per Engine.IO session, drained by one task each."""

    def __init__(self, start_task: Callable[..., Any], logger: Any) -> None:
        self._start_task = start_task
        self._logger = logger
        self._pending: dict[str, deque] = {}
        self._lock = threading.Lock()

    def submit(self, eio_sid: str, call: Callable[..., Any], *args: Any) -> None:
        """Run ``call(*args)`` after every earlier call submitted for ``eio_sid``."""
        with self._lock:
            queue = self._pending.get(eio_sid)
            if queue is not None:
                queue.append((call, args))
                return
            self._pending[eio_sid] = deque([(call, args)])
        self._start_task(self._drain, eio_sid)

    def _drain(self, eio_sid: str) -> None:
        queue = self._pending[eio_sid]
        while True:
            with self._lock:
                if not queue:
                    del self._pending[eio_sid]
                    return
                call, args = queue.popleft()
            try:
                call(*args)
            except Exception:  # the next events of this connection must still run
                self._logger.exception("event handler failed")

    def pending(self, eio_sid: str) -> int:
        """How many calls wait for ``eio_sid`` (0 when its task is idle)."""
        queue = self._pending.get(eio_sid)
        return len(queue) if queue is not None else 0


class EventRunner:
    """Where a network client's event handler runs: its own task, or its connection's queue."""

    def __init__(self, server: Any, ordered: bool) -> None:
        self.ordered = ordered
        self._spawn = _spawner(server)
        self._queues = ConnectionQueues(self._spawn, server.logger) if ordered else None
        #: threading: each event carries its arrival ticket to its broadcasts (:mod:`.fanout`)
        self._ticketed = server.async_mode == "threading"

    def run(self, eio_sid: str, call: Callable[..., Any], *args: Any) -> None:
        """Run ``call(*args)`` for an event of ``eio_sid``, concurrently with other connections."""
        if self._ticketed:
            call, args = run_with_ticket, (new_ticket(), call, *args)
        if self._queues is not None:
            self._queues.submit(eio_sid, call, *args)
        else:
            self._spawn(call, *args)


class PooledTask:
    """A call started by :meth:`GreenletPool.start`; ``join()`` waits for it like a greenlet's."""

    __slots__ = ("_done",)

    def __init__(self, done: Any) -> None:
        self._done = done

    def run(self, call: Callable[..., Any], args: tuple) -> None:
        try:
            call(*args)
        finally:
            self._done.set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)


def _spawner(server: Any) -> Callable[..., Any]:
    """A :class:`GreenletPool`'s ``spawn`` under gevent (a new greenlet per event costs about
    three times a hand-over to an idle one), else the server's own ``start_background_task``."""
    if server.async_mode == "gevent":
        return GreenletPool().spawn
    return server.start_background_task


class GreenletPool:
    """Runs each call in a greenlet of its own, reusing greenlets whose last call has finished.

    ``spawn(call, *args)`` behaves like ``gevent.spawn`` for what a handler can observe: the call
    starts from the hub's next loop iteration, in a greenlet that runs nothing else meanwhile,
    with an empty ``contextvars`` context, and an exception is reported by the hub without
    affecting other calls. Only greenlet-local state (``threading.local`` under monkey-patching)
    can outlive a call, as it does in a thread pool. At most ``max_idle`` idle greenlets are kept.
    """

    def __init__(self, max_idle: int = 64) -> None:
        import gevent
        import gevent.event
        from gevent.hub import get_hub

        self._greenlet_class = gevent.Greenlet
        self._event_class = gevent.event.Event
        self._hub = get_hub()
        self._idle: list[Any] = []
        self.max_idle = max_idle

    def spawn(self, call: Callable[..., Any], *args: Any) -> None:
        """Start ``call(*args)`` in an idle greenlet, or in a new one when none is idle."""
        idle = self._idle
        if idle:
            self._hub.loop.run_callback(idle.pop().switch, call, args)
        else:
            self._greenlet_class.spawn(self._work, [call, args])

    def start(self, call: Callable[..., Any], *args: Any) -> PooledTask:
        """:meth:`spawn`, returning a handle whose ``join()`` waits until the call has ended."""
        task = PooledTask(self._event_class())
        self.spawn(task.run, call, args)
        return task

    def _work(self, first: list) -> None:
        """A pooled greenlet's life: run a call, wait idle for the next, until not needed.

        The first call comes in a list that is emptied here: gevent keeps a greenlet's spawn
        arguments until it ends, which would keep the first call's arguments (a session's
        socket, an event's data) alive as long as the pooled greenlet."""
        import contextvars
        import sys

        from gevent import GreenletExit, getcurrent

        call, args = first
        first.clear()
        me = getcurrent()
        hub, idle = self._hub, self._idle
        while True:
            try:
                contextvars.Context().run(call, *args)
            except GreenletExit:  # killed while running: ends like a killed gevent greenlet
                raise
            except BaseException:  # reported like a failed gevent.spawn, the greenlet goes on
                hub.handle_error(me, *sys.exc_info())
            del call, args
            if len(idle) >= self.max_idle:
                return
            idle.append(me)
            try:
                call, args = hub.switch()
            except BaseException:  # killed while idle (GreenletExit): leave the pool
                if me in idle:
                    idle.remove(me)
                raise

"""The inbox every test client reads from: per-namespace queues with blocking, timed reads.

Events arrive from any thread (a python-socketio read thread, a background task, the test's own
thread for in-process dispatch). Arrivals only append to a deque, which is atomic, and notify
only when a reader waits, so a busy in-process client pays almost nothing for the thread safety.
Readers serialize on one condition. Under gevent or eventlet without monkey patching, waiting
must yield to the hub instead of blocking the thread: pass the server's ``sleep``.

The "what arrived instead" text of a failed ``expect`` or ``assert_nothing_received`` is written
here, once, with event names and arguments.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ExpectationError, ReceiveTimeoutError
from .interface import ReceivedEvent

__all__ = ["Inbox", "MISSING", "describe_events"]

T = TypeVar("T")


class _Missing:
    """The "nothing yet" result of a wait check (None may be a real value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

#: the most events a failure message lists (the transcript has the rest)
DESCRIBE_LIMIT = 20


def describe_events(events: list[ReceivedEvent]) -> str:
    """``'name' args, ...`` for a failure message; ``nothing`` for none."""
    if not events:
        return "nothing"
    text = ", ".join(f"{e['name']!r} {e['args']!r}" for e in events[:DESCRIBE_LIMIT])
    if len(events) > DESCRIBE_LIMIT:
        text += f", ... ({len(events) - DESCRIBE_LIMIT} more)"
    return text


class Inbox:
    """Received events per namespace, and the one place clients wait for anything.

    :param sleep: a cooperative sleep (``server.sleep``) when waiting must yield to an event
        loop instead of blocking the thread; None for real threads.
    """

    def __init__(self, sleep: Callable[[float], object] | None = None) -> None:
        self._queues: dict[str, deque[ReceivedEvent]] = {}
        self._cond = threading.Condition(threading.Lock())
        self._waiters = 0
        self._sleep = sleep

    # -- arrivals (any thread) ----------------------------------------------------------------

    def put(self, event: ReceivedEvent) -> None:
        """Queue one received event and wake a waiting reader."""
        queue = self._queues.get(event["namespace"])
        if queue is None:
            queue = self._queues.setdefault(event["namespace"], deque())
        queue.append(event)
        if self._waiters:
            self.wake()

    def wake(self) -> None:
        """Wake readers so they re-check (after an ack, a connect, a disconnect ...)."""
        if self._waiters:
            with self._cond:
                self._cond.notify_all()

    # -- waiting ------------------------------------------------------------------------------

    def wait(self, check: Callable[[], T], timeout: float) -> T:
        """Run ``check`` under the lock until it returns something other than ``MISSING``.

        Returns ``MISSING`` when ``timeout`` seconds pass first. ``check`` may pop from the
        queues: no other reader runs while it does.
        """
        deadline = time.monotonic() + timeout
        sleep = self._sleep
        while True:
            if sleep is not None:
                sleep(0)  # let started greenlets run before checking
            with self._cond:
                self._waiters += 1  # before checking, so an arrival after the check notifies
                try:
                    result = check()
                    if result is not MISSING:
                        return result
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return MISSING
                    if sleep is None:
                        self._cond.wait(min(remaining, 0.05))
                        continue
                finally:
                    self._waiters -= 1
            sleep(min(remaining, 0.005))

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` is true; False when ``timeout`` passed first."""
        return self.wait(lambda: True if predicate() else MISSING, timeout) is not MISSING

    # -- reading ------------------------------------------------------------------------------

    def take_all(self, namespace: str) -> list[ReceivedEvent]:
        """Remove and return every event queued for ``namespace``."""
        if self._sleep is not None:
            self._sleep(0)  # let started greenlets deliver before reading
        queue = self._queues.get(namespace)
        if not queue:
            return []
        taken = []
        with self._cond:  # one at a time: an append racing with the reads is never lost
            while queue:
                taken.append(queue.popleft())
        return taken

    def receive(self, namespace: str, timeout: float) -> ReceivedEvent:
        """Remove and return the next event of ``namespace``; ``ReceiveTimeoutError`` if none."""

        def next_event() -> ReceivedEvent:
            queue = self._queues.get(namespace)
            return queue.popleft() if queue else MISSING

        event = self.wait(next_event, timeout)
        if event is MISSING:
            raise ReceiveTimeoutError(namespace, timeout)
        return event

    def expect(self, event: str, namespace: str, timeout: float) -> ReceivedEvent:
        """Remove and return the first ``event`` of ``namespace``; earlier ones stay queued.

        Raises ``ExpectationError`` listing what arrived instead (with arguments).
        """

        def find() -> ReceivedEvent:
            queue = self._queues.get(namespace)
            if queue:
                for index, item in enumerate(queue):
                    if item["name"] == event:
                        del queue[index]
                        return item
            return MISSING

        found = self.wait(find, timeout)
        if found is MISSING:
            seen = self.peek(namespace)
            raise ExpectationError(
                f"expected {event!r} on {namespace} within {timeout} s; "
                f"received instead: {describe_events(seen)}{self._elsewhere(namespace)}",
                namespace,
                list(seen),
            )
        return found

    def assert_nothing(self, namespace: str, timeout: float) -> None:
        """Raise ``ExpectationError`` naming the events if any are queued within ``timeout``.

        Events already queued count too; they stay queued.
        """

        def any_event() -> list[ReceivedEvent]:
            queue = self._queues.get(namespace)
            return list(queue) if queue else MISSING

        seen = self.wait(any_event, timeout)
        if seen is not MISSING:
            raise ExpectationError(
                f"expected nothing on {namespace} within {timeout} s, "
                f"received {describe_events(seen)}",
                namespace,
                list(seen),
            )

    def clear(self) -> None:
        """Drop every queued event, in every namespace."""
        with self._cond:
            for queue in self._queues.values():
                queue.clear()

    def peek(self, namespace: str | None = None) -> list[ReceivedEvent]:
        """The events queued for ``namespace`` (every namespace when None), not removed."""
        with self._cond:
            if namespace is not None:
                return list(self._queues.get(namespace) or ())
            return [event for queue in self._queues.values() for event in queue]

    def _elsewhere(self, namespace: str) -> str:
        """A note on events queued in other namespaces (a wrong ``namespace=`` is common)."""
        with self._cond:
            others = {ns: len(q) for ns, q in self._queues.items() if ns != namespace and q}
        if not others:
            return ""
        counts = ", ".join(f"{count} on {ns}" for ns, count in others.items())
        return f" (queued in other namespaces: {counts})"

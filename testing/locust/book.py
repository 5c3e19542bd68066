"""Who should receive what: the delivery accounting of one Locust process.

Every stamped message a user sends to a room is expected at the members of that room (the users
whose join the server acknowledged); receipts, losses, misdeliveries and duplicates become Locust
request events of the ``recv`` row, so Locust's own statistics carry the delivery check (and
aggregate it over workers).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import gevent
from flask_socketio_testing.ledger import DeliveryLedger
from flask_socketio_testing.locust.options import option
from flask_socketio_testing.stamp import STAMP_KEY
from locust.env import Environment

__all__ = ["RECV", "SEND", "DeliveryBook", "LostDelivery", "Misdelivered", "DuplicateDelivery"]

#: request type of receipts (and of their failures) in Locust's statistics
RECV = "recv"
#: request type of stamped room messages (counted as sends whatever event they come back as)
SEND = "send"


class LostDelivery(Exception):
    """A member of the target room did not receive a message within the grace period."""


class Misdelivered(Exception):
    """A user received a message sent to a room it was not a member of."""


class DuplicateDelivery(Exception):
    """A user received the same message twice."""


class DeliveryBook:
    """Who should receive what, for the users of one Locust process.

    The bookkeeping is :class:`~flask_socketio_testing.ledger.DeliveryLedger`'s: one ledger per
    second of send time (an *epoch*), verified and dropped ``grace`` seconds after the epoch ends,
    so memory stays bounded however long the run. This book adds what a load run needs around
    it: room membership as the users see it (a member counts once the server acknowledged its
    join, and stops when its leave starts), excusing members that left or disconnected while a
    message was in flight, and tolerating receipts at a user whose membership changed around the
    send time (join/leave races are not bugs). Problems become Locust failures of the ``recv``
    row: ``LostDelivery``, ``Misdelivered``, ``DuplicateDelivery``.
    """

    #: seconds of send time per ledger
    EPOCH = 1.0

    def __init__(self, environment: Environment, grace: float = 5.0) -> None:
        self.environment = environment
        self.grace = grace
        self.members: dict[str, set[str]] = defaultdict(set)
        self.joining: set[tuple[str, str]] = set()
        self.leaving: set[tuple[str, str]] = set()
        self.changed: dict[tuple[str, str], float] = {}
        self.ledgers: dict[int, DeliveryLedger] = {}
        # msg_id -> (epoch, event, room, sent)
        self.messages: dict[str, tuple[int, str, str, float]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        #: users of this process connected right now
        self.connected = 0
        self._finalizer: gevent.Greenlet | None = None

    @classmethod
    def of(cls, environment: Environment) -> DeliveryBook:
        """The book shared by all users of ``environment`` (one per process)."""
        book = getattr(environment, "_sio_delivery_book", None)
        if book is None:
            book = cls(environment, float(option(environment, "delivery_grace", 5.0)))
            environment._sio_delivery_book = book  # type: ignore[attr-defined]
        return book

    # membership ---------------------------------------------------------------------------
    def join_started(self, uid: str, room: str) -> None:
        self.joining.add((room, uid))
        self.changed[(room, uid)] = time.time()

    def joined(self, uid: str, room: str, ok: bool = True) -> None:
        """The join of ``uid`` was acknowledged (``ok``) or failed."""
        if ok:
            self.members[room].add(uid)
        self.joining.discard((room, uid))
        self.leaving.discard((room, uid))
        self.changed[(room, uid)] = time.time()

    def leave_started(self, uid: str, room: str) -> None:
        self.leaving.add((room, uid))
        self.changed[(room, uid)] = time.time()

    def left(self, uid: str, room: str) -> None:
        self.members[room].discard(uid)
        self.leaving.discard((room, uid))
        self.changed[(room, uid)] = time.time()

    def gone(self, uid: str, rooms: Iterable[str]) -> None:
        """A user disconnected: it leaves all its rooms and owes nothing in flight."""
        for room in list(rooms):
            self.left(uid, room)

    def is_member(self, uid: str, room: str) -> bool:
        return uid in self.members.get(room, ())

    def _in_transit(self, uid: str, room: str, sent: float) -> bool:
        # a join or leave in flight, or any change after the send: neither a receipt nor a miss
        # says anything about the server
        key = (room, uid)
        if key in self.joining or key in self.leaving:
            return True
        changed = self.changed.get(key)
        return changed is not None and changed >= sent

    # messages -----------------------------------------------------------------------------
    def expect(self, stamp: dict[str, Any], event: str, room: str) -> int:
        """Register a stamped message sent to ``room``; returns how many recipients it expects."""
        members = self.members.get(room, set())
        expected = [uid for uid in members if (room, uid) not in self.leaving]
        epoch = int(float(stamp["sent"]) // self.EPOCH)
        ledger = self.ledgers.get(epoch)
        if ledger is None:
            ledger = self.ledgers[epoch] = DeliveryLedger()
        ledger.expect(stamp, expected)
        self.messages[str(stamp["id"])] = (epoch, event, room, float(stamp["sent"]))
        self.counts["messages"] += 1
        self._ensure_finalizer()
        return len(expected)

    def received(self, uid: str, stamp: dict[str, Any], room: str | None, now: float) -> str:
        """Record one receipt; returns ``tracked`` (checked when its epoch closes), ``foreign``
        (sent by another process or already closed) or ``misdelivered``."""
        known = self.messages.get(str(stamp["id"]))
        if known is not None:
            self.ledgers[known[0]].record_arrival(uid, {STAMP_KEY: stamp}, now)
            return "tracked"
        if (
            room is not None
            and not self.is_member(uid, room)
            and not self._in_transit(uid, room, float(stamp["sent"]))
        ):
            self.counts["misdelivered"] += 1
            return "misdelivered"
        return "foreign"

    # finalizing ---------------------------------------------------------------------------
    def _ensure_finalizer(self) -> None:
        if self._finalizer is None or self._finalizer.dead:
            self._finalizer = gevent.spawn(self._finalize_loop)

    def _finalize_loop(self) -> None:
        # bounded: ends once nothing is pending (restarted by the next expect())
        for _ in range(10_000_000):
            gevent.sleep(0.25)
            self.finalize(time.time() - self.grace)
            if not self.ledgers:
                return

    def finalize(self, sent_before: float) -> None:
        """Verify and drop the ledgers whose messages were all sent before ``sent_before``."""
        for epoch in sorted(self.ledgers):
            if (epoch + 1) * self.EPOCH > sent_before:
                break
            self._close(epoch)

    def _close(self, epoch: int) -> None:
        ledger = self.ledgers.pop(epoch)
        report = ledger.report()
        info = {}
        for mid in list(self.messages):
            if self.messages[mid][0] == epoch:
                info[mid] = self.messages.pop(mid)
        self.counts["expected"] += report.expected
        self.counts["delivered"] += report.delivered
        for uid, mid in report.missing:
            _e, event, room, sent = info[mid]
            if self._in_transit(uid, room, sent):
                self.counts["excused"] += 1
                continue
            self.counts["lost"] += 1
            self._fire_failure(event, LostDelivery(f"not delivered within {self.grace:g} s"))
        for uid, mid in report.misdelivered:
            _e, event, room, sent = info[mid]
            if self.is_member(uid, room) or self._in_transit(uid, room, sent):
                self.counts["tolerated"] += 1
                continue
            self.counts["misdelivered"] += 1
            self._fire_failure(
                event, Misdelivered(f"received a message for room {room!r} it is not in")
            )
        for _uid, mid, times in report.duplicated:
            self.counts["duplicates"] += times - 1
            self._fire_failure(info[mid][1], DuplicateDelivery("received the same message twice"))
        self.counts["out_of_order"] += len(report.out_of_order)

    def flush(self) -> None:
        """At the end of a run: verify what is older than the grace period, drop the rest
        (its recipients are stopping)."""
        self.finalize(time.time() - self.grace)
        self.ledgers.clear()
        self.messages.clear()
        if self._finalizer is not None:
            self._finalizer.kill(block=False)

    def _fire_failure(self, event: str, exc: Exception) -> None:
        self.environment.events.request.fire(
            request_type=RECV,
            name=event,
            response_time=None,
            response_length=0,
            exception=exc,
            context={},
        )

"""Who should receive what: the delivery accounting of one Locust process.

Every stamped message a user sends to a room is expected at the members of that room (the users
whose join the server acknowledged); receipts, losses, misdeliveries and duplicates become Locust
request events of the ``recv`` row, so Locust's own statistics carry the delivery check (and
aggregate it over workers).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
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
        #: set on a Locust worker (see :mod:`.distributed`): called with every message this
        #: process sends, so that the other workers expect it at their members too
        self.announce: Callable[[dict[str, Any]], None] | None = None
        #: receipts of messages not announced yet (workers only): msg_id -> receipts
        self.pending: dict[str, list[tuple[str, dict[str, Any], float]]] = {}
        #: draining at the end of a distributed run: new messages are neither expected nor checked
        self.closing = False
        #: every epoch before this one is verified
        self._closed_before = 0

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
        """Register a stamped message sent to ``room``; returns how many recipients it expects
        in this process."""
        if self.closing:
            return 0
        expected = self._register(stamp, event, room)
        if self.announce is not None:
            self.announce({"stamp": stamp, "event": event})
        return expected

    def announced(self, stamp: dict[str, Any], event: str) -> None:
        """Another worker sent this message: expect it at this process's members of its room
        (as they are now; members that changed since the send are excused or tolerated)."""
        mid = str(stamp["id"])
        room = stamp.get("room")
        self.counts["announced"] += 1
        if self.closing or mid in self.messages or room is None:
            self.counts["announcements_ignored"] += 1
            return
        if int(float(stamp["sent"]) // self.EPOCH) < self._closed_before:
            self.counts["late_announcements"] += 1  # its epoch was verified already
            self.pending.pop(mid, None)
            return
        self._register(stamp, event, str(room))
        for uid, pending_stamp, now in self.pending.pop(mid, ()):
            self.received(uid, pending_stamp, str(room), now)

    def _register(self, stamp: dict[str, Any], event: str, room: str) -> int:
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
        """Record one receipt; returns ``tracked`` (checked when its epoch closes), ``pending``
        (a worker waiting for the sender's announcement), ``foreign`` (sent by another process
        or already closed) or ``misdelivered``."""
        mid = str(stamp["id"])
        known = self.messages.get(mid)
        if known is not None:
            self.ledgers[known[0]].record_arrival(uid, {STAMP_KEY: stamp}, now)
            return "tracked"
        if self.closing:
            return "foreign"
        if self.announce is not None and int(float(stamp["sent"]) // self.EPOCH) >= (
            self._closed_before
        ):
            self.pending.setdefault(mid, []).append((uid, stamp, now))
            self._ensure_finalizer()
            return "pending"
        return self._check_foreign(uid, stamp, room)

    def _check_foreign(self, uid: str, stamp: dict[str, Any], room: str | None) -> str:
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
            if not self.ledgers and not self.pending:
                return

    def finalize(self, sent_before: float) -> None:
        """Verify and drop the ledgers whose messages were all sent before ``sent_before``."""
        for epoch in sorted(self.ledgers):
            if (epoch + 1) * self.EPOCH > sent_before:
                break
            self._close(epoch)
        self._closed_before = max(self._closed_before, int(sent_before // self.EPOCH))
        self._sweep_pending()

    def _sweep_pending(self) -> None:
        # receipts whose announcement never came in time: checked as foreign messages
        for mid in [
            m for m, got in self.pending.items() if self._epoch(got[0][1]) < (self._closed_before)
        ]:
            for uid, stamp, _now in self.pending.pop(mid):
                room = stamp.get("room")
                if self._check_foreign(uid, stamp, room) == "misdelivered":
                    self._fire_failure(
                        "?", Misdelivered(f"received a message for room {room!r} it is not in")
                    )

    def _epoch(self, stamp: dict[str, Any]) -> int:
        return int(float(stamp["sent"]) // self.EPOCH)

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
        self.pending.clear()
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

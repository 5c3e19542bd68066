"""The delivery ledger: what was sent to whom, what arrived where, when, and how often.

Senders stamp each payload (:mod:`flask_socketio_testing.stamp`) and name its expected recipients;
receivers record every stamped arrival with its receive time. :meth:`DeliveryLedger.verify` then
tells, per message and per recipient, what is missing, duplicated, misdelivered or out of order, and
the latency percentiles (receive time minus send time, both ``time.time()``).

The core needs no clients: recipients are plain string ids, and
:meth:`DeliveryLedger.record_arrival` takes ``(client_id, payload, receive_time)``, so a Locust
user or any other receiver can feed it.
:meth:`DeliveryLedger.attach` is the convenience that hooks test clients (anything with
``on(event, handler)``) for you. Thread- and greenlet-safe.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .delivery_report import DeliveryReport
from .delivery_report import percentile as _percentile
from .stamp import find_stamp, stamp_payload

__all__ = ["DeliveryLedger", "DeliveryReport"]


@dataclass
class _Message:
    msg_id: str
    sender: str | None
    seq: int
    sent: float
    recipients: frozenset[str]
    index: int


class DeliveryLedger:
    """Records stamped messages with their expected recipients, and every arrival.

    Typical use with test clients::

        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        ledger.expect_room("lobby", swarm.clients[:200])
        sender.emit("broadcast", ledger.stamp({"text": "hi"}, recipients="lobby"))
        report = ledger.verify(timeout=5)
        assert report.ok, str(report)
    """

    def __init__(self) -> None:
        self._lock = threading.Condition(threading.Lock())
        self._prefix = uuid.uuid4().hex[:8]
        self._counter = itertools.count()
        self._seqs: dict[str | None, int] = {}
        self._messages: dict[str, _Message] = {}
        self._order: list[str] = []
        self._rooms: dict[str, frozenset[str]] = {}
        self._attached: set[str] = set()
        self._ids: dict[int, tuple[Any, str]] = {}
        self._taken: set[str] = set()
        # (msg_id, client_id) -> receive times; every stamped arrival, expected or not
        # (msg_id, client_id) -> first receive time, and how many more times it came (floats
        # and ints: nothing per delivery for the garbage collector to track)
        self._arrivals: dict[tuple[str, str], float] = {}
        self._repeats: dict[tuple[str, str], int] = {}
        self._last_seq: dict[tuple[str, str | None], int] = {}
        self._out_of_order: list[tuple[str, str | None, str]] = []
        # msg_id -> expected recipients not yet reached; index of each incomplete message
        self._pending: dict[str, int] = {}
        self._incomplete: set[int] = set()
        self._last_arrival: float | None = None

    # -- identities -------------------------------------------------------------------------

    def client_id(self, client: Any) -> str:
        """The string id the ledger uses for ``client`` (a string is its own id).

        Other objects get their ``name`` attribute if it is a string (made unique with a
        ``-<n>`` suffix when another client has it), else ``client-<n>``, and keep that id for
        the ledger's lifetime.
        """
        if isinstance(client, str):
            return client
        with self._lock:
            entry = self._ids.get(id(client))
            if entry is None:
                name = getattr(client, "name", None)
                cid = name if isinstance(name, str) and name else "client"
                if cid in self._taken:  # e.g. several clients with a default name
                    cid = f"{cid}-{len(self._ids)}"
                self._taken.add(cid)
                entry = (client, cid)  # keep a reference so id() is never reused
                self._ids[id(client)] = entry
            return entry[1]

    def _resolve(self, recipients: Any) -> frozenset[str]:
        if recipients is None:
            with self._lock:
                return frozenset(self._attached)
        if isinstance(recipients, str):
            with self._lock:
                room = self._rooms.get(recipients)
            if room is None:
                raise KeyError(
                    f"unknown room {recipients!r}: call "
                    f"ledger.expect_room({recipients!r}, clients) first, or pass the recipients"
                )
            return room
        return frozenset(self.client_id(c) for c in recipients)

    def expect_room(self, room: str, clients: Iterable[Any]) -> None:
        """Declare the members of ``room`` so that ``stamp(..., recipients=room)`` resolves."""
        members = frozenset(self.client_id(c) for c in clients)
        with self._lock:
            self._rooms[room] = members

    # -- sending ----------------------------------------------------------------------------

    def stamp(
        self, payload: Any = None, *, sender: Any = None, recipients: Any = None
    ) -> dict[str, Any]:
        """Stamp ``payload`` and record who should receive it; returns the payload to emit.

        ``recipients`` is a list of clients (or ids), a room name declared with
        :meth:`expect_room`, or ``None`` for every client attached so far. ``sender`` (a client,
        an id or ``None`` for the server) orders messages: each sender's messages get increasing
        sequence numbers, and arrivals are checked against that order.
        """
        members = self._resolve(recipients)
        sender_id = None if sender is None else self.client_id(sender)
        with self._lock:
            seq = self._seqs.get(sender_id, 0)
            self._seqs[sender_id] = seq + 1
            msg_id = f"{self._prefix}-{next(self._counter)}"
        stamped = stamp_payload(payload, msg_id=msg_id, sender=sender_id, seq=seq)
        self.expect(stamped["_ledger"], members)
        return stamped

    def expect(self, stamp: dict[str, Any], recipients: Iterable[Any]) -> None:
        """Record a message stamped elsewhere (its stamp dict) and its expected recipients."""
        members = self._resolve(recipients)
        msg_id = str(stamp["id"])
        with self._lock:
            if msg_id in self._messages:
                raise ValueError(f"message {msg_id!r} is already recorded")
            self._messages[msg_id] = _Message(
                msg_id,
                stamp.get("sender"),
                int(stamp.get("seq", 0)),
                float(stamp["sent"]),
                members,
                len(self._order),
            )
            self._order.append(msg_id)
            left = sum(1 for c in members if (msg_id, c) not in self._arrivals)
            self._pending[msg_id] = left
            if left:
                self._incomplete.add(len(self._order) - 1)

    def mark(self) -> int:
        """A checkpoint: pass it as ``verify(since=...)`` to check only messages stamped later."""
        with self._lock:
            return len(self._order)

    # -- receiving --------------------------------------------------------------------------

    def record_arrival(
        self, client_id: Any, payload: Any, receive_time: float | None = None
    ) -> dict[str, Any] | None:
        """Record that ``client_id`` received ``payload``; returns its stamp (None if unstamped).

        ``receive_time`` defaults to ``time.time()`` now. The stamp may sit anywhere in the payload
        (:func:`~flask_socketio_testing.stamp.find_stamp`); unstamped payloads are ignored.
        """
        now = time.time() if receive_time is None else receive_time
        stamp = find_stamp(payload)
        if stamp is None:
            return None
        self.record_stamp(client_id, stamp, now)
        return stamp

    def record_stamp(self, client_id: Any, stamp: dict[str, Any], receive_time: float) -> None:
        """Record that ``client_id`` received the message with ``stamp`` at ``receive_time``.

        :meth:`record_arrival` without the search for the stamp: for receivers that found it
        already (clients with ``on_stamp``, worker processes reporting to their parent).
        """
        now = receive_time
        cid = self.client_id(client_id)
        msg_id = str(stamp["id"])
        sender = stamp.get("sender")
        seq = int(stamp.get("seq", 0))
        with self._lock:
            pair = (msg_id, cid)
            first = pair not in self._arrivals
            if first:
                self._arrivals[pair] = now
            else:
                self._repeats[pair] = self._repeats.get(pair, 0) + 1
            if self._last_arrival is None or now > self._last_arrival:
                self._last_arrival = now
            msg = self._messages.get(msg_id)
            if first and msg is not None and cid in msg.recipients:
                self._pending[msg_id] -= 1
                if self._pending[msg_id] == 0:
                    self._incomplete.discard(msg.index)
                    self._lock.notify_all()
            key = (cid, sender)
            last = self._last_seq.get(key)
            if last is not None and seq < last:
                self._out_of_order.append((cid, sender, msg_id))
            elif last is None or seq > last:
                self._last_seq[key] = seq

    def attach(self, clients: Iterable[Any], event: str, namespace: str | None = None) -> None:
        """Record every arrival of ``event`` at each client, with its receive time.

        A client is anything with ``on(event, handler)`` (the in-process test client and the
        network :class:`~flask_socketio_testing.Client`); a client with
        ``on_stamp(event, fn(stamp, receive_time))`` (light swarm clients, clients in worker
        processes) hands over only the stamp and its own receive time. Attached clients are the
        default recipients of :meth:`stamp`.
        """
        for client in clients:
            cid = self.client_id(client)
            on = getattr(client, "on", None)
            if on is None:
                raise TypeError(
                    f"{client!r} has no on(event, handler); record its arrivals with "
                    "ledger.record_arrival(client_id, payload) instead"
                )

            on_stamp = getattr(client, "on_stamp", None)
            if on_stamp is not None:  # the client finds the stamp and times the arrival itself
                on_stamp(event, partial(self.record_stamp, cid), namespace=namespace)
                with self._lock:
                    self._attached.add(cid)
                continue

            def handler(*args: Any, _cid: str = cid) -> None:
                self.record_arrival(_cid, list(args), time.time())

            if namespace is None:
                on(event, handler)
            else:
                on(event, handler, namespace=namespace)
            with self._lock:
                self._attached.add(cid)

    # -- checking ---------------------------------------------------------------------------

    def wait(self, timeout: float = 5.0, *, since: int = 0) -> bool:
        """Wait until every expected (message, recipient) pair arrived; False on timeout.

        ``since`` (from :meth:`mark`) waits only for messages stamped after that checkpoint.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while self._incomplete and max(self._incomplete) >= since:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))
            return True

    def verify(
        self, timeout: float = 5.0, *, since: int = 0, settle: float = 0.1
    ) -> DeliveryReport:
        """Wait up to ``timeout`` s for all expected arrivals, then report.

        After everything expected arrived, waits ``settle`` s more so that duplicates and
        misdeliveries have a chance to show. ``since`` (from :meth:`mark`) limits the report to
        messages stamped after that checkpoint.
        """
        start = time.monotonic()
        if self.wait(timeout, since=since) and settle > 0:
            time.sleep(settle)
        return self.report(since=since, waited=time.monotonic() - start)

    def report(self, *, since: int = 0, waited: float = 0.0) -> DeliveryReport:
        """The report for what was recorded so far, without waiting."""
        with self._lock:
            ids = self._order[since:]
            chosen = set(ids)
            expected = delivered = 0
            missing: list[tuple[str, str]] = []
            latencies: list[float] = []
            for msg_id in ids:
                msg = self._messages[msg_id]
                for cid in sorted(msg.recipients):
                    expected += 1
                    first = self._arrivals.get((msg_id, cid))
                    if first is not None:
                        delivered += 1
                        latencies.append(first - msg.sent)
                    else:
                        missing.append((cid, msg_id))
            duplicated: list[tuple[str, str, int]] = []
            misdelivered: list[tuple[str, str]] = []
            for msg_id, cid in self._arrivals:
                if msg_id not in chosen:
                    continue
                if cid not in self._messages[msg_id].recipients:
                    misdelivered.append((cid, msg_id))
            for (msg_id, cid), more in self._repeats.items():
                if msg_id in chosen:
                    duplicated.append((cid, msg_id, 1 + more))
            out_of_order = [x for x in self._out_of_order if x[2] in chosen]
        latencies.sort()
        return DeliveryReport(
            messages=len(ids),
            expected=expected,
            delivered=delivered,
            missing=missing,
            duplicated=sorted(duplicated),
            misdelivered=sorted(misdelivered),
            out_of_order=out_of_order,
            p50=_percentile(latencies, 50),
            p95=_percentile(latencies, 95),
            p99=_percentile(latencies, 99),
            max=latencies[-1] if latencies else None,
            waited=waited,
            min=latencies[0] if latencies else None,
        )

    def last_arrival(self) -> float | None:
        """The latest receive time recorded (``time.time()``), or None before any arrival."""
        with self._lock:
            return self._last_arrival

    # -- helpers for reconnection reports ---------------------------------------------------

    def missing_between(self, client_id: Any, start: float, end: float) -> list[str]:
        """Ids of messages expected at ``client_id``, sent in ``[start, end]``, not received."""
        cid = self.client_id(client_id)
        with self._lock:
            return [
                m
                for m in self._order
                if start <= self._messages[m].sent <= end
                and cid in self._messages[m].recipients
                and (m, cid) not in self._arrivals
            ]

    def clear(self) -> None:
        """Forget all messages and arrivals (rooms, attachments and client ids stay)."""
        with self._lock:
            self._messages.clear()
            self._order.clear()
            self._arrivals.clear()
            self._repeats.clear()
            self._last_seq.clear()
            self._out_of_order.clear()
            self._seqs.clear()
            self._pending.clear()
            self._incomplete.clear()
            self._last_arrival = None
            self._lock.notify_all()

    @property
    def unknown(self) -> int:
        """Stamped arrivals of messages this ledger never stamped nor was told to expect."""
        with self._lock:
            return sum(
                1 + self._repeats.get(pair, 0)
                for pair in self._arrivals
                if pair[0] not in self._messages
            )

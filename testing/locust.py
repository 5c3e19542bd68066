"""A Locust ``User`` for Socket.IO that measures what receivers feel.

Locust's own ``locust.contrib.socketio.SocketIOUser`` records every server push at 0 ms and counts
each ``call()`` twice. This user instead reports, to Locust's statistics:

* ``connect`` — the Socket.IO connect time;
* ``emit <event>`` — the time to hand an event to the transport;
* ``call <event>`` — the emit → ack round trip, counted once;
* ``recv <event>`` — for every received payload carrying a delivery stamp
  (:mod:`flask_socketio_testing.stamp`), the receiver-side latency ``now - stamp["sent"]``.
  Deliveries that never arrive (``LostDelivery``), arrive at a user that is not a member of the
  target room (``Misdelivered``) or arrive twice (``DuplicateDelivery``) are logged as failures
  of the same row with no response time, so the row's failure ratio is the delivery loss.

The bookkeeping is :class:`~flask_socketio_testing.ledger.DeliveryLedger`'s (one per second of
send time, see :class:`DeliveryBook`). Delivered / expected is counted per Locust process: every
message sent to a room with
:meth:`SocketIOUser.send_to_room` expects the members of that room *in this process* (the users
whose join the server has acknowledged). A process sees receives of messages sent by other
processes too; those are checked for misdelivery (the payload names its room) and timed, but
their completeness is checked by the sender's process only. A single Locust process (the default,
and what the capacity runs use) therefore checks every delivery.

Headless runs exit with code 1 when the receive-latency SLO (``--slo-p99-ms``) or the delivery
check (``--slo-delivered``, and never a misdelivered message) fails.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import engineio
import gevent
import socketio
from flask_socketio_testing.ledger import DeliveryLedger
from flask_socketio_testing.stamp import STAMP_KEY, read_stamp, stamp_payload
from locust import User, events
from locust.env import Environment
from locust.stats import RequestStats, StatsError, calculate_response_time_percentile

__all__ = [
    "SocketIOUser",
    "DeliveryBook",
    "LostDelivery",
    "Misdelivered",
    "DuplicateDelivery",
    "SLOResult",
    "evaluate_slo",
    "receive_latency_entries",
    "stats_snapshot",
    "diff_snapshots",
    "run_check",
    "option",
    "read_server_file",
    "target_hosts",
]

logger = logging.getLogger("flask_socketio_testing.locust")

RECV = "recv"


class LostDelivery(Exception):
    """A member of the target room did not receive a message within the grace period."""


class Misdelivered(Exception):
    """A user received a message sent to a room it was not a member of."""


class DuplicateDelivery(Exception):
    """A user received the same message twice."""


# ---------------------------------------------------------------------------------------------
# command line options (registered when a locustfile imports this module)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("Socket.IO (flask_socketio_testing.locust)")
    group.add_argument(
        "--sio-hosts",
        default="",
        help="Comma-separated server URLs; users are spread over them (overrides --host).",
    )
    group.add_argument(
        "--sio-server-file",
        default="",
        help="JSON file written by load/_server.py --ready-file: server URLs and pids "
        "(used for --sio-hosts and for sampling server CPU in capacity runs).",
    )
    group.add_argument(
        "--sio-transport",
        choices=["websocket", "polling"],
        default="websocket",
        help="Engine.IO transport the users connect with.",
    )
    group.add_argument(
        "--slo-p99-ms",
        type=float,
        default=250.0,
        help="SLO: p99 receive latency in ms (default 250).",
    )
    group.add_argument(
        "--slo-delivered",
        type=float,
        default=0.999,
        help="SLO: minimum delivered / expected ratio (default 0.999).",
    )
    group.add_argument(
        "--delivery-grace",
        type=float,
        default=5.0,
        help="Seconds a room member has to receive a message before it counts as lost.",
    )


def option(environment: Environment | None, name: str, default: Any) -> Any:
    """A parsed command line option of ``environment``, or ``default`` (also as a library)."""
    opts = getattr(environment, "parsed_options", None)
    value = getattr(opts, name, None) if opts is not None else None
    return default if value is None else value


def read_server_file(path: str) -> dict[str, Any]:
    """Read the JSON that ``load/_server.py --ready-file`` writes (``urls``, ``pids``, ...)."""
    import json

    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def target_hosts(environment: Environment, fallback: str | None) -> list[str]:
    """The server URLs users connect to: --sio-hosts, else --sio-server-file, else --host."""
    hosts = [h.strip() for h in str(option(environment, "sio_hosts", "")).split(",") if h.strip()]
    server_file = option(environment, "sio_server_file", "")
    if not hosts and server_file:
        hosts = list(read_server_file(server_file).get("urls", []))
    if not hosts and fallback:
        hosts = [fallback]
    if not hosts:
        raise ValueError("no Socket.IO server: pass --host, --sio-hosts or --sio-server-file")
    return hosts


# ---------------------------------------------------------------------------------------------
# per-process delivery accounting


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


# ---------------------------------------------------------------------------------------------
# the user


_user_counter = itertools.count()


class _InlineEngineIOClient(engineio.Client):
    """Handles each received message on the reader greenlet instead of a new thread per message.

    python-engineio starts a thread (a greenlet under gevent) for every message; doing it inline
    halves the load generator's CPU per delivery (measured: 125 -> 66 us) and times the receipt
    where it happened. Handlers must therefore not block (no ``call()`` inside ``on_event``).
    """

    #: bytes read per socket read on the WebSocket (see _connect_websocket)
    READ_CHUNK = 8192

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)

    def _connect_websocket(self, *args: Any, **kwargs: Any) -> Any:
        # websocket-client reads each frame with 2-4 exact-size socket reads (header, length,
        # payload); its frame buffer keeps any surplus, so reading whole chunks saves most of
        # those reads (each a gevent wait with a timeout) when frames queue up under load
        ok = super()._connect_websocket(*args, **kwargs)
        ws = getattr(self, "ws", None)
        buffer = getattr(ws, "frame_buffer", None)
        raw = getattr(ws, "_recv", None)
        if ok and buffer is not None and raw is not None:
            buffer.recv = lambda _size, _raw=raw, _n=self.READ_CHUNK: _raw(_n)
        return ok


class _Client(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InlineEngineIOClient


class SocketIOUser(User):
    """A Locust user holding one python-socketio ``Client`` connection.

    Connects in ``on_start`` and disconnects in ``on_stop``. Subclasses set ``namespace``,
    ``auth``, ``headers`` or ``transports`` and write tasks with :meth:`emit`, :meth:`call`,
    :meth:`join`, :meth:`leave` and :meth:`send_to_room`; override :meth:`on_event` to act on
    received events (measurement already happened when it is called). Received events are
    handled on the connection's reader greenlet, so ``on_event`` must not block: spawn a
    greenlet for anything that waits (a ``call()``, a sleep).
    """

    abstract = True

    #: Socket.IO namespace to connect to.
    namespace: str = "/"
    #: ``auth`` payload of the connect packet.
    auth: Any = None
    #: extra HTTP headers of the handshake.
    headers: dict[str, str] | None = None
    #: Engine.IO transports; ``None`` follows ``--sio-transport`` (websocket by default).
    transports: list[str] | None = None
    #: server path of the Socket.IO endpoint.
    socketio_path: str = "socket.io"
    #: seconds to wait for the connection and for acks.
    timeout: float = 10.0
    #: server events that join / leave a room and ack once done (see load/_app.py).
    join_event: str = "join"
    leave_event: str = "leave"

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.index = next(_user_counter)
        self.user_id = f"{os.getpid()}-{self.index}"
        self.client: socketio.Client | None = None
        self.rooms: set[str] = set()
        self.book = DeliveryBook.of(environment)
        self._seq = itertools.count()
        self._closing = False
        self._counted = False

    # connection ---------------------------------------------------------------------------
    def on_start(self) -> None:
        self.connect()

    def on_stop(self) -> None:
        self.disconnect()

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def connect(self) -> bool:
        """Open the connection (reported as ``connect``); returns whether it succeeded."""
        hosts = target_hosts(self.environment, self.host)
        url = hosts[self.index % len(hosts)]
        transports = self.transports or [
            str(option(self.environment, "sio_transport", "websocket"))
        ]
        # websocket-client checks UTF-8 of every text frame in pure Python (half the load
        # generator's CPU); the frame is decoded as UTF-8 anyway, which still rejects bad data
        client = _Client(reconnection=False, websocket_extra_options={"skip_utf8_validation": True})
        client.on("*", self._on_any, namespace=self.namespace)
        client.on("disconnect", self._on_disconnect, namespace=self.namespace)
        self._closing = False
        start = time.perf_counter()
        exc: Exception | None = None
        try:
            client.connect(
                url,
                headers=self.headers or {},
                auth=self.auth,
                transports=transports,
                namespaces=[self.namespace],
                socketio_path=self.socketio_path,
                wait_timeout=self.timeout,
            )
        except Exception as e:  # noqa: BLE001 - every failure is a failed connect
            exc = e
        self._fire("connect", self.namespace, start, exc)
        if exc is None:
            self.client = client
            self.book.connected += 1
            self._counted = True
            return True
        try:
            client.disconnect()
        except Exception:  # noqa: BLE001
            pass
        return False

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.book.connected -= 1

    def disconnect(self) -> None:
        """Close the connection; pending deliveries to this user are excused."""
        self._closing = True
        self._uncount()
        self.book.gone(self.user_id, self.rooms)
        self.rooms.clear()
        client, self.client = self.client, None
        if client is not None:
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001
                logger.debug("disconnect failed", exc_info=True)

    def _on_disconnect(self, reason: Any = None) -> None:
        self._uncount()
        self.book.gone(self.user_id, self.rooms)
        self.rooms.clear()
        if not self._closing:
            self.environment.events.request.fire(
                request_type="disconnect",
                name=self.namespace,
                response_time=None,
                response_length=0,
                exception=ConnectionError(f"server closed the connection ({reason})"),
                context={},
            )

    # sending ------------------------------------------------------------------------------
    def emit(self, event: str, *args: Any, name: str | None = None) -> None:
        """Emit an event (reported as ``emit <name or event>``)."""
        start = time.perf_counter()
        exc: Exception | None = None
        try:
            self._require_client().emit(event, _data(args), namespace=self.namespace)
        except Exception as e:  # noqa: BLE001
            exc = e
        self._fire("emit", name or event, start, exc)

    def call(
        self, event: str, *args: Any, name: str | None = None, timeout: float | None = None
    ) -> Any:
        """Emit an event and wait for its ack (reported once as ``call <name or event>``).

        Returns the ack's data, or ``None`` when the call failed (the failure is reported).
        """
        start = time.perf_counter()
        exc: Exception | None = None
        result: Any = None
        try:
            result = self._require_client().call(
                event, _data(args), namespace=self.namespace, timeout=timeout or self.timeout
            )
        except Exception as e:  # noqa: BLE001
            exc = e
        self._fire("call", name or event, start, exc)
        return result

    def join(self, room: str) -> bool:
        """Ask the server to put this user in ``room``; membership counts once acknowledged."""
        self.book.join_started(self.user_id, room)
        ok = self.call(self.join_event, room) is not None and self.connected
        if ok:
            self.rooms.add(room)
        self.book.joined(self.user_id, room, ok)
        return ok

    def leave(self, room: str) -> bool:
        """Ask the server to take this user out of ``room``."""
        self.book.leave_started(self.user_id, room)
        self.rooms.discard(room)
        ok = self.call(self.leave_event, room) is not None
        self.book.left(self.user_id, room)
        return ok

    def send_to_room(
        self, event: str, room: str, payload: dict[str, Any] | None = None, *, ack: bool = True
    ) -> int:
        """Send a stamped message that the server relays to ``room`` (as ``event``).

        The payload gets ``room`` and a delivery stamp; the members of ``room`` in this process
        are expected to receive it. Returns the number of expected recipients.
        """
        seq = next(self._seq)
        msg_id = f"{self.user_id}:{seq}"
        body = dict(payload or {})
        body["room"] = room
        stamped = stamp_payload(body, msg_id=msg_id, sender=self.user_id, seq=seq)
        expected = self.book.expect(stamped[STAMP_KEY], event, room)
        if ack:
            self.call(event, stamped)
        else:
            self.emit(event, stamped)
        return expected

    # receiving ----------------------------------------------------------------------------
    def _on_any(self, event: str, *args: Any) -> None:
        now = time.time()
        stamp = read_stamp(args[0] if len(args) == 1 else list(args))
        if stamp is not None:
            payload = args[0] if args and isinstance(args[0], dict) else {}
            room = payload.get("room")
            verdict = self.book.received(self.user_id, stamp, room, now)
            misdelivered = verdict == "misdelivered"
            self.environment.events.request.fire(
                request_type=RECV,
                name=event,
                response_time=None if misdelivered else max(0.0, (now - stamp["sent"]) * 1000),
                response_length=0,
                exception=Misdelivered(f"received a message for room {room!r} it is not in")
                if misdelivered
                else None,
                context={},
            )
        try:
            self.on_event(event, *args)
        except Exception:  # noqa: BLE001
            logger.exception("on_event(%r) failed", event)

    def on_event(self, event: str, *args: Any) -> None:
        """Called for every received event after it was measured. Override as needed."""

    # helpers ------------------------------------------------------------------------------
    def _require_client(self) -> socketio.Client:
        if self.client is None:
            raise ConnectionError("not connected")
        return self.client

    def _fire(self, kind: str, name: str, start: float, exc: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=(time.perf_counter() - start) * 1000.0,
            response_length=0,
            exception=exc,
            context={},
        )


def _data(args: tuple[Any, ...]) -> Any:
    # python-socketio takes one data argument; several go as a tuple
    if not args:
        return None
    return args[0] if len(args) == 1 else tuple(args)


# ---------------------------------------------------------------------------------------------
# SLO and delivery check


def receive_latency_entries(stats: RequestStats) -> list[Any]:
    """The ``recv`` rows of Locust's statistics."""
    return [entry for (name, method), entry in stats.entries.items() if method == RECV]


def _count_errors(stats: RequestStats, marker: str) -> int:
    return sum(
        err.occurrences
        for err in stats.errors.values()
        if err.method == RECV and marker in StatsError.parse_error(err.error)
    )


@dataclass
class SLOResult:
    """Outcome of the receive-latency and delivery check over a run (or one step)."""

    received: int
    lost: int
    misdelivered: int
    duplicates: int
    p50_ms: float | None
    p99_ms: float | None
    delivered_ratio: float | None
    slo_p99_ms: float
    slo_delivered: float

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[str]:
        out = []
        if self.misdelivered:
            out.append(f"{self.misdelivered} misdelivered message(s)")
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate deliveries")
        if self.delivered_ratio is not None and self.delivered_ratio < self.slo_delivered:
            out.append(
                f"delivered {self.delivered_ratio:.5f} < {self.slo_delivered} "
                f"({self.lost} lost of {self.received + self.lost})"
            )
        if self.p99_ms is not None and self.p99_ms > self.slo_p99_ms:
            out.append(f"p99 receive latency {self.p99_ms:.0f} ms > {self.slo_p99_ms:g} ms")
        return out


def evaluate_slo(
    response_times: dict[int, int],
    received: int,
    lost: int,
    misdelivered: int,
    duplicates: int,
    slo_p99_ms: float,
    slo_delivered: float,
) -> SLOResult:
    """Build an :class:`SLOResult` from a receive-latency histogram and delivery counts."""
    total = sum(response_times.values())
    p50 = p99 = None
    if total:
        p50 = float(calculate_response_time_percentile(response_times, total, 0.5))
        p99 = float(calculate_response_time_percentile(response_times, total, 0.99))
    ratio = received / (received + lost) if (received + lost) else None
    return SLOResult(
        received, lost, misdelivered, duplicates, p50, p99, ratio, slo_p99_ms, slo_delivered
    )


def stats_snapshot(stats: RequestStats) -> dict[str, Any]:
    """Cumulative receive figures of ``stats`` (diff two snapshots for one step)."""
    hist: dict[int, int] = defaultdict(int)
    ok = 0
    for entry in receive_latency_entries(stats):
        for rt, n in entry.response_times.items():
            hist[rt] += n
        ok += entry.num_requests - entry.num_failures
    recv_names = {n for (n, m) in stats.entries if m == RECV}
    sends = sum(  # messages sent: emits/calls of the events that are also received
        e.num_requests
        for (n, m), e in stats.entries.items()
        if m in ("emit", "call") and n in recv_names
    )
    other_failures = sum(e.num_failures for (_n, m), e in stats.entries.items() if m != RECV)
    return {
        "hist": dict(hist),
        "received": ok,
        "lost": _count_errors(stats, "LostDelivery"),
        "misdelivered": _count_errors(stats, "Misdelivered"),
        "duplicates": _count_errors(stats, "DuplicateDelivery"),
        "sends": sends,
        "other_failures": other_failures,
        "time": time.time(),
    }


def diff_snapshots(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``b - a`` of two :func:`stats_snapshot` results."""
    hist = {k: v - a["hist"].get(k, 0) for k, v in b["hist"].items()}
    keys = ("received", "lost", "misdelivered", "duplicates", "sends", "other_failures")
    out = {k: b[k] - a[k] for k in keys}
    out["hist"] = {k: v for k, v in hist.items() if v > 0}
    out["seconds"] = b["time"] - a["time"]
    return out


def run_check(environment: Environment) -> SLOResult:
    """The SLO and delivery check over the whole run, from Locust's (aggregated) statistics."""
    snap = stats_snapshot(environment.stats)
    return evaluate_slo(
        snap["hist"],
        snap["received"],
        snap["lost"],
        snap["misdelivered"],
        snap["duplicates"],
        float(option(environment, "slo_p99_ms", 250.0)),
        float(option(environment, "slo_delivered", 0.999)),
    )


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_kw: Any) -> None:
    from locust.runners import WorkerRunner

    book = getattr(environment, "_sio_delivery_book", None)
    if book is not None:
        book.flush()
    if isinstance(environment.runner, WorkerRunner):
        return  # the master checks the aggregated statistics
    shape = environment.shape_class
    if shape is not None and getattr(shape, "capacity_run", False):
        return  # the capacity shape reports and sets the exit code itself
    result = run_check(environment)
    if not receive_latency_entries(environment.stats):
        return
    if result.ok:
        logger.info(
            "Socket.IO check passed: %d delivered, p99 %s ms, delivered ratio %s",
            result.received,
            result.p99_ms,
            result.delivered_ratio,
        )
    else:
        logger.error("Socket.IO check FAILED: %s", "; ".join(result.problems))
        environment.process_exit_code = 1

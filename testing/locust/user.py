"""The Locust ``User`` for Socket.IO: connect, join, send stamped messages, time receipts.

It reports to Locust's statistics:

* ``connect <namespace>`` — the Socket.IO connect time (a refused connect fails with the
  server's reason);
* ``emit <event>`` / ``call <event>`` — handing an event to the transport / the emit → ack round
  trip, counted once;
* ``send <event>`` — a stamped message to a room (:meth:`SocketIOUser.send_to_room`), the
  round trip when acked;
* ``recv <event>`` — for every received payload carrying a delivery stamp, wherever the app
  nested it, the receiver-side latency ``now - stamp["sent"]``; lost, misdelivered and
  duplicated deliveries are failures of the same row (see :mod:`.book`).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import socketio
from flask_socketio_testing.locust.book import RECV, SEND, DeliveryBook, Misdelivered
from flask_socketio_testing.locust.options import option, target_hosts
from flask_socketio_testing.locust.session import open_connection
from flask_socketio_testing.stamp import STAMP_KEY, find_stamp, stamp_payload
from locust import User
from locust.env import Environment

__all__ = ["SocketIOUser"]

logger = logging.getLogger("flask_socketio_testing.locust")

_user_counter = itertools.count()


class SocketIOUser(User):
    """A Locust user holding one python-socketio ``Client`` connection.

    Connects in ``on_start`` and disconnects in ``on_stop``. Subclasses describe their app's
    protocol with ``namespace``, ``auth`` (or :meth:`connect_auth`), ``headers``,
    ``transports``, ``join_event`` / ``leave_event`` with :meth:`join_args` and
    :meth:`join_acked`, and write tasks with :meth:`emit`, :meth:`call`, :meth:`join`,
    :meth:`leave` and :meth:`send_to_room`; override :meth:`on_event` to act on received events
    (measurement already happened when it is called). Received events are handled on the
    connection's reader greenlet, so ``on_event`` must not block: spawn a greenlet for anything
    that waits (a ``call()``, a sleep).
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
    #: server events that join / leave a room and ack once done (see :meth:`join_args`).
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

    def connect_auth(self) -> Any:
        """The ``auth`` payload of this user's connect (default: :attr:`auth`). Override for
        per-user credentials."""
        return self.auth

    def connect(self) -> bool:
        """Open the connection (reported as ``connect``); returns whether it succeeded."""
        hosts = target_hosts(self.environment, self.host)
        url = hosts[self.index % len(hosts)]
        transports = self.transports or [
            str(option(self.environment, "sio_transport", "websocket"))
        ]
        self._closing = False
        start = time.perf_counter()
        exc: Exception | None = None
        client: socketio.Client | None = None
        try:
            client = open_connection(
                url,
                namespace=self.namespace,
                auth=self.connect_auth(),
                headers=self.headers or {},
                transports=transports,
                socketio_path=self.socketio_path,
                timeout=self.timeout,
                on_any=self.receive,
                on_disconnect=self._on_disconnect,
            )
        except Exception as e:  # noqa: BLE001 - every failure is a failed connect
            exc = e
        self._fire("connect", self.namespace, start, exc)
        if client is None:
            return False
        self.client = client
        self.book.connected += 1
        self._counted = True
        return True

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

    def join_args(self, room: str) -> tuple[Any, ...]:
        """The arguments of :attr:`join_event` (and :attr:`leave_event`) for ``room``."""
        return (room,)

    def join_acked(self, ack: Any) -> bool:
        """Whether the ack of a join (or leave) says it took effect (default: any ack but
        ``None`` or ``False``)."""
        return ack is not None and ack is not False

    def join(self, room: str) -> bool:
        """Ask the server to put this user in ``room``; membership counts once acknowledged."""
        self.book.join_started(self.user_id, room)
        ack = self.call(self.join_event, *self.join_args(room))
        ok = self.join_acked(ack) and self.connected
        if ok:
            self.rooms.add(room)
        self.book.joined(self.user_id, room, ok)
        return ok

    def leave(self, room: str) -> bool:
        """Ask the server to take this user out of ``room``."""
        self.book.leave_started(self.user_id, room)
        self.rooms.discard(room)
        ok = self.join_acked(self.call(self.leave_event, *self.join_args(room)))
        self.book.left(self.user_id, room)
        return ok

    def send_to_room(
        self,
        event: str,
        room: str,
        payload: Any = None,
        *,
        ack: bool = True,
        wrap: Callable[[dict[str, Any]], Any] | None = None,
    ) -> int:
        """Send a stamped message that the server relays to ``room``; reported as
        ``send <event>``.

        A dict ``payload`` gets ``room`` and a delivery stamp (which names the room too). By
        default that is what is emitted; ``wrap(stamped)`` builds the event's data instead, for
        apps whose own protocol nests the message (``wrap=lambda m: {"topic": room, "body": m}``).
        Wherever the server relays the stamped part, receivers find the stamp. Returns the
        number of recipients expected (the members of ``room`` in this process).
        """
        seq = next(self._seq)
        msg_id = f"{self.user_id}:{seq}"
        body = dict(payload) if isinstance(payload, dict) else {"data": payload}
        body["room"] = room
        stamped = stamp_payload(body, msg_id=msg_id, sender=self.user_id, seq=seq)
        stamped[STAMP_KEY]["room"] = room
        expected = self.book.expect(stamped[STAMP_KEY], event, room)
        data = wrap(stamped) if wrap is not None else stamped
        start = time.perf_counter()
        exc: Exception | None = None
        try:
            if ack:
                self._require_client().call(
                    event, data, namespace=self.namespace, timeout=self.timeout
                )
            else:
                self._require_client().emit(event, data, namespace=self.namespace)
        except Exception as e:  # noqa: BLE001 - reported as a failed send
            exc = e
        self._fire(SEND, event, start, exc)
        return expected

    # receiving ----------------------------------------------------------------------------
    def receive(self, event: str, *args: Any) -> None:
        """Every received event comes here (on the reader): a stamped one is timed and checked,
        then :meth:`on_event` sees it."""
        now = time.time()
        stamp = find_stamp(args[0] if len(args) == 1 else list(args))
        if stamp is not None:
            room = stamp.get("room")
            if room is None and args and isinstance(args[0], dict):
                room = args[0].get("room")  # stamped by an older sender
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

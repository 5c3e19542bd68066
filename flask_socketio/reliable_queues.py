"""Pub/sub managers that report every message they could not hand to the broker.

python-socketio's managers log a failed publish and drop the message (the emit returns as if it
had worked), and their listeners retry after 1, 2, 4 ... 60 s, losing whatever is published
meanwhile. These subclasses (pinned against python-socketio 5.18; they override ``_publish`` and,
for Redis, ``_redis_listen_with_retries``) keep python-socketio's wire format and change that:

- a failed publish is *reported*: counted in :attr:`ReportingMixin.stats` and passed to every
  callable registered with :meth:`ReportingMixin.on_publish_error` as ``(message, error)``; the
  emit itself does not raise (local clients already got the message, and a handler that emits
  during an outage should not fail half-way). A Redis publish that reached no subscriber at all
  (every listener, this node's included, was disconnected) is reported too, as
  :class:`NoSubscriberError`;
- the Redis listener reconnects every ``RECONNECT_INTERVAL`` seconds while the broker is away,
  so it is subscribed again within that time of the broker's return.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import socketio

from .room_membership import AtomicRooms

#: seconds between the Redis listener's attempts to subscribe again while the broker is away
RECONNECT_INTERVAL = 0.2

PublishErrorHook = Callable[[dict, Exception], None]


class PublishError(RuntimeError):
    """A message that could not be published to the message queue."""


class NoSubscriberError(PublishError):
    """Redis accepted the message but no listener was subscribed: nobody received it."""


class ReportingMixin:
    """Counts and reports publish failures of a python-socketio pub/sub manager."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``published``: handed to the broker; ``failed``: reported lost; ``reconnects``:
        #: times the listener subscribed again after losing the broker
        self.stats = {"published": 0, "failed": 0, "reconnects": 0}
        self._publish_error_hooks: list[PublishErrorHook] = []

    def on_publish_error(self, hook: PublishErrorHook) -> PublishErrorHook:
        """Call ``hook(message, error)`` for every message the queue lost; usable as decorator."""
        self._publish_error_hooks.append(hook)
        return hook

    def _report(self, message: dict, error: Exception) -> None:
        self.stats["failed"] += 1
        self._get_logger().error(  # type: ignore[attr-defined]
            "message queue: %s message lost: %s", message.get("method", "?"), error
        )
        for hook in list(self._publish_error_hooks):
            try:
                hook(message, error)
            except Exception:
                self._get_logger().exception("publish error hook failed")  # type: ignore[attr-defined]


class ReliableRedisManager(ReportingMixin, AtomicRooms, socketio.RedisManager):
    """python-socketio's Redis manager with reported failures and a prompt listener."""

    connected: bool

    def _publish(self, data: dict) -> Any:
        error: Exception | None = None
        for _attempt in range(2):  # one retry on a fresh connection, as python-socketio does
            try:
                if not self.connected:
                    self._redis_connect()
                receivers = self.redis.publish(self.channel, self.json.dumps(data))
            except Exception as exc:
                error = exc
                self.connected = False
                continue
            if receivers == 0:
                self._report(data, NoSubscriberError("no listener subscribed to the channel"))
            else:
                self.stats["published"] += 1
            return receivers
        self._report(data, PublishError(f"cannot publish to redis: {error}"))
        return None

    def _redis_listen_with_retries(self) -> Iterator[Any]:
        subscribed = False
        lost_at: float | None = None
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    if lost_at is not None:
                        self.stats["reconnects"] += 1
                        self._get_logger().info(
                            "message queue: listening again after %.1f s",
                            time.monotonic() - lost_at,
                        )
                        lost_at = None
                yield from self.pubsub.listen()
            except Exception as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                    self._get_logger().error("message queue: listener lost redis: %s", exc)
                subscribed = False
                time.sleep(RECONNECT_INTERVAL)


class ReliableKombuManager(ReportingMixin, AtomicRooms, socketio.KombuManager):
    """python-socketio's Kombu (RabbitMQ, ...) manager with reported publish failures."""

    def _publish(self, data: dict) -> None:
        error: Exception | None = None
        for _attempt in range(2):
            try:
                self._producer_publish(self.publisher_connection)(self.json.dumps(data))
            except Exception as exc:
                error = exc
                continue
            self.stats["published"] += 1
            return
        self._report(data, PublishError(f"cannot publish to the message queue: {error}"))

"""Choosing python-socketio's pub/sub client manager from a message-queue URL.

Several server processes (and external emitters) share events through a message queue. The URL
scheme picks the backend; a missing client library or an unknown scheme is reported with what to
install or what to write, at ``init_app`` time rather than at the first emit.
"""

from __future__ import annotations

import importlib.util
from urllib.parse import urlsplit

import socketio

from . import reliable_queues

# scheme -> (python-socketio manager class name, module the manager needs, pip package to install)
_BACKENDS: dict[str, tuple[str, str, str]] = {
    "redis": ("RedisManager", "redis", "redis"),
    "rediss": ("RedisManager", "redis", "redis"),
    "unix": ("RedisManager", "redis", "redis"),
    "valkey": ("RedisManager", "valkey", "valkey"),
    "valkeys": ("RedisManager", "valkey", "valkey"),
    "kafka": ("KafkaManager", "kafka", "kafka-python"),
    "zmq": ("ZmqManager", "zmq", "pyzmq"),
}
# kombu transports understood by KombuManager (https://docs.celeryq.dev: kombu transport aliases)
_KOMBU_SCHEMES = {
    "amqp",
    "amqps",
    "pyamqp",
    "librabbitmq",
    "qpid",
    "sqs",
    "memory",
    "sqlalchemy",
    "sqla",
    "mongodb",
    "zookeeper",
    "etcd",
    "filesystem",
    "consul",
    "azurestoragequeues",
    "azureservicebus",
    "pyro",
    "confluentkafka",
    "gcpubsub",
    "sentinel",
}


class MessageQueueError(ValueError):
    """A message-queue URL that cannot be used: unknown scheme or missing client library."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # imported already with no __spec__ (kombu's lazy module): installed
        return True


def manager_for_url(url: str, channel: str, write_only: bool) -> socketio.PubSubManager:
    """Build the pub/sub manager for ``url``; raise :class:`MessageQueueError` when impossible."""
    scheme = urlsplit(url).scheme.lower().split("+", 1)[0]
    if scheme in _BACKENDS:
        class_name, module, package = _BACKENDS[scheme]
    elif scheme in _KOMBU_SCHEMES:
        class_name, module, package = "KombuManager", "kombu", "kombu"
    else:
        known = sorted({*_BACKENDS, *_KOMBU_SCHEMES})
        raise MessageQueueError(
            f"Unknown message queue URL scheme {scheme!r} in {url!r}. "
            f"Use one of: {', '.join(known)} (for example redis://127.0.0.1:6379/0 or "
            "amqp://guest:guest@127.0.0.1:5672//)."
        )
    if not _installed(module):
        raise MessageQueueError(
            f"The message queue {url!r} needs the {package!r} package, which is not installed. "
            f"Install it with: pip install {package}"
        )
    # our subclasses report lost messages (reliable_queues); the others are python-socketio's
    manager_class = _REPORTING.get(class_name) or getattr(socketio, class_name)
    return manager_class(url, channel=channel, write_only=write_only)


_REPORTING: dict[str, type] = {
    "RedisManager": reliable_queues.ReliableRedisManager,
    "KombuManager": reliable_queues.ReliableKombuManager,
}

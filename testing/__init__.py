"""Client simulation for Flask-SocketIO apps.

The in-process test client, network clients with the same interface, swarms of clients, the
delivery ledger and fault injection. Names load lazily so that importing this package never pulls in
optional dependencies (Locust, gevent) that a user's test does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real names; at run time they load on first use
    from .client import Client as Client
    from .errors import AckTimeoutError as AckTimeoutError
    from .errors import ClientError as ClientError
    from .errors import ClientTimeoutError as ClientTimeoutError
    from .errors import ExpectationError as ExpectationError
    from .errors import NotConnectedError as NotConnectedError
    from .errors import ReceiveTimeoutError as ReceiveTimeoutError
    from .faults import FaultProxy as FaultProxy
    from .inbox import Inbox as Inbox
    from .inprocess import SocketIOTestClient as SocketIOTestClient
    from .interface import ReceivedEvent as ReceivedEvent
    from .interface import SocketIOClient as SocketIOClient
    from .ledger import DeliveryLedger as DeliveryLedger
    from .ledger import DeliveryReport as DeliveryReport
    from .stamp import find_stamp as find_stamp
    from .swarm import Swarm as Swarm
    from .swarm import SwarmConnectStats as SwarmConnectStats
    from .swarm import SwarmReconnectReport as SwarmReconnectReport
    from .transcript import Transcript as Transcript

_EXPORTS = {
    "SocketIOTestClient": "flask_socketio_testing.inprocess",
    "SocketIOClient": "flask_socketio_testing.interface",
    "ReceivedEvent": "flask_socketio_testing.interface",
    "Transcript": "flask_socketio_testing.transcript",
    "Inbox": "flask_socketio_testing.inbox",
    "ClientError": "flask_socketio_testing.errors",
    "NotConnectedError": "flask_socketio_testing.errors",
    "ClientTimeoutError": "flask_socketio_testing.errors",
    "AckTimeoutError": "flask_socketio_testing.errors",
    "ReceiveTimeoutError": "flask_socketio_testing.errors",
    "ExpectationError": "flask_socketio_testing.errors",
    "Client": "flask_socketio_testing.client",
    "Swarm": "flask_socketio_testing.swarm",
    "SwarmConnectStats": "flask_socketio_testing.swarm",
    "SwarmReconnectReport": "flask_socketio_testing.swarm",
    "DeliveryLedger": "flask_socketio_testing.ledger",
    "DeliveryReport": "flask_socketio_testing.ledger",
    "FaultProxy": "flask_socketio_testing.faults",
    "find_stamp": "flask_socketio_testing.stamp",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flask_socketio_testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

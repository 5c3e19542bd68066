"""Locust load runs for any Flask-SocketIO app, measured where the messages arrive.

Locust's own ``locust.contrib.socketio.SocketIOUser`` records every server push at 0 ms and counts
each ``call()`` twice. This package measures receiver-side latency and checks delivered /
expected completely (lost, misdelivered and duplicated deliveries are failures), so a run says
what receivers feel and whether the server lost anything:

* :class:`SocketIOUser` (:mod:`.user`) — the user to subclass in a locustfile; its connection
  (:mod:`.session`), the delivery accounting (:mod:`.book`) and the options (:mod:`.options`);
* the service-level check over a run (:mod:`.slo`): a headless run exits 1 when it fails;
* exact accounting across ``--processes`` / ``--master`` and ``--worker`` (:mod:`.distributed`);
* :class:`CapacityShape` (:mod:`.capacity`) — step users up until the SLO breaks, with a report
  (:mod:`.report`: JSON, CSV, PNG);
* ``python -m flask_socketio_testing.locust.server MODULE:APP`` (:mod:`.server`) — serve an app
  on gevent nodes for a run;
* ``python -m flask_socketio_testing.locust -f FILE ...`` — Locust itself, with every option of
  this package in ``--help`` (plain ``locust --help`` prints before loading locustfiles).

Names load lazily, so ``.server`` imports without Locust (importing Locust patches
gevent into the process). Any name registers the options and the end-of-run check.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask_socketio_testing.locust.book import (
        RECV,
        SEND,
        DeliveryBook,
        DuplicateDelivery,
        LostDelivery,
        Misdelivered,
    )
    from flask_socketio_testing.locust.capacity import CapacityShape
    from flask_socketio_testing.locust.options import option, read_server_file, target_hosts
    from flask_socketio_testing.locust.session import ConnectRefused
    from flask_socketio_testing.locust.slo import (
        SLOResult,
        diff_snapshots,
        evaluate_slo,
        receive_latency_entries,
        run_check,
        stats_snapshot,
    )
    from flask_socketio_testing.locust.user import SocketIOUser

_EXPORTS = {
    "SocketIOUser": "user",
    "CapacityShape": "capacity",
    "DeliveryBook": "book",
    "LostDelivery": "book",
    "Misdelivered": "book",
    "DuplicateDelivery": "book",
    "RECV": "book",
    "SEND": "book",
    "ConnectRefused": "session",
    "SLOResult": "slo",
    "evaluate_slo": "slo",
    "receive_latency_entries": "slo",
    "stats_snapshot": "slo",
    "diff_snapshots": "slo",
    "run_check": "slo",
    "option": "options",
    "read_server_file": "options",
    "target_hosts": "options",
}

__all__ = [
    "SocketIOUser",
    "CapacityShape",
    "DeliveryBook",
    "LostDelivery",
    "Misdelivered",
    "DuplicateDelivery",
    "RECV",
    "SEND",
    "ConnectRefused",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        importlib.import_module(f"{__name__}.slo")  # options + end-of-run check, once
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as exc:
        if exc.name in ("locust", "psutil", "matplotlib", "gevent"):
            raise ModuleNotFoundError(
                f"flask_socketio_testing.locust needs {exc.name!r}: "
                "pip install 'Flask-SocketIO[load]' (from this repository)",
                name=exc.name,
            ) from exc
        raise
    globals()[name] = value
    return value

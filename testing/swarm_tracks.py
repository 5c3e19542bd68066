"""Connection bookkeeping of a swarm: each client's connect/disconnect history, summed up.

:class:`~flask_socketio_testing.swarm.Swarm` records every connect and disconnect in a
:class:`_Track`; :func:`reconnect_report` turns a snapshot of the tracks into a
:class:`~flask_socketio_testing.swarm_reports.SwarmReconnectReport` (downtimes, and with a ledger
the messages each client lost while it was gone).
"""

from __future__ import annotations

import time
from typing import Any

from .delivery_report import percentile
from .swarm_reports import SwarmReconnectReport

__all__ = ["reconnect_report"]


class _Track:
    """Connection history of one swarm client (``time.time()`` stamps)."""

    __slots__ = ("ups", "downs")

    def __init__(self) -> None:
        self.ups: list[float] = []
        self.downs: list[float] = []


def reconnect_report(
    tracks: list[tuple[list[float], list[float]]],
    since: float,
    not_back: list[int],
    waited: float,
    *,
    ledger: Any = None,
    clients: list[Any] | None = None,
    settle: float = 0.2,
) -> SwarmReconnectReport:
    """The report for ``(downs, ups)`` per client, counting from the checkpoint ``since``.

    With a ``ledger`` (and the ``clients``, for their ledger ids), waits ``settle`` s for in-flight
    messages, then lists per client the expected messages sent while it was gone that never arrived.
    """
    size = len(tracks)
    first_down: float | None = None
    last_up: float | None = None
    downtimes: list[float] = []
    windows: dict[int, list[tuple[float, float]]] = {}
    for i, (downs, ups) in enumerate(tracks):
        for d in (t for t in downs if t >= since):
            up = next((u for u in ups if u >= d), None)
            first_down = d if first_down is None else min(first_down, d)
            end = up if up is not None else time.time()
            windows.setdefault(i, []).append((d, end))
            if up is not None:
                downtimes.append(up - d)
                last_up = up if last_up is None else max(last_up, up)
    lost: dict[int, list[str]] = {}
    if ledger is not None and clients is not None and windows:
        if settle > 0:
            time.sleep(settle)
        for i, spans in windows.items():
            # from the checkpoint on: messages sent between the fault and the moment the
            # client noticed it are lost too
            ids = ledger.missing_between(clients[i], since, spans[-1][1])
            if ids:
                lost[i] = ids
    downtimes.sort()
    return SwarmReconnectReport(
        size=size,
        reconnected=size - len(not_back),
        not_back=not_back,
        time_to_all_back=(
            last_up - first_down
            if not not_back and first_down is not None and last_up is not None
            else None
        ),
        waited=waited,
        downtime_p50=percentile(downtimes, 50),
        downtime_max=downtimes[-1] if downtimes else None,
        lost=lost,
    )

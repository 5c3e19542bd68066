"""The service-level check: receive latency and delivered / expected, over a run or a step.

Computed from Locust's statistics (the ``recv`` rows and their failures), which a master
aggregates over its workers. A headless run exits 1 when the check fails.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from flask_socketio_testing.locust.book import RECV, SEND
from flask_socketio_testing.locust.distributed import WorkerTotals, worker_totals
from flask_socketio_testing.locust.options import option
from locust import events
from locust.env import Environment
from locust.stats import RequestStats, StatsError, calculate_response_time_percentile

__all__ = [
    "SLOResult",
    "evaluate_slo",
    "receive_latency_entries",
    "stats_snapshot",
    "diff_snapshots",
    "run_check",
    "distributed_check",
]

logger = logging.getLogger("flask_socketio_testing.locust")


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

    def describe(self) -> str:
        """The figures in one line: receive latency, delivered / expected, what went wrong."""
        ms = "-" if self.p50_ms is None else f"{self.p50_ms:.0f} ms"
        ms99 = "-" if self.p99_ms is None else f"{self.p99_ms:.0f} ms"
        ratio = "-" if self.delivered_ratio is None else f"{self.delivered_ratio:.5f}"
        return (
            f"receive p50 {ms}, p99 {ms99}; delivered {self.received}/"
            f"{self.received + self.lost} = {ratio}; {self.misdelivered} misdelivered, "
            f"{self.duplicates} duplicates"
        )

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
    # stamped messages sent, whatever event the server relays them as
    sends = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == SEND)
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


def distributed_check(environment: Environment, totals: WorkerTotals) -> SLOResult:
    """The check on a master: latency from the aggregated statistics, delivery from the
    workers' final counts (exact, see :mod:`.distributed`)."""
    snap = stats_snapshot(environment.stats)
    return evaluate_slo(
        snap["hist"],
        totals.total("delivered"),
        totals.total("lost"),
        totals.total("misdelivered"),
        totals.total("duplicates"),
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
    totals = worker_totals(environment)
    if totals is not None:
        for line in totals.lines():
            logger.info("Socket.IO %s", line)
    shape = environment.shape_class
    if shape is not None and getattr(shape, "capacity_run", False):
        return  # the capacity shape reports and sets the exit code itself
    if not receive_latency_entries(environment.stats):
        return
    result = run_check(environment) if totals is None else distributed_check(environment, totals)
    problems = list(result.problems)
    if totals is not None and totals.missing_workers:
        problems.append(f"{totals.missing_workers} worker(s) sent no final delivery counts")
    if not problems:
        logger.info("Socket.IO check passed: %s", result.describe())
    else:
        logger.error("Socket.IO check FAILED: %s (%s)", "; ".join(problems), result.describe())
        environment.process_exit_code = 1

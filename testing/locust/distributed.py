"""Exact delivery accounting across Locust workers (``--master`` / ``--worker``, ``--processes``).

A message sent by a user of one worker must reach the members of its room on every worker. Each
worker announces the messages it sends to the master (Locust's worker -> master messages), the
master relays them to the other workers, and every worker expects each message at its own
members of the room: so every expected delivery is checked where it should arrive. Receipts that
come before their announcement wait for it. Losses, misdeliveries and duplicates are ``recv``
failures in each worker's statistics, which the master aggregates like any other.

At the end (the master's ``test_stopping``) the master asks every worker to drain: stop
expecting new messages, wait the grace period, verify what is left and send its final counts.
The master's end-of-run check uses those counts (exact, whatever the timing of the last stats
report); a worker that sends none fails the check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import gevent
from flask_socketio_testing.locust.book import DeliveryBook
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

__all__ = ["WorkerTotals", "worker_totals"]

logger = logging.getLogger("flask_socketio_testing.locust")

SENT, FLUSH, FINAL = "sio_sent", "sio_flush", "sio_final"
#: seconds between two batches of announcements from a worker
ANNOUNCE_INTERVAL = 0.1
#: seconds the master waits for final counts beyond the workers' grace period
FINAL_WAIT_SLACK = 15.0
#: the counts a worker reports at the end
COUNT_KEYS = (
    "expected",
    "delivered",
    "lost",
    "excused",
    "misdelivered",
    "duplicates",
    "messages",
    "announced",
)


class WorkerTotals:
    """The final delivery counts of every worker, as the master received them."""

    def __init__(self, expected_workers: int) -> None:
        self.expected_workers = expected_workers
        self.by_worker: dict[int, dict[str, int]] = {}

    def add(self, index: int, counts: dict[str, int]) -> None:
        self.by_worker[index] = {k: int(counts.get(k, 0)) for k in COUNT_KEYS}

    def total(self, key: str) -> int:
        return sum(c[key] for c in self.by_worker.values())

    @property
    def missing_workers(self) -> int:
        return max(0, self.expected_workers - len(self.by_worker))

    def lines(self) -> Iterator[str]:
        for index in sorted(self.by_worker):
            c = self.by_worker[index]
            yield (
                f"worker {index}: delivered {c['delivered']}/{c['delivered'] + c['lost']}, "
                f"{c['lost']} lost, {c['misdelivered']} misdelivered, "
                f"{c['duplicates']} duplicates, {c['messages']} messages "
                f"({c['announced']} from other workers)"
            )


def worker_totals(environment: Environment) -> WorkerTotals | None:
    """The workers' final counts on a master after the run, else ``None``."""
    return getattr(environment, "_sio_worker_totals", None)


class _WorkerLink:
    """A worker's side: announce sends, learn the others', drain on request."""

    def __init__(self, environment: Environment, runner: WorkerRunner) -> None:
        self.environment = environment
        self.runner = runner
        self.book = DeliveryBook.of(environment)
        self.outbox: list[dict[str, Any]] = []
        self.book.announce = self.outbox.append
        runner.register_message(SENT, self._on_sent)
        runner.register_message(FLUSH, self._on_flush, concurrent=True)
        environment.events.test_start.add_listener(self._on_test_start)
        gevent.spawn(self._send_loop)

    def _on_test_start(self, **_kw: Any) -> None:
        # a new run from the web UI: count afresh, as Locust's statistics do
        self.book.closing = False
        self.book.counts.clear()

    def _send_loop(self) -> None:
        while True:  # ends with the process (the runner's greenlets are killed on quit)
            gevent.sleep(ANNOUNCE_INTERVAL)
            self._send_batch()

    def _send_batch(self) -> None:
        if self.outbox:
            batch = self.outbox[:]
            del self.outbox[: len(batch)]
            self.runner.send_message(SENT, {"items": batch})

    def _on_sent(self, environment: Environment, msg: Any, **_kw: Any) -> None:
        for item in msg.data["items"]:
            self.book.announced(item["stamp"], item["event"])

    def _on_flush(self, environment: Environment, msg: Any, **_kw: Any) -> None:
        self._send_batch()
        self.book.closing = True  # from now on nothing new is expected
        gevent.sleep(self.book.grace + DeliveryBook.EPOCH + 0.5)
        self.book.finalize(time.time() - self.book.grace)
        self.book.flush()
        counts = {k: self.book.counts.get(k, 0) for k in COUNT_KEYS}
        logger.debug("worker %s delivery counts: %s", self.runner.worker_index, self.book.counts)
        self.runner.send_message(FINAL, {"worker": self.runner.worker_index, "counts": counts})


class _MasterRelay:
    """The master's side: relay announcements, collect the workers' final counts."""

    def __init__(self, environment: Environment, runner: MasterRunner) -> None:
        self.environment = environment
        self.runner = runner
        self.totals: WorkerTotals | None = None
        runner.register_message(SENT, self._on_sent)
        runner.register_message(FINAL, self._on_final)
        environment.events.test_stopping.add_listener(self._drain)

    def _on_sent(self, environment: Environment, msg: Any, **_kw: Any) -> None:
        for client in self.runner.clients.all:
            if client.id != msg.node_id:
                self.runner.send_message(SENT, msg.data, client_id=client.id)

    def _on_final(self, environment: Environment, msg: Any, **_kw: Any) -> None:
        if self.totals is not None:
            self.totals.add(int(msg.data["worker"]), msg.data["counts"])

    def _drain(self, environment: Environment, **_kw: Any) -> None:
        workers = list(self.runner.clients.all)
        self.totals = WorkerTotals(len(workers))
        environment._sio_worker_totals = self.totals  # type: ignore[attr-defined]
        for client in workers:
            self.runner.send_message(FLUSH, None, client_id=client.id)
        grace = float(getattr(environment.parsed_options, "delivery_grace", 5.0) or 5.0)
        deadline = time.monotonic() + grace + DeliveryBook.EPOCH + FINAL_WAIT_SLACK
        while self.totals.missing_workers and time.monotonic() < deadline:
            gevent.sleep(0.1)
        if self.totals.missing_workers:
            logger.error("%d worker(s) sent no final delivery counts", self.totals.missing_workers)


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _WorkerLink(environment, runner)
    elif isinstance(runner, MasterRunner):
        _MasterRelay(environment, runner)

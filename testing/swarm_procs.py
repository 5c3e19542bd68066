"""Swarms across processes: light clients in worker processes, seen from the parent as one swarm.

``Swarm(url, 10_000, processes=4)`` starts 4 worker processes (``multiprocessing``, spawn), each
running a slice of the clients on its own :class:`~flask_socketio_testing.light.LightLoop`. In the
parent every client is a :class:`RemoteClient` with the same name (so the same ledger id), and the
workers report back over one pipe each, in batches:

* connect and disconnect events with the worker's receive time (reconnection reports),
* the delivery stamp and receive time of each arrival of a subscribed event (``on_stamp``: the
  ledger's way in), or the whole arguments for ``on`` handlers.

Commands go the other way: connect, subscribe, emit, call, drop, stop. One reader thread per
worker in the parent; no thread per client anywhere.
"""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .base import register_or_decorate
from .errors import AckTimeoutError
from .swarm_worker import worker_main

__all__ = ["WorkerPool", "RemoteClient"]


class RemoteClient:
    """The parent's handle on one client living in a worker process."""

    __slots__ = ("pool", "worker", "index", "name", "namespace", "transport", "_connected")

    def __init__(self, pool: WorkerPool, worker: int, index: int, name: str) -> None:
        self.pool = pool
        self.worker = worker
        self.index = index
        self.name = name
        self.namespace = pool.options["namespace"]
        self.transport = pool.options["transport"]
        self._connected = False

    def is_connected(self, namespace: str | None = None) -> bool:
        """True when the worker last reported this client connected."""
        return self._connected and (namespace or self.namespace) == self.namespace

    def emit(
        self, event: str, *args: Any, callback: bool = False, namespace: str | None = None
    ) -> Any:
        """Emit from this client (in its worker); ``callback=True`` waits for the ack."""
        ns = namespace or self.namespace
        if callback:
            return self.call(event, *args, namespace=ns, timeout=5.0)
        self.pool.send(self.worker, ("emit", self.index, event, args, ns))
        return None

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        """Emit and return the ack; ``AckTimeoutError`` when none arrives in ``timeout``."""
        ns = namespace or self.namespace
        return self.pool.request(
            self.worker, ("call", self.index, event, args, ns, timeout), timeout + 5.0
        )

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, namespace: str | None = None
    ) -> Any:
        """Run ``handler(*args)`` in the parent for each arrival (its return is not an ack)."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.pool.subscribe(self.index, event, namespace or self.namespace, "args", fn)
            return fn

        return register_or_decorate(handler, register)

    def on_stamp(
        self, event: str, handler: Callable[[dict, float], None], namespace: str | None = None
    ) -> None:
        """Call ``handler(stamp, receive_time)`` in the parent for each stamped arrival."""
        self.pool.subscribe(self.index, event, namespace or self.namespace, "stamp", handler)

    def drop(self) -> None:
        """Cut this client's transport in its worker, as a lost network does."""
        self.pool.send(self.worker, ("drop", self.index))

    def _not_here(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{self.name} lives in a worker process: its events are not queued in the parent; "
            "use on(event, handler), or a DeliveryLedger (ledger.attach) to check deliveries"
        )

    receive = expect = get_received = assert_nothing_received = _not_here

    def __repr__(self) -> str:
        state = "connected" if self._connected else "disconnected"
        return f"<RemoteClient {self.name} worker {self.worker} {state}>"


class WorkerPool:
    """The worker processes of one swarm, their pipes and their reader threads."""

    def __init__(
        self,
        size: int,
        processes: int,
        options: dict[str, Any],
        auths: list[Any],
        on_state: Callable[[int, bool, float], None],
    ) -> None:
        self.size = size
        self.options = options
        self.on_state = on_state
        self._ids = itertools.count()
        self._futures: dict[int, Future] = {}
        self._subs: dict[tuple[str, str, str], dict[int, Callable[..., Any]]] = {}
        self._sent_subs: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        context = multiprocessing.get_context("spawn")
        bounds = [size * w // processes for w in range(processes + 1)]
        self.slices = [range(bounds[w], bounds[w + 1]) for w in range(processes)]
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        self.readers: list[threading.Thread] = []
        self._send_locks: list[threading.Lock] = []
        name = options["name"]
        for w, indices in enumerate(self.slices):
            parent_end, child_end = context.Pipe()
            config = {
                **options,
                "start": indices.start,
                "stop": indices.stop,
                "auths": auths[indices.start : indices.stop],
            }
            proc = context.Process(
                target=worker_main, args=(child_end, config), name=f"{name}-worker-{w}", daemon=True
            )
            proc.start()
            child_end.close()
            self.conns.append(parent_end)
            self.procs.append(proc)
            self._send_locks.append(threading.Lock())
        self.clients = [
            RemoteClient(self, w, i, f"{name}-{i}")
            for w, indices in enumerate(self.slices)
            for i in indices
        ]
        for w in range(processes):
            reader = threading.Thread(
                target=self._read, args=(w,), name=f"{name}-reader-{w}", daemon=True
            )
            reader.start()
            self.readers.append(reader)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    # -- talking to workers ----------------------------------------------------------------------

    def send(self, worker: int, message: tuple) -> None:
        with self._send_locks[worker]:
            self.conns[worker].send(message)

    def request(self, worker: int, message: tuple, timeout: float) -> Any:
        """Send a command that answers, and return its answer (its error is raised here)."""
        future = self._request(worker, message)
        return self._result(future, timeout)

    def _request(self, worker: int, message: tuple) -> Future:
        future: Future = Future()
        req = next(self._ids)
        with self._lock:
            self._futures[req] = future
        self.send(worker, (message[0], req, *message[1:]))
        return future

    @staticmethod
    def _result(future: Future, timeout: float) -> Any:
        ok, value = future.result(timeout)
        if ok:
            return value
        if isinstance(value, tuple) and value[0] == "ack-timeout":  # rebuilt: not picklable
            raise AckTimeoutError(*value[1:])
        raise value

    def _read(self, worker: int) -> None:
        conn = self.conns[worker]
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "reply":
                with self._lock:
                    future = self._futures.pop(message[1], None)
                if future is not None:
                    future.set_result((message[2], message[3]))
            elif kind == "batch":
                self._deliver(message[1])
        with self._lock:  # the worker is gone: nobody will answer
            for req, future in list(self._futures.items()):
                if not future.done():
                    future.set_result((False, ConnectionError(f"worker {worker} exited")))
                    del self._futures[req]

    def _deliver(self, records: list[tuple]) -> None:
        for record in records:
            kind = record[0]
            if kind == "state":
                _, index, up, when = record
                self.clients[index]._connected = up
                self.on_state(index, up, when)
                continue
            _, index, event, namespace, value, when = record
            handler = self._subs.get((event, namespace, kind), {}).get(index)
            if handler is None:
                continue
            try:
                if kind == "stamp":
                    handler(value, when)
                else:
                    handler(*value)
            except Exception:  # noqa: BLE001 - a failing handler must not stop the reader
                pass

    def subscribe(
        self, index: int, event: str, namespace: str, mode: str, fn: Callable[..., Any]
    ) -> None:
        key = (event, namespace, mode)
        with self._lock:
            self._subs.setdefault(key, {})[index] = fn
            new = key not in self._sent_subs
            self._sent_subs.add(key)
        if new:  # every worker forwards this event for all its clients; unknown ones are dropped
            futures = [self._request(w, ("subscribe", *key)) for w in range(len(self.procs))]
            for future in futures:
                self._result(future, 30.0)

    # -- the swarm's operations ------------------------------------------------------------------

    def connect(self, concurrency: int, timeout: float) -> tuple[dict[int, float], dict[int, str]]:
        """Connect every worker's clients (in parallel) and merge their times and errors."""
        per_worker = max(1, concurrency // len(self.procs))
        futures = [
            self._request(w, ("connect", per_worker, timeout)) for w in range(len(self.procs))
        ]
        times: dict[int, float] = {}
        errors: dict[int, str] = {}
        for w, future in enumerate(futures):
            try:
                got_times, got_errors = self._result(future, timeout + 30.0)
            except Exception as exc:  # noqa: BLE001 - the whole slice failed
                got_times = {}
                got_errors = {i: f"worker {w}: {exc!r}" for i in self.slices[w]}
            times.update(got_times)
            errors.update(got_errors)
        return times, errors

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every worker (clients disconnected, loops closed) and reap it; bounded in time."""
        deadline = time.monotonic() + timeout
        futures = []
        for w, proc in enumerate(self.procs):
            if proc.is_alive():
                try:
                    futures.append(self._request(w, ("stop",)))
                except (OSError, ValueError):
                    pass
        for future in futures:
            try:
                self._result(future, max(0.1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - terminated below
                pass
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5.0)
            if proc.is_alive():
                proc.kill()
                proc.join(5.0)
        for conn in self.conns:
            conn.close()
        for reader in self.readers:
            reader.join(5.0)

    def memory(self, timeout: float = 10.0) -> list[tuple[int, int]]:
        """Per worker: resident bytes before its clients were built, and now (Linux)."""
        futures = [self._request(w, ("memory",)) for w in range(len(self.procs))]
        return [self._result(f, timeout) for f in futures]

    def leaks(self) -> list[str]:
        """Worker processes or reader threads still alive."""
        found = [f"worker process {p.name} (pid {p.pid})" for p in self.procs if p.is_alive()]
        found += [f"reader thread {t.name}" for t in self.readers if t.is_alive()]
        return found

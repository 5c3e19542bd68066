"""The ``engine="client"`` side of a swarm: thread-per-client network clients, a bounded pool.

:class:`~flask_socketio_testing.swarm.Swarm` uses these when its clients are
:class:`~flask_socketio_testing.Client` objects (or in-process test clients): a client that reports
its connects and disconnects, a stop that no reconnect attempt survives, a bounded thread pool that
runs one job per client, and the list of client threads still alive.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from .client import Client

__all__ = ["run_pool", "stop_network_client", "thread_leaks"]


class _SwarmClient(Client):
    """A network client that reports its connects and disconnects as ``on_state(index, up)``."""

    def __init__(
        self, on_state: Callable[[int, bool], None], index: int, *args: Any, **kwargs: Any
    ) -> None:
        self._on_state = on_state
        self._index = index
        super().__init__(*args, **kwargs)

    def _dispatch(self, event: str, namespace: str, args: tuple) -> Any:
        result = super()._dispatch(event, namespace, args)
        if event in ("connect", "disconnect") and (namespace or "/") == self.namespace:
            self._on_state(self._index, event == "connect")
        return result


def stop_network_client(client: Client, sio: Any, timeout: float = 5.0) -> None:
    """Close ``client`` and make sure no reconnect attempt survives, bounded in time.

    ``Client.close()`` alone races with a server that is going away at the same moment: the
    python-socketio read thread can start its reconnect task right after ``shutdown()`` ran.
    Turning reconnection off first, then aborting any running reconnect task, closes that gap.
    """
    sio.reconnection = False
    client.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = getattr(sio, "_reconnect_task", None)
        if task is not None and task.is_alive():
            abort = getattr(sio, "_reconnect_abort", None)
            if abort is not None:
                abort.set()
            task.join(0.2)
            continue
        if sio.connected:  # a reconnect that won the race
            client.close()
            continue
        return


def run_pool(
    job: Callable[[int], None],
    indices: list[int],
    timeout: float,
    *,
    concurrency: int,
    name: str,
    grace: float,
) -> tuple[dict[int, float], dict[int, str]]:
    """Run ``job(i)`` for each index on at most ``concurrency`` threads, bounded in time.

    Returns the seconds each job took and the error of each that failed or was not done in time;
    ``grace`` is how long past ``timeout`` a running job may still finish.
    """
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in indices:
        todo.put(i)
    times: dict[int, float] = {}
    errors: dict[int, str] = {}
    deadline = time.monotonic() + timeout

    def worker() -> None:
        while time.monotonic() < deadline:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            t0 = time.perf_counter()
            try:
                job(i)
            except Exception as exc:  # noqa: BLE001 - reported per client
                errors[i] = f"{type(exc).__name__}: {exc}"
            else:
                times[i] = time.perf_counter() - t0

    workers = [
        threading.Thread(target=worker, name=f"{name}-worker-{n}", daemon=True)
        for n in range(min(concurrency, len(indices)))
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()) + grace)
    for i in indices:
        if i not in times and i not in errors:
            errors[i] = f"not done within {timeout} s"
    return times, errors


def thread_leaks(clients: list[Any], name: str) -> list[str]:
    """The python-socketio client threads of ``clients`` still alive, one line each."""
    alive = []
    for i, client in enumerate(clients):
        sio = getattr(client, "_sio", None)
        if sio is None:
            continue
        eio = getattr(sio, "eio", None)
        for label, task in (
            ("read loop", getattr(eio, "read_loop_task", None)),
            ("write loop", getattr(eio, "write_loop_task", None)),
            ("reconnect", getattr(sio, "_reconnect_task", None)),
        ):
            is_alive = getattr(task, "is_alive", None)
            if is_alive is not None and is_alive():
                alive.append(f"{name}-{i}: {label} thread {task!r}")
    return alive

"""The worker side of a multi-process swarm: one process running a slice of the clients.

:func:`worker_main` is the ``multiprocessing`` target started by
:class:`~flask_socketio_testing.swarm_procs.WorkerPool`: it builds the slice's light clients on one
loop, batches their events back over the pipe and obeys the parent's commands.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from .errors import AckTimeoutError

__all__ = ["worker_main", "FLUSH_PERIOD", "FLUSH_SIZE"]

FLUSH_PERIOD = 0.02  # seconds between a worker's report batches
FLUSH_SIZE = 2000  # or as soon as this many records are waiting


def _rss() -> int:
    """This process's resident memory in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            import os

            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def worker_main(conn: Any, config: dict[str, Any]) -> None:
    """A worker process: run a slice of the swarm on one light loop, obey the parent's pipe."""
    from .light import LightClient, LightLoop
    from .light_batch import connect_all, stop_all

    rss_before_clients = _rss()

    start = config["start"]
    send_lock = threading.Lock()
    pending: list[tuple] = []
    pending_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            conn.send(message)

    def record(item: tuple) -> None:
        with pending_lock:
            pending.append(item)
            full = len(pending) >= FLUSH_SIZE
        if full:
            flush()

    def flush() -> None:
        with pending_lock:
            if not pending:
                return
            batch = pending[:]
            pending.clear()
        send(("batch", batch))

    loop = LightLoop(config["name"])
    clients = [
        LightClient(
            loop,
            config["url"],
            index=start + k,
            transport=config["transport"],
            namespace=config["namespace"],
            auth=auth,
            headers=config["headers"],
            reconnection=config["reconnection"],
            connect_timeout=config["connect_timeout"],
            name=f"{config['name']}-{start + k}",
            inbox=0,
            on_state=lambda i, up: record(("state", i, up, time.time())),
            **config["client_kwargs"],
        )
        for k, auth in enumerate(config["auths"])
    ]

    async def flusher() -> None:
        import asyncio

        while True:
            await asyncio.sleep(FLUSH_PERIOD)
            flush()

    loop.submit(flusher())

    def subscribe(event: str, namespace: str, mode: str) -> None:
        for client in clients:
            i = client.index
            if mode == "stamp":

                def on_stamp(stamp: dict, when: float, i: int = i) -> None:
                    record(("stamp", i, event, namespace, stamp, when))

                client.on_stamp(event, on_stamp, namespace=namespace)
            else:

                def on_args(*args: Any, i: int = i) -> None:
                    record(("args", i, event, namespace, args, time.time()))

                client.on(event, on_args, namespace=namespace)

    indices = list(range(len(clients)))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent went away
            break
        kind = message[0]
        try:
            if kind == "emit":
                _, index, event, args, namespace = message
                clients[index - start].emit(event, *args, namespace=namespace)
                continue
            if kind == "drop":
                clients[message[1] - start].drop()
                continue
            req = message[1]
            if kind == "connect":
                _, _, concurrency, timeout = message
                times, errors = loop.run(
                    connect_all(clients, indices, concurrency, timeout), timeout + 15.0
                )
                gc.collect()
                gc.freeze()  # full collections would walk every client's objects: stalls
                flush()
                result: Any = (
                    {start + k: v for k, v in times.items()},
                    {start + k: v for k, v in errors.items()},
                )
            elif kind == "memory":
                result = (rss_before_clients, _rss())
            elif kind == "subscribe":
                subscribe(*message[2:])
                result = None
            elif kind == "call":
                _, _, index, event, args, namespace, timeout = message
                result = clients[index - start].call(
                    event, *args, namespace=namespace, timeout=timeout
                )
            elif kind == "stop":
                loop.run(stop_all(clients), 20.0)
                flush()
                loop.close(10.0)
                send(("reply", req, True, None))
                break
            else:
                raise ValueError(f"unknown command {kind!r}")
            send(("reply", req, True, result))
        except AckTimeoutError as exc:
            send(
                ("reply", message[1], False, ("ack-timeout", exc.event, exc.namespace, exc.timeout))
            )
        except Exception as exc:  # noqa: BLE001 - the parent raises it
            if kind not in ("emit", "drop"):
                send(("reply", message[1], False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    loop.close(5.0)
    conn.close()

"""Swarms: many clients of one app, connected concurrently, watched through reconnections.

``Swarm(url, 3000)`` builds 3,000 light network clients (:mod:`flask_socketio_testing.light`:
python-socketio ``AsyncClient`` objects sharing one asyncio loop in one thread and one HTTP
session); ``engine="client"`` builds one :class:`~flask_socketio_testing.Client` each instead (two
threads per websocket client; the default in a gevent-patched process, where they are greenlets).
``Swarm(app, 50)`` builds in-process test clients. ``connect()`` connects them, ``concurrency`` at
a time, and returns :class:`SwarmConnectStats`. After a
network cut or a server restart, :meth:`Swarm.wait_reconnected` returns a
:class:`SwarmReconnectReport`: how long until every client was back, and (given a ledger) which
messages each client lost while it was gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .client import Client
from .delivery_report import percentile
from .ledger import DeliveryLedger
from .swarm_reports import SwarmConnectStats, SwarmReconnectReport
from .swarm_threads import _SwarmClient, run_pool, stop_network_client, thread_leaks
from .swarm_tracks import _Track, reconnect_report

ENGINES = ("light", "client")


def _default_engine() -> str:
    """``light``, except in a gevent-patched process (asyncio and gevent do not share a thread)."""
    try:
        from gevent import monkey
    except ImportError:
        return "light"
    return "client" if monkey.is_module_patched("socket") else "light"


__all__ = ["Swarm", "SwarmConnectStats", "SwarmReconnectReport"]


class Swarm:
    """``size`` clients of one app: network clients of a live server URL, or in-process ones.

    ``target`` is a live server URL (``http://127.0.0.1:<port>``, or a
    :class:`~flask_socketio_testing.FaultProxy` ``url``) or a Flask app (in-process test clients;
    its ``SocketIO`` is ``app.extensions['socketio']``). ``auth`` is a dict or a callable
    ``index -> dict``. Clients are named ``<name>-<index>``, which is also their ledger id.
    ``engine`` picks the network clients (``"light"`` or ``"client"``, see the module docstring);
    ``inbox`` is how many received events each light client keeps for ``receive``/``expect``.
    ``processes=N`` spreads the light clients over N worker processes
    (:mod:`flask_socketio_testing.swarm_procs`); ``auth`` values must then be picklable.
    Use as a context manager, or call :meth:`disconnect`: no client thread outlives it.
    """

    def __init__(
        self,
        target: Any,
        size: int,
        *,
        transport: str = "websocket",
        namespace: str = "/",
        auth: dict | Callable[[int], dict] | None = None,
        headers: dict | None = None,
        concurrency: int = 50,
        connect_timeout: float = 10.0,
        reconnection: bool = True,
        name: str = "swarm",
        engine: str | None = None,
        inbox: int = 100,
        processes: int = 1,
        **client_kwargs: Any,
    ) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        engine = engine or _default_engine()
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
        self.target = target
        self.size = size
        self.transport = transport
        self.namespace = namespace
        self.auth = auth
        self.headers = headers
        self.concurrency = max(1, int(concurrency))
        self.connect_timeout = connect_timeout
        self.reconnection = reconnection
        self.name = name
        self.inprocess = not isinstance(target, str)
        self.engine = "inprocess" if self.inprocess else engine
        self.inbox = inbox
        self.processes = max(1, int(processes))
        self._loop: Any = None
        self._pool: Any = None
        self.connect_stats: SwarmConnectStats | None = None
        self.last_reconnect: SwarmReconnectReport | None = None
        self._cond = threading.Condition()
        self._tracks = [_Track() for _ in range(size)]
        self._checkpoint = time.time()
        self.clients: list[Any] = []
        if self.processes > 1:
            if self.inprocess or self.engine != "light":
                raise ValueError("processes > 1 needs a live server URL and the light engine")
            self.clients = self._start_workers(client_kwargs)
        elif self.engine == "light":
            self.clients = self._make_light_clients(client_kwargs)
        elif not self.inprocess:
            self.clients = [self._make_network_client(i, client_kwargs) for i in range(size)]
        else:
            self._socketio: Any = getattr(target, "extensions", {}).get("socketio")
            if self._socketio is None:
                raise TypeError(
                    "Swarm target must be a live server URL or a Flask app with a SocketIO "
                    f"(app.extensions['socketio']); got {target!r}"
                )

    # -- building ---------------------------------------------------------------------------

    def _auth_for(self, index: int) -> dict | None:
        return self.auth(index) if callable(self.auth) else self.auth

    def _client_options(self, index: int) -> dict[str, Any]:
        """The keyword arguments every kind of network client of this swarm takes."""
        return {
            "transport": self.transport,
            "namespace": self.namespace,
            "auth": self._auth_for(index),
            "headers": self.headers,
            "reconnection": self.reconnection,
            "connect_timeout": self.connect_timeout,
            "name": f"{self.name}-{index}",
        }

    def _make_network_client(self, index: int, extra: dict[str, Any]) -> Client:
        return _SwarmClient(self._note, index, self.target, **self._client_options(index), **extra)

    def _make_light_clients(self, extra: dict[str, Any]) -> list[Any]:
        from .light import LightClient, LightLoop

        self._loop = LightLoop(self.name)
        return [
            LightClient(
                self._loop,
                self.target,
                index=i,
                **self._client_options(i),
                inbox=self.inbox,
                cond=self._cond,
                on_state=self._note,
                **extra,
            )
            for i in range(self.size)
        ]

    def _start_workers(self, extra: dict[str, Any]) -> list[Any]:
        from .swarm_procs import WorkerPool

        options = {
            "url": self.target,
            "transport": self.transport,
            "namespace": self.namespace,
            "headers": self.headers,
            "reconnection": self.reconnection,
            "connect_timeout": self.connect_timeout,
            "name": self.name,
            "client_kwargs": extra,
        }
        auths = [self._auth_for(i) for i in range(self.size)]
        self._pool = WorkerPool(self.size, self.processes, options, auths, self._note)
        clients: list[Any] = self._pool.clients
        return clients

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes (empty for a swarm in this process)."""
        return self._pool.pids if self._pool is not None else []

    def _connect_light(
        self, indices: list[int], timeout: float
    ) -> tuple[dict[int, float], dict[int, str]]:
        from .light_batch import connect_all

        if self._loop is None or not self._loop.running:
            raise RuntimeError(f"{self!r} was disconnected; build a new swarm")
        coro = connect_all(self.clients, indices, self.concurrency, timeout)
        result: tuple[dict[int, float], dict[int, str]] = self._loop.run(coro, timeout + 15.0)
        return result

    def _connect_one(self, index: int) -> None:
        if self.inprocess:
            client = self._socketio.test_client(
                self.target,
                namespace=self.namespace,
                headers=self.headers,
                auth=self._auth_for(index),
            )
            try:
                client.name = f"{self.name}-{index}"
            except AttributeError:
                pass
            self.clients[index] = client
            if client.is_connected(self.namespace):
                self._note(index, True)
            else:
                error = client.get_connect_error(self.namespace)
                raise ConnectionRefusedError(f"connect refused: {error!r}")
            return
        client = self.clients[index]
        client.connect()
        if not client.is_connected():
            raise ConnectionRefusedError(f"connect refused: {client.get_connect_error()!r}")

    def _note(self, index: int, up: bool, when: float | None = None) -> None:
        with self._cond:
            track = self._tracks[index]
            (track.ups if up else track.downs).append(time.time() if when is None else when)
            self._cond.notify_all()

    # -- running a job over every client ----------------------------------------------------

    def _run_pool(
        self, job: Callable[[int], None], indices: list[int], timeout: float
    ) -> tuple[dict[int, float], dict[int, str]]:
        """Run ``job(i)`` for each index on at most ``concurrency`` threads, bounded in time."""
        grace = self.connect_timeout + 5.0
        return run_pool(
            job, indices, timeout, concurrency=self.concurrency, name=self.name, grace=grace
        )

    # -- public API -------------------------------------------------------------------------

    def connect(self, timeout: float | None = None) -> SwarmConnectStats:
        """Connect every client (``concurrency`` at a time) and return the statistics.

        ``timeout`` bounds the whole swarm (default: enough for ``size / concurrency`` rounds of
        ``connect_timeout``); clients not connected by then are listed in ``failed``. Raises
        nothing for failed clients: check ``stats.ok``.
        """
        if self.inprocess and not self.clients:
            self.clients = [None] * self.size
        if timeout is None:
            rounds = -(-self.size // self.concurrency) if self.size else 1
            timeout = max(30.0, rounds * self.connect_timeout)
        t0 = time.perf_counter()
        if self._pool is not None:
            times, errors = self._pool.connect(self.concurrency, timeout)
        elif self.engine == "light":
            times, errors = self._connect_light(list(range(self.size)), timeout)
        else:
            times, errors = self._run_pool(self._connect_one, list(range(self.size)), timeout)
        total = time.perf_counter() - t0
        values = sorted(times.values())
        self.connect_stats = SwarmConnectStats(
            size=self.size,
            connected=len(times),
            total=total,
            concurrency=self.concurrency,
            failed=sorted(errors.items()),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            max=values[-1] if values else None,
        )
        self.mark()
        return self.connect_stats

    def mark(self) -> None:
        """Start a new reconnection window: :meth:`wait_reconnected` looks at events after this.

        ``connect()`` and ``wait_reconnected()`` set it; call it yourself right before a fault if
        anything else happened in between.
        """
        with self._cond:
            self._checkpoint = time.time()

    def connected_count(self) -> int:
        """How many clients are connected right now."""
        return sum(1 for c in self.clients if c is not None and c.is_connected(self.namespace))

    def _back_since(self, index: int, since: float, require_disconnect: bool) -> bool:
        track = self._tracks[index]
        client = self.clients[index]
        if client is None or not client.is_connected(self.namespace):
            return False
        downs = [t for t in track.downs if t >= since]
        if not downs:
            return not require_disconnect
        return any(t >= downs[-1] for t in track.ups)

    def wait_reconnected(
        self,
        timeout: float = 10.0,
        *,
        ledger: DeliveryLedger | None = None,
        require_disconnect: bool = True,
        settle: float = 0.2,
    ) -> SwarmReconnectReport:
        """Wait until every client lost its connection and got it back, then report.

        Counts from the last checkpoint (:meth:`mark`, :meth:`connect`, or the previous
        ``wait_reconnected``). With ``require_disconnect=False``, a client that never noticed a
        disconnect counts as back. With a ``ledger``, waits ``settle`` s for in-flight messages,
        then lists per client the expected messages sent while it was gone that never arrived.
        The report is also kept as ``swarm.last_reconnect``; a new checkpoint starts on return.
        """
        start = time.monotonic()
        deadline = start + timeout
        with self._cond:
            since = self._checkpoint
            while True:
                not_back = [
                    i
                    for i in range(self.size)
                    if not self._back_since(i, since, require_disconnect)
                ]
                left = deadline - time.monotonic()
                if not not_back or left <= 0:
                    break
                self._cond.wait(min(left, 0.1))  # connect state also changes without a notify
            tracks = [(list(t.downs), list(t.ups)) for t in self._tracks]
        waited = time.monotonic() - start
        report = reconnect_report(
            tracks, since, not_back, waited, ledger=ledger, clients=self.clients, settle=settle
        )
        self.last_reconnect = report
        self.mark()
        return report

    def disconnect(self, timeout: float = 30.0) -> None:
        """Disconnect every client (stopping reconnection) and release them; bounded in time."""
        if self._pool is not None:
            self._pool.stop(timeout)
            return
        if self.engine == "light":
            self._disconnect_light(timeout)
            return
        indices = [i for i, c in enumerate(self.clients) if c is not None]

        def job(i: int) -> None:
            client = self.clients[i]
            sio = getattr(client, "_sio", None)
            if sio is None:  # in-process client
                (getattr(client, "close", None) or client.disconnect)()
                return
            stop_network_client(client, sio)

        self._run_pool(job, indices, timeout)

    def _disconnect_light(self, timeout: float) -> None:
        from .light_batch import stop_all

        loop = self._loop
        if loop is None or not loop.running:
            return
        try:
            loop.run(stop_all(self.clients, self.concurrency), timeout)
        except Exception:  # noqa: BLE001 - closing the loop cancels what is left
            pass
        loop.close(timeout=10.0)

    def leaks(self, timeout: float = 5.0) -> list[str]:
        """Client threads (greenlets when patched) still alive, after waiting up to ``timeout``.

        Empty after :meth:`disconnect` unless something is stuck: the fixtures fail a test that
        leaves any behind.
        """
        deadline = time.monotonic() + timeout
        while self._pool is not None:
            alive = self._pool.leaks()
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.05)
        while self.engine == "light":
            alive = [leak for client in self.clients for leak in client.leaks()]
            if self._loop is not None and self._loop.running:
                alive.append(f"{self.name}: event loop thread {self._loop.thread!r}")
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.05)
        while True:
            alive = thread_leaks(self.clients, self.name)
            if not alive or time.monotonic() >= deadline:
                return alive
            time.sleep(0.05)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Any]:
        return iter(self.clients)

    def __getitem__(self, index: int) -> Any:
        return self.clients[index]

    def __enter__(self) -> Swarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        kind = "in-process" if self.inprocess else f"{self.engine} {self.transport} {self.target}"
        return f"<Swarm {self.name} size={self.size} {kind}>"

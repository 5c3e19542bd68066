"""Fault injection: a TCP proxy on 127.0.0.1 that delays, cuts and blackholes connections.

Connect clients to ``proxy.url`` instead of the server's URL, then misbehave on demand::

    with FaultProxy(live_server.url) as proxy:
        client = Client(proxy.url)
        proxy.latency = 0.05          # 50 ms added to each direction, settable while running
        proxy.cut()                   # close every proxied connection at once
        proxy.blackhole()             # stop forwarding bytes, keep connections open
        proxy.restore()               # forward again (held bytes flow on, in order)

Written here rather than taken from a library: Toxiproxy needs its Go server binary, and the Python
proxies on PyPI are asyncio/HTTP proxies that cannot run inside a gevent-patched test process. This
one is a single thread (a greenlet once gevent has patched ``threading``) around a ``selectors``
loop, so it works whether or not the process is gevent-patched.
"""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .fault_relay import _Conn, _Relay

__all__ = ["FaultProxy"]


class FaultProxy(_Relay):
    """A TCP proxy on 127.0.0.1 between clients and a live server, with faults on demand.

    ``url`` is the target URL with the proxy's host and port. ``latency`` and ``jitter``
    (seconds) delay each direction of every connection: each chunk is held
    ``latency + uniform(-jitter, jitter)`` (never negative, never reordered). The proxy
    starts on creation and stops on :meth:`close` (or leaving the ``with`` block); its one
    thread never outlives it.
    """

    def __init__(
        self,
        target_url: str,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        seed: int | None = None,
    ) -> None:
        parts = urlsplit(target_url if "//" in target_url else f"http://{target_url}")
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"target_url needs a host and a port, got {target_url!r}")
        self.target = (parts.hostname, parts.port)
        super().__init__(latency=latency, jitter=jitter, seed=seed)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1024)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.url = urlunsplit(
            (parts.scheme, f"127.0.0.1:{self.port}", parts.path, parts.query, parts.fragment)
        )
        self.accepted = 0  # connections accepted since creation
        self.cuts = 0  # connections closed by cut()
        self._calls: deque[tuple[Callable[[], Any], threading.Event]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"FaultProxy:{self.port}", daemon=True
        )
        self._thread.start()

    # -- public controls ---------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Proxied connections open right now."""
        return len(self._conns)

    @property
    def blackholed(self) -> bool:
        """True between :meth:`blackhole` and :meth:`restore`."""
        return self._blackholed

    def cut(self) -> int:
        """Close every proxied connection at once (both sides); returns how many.

        New connections are still accepted, so clients can reconnect through the proxy.
        """
        return self._call(self._cut_all)

    def blackhole(self) -> None:
        """Stop forwarding bytes (and accepting connections) without closing anything.

        Peers see silence, as behind a dead network path: the server notices only through its
        ping timeout. Bytes sent meanwhile wait in the kernel and flow on after :meth:`restore`.
        """
        self._call(lambda: self._set_blackhole(True))

    def restore(self) -> None:
        """Resume forwarding after :meth:`blackhole`."""
        self._call(lambda: self._set_blackhole(False))

    def close(self) -> None:
        """Close every connection and the listener, and stop the proxy thread (idempotent)."""
        if self._thread.is_alive():
            self._stopping = True
            self._wake()
            self._thread.join(5.0)
        if self._thread.is_alive():  # pragma: no cover - the loop wakes at least every 0.5 s
            raise RuntimeError("FaultProxy thread did not stop within 5 s")
        self._cleanup()

    @property
    def running(self) -> bool:
        """True while the proxy thread runs."""
        return self._thread.is_alive()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<FaultProxy {self.url} -> {self.target[0]}:{self.target[1]} "
            f"latency={self.latency} jitter={self.jitter} connections={self.connections}"
            f"{' blackholed' if self._blackholed else ''}>"
        )

    # -- loop-thread plumbing ----------------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` in the loop thread and return its result (directly if it has stopped)."""
        if not self._thread.is_alive() or threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        box: list[Any] = []

        def run() -> None:
            try:
                box.append((True, fn()))
            except Exception as exc:  # handed to the caller; the loop goes on
                box.append((False, exc))

        self._calls.append((run, done))
        self._wake()
        if not done.wait(timeout):
            raise TimeoutError(f"FaultProxy did not run the request within {timeout} s")
        if not box:
            raise RuntimeError("FaultProxy stopped before running the request")
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def _run(self) -> None:
        try:
            while not self._stopping:
                timeout = 0.5
                if self._timers and not self._blackholed:
                    timeout = min(timeout, max(0.0, self._timers[0][0] - time.monotonic()))
                for key, mask in self._sel.select(timeout):
                    sock = key.fileobj
                    if sock is self._wake_r:
                        self._drain_wake()
                    elif sock is self._listener:
                        self._accept()
                    else:
                        self._on_event(key.data, sock, mask)  # type: ignore[arg-type]
                while self._calls:
                    fn, done = self._calls.popleft()
                    try:
                        fn()
                    finally:
                        done.set()
                if not self._blackholed:
                    self._fire_timers()
        finally:
            self._stopping = True
            while self._calls:  # release callers waiting on a loop that is gone
                self._calls.popleft()[1].set()
            self._cleanup()

    def _cleanup(self) -> None:
        for conn in list(self._conns):
            self._close_conn(conn)
        for sock in (self._listener, self._wake_r, self._wake_w):
            try:
                self._sel.unregister(sock)
            except (KeyError, ValueError, OSError):
                pass
            sock.close()
        try:
            self._sel.close()
        except OSError:
            pass

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _accept(self) -> None:
        for _ in range(64):  # bounded burst per wake-up
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(client, upstream)
            self._conns.add(conn)
            self.accepted += 1
            err = upstream.connect_ex(self.target)
            if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                self._close_conn(conn)
                continue
            self._update(conn)  # waits for the upstream connect before reading the client

    def _set_blackhole(self, on: bool) -> None:
        self._blackholed = on
        try:
            self._sel.unregister(self._listener)
        except KeyError:
            pass
        if not on:
            self._sel.register(self._listener, selectors.EVENT_READ, None)
        for conn in list(self._conns):
            self._update(conn)

    def _cut_all(self) -> int:
        count = 0
        for conn in list(self._conns):
            self._close_conn(conn)
            count += 1
        self.cuts += count
        return count

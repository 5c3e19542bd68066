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
import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["FaultProxy"]

_CHUNK = 65536
_EOF = b""  # queued in a pipe to forward a half-close


class _Pipe:
    """One direction of a proxied connection: bytes read from ``src``, written to ``dst``."""

    __slots__ = ("src", "dst", "queue", "out", "last_due", "read_eof", "eof_due", "finished")

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src = src
        self.dst = dst
        self.queue: deque[tuple[float, bytes]] = deque()  # (due time, data or _EOF)
        self.out = bytearray()  # due bytes not yet accepted by dst
        self.last_due = 0.0
        self.read_eof = False  # src sent FIN
        self.eof_due = False  # that FIN is due to be forwarded
        self.finished = False  # FIN forwarded to dst


class _Conn:
    """A client socket and its upstream socket, with one pipe each way."""

    __slots__ = ("client", "upstream", "up", "down", "connected", "closed")

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.up = _Pipe(client, upstream)
        self.down = _Pipe(upstream, client)
        self.connected = False  # upstream connect finished
        self.closed = False


class FaultProxy:
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
        self.latency = float(latency)
        self.jitter = float(jitter)
        self._random = random.Random(seed)
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
        self._blackholed = False
        self._conns: set[_Conn] = set()
        self._timers: list[tuple[float, int, _Pipe, _Conn]] = []
        self._tick = itertools.count()
        self._calls: deque[tuple[Callable[[], Any], threading.Event]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
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

    def _delay(self) -> float:
        delay = self.latency
        if self.jitter:
            delay += self._random.uniform(-self.jitter, self.jitter)
        return max(0.0, delay)

    def _on_event(self, conn: _Conn, sock: socket.socket, mask: int) -> None:
        if conn.closed:
            return
        if sock is conn.upstream and not conn.connected and mask & selectors.EVENT_WRITE:
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._close_conn(conn)  # the server refused: the client sees a closed socket
                return
            conn.connected = True
        if mask & selectors.EVENT_READ and not self._blackholed:
            pipe = conn.up if sock is conn.client else conn.down
            if not self._read(conn, pipe):
                return
        if mask & selectors.EVENT_WRITE and conn.connected:
            for pipe in (conn.up, conn.down):
                if pipe.dst is sock and not self._flush(conn, pipe):
                    return
        self._update(conn)

    def _read(self, conn: _Conn, pipe: _Pipe) -> bool:
        try:
            data = pipe.src.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self._close_conn(conn)
            return False
        now = time.monotonic()
        due = max(now + self._delay(), pipe.last_due)
        pipe.last_due = due
        if not data:
            pipe.read_eof = True
        pipe.queue.append((due, data))
        heapq.heappush(self._timers, (due, next(self._tick), pipe, conn))
        return True

    def _fire_timers(self) -> None:
        now = time.monotonic()
        touched: set[_Conn] = set()
        while self._timers and self._timers[0][0] <= now:
            _due, _n, pipe, conn = heapq.heappop(self._timers)
            if conn.closed:
                continue
            while pipe.queue and pipe.queue[0][0] <= now:
                _due, data = pipe.queue.popleft()
                if data:
                    pipe.out += data
                else:
                    pipe.eof_due = True
            touched.add(conn)
        for conn in touched:
            if conn.connected and not conn.closed:
                for pipe in (conn.up, conn.down):
                    if not self._flush(conn, pipe):
                        break
                else:
                    self._update(conn)

    def _flush(self, conn: _Conn, pipe: _Pipe) -> bool:
        """Write what is due; forward a half-close once drained. False if conn was closed."""
        if pipe.out:
            try:
                sent = pipe.dst.send(pipe.out)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close_conn(conn)
                return False
            del pipe.out[:sent]
        if not pipe.out and pipe.eof_due and not pipe.finished:
            try:
                pipe.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            pipe.finished = True
            if conn.up.finished and conn.down.finished:
                self._close_conn(conn)
                return False
        return True

    def _update(self, conn: _Conn) -> None:
        """Register each socket for exactly the events it needs now."""
        if conn.closed:
            return
        for sock, inbound, outbound in (
            (conn.client, conn.up, conn.down),
            (conn.upstream, conn.down, conn.up),
        ):
            mask = 0
            if not self._blackholed and not inbound.read_eof and conn.connected:
                mask |= selectors.EVENT_READ
            if (sock is conn.upstream and not conn.connected) or (
                outbound.out and not self._blackholed
            ):
                mask |= selectors.EVENT_WRITE
            try:
                if mask:
                    self._sel.modify(sock, mask, conn)
                else:
                    self._sel.unregister(sock)
            except KeyError:
                if mask:
                    self._sel.register(sock, mask, conn)
            except (ValueError, OSError):
                self._close_conn(conn)
                return

    def _close_conn(self, conn: _Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._conns.discard(conn)
        for sock in (conn.client, conn.upstream):
            try:
                self._sel.unregister(sock)
            except (KeyError, ValueError, OSError):
                pass
            try:
                sock.close()
            except OSError:
                pass

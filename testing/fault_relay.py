"""The byte pump behind :class:`~flask_socketio_testing.faults.FaultProxy`: delayed, in-order relay.

Each proxied connection is a client socket and an upstream socket with one pipe each way; bytes
read from one side are held ``latency + uniform(-jitter, jitter)`` seconds, then written to the
other, never reordered, half-closes forwarded once drained. :class:`_Relay` is the selector state
and the per-event steps; the proxy (listener, controls, loop thread) builds on it.
"""

from __future__ import annotations

import heapq
import itertools
import random
import selectors
import socket
import time
from collections import deque

__all__: list[str] = []

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


class _Relay:
    """Selector, connections and delay timers; the steps that move bytes (see the module)."""

    def __init__(self, *, latency: float, jitter: float, seed: int | None) -> None:
        self.latency = float(latency)
        self.jitter = float(jitter)
        self._random = random.Random(seed)
        self._blackholed = False
        self._conns: set[_Conn] = set()
        self._timers: list[tuple[float, int, _Pipe, _Conn]] = []
        self._tick = itertools.count()
        self._sel = selectors.DefaultSelector()

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

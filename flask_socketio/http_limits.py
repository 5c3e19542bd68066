"""HTTP limits of the built-in web servers: header, body and idle timeouts, and a connection cap.

Each connection's reads go through a :class:`DeadlineReader` that gives every ``recv`` only the
time left before the deadline of the connection's phase, so a client that sends its request a
byte at a time (slowloris) is cut when the deadline passes, not when one read waits too long:

- ``idle``: waiting for the first byte of a request (a fresh connection, or a keep-alive one
  between requests): ``idle_timeout``, then the connection is closed without an answer;
- ``headers``: from the first byte to the end of the headers: ``header_timeout``, then 408;
- ``body``: from the end of the headers, for the declared body: ``body_timeout``, then 408;
- ``app``: the application runs: no deadline on waiting (a long-polling GET waits for its
  packets), but reads of a body the server did not buffer still end at the body deadline, and
  the response is written 64 KiB at a time, each part within ``send_timeout`` (a client that
  reads nothing cannot hold its connection; a slow one is not cut for the size of a download);
- ``upgraded``: a WebSocket: no deadline from here (the Engine.IO ping timeout governs it).

:class:`ConnectionRegistry` counts open connections. At ``max_connections`` a new connection
first evicts the connection that has waited longest for a request (idle or still sending its
headers: it holds no request yet); when every connection is busy the newcomer gets 503.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

logger = logging.getLogger("flask_socketio")

#: the keyword arguments of ``socketio.run()`` and ``serving.make_server()`` read here
OPTION_NAMES = ("header_timeout", "body_timeout", "idle_timeout", "send_timeout", "max_connections")

IDLE, HEADERS, BODY, APP, UPGRADED = "idle", "headers", "body", "app", "upgraded"

#: how many evicted connections may be closing at once before new ones are refused instead
EVICTING_MAX = 32
#: how many connections a server accepts per wake-up before their handlers count them
ACCEPT_BATCH = 32
#: the part of a response each send must take within ``send_timeout``
CHUNK = 65536
#: how long a 408 or 503 answer may take to write before the connection is closed regardless
ANSWER_SECONDS = 1.0

RESPONSE_408 = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
    b"Connection: close\r\n\r\nRequest Timeout\n"
)
RESPONSE_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nToo many connections\n"
)


def default_max_connections() -> int:
    """The soft ``RLIMIT_NOFILE`` minus a reserve (a tenth, at least 128) for the process's other
    files (log files, broker connections, the listening socket: 64 and more) and for sockets
    accepted but not yet counted (``ACCEPT_BATCH``) or evicted but not yet closed
    (``EVICTING_MAX``)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # not Unix: Windows' select() handles 512
        return 500
    if soft == resource.RLIM_INFINITY or soft > 1 << 20:
        soft = 1 << 20
    return max(16, soft - max(128, soft // 10))


def _check_timeout(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a number of seconds above 0, or None for no limit")
    return float(value)


@dataclass(frozen=True)
class HTTPLimits:
    """The limits of one web server (see the module docstring and docs/security.md)."""

    #: request line and headers, from their first byte (a real client sends them in one packet)
    header_timeout: float | None = 10.0
    #: a declared body, from the end of the headers (1 MB at 33 KB/s)
    body_timeout: float | None = 30.0
    #: waiting for a request: above the 25 s ping interval, so a polling client's connection
    #: is reused between pings; below nginx's 75 s keep-alive
    idle_timeout: float | None = 60.0
    #: writing each 64 KiB of a response (the kernel takes it once the client has read part of
    #: what is queued): a live client, however slow, reads that in a minute; one that reads
    #: nothing is gone or hostile
    send_timeout: float | None = 60.0
    #: concurrent connections; None: derived from RLIMIT_NOFILE
    max_connections: int | None = None
    #: bodies up to this size are read by the server before the application runs (within the
    #: body timeout), so the application never sees a timeout; Engine.IO's max_http_buffer_size
    buffered_body: int = 1_000_000
    #: the cap in force (max_connections, or the derived default)
    connection_cap: int = field(init=False)

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "idle_timeout", "send_timeout"):
            object.__setattr__(self, name, _check_timeout(name, getattr(self, name)))
        cap = self.max_connections
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError("max_connections must be a whole number above 0, or None")
        object.__setattr__(self, "connection_cap", cap or default_max_connections())

    @classmethod
    def pop_from(cls, kwargs: dict) -> HTTPLimits:
        """Take the limit options (and an ``http_limits`` object) out of a server's kwargs."""
        limits = kwargs.pop("http_limits", None) or cls()
        given = {name: kwargs.pop(name) for name in OPTION_NAMES if name in kwargs}
        return replace(limits, **given) if given else limits


class RequestTimeout(TimeoutError):
    """A phase's deadline passed (a ``TimeoutError``, as a socket read that timed out)."""


class Connection:
    """One client connection: its phase, the deadline of that phase, and how it ended."""

    __slots__ = (
        "sock",
        "address",
        "limits",
        "registry",
        "phase",
        "deadline",
        "since",
        "timed_out",
        "answered",
        "evicted",
        "in_app",
        "app_timeout",
    )

    def __init__(self, sock: Any, address: Any, limits: HTTPLimits, registry: Any):
        self.sock = sock
        self.address = address
        self.limits = limits
        self.registry: ConnectionRegistry = registry
        self.phase = IDLE
        self.deadline: float | None = None
        self.since = time.monotonic()
        self.timed_out: str | None = None  # the phase whose deadline passed
        self.answered = False
        self.evicted = False
        self.in_app = False
        self.app_timeout: float | None = None

    def reader(self) -> io.BufferedReader:
        """The buffered ``rfile`` the server's handler reads requests from."""
        return io.BufferedReader(DeadlineReader(self), io.DEFAULT_BUFFER_SIZE)

    def _enter(self, phase: str, timeout: float | None) -> None:
        self.phase = phase
        self.since = time.monotonic()
        self.deadline = None if timeout is None else self.since + timeout

    def await_request(self) -> None:
        """Before reading a request: the idle deadline; the connection may be evicted."""
        self.in_app = False
        self._enter(IDLE, self.limits.idle_timeout)
        self.registry.waiting(self)

    def request_started(self) -> None:
        """The first bytes of a request arrived: the header deadline."""
        self._enter(HEADERS, self.limits.header_timeout)

    def headers_done(self) -> None:
        """The headers are in: the body deadline; the connection holds a request now."""
        self.registry.busy(self)
        self._enter(BODY, self.limits.body_timeout)

    def app_started(self, upgrade: bool) -> None:
        """The application is called: no deadline on waiting, the socket's timeout is the send
        timeout; a WebSocket upgrade has no deadline at all (the socket blocks again, as the
        transport and WebSocket libraries expect)."""
        self.in_app = True
        if upgrade:
            self._enter(UPGRADED, None)
            self.app_timeout = None
        else:
            self.phase = APP  # streamed body reads keep the body deadline
            self.app_timeout = self.limits.send_timeout
        try:
            self.sock.settimeout(self.app_timeout)
        except OSError:
            pass

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expire(self) -> RequestTimeout:
        """Record that the deadline passed; the exception for the reader to raise."""
        phase = BODY if self.phase == APP else self.phase
        self.timed_out = phase
        return RequestTimeout(f"{phase} timeout")

    def close_after_timeout(self, response_started: bool = False) -> None:
        """Answer a timed-out request with 408 where one had started (HTTP), log one line."""
        if self.answered or self.timed_out is None:
            return
        self.answered = True
        self.registry.count_timeout()
        phase = self.timed_out
        answer = phase != IDLE and not response_started
        if answer:
            send_now(self.sock, RESPONSE_408)
        seconds = {
            IDLE: self.limits.idle_timeout,
            HEADERS: self.limits.header_timeout,
            BODY: self.limits.body_timeout,
        }.get(phase)
        logger.debug(
            "HTTP %s timeout (%s s) from %s: %sconnection closed",
            phase,
            seconds,
            _peer(self.address),
            "408, " if answer else "",
        )

    def send_timed_out(self) -> None:
        """The client took no part of the response within ``send_timeout``: log one line."""
        if self.answered:
            return
        self.answered = True
        self.registry.count_timeout()
        logger.debug(
            "HTTP send timeout (%s s) to %s: connection closed",
            self.limits.send_timeout,
            _peer(self.address),
        )

    def evict(self) -> None:
        """Close a connection that holds no request, to make room (``admit`` chose it)."""
        logger.debug(
            "at the cap of %d connections: closed the connection from %s (%s for %.1f s)",
            self.limits.connection_cap,
            _peer(self.address),
            self.phase,
            time.monotonic() - self.since,
        )
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader; its handler closes it
        except OSError:
            pass


class DeadlineReader(io.RawIOBase):
    """Socket reads that end at the deadline of the connection's phase (see the module doc)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn
        self._sock = conn.sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        conn = self._conn
        left = conn.time_left()
        if left is not None and left <= 0:
            raise conn.expire()
        self._sock.settimeout(left)
        try:
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            raise conn.expire() from None
        finally:
            if conn.in_app:
                self._sock.settimeout(conn.app_timeout)  # for the response's writes
        if count and conn.phase == IDLE:
            conn.request_started()
        return count


class ConnectionRegistry:
    """The open connections of one server: the cap, and which ones may be evicted."""

    def __init__(self, limits: HTTPLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._count = 0
        self._evicting = 0
        #: connections accepted, and how many of them were evicted, refused with 503, or
        #: closed by a timeout; the most open at once
        self.stats = {"accepted": 0, "evicted": 0, "refused": 0, "timed_out": 0, "peak": 0}
        self._waiting: OrderedDict[Connection, None] = OrderedDict()

    @property
    def count(self) -> int:
        """Connections open now (evicted ones still closing included)."""
        return self._count

    def admit(self, sock: Any, address: Any) -> Connection | None:
        """A new connection, or None when it must be refused (see :func:`refuse`)."""
        conn = Connection(sock, address, self.limits, self)
        victim = None
        with self._lock:
            self.stats["accepted"] += 1
            if self._count - self._evicting >= self.limits.connection_cap:
                if not self._waiting or self._evicting >= EVICTING_MAX:
                    self.stats["refused"] += 1
                    return None
                victim, _ = self._waiting.popitem(last=False)
                victim.evicted = True
                self._evicting += 1
                self.stats["evicted"] += 1
            self._count += 1
            self.stats["peak"] = max(self.stats["peak"], self._count)
        if victim is not None:
            victim.evict()
        return conn

    def waiting(self, conn: Connection) -> None:
        """``conn`` waits for a request (the newest such: evicted last)."""
        with self._lock:
            if not conn.evicted:
                self._waiting[conn] = None
                self._waiting.move_to_end(conn)

    def busy(self, conn: Connection) -> None:
        """``conn`` holds a request: never evicted while it does."""
        with self._lock:
            self._waiting.pop(conn, None)

    def count_timeout(self) -> None:
        with self._lock:
            self.stats["timed_out"] += 1

    def release(self, conn: Connection) -> None:
        """``conn`` is closed (exactly once per admitted connection)."""
        with self._lock:
            self._waiting.pop(conn, None)
            self._count -= 1
            if conn.evicted:
                self._evicting -= 1


class ChunkedWriter(io.BufferedIOBase):
    """A socket's ``wfile`` that sends 64 KiB at a time, so that the socket's timeout bounds
    each part of a response rather than the whole (a large download is not cut)."""

    def __init__(self, sock: Any) -> None:
        super().__init__()
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        send_in_chunks(self._sock.sendall, data)
        with memoryview(data) as view:
            return view.nbytes

    def fileno(self) -> int:
        return int(self._sock.fileno())


def send_in_chunks(sendall: Any, data: Any) -> None:
    """``sendall`` each 64 KiB of ``data`` in turn (each call gets the socket's timeout)."""
    with memoryview(data) as view:
        if view.nbytes <= CHUNK:
            sendall(data)
            return
        view = view.cast("B")
        for offset in range(0, view.nbytes, CHUNK):
            sendall(view[offset : offset + CHUNK])


def refuse(sock: Any, address: Any, limits: HTTPLimits) -> None:
    """Answer a connection over the cap with 503 and close it at once (with TLS, both servers
    have done the handshake by then, so the answer goes encrypted)."""
    logger.debug(
        "at the cap of %d connections, all busy: refused %s with 503",
        limits.connection_cap,
        _peer(address),
    )
    send_now(sock, RESPONSE_503)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def send_now(sock: Any, data: bytes) -> None:
    """Write a short final answer, waiting at most ``ANSWER_SECONDS`` for a client that reads
    nothing, then drop what the client already sent: closing with unread data would make the
    kernel answer with a reset, and the client could lose the answer."""
    try:
        sock.settimeout(ANSWER_SECONDS)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0)  # only what has arrived: never wait here
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass


def is_upgrade(headers_value: str | None) -> bool:
    """Whether an ``Upgrade`` header asks for a WebSocket."""
    return (headers_value or "").strip().lower() == "websocket"


def read_body(conn: Connection, rfile: Any, length: int) -> bytes:
    """The whole declared body, read within the body deadline (raises RequestTimeout), or
    ConnectionResetError when the client closed before sending all of it."""
    data = rfile.read(length)
    if len(data) < length:
        raise ConnectionResetError(f"the client sent {len(data)} of {length} body bytes")
    return data


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)

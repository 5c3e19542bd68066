"""The WebSocket transport of the built-in servers: native per-byte cost, one send per wake-up.

python-engineio asks its async driver for a ``websocket`` class: an object built with the
Engine.IO socket's handler that takes the WSGI request and then offers ``wait()``, ``send()`` and
``close()``. :class:`WebSocketTransport` is that class for the servers of :mod:`.serving`:

- frames are parsed by the sans-I/O protocol of the ``websockets`` package (C unmasking; a
  frame whose declared length exceeds ``max_http_buffer_size`` is refused with close code 1009
  before its payload is read; pings, close handshakes and protocol errors get proper close
  codes); text is checked as UTF-8 by ``bytes.decode`` (1007 when it is not);
- :meth:`WebSocketTransport.send_packets` sends a batch of Engine.IO packets in one ``sendall``
  (the session's one writer task, :mod:`.eio_socket`, decides what goes in a batch and when;
  ``TCP_NODELAY`` stays on, so a lone packet still leaves at once), and a frame is built once
  per Engine.IO packet, so a broadcast frames its packet once for all recipients;
  :meth:`WebSocketTransport.try_send` writes a frame only if the connection takes it at once
  (the direct write path of :mod:`.eio_socket`), and keeps the unsent rest of a cut frame to
  send before anything else;
- the upgraded socket is never written to as HTTP again: the server handler is told through
  a shared :class:`Hijack` marker in the environ to write nothing once the application returns.

Requests the transport cannot take over (no raw socket in the environ, or a server that already
upgraded, like gevent-websocket's handler) go to python-engineio's own driver class.
"""

from __future__ import annotations

import _socket
import dataclasses
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from .ws_accept import switching_protocols

try:
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidHeaderValue
    from websockets.frames import CloseCode, Opcode
    from websockets.http11 import Request
    from websockets.protocol import State
    from websockets.server import ServerProtocol
except ImportError:  # pragma: no cover - websockets is a dependency; without it engineio's own
    AVAILABLE = False
else:
    AVAILABLE = True

#: websockets' own default logger, looked up once (``logging.getLogger`` takes a lock per call)
_WS_LOGGER = logging.getLogger("websockets.server")
#: environ key holding the connection's socket, set by the servers of :mod:`.serving`.
SOCKET_KEY = "flask_socketio.socket"
#: environ key of the server's :class:`Hijack` marker, set once the transport owns the socket.
HIJACKED_KEY = "flask_socketio.hijacked"


class Hijack:
    """Tells the web server that the transport took its socket over (write nothing more).

    It is a shared object rather than an environ value because middleware (ours included) may
    hand the application a copy of the environ; the copy still holds this same object.
    """

    __slots__ = ("taken",)

    def __init__(self) -> None:
        self.taken = False


#: what :meth:`WebSocketTransport.try_send` did with a frame
SENT, OWED, REFUSED = 0, 1, 2
_UNSET: Any = object()

#: the attribute caching a packet's frame on python-engineio's packet object.
_FRAME_ATTR = "_flask_socketio_frame"
_RECV_SIZE = 65536
#: how long a closed connection is read and dropped so that the close frame arrives (no reset)
_DRAIN_SECONDS = 1.0


def install(eio_server: Any) -> None:
    """Make ``eio_server`` use :class:`WebSocketTransport`, falling back to its own driver."""
    fallback = eio_server._async.get("websocket")
    if not AVAILABLE or fallback is None or eio_server.async_mode not in ("threading", "gevent"):
        return

    def factory(handler: Callable[[Any], Any], server: Any) -> Any:
        return WebSocketTransport(handler, server, fallback)

    # the driver's table is shared by every server of the mode: give this one its own copy
    eio_server._async = dict(eio_server._async, websocket=factory)


def frame_for(pkt: Any) -> bytes:
    """The server-to-client WebSocket frame of an Engine.IO packet, built once per packet."""
    frame = pkt.__dict__.get(_FRAME_ATTR)
    if frame is None:
        encoded = pkt.encode()
        if isinstance(encoded, str):
            frame = _frame(0x81, encoded.encode("utf-8"))
        else:
            frame = _frame(0x82, bytes(encoded))
        setattr(pkt, _FRAME_ATTR, frame)
    return frame


def _frame(first_byte: int, payload: bytes) -> bytes:
    """An unmasked final frame; written here because it is on every packet's path (3 branches)."""
    length = len(payload)
    if length < 126:
        return bytes((first_byte, length)) + payload
    if length < 65536:
        return bytes((first_byte, 126)) + length.to_bytes(2, "big") + payload
    return bytes((first_byte, 127)) + length.to_bytes(8, "big") + payload


class WebSocketTransport:
    """One WebSocket connection, in the shape python-engineio's socket handler expects."""

    def __init__(self, handler: Callable[[Any], Any], server: Any, fallback: Any) -> None:
        self.app = handler
        self.server = server
        self._fallback = fallback
        self._conn: Any = None
        self._protocol: ServerProtocol | None = None
        self._received: list[Any] = []
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None
        self._write_lock = _make_lock(server)
        self._closed = False
        #: the stream's ends: the client's end of stream was read / ours was sent
        self._eof_read = False
        self._eof_sent = False
        #: the unsent rest of a direct write (:meth:`try_send`), sent before anything else
        self._owed = b""
        #: a send that never waits, found on the first direct write: see :func:`_raw_sender`
        self._raw_send: Any = _UNSET

    # -- the WSGI side -----------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        sock = environ.get(SOCKET_KEY) or environ.get("werkzeug.socket")
        if sock is None or "wsgi.websocket" in environ:
            return self._fallback(self.app, self.server)(environ, start_response)
        # the web server parsed the request already: the protocol starts in the OPEN state
        # (its frame parser); a plainly valid handshake is answered by ``ws_accept``, any
        # other goes to the protocol's ``accept()``, which validates it and words a refusal
        protocol = ServerProtocol(
            state=State.OPEN, max_size=self.server.max_http_buffer_size, logger=_WS_LOGGER
        )
        answer = switching_protocols(environ)
        if answer is None:
            refusal = _refused_method_or_protocol(environ)
            if refusal is not None:
                start_response(refusal, [("Content-Type", "text/plain")])
                return [refusal.encode()]
            try:
                request = _handshake_request(environ)
            except InvalidHeaderValue:
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [b"Bad WebSocket handshake request"]
            response = protocol.accept(request)
            if response.status_code != 101:
                start_response(
                    f"{response.status_code} {response.reason_phrase}",
                    list(response.headers.raw_items()),
                )
                return [response.body]
            answer = response.serialize()
        # a bound on silence, twice the ping deadline: the ping monitor closes a dead client
        # first (with its own reason), this only frees the tasks of one that never answers
        sock.settimeout(2 * (self.server.ping_interval + self.server.ping_timeout))
        self._conn = sock
        self._protocol = protocol
        hijack = environ.get(HIJACKED_KEY)
        if isinstance(hijack, Hijack):
            hijack.taken = True
        # the 101 alone: nothing else is due yet (the OPEN is the writer task's, see eio_socket)
        try:
            _send_all(sock, answer)
        except OSError:
            self._closed = True  # the session still runs its handler, which sees the end
        try:
            self.app(self)
        finally:
            self._release()
        if "werkzeug.socket" in environ and SOCKET_KEY not in environ:
            # Werkzeug writes nothing after a dropped connection (python-engineio does the same)
            raise ConnectionAbortedError("WebSocket session ended")
        return []

    def _release(self) -> None:
        """Close the TCP connection once the WebSocket session is over.

        The write side closes first and what the client still sends is read and dropped for a
        moment (bounded): closing with unread data would make the kernel answer with a reset,
        and the client would lose the close frame (1009 for a message over the limit).
        """
        self._closed = True
        conn = self._conn
        try:
            if not self._eof_sent:
                conn.shutdown(socket.SHUT_WR)
                self._eof_sent = True
            deadline = time.monotonic() + _DRAIN_SECONDS
            while not self._eof_read and (left := deadline - time.monotonic()) > 0:
                conn.settimeout(left)
                self._eof_read = not conn.recv(_RECV_SIZE)
        except OSError:
            pass
        if not (self._eof_sent and self._eof_read):  # both ends done: nothing to shut down
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if isinstance(self._raw_send, _DupSender):  # its descriptor goes now, not at collection
            with self._write_lock:  # never under a direct write in flight
                self._raw_send.close()

    @property
    def closed(self) -> bool:
        """Whether the connection is over for writing: the client's close frame came (the
        protocol answered it), the connection broke, or the close was sent."""
        return self._closed

    # -- what python-engineio calls ----------------------------------------------------------

    def wait(self) -> str | bytes | None:
        """The next message from the client, or None once the connection is closed."""
        protocol = self._protocol
        assert protocol is not None
        while True:
            while self._received:
                message = self._message(self._received.pop(0))
                if message is not None:
                    return message
                if self._closed:
                    return None
            if protocol.parser_exc is not None or self._closed:
                return None
            try:
                data = self._conn.recv(_RECV_SIZE)
            except OSError:
                return None
            if data:
                protocol.receive_data(data)
            else:
                self._eof_read = True
                protocol.receive_eof()
            self._received.extend(protocol.events_received())
            self._flush_protocol()
            if not data and not self._received:
                return None

    def send(self, message: str | bytes) -> None:
        """Send one message at once (the upgrade probe; the writer task batches the rest)."""
        if isinstance(message, str):
            self._write(_frame(0x81, message.encode("utf-8")))
        else:
            self._write(_frame(0x82, bytes(message)))

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (code 1000 unless told) and stop writing."""
        protocol = self._protocol
        if protocol is None or self._closed:
            return
        with self._write_lock:
            if protocol.state is State.OPEN:
                protocol.send_close(code)
        self._flush_protocol()

    # -- internals ----------------------------------------------------------------------------

    def _message(self, frame: Any) -> str | bytes | None:
        """A whole message from a data frame, or None (control frame, fragment, bad data)."""
        opcode = frame.opcode
        if opcode is Opcode.CLOSE:
            self._closed = True
            return None
        if opcode is Opcode.PING or opcode is Opcode.PONG:
            return None
        if opcode is Opcode.CONT:
            self._fragments.append(frame.data)
            if not frame.fin:
                return None
            opcode, data = self._fragment_opcode, b"".join(self._fragments)
            self._fragments, self._fragment_opcode = [], None
        elif not frame.fin:
            self._fragments, self._fragment_opcode = [frame.data], opcode
            return None
        else:
            data = frame.data
        if opcode is Opcode.BINARY:
            return bytes(data)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            return None

    def _fail(self, code: CloseCode, reason: str) -> None:
        assert self._protocol is not None
        with self._write_lock:
            self._protocol.fail(code, reason)
        self._flush_protocol()
        self._closed = True

    def _flush_protocol(self) -> None:
        """Write what the protocol produced (handshake, pongs, close frames, end of stream)."""
        assert self._protocol is not None
        with self._write_lock:
            owed, self._owed = self._owed, b""
            if owed:  # the rest of a direct write: frames never interleave
                try:
                    _send_all(self._conn, owed)
                except OSError:
                    self._closed = True
                    return
            for data in self._protocol.data_to_send():
                try:
                    if data:
                        _send_all(self._conn, data)
                    else:
                        self._conn.shutdown(socket.SHUT_WR)
                        self._eof_sent = True
                except OSError:
                    self._closed = True
                    return

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            if self._closed:
                raise OSError("WebSocket is closed")
            owed = self._owed
            if owed:  # the rest of a direct write goes first: frames never interleave
                self._owed = b""
                data = owed + data
            if data:
                _send_all(self._conn, data)

    def send_packets(self, packets: list[Any]) -> None:
        """Send Engine.IO packets in one ``sendall``, each framed once (its frame is cached on
        the packet, so every recipient of a broadcast reuses the same bytes). What a direct
        write left unsent goes first; an empty list sends only that."""
        if len(packets) == 1:
            self._write(frame_for(packets[0]))
        else:
            self._write(b"".join([frame_for(pkt) for pkt in packets]))

    def try_send(self, frame: bytes) -> int:
        """Write ``frame`` now if the connection takes it without waiting (Node's
        ``uv_try_write``): never blocks, never switches greenlets, never wakes a thread.

        :data:`SENT`: all of it is written. :data:`OWED`: part of it is written and the rest
        is kept here; the caller must have the writer call :meth:`send_packets` (any write
        sends it first, so nothing else gets between the two parts). :data:`REFUSED`:
        nothing written (the kernel buffer is full, another write is under way, or the
        connection is closed); the caller queues the packet for the writer.
        """
        lock = self._write_lock
        if not lock.acquire(blocking=False):
            return REFUSED
        try:
            raw_send = self._raw_send
            if raw_send is _UNSET:
                raw_send = self._raw_send = _raw_sender(self._conn)
            if self._closed or self._owed or raw_send is None:
                return REFUSED
            try:
                sent = raw_send(frame)
            except (BlockingIOError, InterruptedError):
                return REFUSED
            except OSError:
                return REFUSED  # broken: the writer's blocking write reports it
            if sent >= len(frame):
                return SENT
            if sent <= 0:
                return REFUSED
            self._owed = frame[sent:]
            return OWED
        finally:
            lock.release()


#: (environ key, header) of the request headers websockets' ``ServerProtocol.accept()`` reads
_HANDSHAKE_HEADERS = tuple(
    ("HTTP_" + name.upper().replace("-", "_"), name)
    for name in (
        "Connection",
        "Upgrade",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Origin",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
    )
)


#: websockets 14 gave its ``Request`` the method and protocol, which ``accept()`` then checks
_REQUEST_HAS_METHOD = AVAILABLE and "method" in {f.name for f in dataclasses.fields(Request)}


def _handshake_request(environ: dict) -> Request:
    """The handshake request as websockets' ``Request``, built from the WSGI environ.

    The headers are the environ's ``HTTP_*`` keys that ``accept()`` reads (the web server
    joined repeated ones with commas, so a repeated key fails validation, as from websockets'
    own parser; each header costs a validated insert, so the others are left out); method and
    protocol are the request's, so ``accept()`` refuses others as it does (405, 505). Raises
    ``InvalidHeaderValue`` when a value holds a character HTTP forbids.
    """
    headers = Headers()
    for key, name in _HANDSHAKE_HEADERS:
        value = environ.get(key)
        if value is not None:
            headers[name] = value
    path = environ.get("PATH_INFO", "/")
    if not path.isascii():
        path = urllib.parse.quote(path, safe="/%;:@&=+$,!~*'()")
    query = environ.get("QUERY_STRING")
    target = f"{path}?{query}" if query else path
    if not _REQUEST_HAS_METHOD:
        return Request(target, headers)
    return Request(
        target,
        headers,
        method=environ.get("REQUEST_METHOD", "GET"),
        protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
    )


def _refused_method_or_protocol(environ: dict) -> str | None:
    """The status refusing a handshake that is not a GET over HTTP/1.1, where websockets'
    ``Request`` cannot carry them (before 14.0, only its request parser checked them)."""
    if _REQUEST_HAS_METHOD:
        return None
    if environ.get("REQUEST_METHOD", "GET") != "GET":
        return "405 Method Not Allowed"
    if environ.get("SERVER_PROTOCOL", "HTTP/1.1") != "HTTP/1.1":
        return "505 HTTP Version Not Supported"
    return None


def _raw_sender(conn: Any) -> Callable[[bytes], int] | None:
    """A ``send`` on ``conn`` that never waits, or None when there is none.

    A gevent socket's ``send`` waits on its hub (a greenlet switch) when the buffer is full;
    the non-blocking ``_socket.socket`` under it raises ``BlockingIOError`` instead. A standard
    socket with a timeout polls before every send (and would wait that timeout), so its send
    goes through a ``_socket.socket`` of its own with timeout 0 on a duplicate descriptor (the
    descriptor is non-blocking already: a socket with a timeout is non-blocking underneath).
    """
    inner = getattr(conn, "_sock", None)
    if isinstance(inner, _socket.socket) and inner.gettimeout() == 0.0:
        return inner.send  # gevent: its socket's own non-blocking half
    if isinstance(conn, socket.socket):
        if conn.gettimeout() is None:  # blocking: no poll before the send, the flag suffices
            send, flags = conn.send, socket.MSG_DONTWAIT
            return lambda data: send(data, flags)
        try:
            dup = _socket.socket(conn.family, conn.type, conn.proto, os.dup(conn.fileno()))
        except OSError:
            return None
        dup.settimeout(0.0)
        return _DupSender(dup)
    return None


def _send_all(conn: Any, data: bytes) -> None:
    """``sendall`` that tries one ``send`` first: gevent's ``sendall`` asks the kernel for the
    send buffer's size before every call, a system call for nothing when one send takes it all."""
    sent = conn.send(data)
    if sent < len(data):
        conn.sendall(memoryview(data)[sent:])


class _DupSender:
    """The non-blocking duplicate of a connection's descriptor (closed with the connection)."""

    __slots__ = ("sock", "send")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.send = sock.send

    def __call__(self, data: bytes) -> int:
        return self.send(data)

    def close(self) -> None:
        self.sock.close()

    __del__ = close


def _make_lock(server: Any) -> Any:
    """A lock for the connection's writes, of the server's concurrency model."""
    if str(getattr(server, "async_mode", "")).startswith("gevent"):
        import gevent.lock

        return gevent.lock.Semaphore()
    return threading.Lock()

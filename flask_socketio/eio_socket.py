"""An Engine.IO session that follows the v4 protocol where python-engineio's ``Socket`` does not.

Pinned against python-engineio 4.15; it overrides ``Socket.send``, ``handle_get_request``,
``handle_post_request``, ``receive``, ``close``, ``poll``, ``schedule_ping``,
``check_ping_timeout``, ``_upgrade_websocket``, ``_websocket_handler`` and
``_websocket_writer`` (``_send_ping`` is no longer used). What changes, and why:

- one writer per WebSocket session: each wake-up's packets go to the transport in one write;
  a Socket.IO CONNECT answer ends its write and the frames after it wait ``connect_gap``, and
  a session opened on a WebSocket sends its OPEN in a write after the 101's (clients that
  dispatch one read at a time would lose a frame otherwise, as socket.io's server never has
  two writes in flight); threading sessions queue on the C ``SimpleQueue``;
- a direct write path (Node's ``uv_try_write``): while the writer is idle with nothing queued,
  ``send`` writes the frame itself with a send that never waits, and what the connection does
  not take goes to the writer, which owns the connection until its queue is empty again
  (:meth:`Socket._send_direct`); threading only (:attr:`Socket.direct_modes`: under gevent
  the queue measured cheaper), polling sessions always queue;

- every request is answered and released: a POST that is too large or malformed gets 400 and
  closes the session without waiting for a GET (python-engineio's ``close(wait=True)`` waited for
  a GET that may never come, holding the request and its file descriptor);
- a POST carries any number of packets (the size limit bounds it), all decoded before any is
  handled, so a bad payload is refused whole and a good one is never cut at 16 packets;
- a pending GET is ended with a noop ``6`` when the client closes; a second GET while one is
  pending closes the session (the first gets ``1``, the second 400); a GET after the ping deadline
  gets 400 (the deadline is checked when the request arrives);
- only one WebSocket may upgrade a session: a second one racing the upgrade is refused, and the
  noop that ends the poll during an upgrade never goes over the WebSocket;
- a malformed packet over the WebSocket closes it with close code 1002, one that is too large
  with 1009 (other closes send 1000).
"""

from __future__ import annotations

import logging
import queue
import struct
import threading
import time
from typing import Any

from engineio import exceptions, packet
from engineio import socket as eio_socket

from .transport import OWED, SENT, frame_for

#: Engine.IO packet types a v4 client may send on an open session (PING only as the probe).
_CLIENT_TYPES = {packet.CLOSE, packet.PONG, packet.MESSAGE, packet.UPGRADE, packet.NOOP}
MESSAGE_TYPE, NOOP_TYPE = packet.MESSAGE, packet.NOOP
#: queued when a direct write left part of a frame unsent: wakes the writer to send the rest
_FLUSH = packet.Packet(packet.NOOP)
#: WebSocket close codes (RFC 6455, section 7.4.1).
NORMAL, PROTOCOL_ERROR, POLICY_VIOLATION, TOO_BIG = 1000, 1002, 1008, 1009


class ProtocolViolation(exceptions.EngineIOError):
    """The client broke the protocol: its session is closed (400, or close code 1002)."""

    close_code = PROTOCOL_ERROR


class PayloadTooLarge(ProtocolViolation):
    """A POST body or WebSocket message over ``max_http_buffer_size``."""

    close_code = TOO_BIG


class RequestRefused(Exception):
    """Refuse this one request with 400 and leave the session as it is."""


class WSGIResponse:
    """What a WebSocket request returned for the web server (a handshake refusal's body, or
    nothing after a session): passed through as it is, never encoded as polling packets."""

    __slots__ = ("body",)

    def __init__(self, body: Any) -> None:
        self.body = body


class SharedPacket(packet.Packet):
    """An Engine.IO packet sent to many sessions (a broadcast): its frame is built once, and
    it goes direct only in :attr:`Socket.direct_broadcast_modes`."""


class _ThreadQueue(queue.SimpleQueue):
    """threading: the C queue, with no Python-level lock and condition on every put and get
    (python-engineio's ``queue.Queue``); nothing ever joins a session's queue."""

    def task_done(self) -> None:
        """Nothing to count: the session never waits for its queue to drain."""


def decode_packet(encoded: Any) -> packet.Packet:
    """Decode one packet a client sent, raising :class:`ProtocolViolation` when malformed."""
    try:
        if isinstance(encoded, str) and (not encoded or not encoded[0].isdigit()):
            if not encoded.startswith("b"):
                raise ValueError("unknown packet type")
        pkt = packet.Packet(encoded_packet=encoded)
    except (ValueError, TypeError, IndexError) as exc:  # binascii.Error is a ValueError
        raise ProtocolViolation(f"malformed packet: {exc}") from None
    return pkt


def decode_payload(body: str) -> list[packet.Packet]:
    """Decode a polling POST body (packets separated by the record separator ``\\x1e``)."""
    if not body:
        raise ProtocolViolation("empty payload")
    return [decode_packet(part) for part in body.split("\x1e")]


class Socket(eio_socket.Socket):
    """One Engine.IO session (polling, or upgraded to / opened over a WebSocket)."""

    last_ping: float | None
    connected: bool
    #: seconds between a Socket.IO CONNECT answer and the frames after it (see
    #: :meth:`_websocket_writer`); waited only when a frame follows within it, never by
    #: other emits
    connect_gap = 0.01
    #: seconds between the WebSocket handshake response (101) and the Engine.IO OPEN packet of
    #: a session that starts on a WebSocket. A client that dispatches the rest of the 101's
    #: read before its ``open`` listeners run (the official suites' client) would lose an OPEN
    #: sent with the 101. The writer task's start alone spaces them by a median 120 us
    #: (Node's server: 110 us), which lost the suite's OPEN once in 20 runs of a cell; 2 ms
    #: leaves a margin at a small cost per connect (10 ms cost a fifth of the connects/s)
    open_gap = 0.002
    #: seconds a WebSocket that raced another for the session waits for the other's upgrade
    #: to succeed or fail before it is refused (:meth:`_await_upgrade_outcome`)
    upgrade_race_limit = 1.0
    #: the async modes whose WebSocket sessions write frames straight to an idle connection
    #: (:meth:`_send_direct`); the others keep every send on the queue. Threading only:
    #: there it saves a writer thread's wake-up per recipient and message (GIL contention;
    #: server CPU per broadcast delivery 96 -> 32 us); under gevent a greenlet switch is
    #: cheaper than what it saves (the writer coalesces several broadcasts into one send),
    #: and CPU per broadcast delivery rose from 5.3 to 7.5 us even with broadcasts queued
    direct_modes = frozenset({"threading"})
    #: of those, the modes where a broadcast's copies (:class:`SharedPacket`) go direct too.
    #: Threading: each send releases the GIL, so handler threads broadcasting at once would
    #: interleave (74,190 of 250,000 out of order in one bench); the fan-outs take turns in
    #: arrival order (:mod:`.fanout`), and then 0 of 200,000 were, at 3.8x the queued rate
    direct_broadcast_modes: frozenset[str] = frozenset({"threading"})

    def __init__(self, server: Any, sid: str) -> None:
        super().__init__(server, sid)
        if server.async_mode == "threading":
            self.queue = _ThreadQueue()
        self._claim = threading.Lock()  # guards the two flags below (a gevent lock when patched)
        #: the direct write path (see :meth:`send`): the WebSocket transport's ``try_send``
        #: once a writer runs, and whether that writer is idle with nothing queued; both
        #: change under ``_order``, which every send to a WebSocket session holds
        self._order = threading.Lock()
        self._direct: Any = None
        self._direct_idle = False
        self._direct_shared = server.async_mode in self.direct_broadcast_modes
        self._polling = False  # a GET is waiting for packets
        self._websocket_claimed = False  # a WebSocket is upgrading or carrying the session
        self._next_ping = 0.0  # when the next ping is due (the deadline counts from here)
        self.close_code = NORMAL  # sent with the WebSocket close frame
        self._close_noop = False
        self._drain_on_close = False
        self.closed_at: float | None = None

    # -- heartbeat -------------------------------------------------------------------------

    def schedule_ping(self) -> None:
        """Make the next ping due in ``ping_interval``; the server's service task sends it
        (python-engineio started a task per ping: a sleeping thread per session)."""
        if self.last_ping:
            self.last_ping = None
            self._next_ping = time.time() + self.server.ping_interval

    def send_due_ping(self, now: float) -> None:
        """Send the ping if it is due; the deadline counts from when it was due."""
        due = self._next_ping
        if self.last_ping is not None or not due or now < due or self.closing or self.closed:
            return
        with self._claim:
            if self.last_ping is not None:
                return  # the service task or the other poller sent it
            self.last_ping = due
        self.send(packet.Packet(packet.PING))

    def poll(self) -> list:
        """Wait for packets; a poller waiting when the ping falls due sends it on time (the
        service task's tick is the fallback for sessions nobody is polling)."""
        queue_empty = self.server.get_queue_empty_exception()
        deadline = time.time() + self.server.ping_interval + self.server.ping_timeout
        while True:
            now = time.time()
            self.send_due_ping(now)
            wait = deadline - now
            if self.last_ping is None and self._next_ping:
                wait = min(wait, self._next_ping - now)
            try:
                first = self.queue.get(timeout=max(wait, 0.001))
                break
            except queue_empty:
                if time.time() >= deadline:
                    raise exceptions.QueueEmpty() from None
        self.queue.task_done()
        if first is None:
            return []
        packets = [first]
        # what is counted is there (one consumer at a time): no exception ends the drain
        get, done = self.queue.get_nowait, self.queue.task_done
        for _ in range(self.queue.qsize()):
            pkt = get()
            done()
            if pkt is None:
                self.queue.put(None)  # the end stays for whoever polls next
                break
            packets.append(pkt)
        return packets

    def check_ping_timeout(self) -> bool:
        """Close the session once the ping deadline passed: over a WebSocket with a CLOSE
        packet (it updates half-open connections), over polling at once (no GET may come)."""
        if self.closed:
            raise exceptions.SocketIsClosedError()
        if not self.ping_overdue():
            return True
        self.server.logger.info("%s: Client is gone, closing socket", self.sid)
        self.close(wait=False, abort=not self.upgraded, reason=self.server.reason.PING_TIMEOUT)
        return False

    def ping_overdue(self) -> bool:
        """Whether the client let the ping deadline pass without answering."""
        # a ping not sent yet (its task woke up late) counts from when it was due
        due = self.last_ping or self._next_ping
        return bool(due) and time.time() - due >= self.server.ping_timeout

    # -- sending ---------------------------------------------------------------------------

    def send(self, pkt: packet.Packet) -> None:
        """Send a packet: written at once when the WebSocket writer is idle, else queued for
        the session's writer (a GET, or the WebSocket writer task).

        A broadcast calls this once per recipient with the same packet; the per-packet log
        line is formatted only when enabled.
        """
        if not self.check_ping_timeout():
            return
        if self._direct is None:
            self.queue.put(pkt)
        else:
            self._send_direct(pkt)
        logger = self.server.logger
        if logger.isEnabledFor(logging.INFO):
            data = pkt.data if not isinstance(pkt.data, (bytes, bytearray)) else "<binary>"
            logger.info("%s: Sending packet %s data %s", self.sid, pkt.packet_type, data)

    def send_broadcast(self, pkt: packet.Packet, now: float) -> bool:
        """:meth:`send` for one recipient of a broadcast, with what is the same for every
        recipient worked out once by the caller: the time (for the ping deadline) and that no
        per-packet log line is wanted. False when the ping deadline has passed: nothing is
        sent, and the caller closes the session (:meth:`check_ping_timeout`) once its loop
        is over, since closing runs the app's disconnect handlers."""
        due = self.last_ping or self._next_ping
        if due and now - due >= self.server.ping_timeout:
            return False
        if self._direct is None:
            self.queue.put(pkt)
        else:
            self._send_direct(pkt)
        return True

    def _send_direct(self, pkt: packet.Packet) -> None:
        """The direct write path (Node's ``uv_try_write``): while the writer is idle and its
        queue empty, the frame goes to the connection with a send that never waits (no
        thread wake, no greenlet switch); what the connection does not take now, the writer
        sends, and it owns the connection until its queue is empty again.

        Order holds because a frame is written directly only under ``_order`` and only while
        the writer has nothing queued or in flight; a CONNECT answer always goes through the
        writer (the frames after it wait ``connect_gap``).
        """
        with self._order:
            direct = self._direct
            if (
                self._direct_idle
                and direct is not None
                and (self._direct_shared or type(pkt) is not SharedPacket)
                and not (
                    pkt.packet_type == MESSAGE_TYPE
                    and type(pkt.data) is str
                    and pkt.data[:1] == "0"
                )
            ):
                outcome = direct(frame_for(pkt))
                if outcome == SENT:
                    return
                self._direct_idle = False
                if outcome == OWED:  # the transport holds the rest: the writer sends it
                    self.queue.put(_FLUSH)
                    return
            self._direct_idle = False
            self.queue.put(pkt)

    def _writer_idle(self, try_send: Any) -> None:
        """The writer has written all it took: sends may go direct while nothing is queued."""
        with self._order:
            if not self.queue.qsize() and not self.closed:
                self._direct = try_send
                self._direct_idle = True

    def _writer_busy(self, done: bool = False) -> None:
        """The writer took packets (or ends): sends queue until it is idle again."""
        with self._order:
            self._direct_idle = False
            if done:
                self._direct = None

    # -- receiving -------------------------------------------------------------------------

    def receive(self, pkt: packet.Packet) -> None:
        if pkt.packet_type not in _CLIENT_TYPES:
            raise ProtocolViolation(f"packet type {pkt.packet_type} not allowed from a client")
        if pkt.packet_type == packet.NOOP:
            return
        if pkt.packet_type == packet.CLOSE:
            self._close_noop = True  # one GET, pending or racing this POST, gets a noop
        super().receive(pkt)

    def fail(
        self, violation: ProtocolViolation | None, reason: Any = None, abort: bool = True
    ) -> None:
        """Close the session for a protocol violation (logged once, at debug level); with
        ``abort=False`` a pending GET receives the CLOSE packet."""
        if violation is not None:
            self.server.logger.debug("%s: closing, %s", self.sid, violation)
            self.close_code = violation.close_code
        self.close(wait=False, abort=abort, reason=reason or self.server.reason.TRANSPORT_ERROR)

    # -- polling ---------------------------------------------------------------------------

    def handle_get_request(self, environ: dict, start_response: Any) -> Any:
        connections = [s.strip() for s in environ.get("HTTP_CONNECTION", "").lower().split(",")]
        transport = environ.get("HTTP_UPGRADE", "").lower()
        if "upgrade" in connections and transport in self.upgrade_protocols:
            upgraded = getattr(self, "_upgrade_" + transport)(environ, start_response)
            return upgraded if isinstance(upgraded, dict) else WSGIResponse(upgraded)
        if self.ping_overdue():
            self.fail(None, self.server.reason.PING_TIMEOUT)
            raise RequestRefused("Ping timeout")
        with self._claim:
            duplicate, self._polling = self._polling, True
        if duplicate:
            self.fail(ProtocolViolation("overlapping polling GET"), abort=False)
            raise RequestRefused("Overlapping GET request")
        try:
            if self._websocket_claimed or self.upgrading or self.upgraded:
                return self._poll_during_upgrade()
            try:
                packets = self.poll()
            except exceptions.QueueEmpty:
                self.close(wait=False, reason=self.server.reason.TRANSPORT_ERROR)
                raise
            if not packets:  # closed: end the GET with a noop
                self._close_noop = False
                return [packet.Packet(packet.NOOP)]
            return packets
        finally:
            self._polling = False

    def _poll_during_upgrade(self) -> list:
        """A GET while a WebSocket upgrades: 400 once the upgrade completes (within the 100 ms
        socket.io's server takes to end such a poll), else a noop for the client to stop polling.

        The upgrade counts from the WebSocket's request, not from its probe: a GET racing the
        probe (the client sent ``2probe`` and ``5`` and then polled) must not take a packet."""
        deadline = time.monotonic() + 0.1
        while (
            not self.upgraded
            and (self.upgrading or self._websocket_claimed)
            and time.monotonic() < deadline
        ):
            self.server.sleep(0.005)
        if self.upgraded:
            raise RequestRefused("The session was upgraded to a WebSocket")
        return [packet.Packet(packet.NOOP)]

    def handle_post_request(self, environ: dict) -> None:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ProtocolViolation("invalid Content-Length") from None
        if length > self.server.max_http_buffer_size:
            raise PayloadTooLarge(f"POST body of {length} bytes")
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation("POST body is not UTF-8") from None
        packets = decode_payload(body)  # all decoded first: a bad payload is refused whole
        for pkt in packets:
            if pkt.packet_type not in _CLIENT_TYPES:
                raise ProtocolViolation(f"packet type {pkt.packet_type} not allowed")
        for pkt in packets:
            self.receive(pkt)

    def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        """Close the session. Never blocks: packets still queued (a DISCONNECT, the CLOSE) stay
        for the next GET, which the server answers for a grace period after the close."""
        if not self.closed and not self.closing:
            self.closed_at = time.time()
            self._drain_on_close = not abort  # the CLOSE (and what precedes it) is for a GET
        super().close(wait=False, abort=abort, reason=reason)

    def undelivered(self) -> bool:
        """Whether a closed polling session still holds packets for a GET."""
        if self.upgraded:
            return False
        return self._close_noop or (self._drain_on_close and self.queue.qsize() > 1)

    # -- WebSocket -------------------------------------------------------------------------

    def _upgrade_websocket(self, environ: dict, start_response: Any) -> Any:
        websocket_class = self.server._async["websocket"]
        if websocket_class is None:
            return self.server._bad_request()
        with self._claim:
            refused, self._websocket_claimed = self._websocket_claimed, True
        if refused:
            self._await_upgrade_outcome()
        if refused or self.upgraded or self.closed:
            # accepted then closed at once (1008), as socket.io's server does: the session goes on
            ws = environ.get("wsgi.websocket")  # gevent-websocket upgraded before the app ran
            if ws is not None:
                _close_websocket(ws, POLICY_VIOLATION)
                return []
            return websocket_class(_refuse, self.server)(environ, start_response)
        try:
            return websocket_class(self._websocket_handler, self.server)(environ, start_response)
        finally:
            if not self.upgraded:  # the handshake or the probe failed: polling goes on
                with self._claim:
                    self._websocket_claimed = False

    def _await_upgrade_outcome(self) -> None:
        """Hold a WebSocket that raced another for this session until the other's upgrade has
        succeeded or failed (at most :attr:`upgrade_race_limit`), so that the winner's probe
        answer goes out before the loser is refused, as from socket.io's one-threaded server.
        The Engine.IO suite's client reads them in that order (threading once did otherwise)."""
        deadline = time.monotonic() + self.upgrade_race_limit
        while self._websocket_claimed and not (self.upgraded or self.closed):
            if time.monotonic() >= deadline:
                return
            self.server.sleep(0.005)

    def _websocket_handler(self, ws: Any) -> list:
        limit = self.server.max_http_buffer_size

        def receive() -> Any:
            data = ws.wait()
            if data is not None and len(data) > limit:
                raise PayloadTooLarge(f"WebSocket message of {len(data)} bytes")
            return data

        for attr in ("_sock", "socket"):  # a read timeout: a silent peer cannot hold the socket
            sock = getattr(ws, attr, None)
            if sock is not None and hasattr(sock, "settimeout"):
                sock.settimeout(self.server.ping_interval + self.server.ping_timeout)
        opened = not self.connected  # the session began on this WebSocket: OPEN is queued
        if self.connected:
            if not self._upgrade(ws, receive):
                with self._claim:  # at once: the transport may still drain the socket a while
                    self._websocket_claimed = False
                return []
        else:
            self.connected = True
            self.upgraded = True
        writer_task = self.server.start_session_task(self._websocket_writer, ws, opened)
        reason = self.server.reason.TRANSPORT_CLOSE
        while True:
            try:
                data = receive()
                if data is None:
                    break
                self.receive(decode_packet(data))
            except ProtocolViolation as violation:
                self.fail(violation)
                break
            except exceptions.SocketIsClosedError:
                break
            except Exception as exc:  # the connection broke (timeouts included)
                if not self.closed:
                    self.server.logger.info("%s: WebSocket error %r, closing", self.sid, exc)
                    reason = self.server.reason.TRANSPORT_ERROR
                break
        self.queue.put(None)  # let the writer finish
        writer_task.join()
        self.close(wait=False, abort=True, reason=reason)
        _close_websocket(ws, self.close_code)
        return []

    def _upgrade(self, ws: Any, receive: Any) -> bool:
        """The probe exchange of an upgrade from polling; False when the client fails it."""
        self.upgrading = True
        try:
            probe = decode_packet(receive())
            if probe.packet_type != packet.PING or probe.data != "probe":
                raise ProtocolViolation("upgrade without a probe")
            ws.send(packet.Packet(packet.PONG, data="probe").encode())
            with self._claim:
                if self._polling:
                    self.queue.put(packet.Packet(packet.NOOP))  # ends the pending GET
            if decode_packet(receive()).packet_type != packet.UPGRADE:
                raise ProtocolViolation("upgrade without an UPGRADE packet")
        except Exception as exc:
            self.server.logger.info("%s: WebSocket upgrade failed: %s", self.sid, exc)
            self.upgrading = False
            _close_websocket(ws, PROTOCOL_ERROR)
            return False
        self.upgraded = True
        self.upgrading = False
        return True

    def _websocket_writer(self, ws: Any, opened: bool = False) -> None:
        """The session's one writer: every packet queued since it last woke goes out in one
        write (the transport's ``send_packets``: one ``sendall``), so a lone emit leaves at
        once and a burst costs one system call.

        A Socket.IO CONNECT answer ends its write and what follows waits :attr:`connect_gap`:
        socket.io's server never has two writes in flight (its transport is not writable until
        the write callback), so the CONNECT answer and a connect handler's emits reach the
        client apart, and a client that reads one frame per wake-up (the official suites'
        client drops the second frame of one read) relies on that.
        """
        send_packets = getattr(ws, "send_packets", None)
        if send_packets is None:  # python-engineio's own drivers: one send per packet

            def send_packets(packets: list) -> None:
                for pkt in packets:
                    encoded = pkt.encode()
                    # simple-websocket sends anything but bytes as text (a bytearray's repr)
                    ws.send(encoded if isinstance(encoded, (str, bytes)) else bytes(encoded))

        direct = self.server.async_mode in self.direct_modes
        try_send = getattr(ws, "try_send", None) if direct else None
        if opened and self.open_gap:
            self.server.sleep(self.open_gap)  # the handshake response goes in a read of its own
        gap_until = 0.0
        try:
            gap_until = self._write_loop(send_packets, try_send)
        finally:
            if try_send is not None:
                self._writer_busy(done=True)
        if gap_until and not getattr(ws, "closed", False):  # a close frame follows the answer
            self._sleep_until(gap_until)
        _close_websocket(ws, self.close_code)

    def _sleep_until(self, deadline: float) -> None:
        """Sleep out what is left of a connect gap (``deadline`` on ``time.monotonic``)."""
        left = deadline - time.monotonic()
        if left > 0:
            self.server.sleep(left)

    def _write_loop(self, send_packets: Any, try_send: Any) -> float:
        """Write what is queued until the session ends; between wake-ups, with ``try_send``,
        sends go direct (:meth:`_send_direct`). Returns when a connect gap still running at
        the end is over (0 if none)."""
        gap_until = 0.0  # a CONNECT answer went out: what follows waits until then
        while True:
            if try_send is not None:
                self._writer_idle(try_send)
            try:
                packets = self.poll()
            except exceptions.QueueEmpty:
                if try_send is not None and not self.closed:
                    continue  # direct writes carried the traffic (pings included)
                return gap_until
            if try_send is not None:
                self._writer_busy()
            if not packets:
                return gap_until
            try:
                batch: list = []
                for pkt in packets:
                    kind = pkt.packet_type
                    if kind == NOOP_TYPE:
                        continue
                    if gap_until:
                        self._sleep_until(gap_until)
                        gap_until = 0.0
                    batch.append(pkt)
                    # a Socket.IO CONNECT answer ("0" + namespace): inline, it is on every
                    # packet's path; what queues up during the gap goes in a later write
                    if kind == MESSAGE_TYPE and type(pkt.data) is str and pkt.data[:1] == "0":
                        send_packets(batch)
                        batch = []
                        if try_send is None:  # the gap is paid only if a frame follows
                            gap_until = time.monotonic() + self.connect_gap
                        else:  # direct sends would skip the gap: the writer stays busy
                            self.server.sleep(self.connect_gap)
                if batch or try_send is not None:
                    send_packets(batch)  # with nothing new, the rest of a direct write
            except Exception:  # the connection broke: the reader sees it too and ends
                return 0.0


def _refuse(ws: Any) -> list:
    _close_websocket(ws, POLICY_VIOLATION)
    return []


def _close_websocket(ws: Any, code: int) -> None:
    """Close a WebSocket with a close code, whichever library carries it."""
    try:
        inner = getattr(ws, "ws", None)  # python-engineio's simple-websocket wrapper
        if inner is not None:
            if inner.connected:
                inner.close(reason=code)
            return
        sock = getattr(ws, "_sock", ws)  # python-engineio's gevent-websocket wrapper, or itself
        if getattr(sock, "closed", False):
            return
        if hasattr(sock, "OPCODE_CLOSE") and hasattr(sock, "send_frame"):
            # gevent-websocket 0.10's close() sends no code: send the frame, then close quietly
            sock.send_frame(struct.pack("!H", code), opcode=sock.OPCODE_CLOSE)
            sock.closed = True
            return
        sock.close(code)
    except Exception:  # already gone
        pass

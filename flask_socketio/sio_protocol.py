"""Socket.IO v5 rules python-socketio's ``Server`` does not enforce, as a mixin for our server.

Pinned against python-socketio 5.18: it overrides ``Server.__init__``, ``_handle_eio_connect``,
``_handle_eio_message``, ``_handle_eio_disconnect`` and ``_handle_connect``.

- A malformed packet (unknown type, bad JSON, an event that is not a non-empty list starting with
  a name, a reserved event name such as ``connect``, a bad ack id, an attachment nobody announced
  or a text packet where an attachment was due) closes that client's connection with one debug
  log line, as socket.io's parser does; python-socketio logged a traceback and carried on, and a
  bad attachment left the session waiting for attachments for good.
- ``connect_timeout`` (seconds, default 45 like socket.io): a client that joins no namespace in
  that time is disconnected.
"""

from __future__ import annotations

import time
from typing import Any

from socketio import packet

from .eio_socket import ProtocolViolation

#: event names a client may not emit (socket.io-parser's RESERVED_EVENTS)
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
DEFAULT_CONNECT_TIMEOUT = 45.0


class InvalidPacket(ValueError):
    """A Socket.IO packet that breaks the protocol."""


class ProtocolMixin:
    """Strict decoding and a connect timeout for a python-socketio server."""

    eio: Any
    manager: Any
    packet_class: Any
    logger: Any
    _binary_packet: dict

    def __init__(
        self, *args: Any, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.connect_timeout = float(connect_timeout)
        self._awaiting_connect: dict[str, float] = {}  # eio sid -> deadline for a namespace
        hooks = getattr(self.eio, "tick_hooks", None)
        if hooks is not None:
            hooks.append(self._expire_unconnected)

    # -- connect timeout -------------------------------------------------------------------

    def _handle_eio_connect(self, eio_sid: str, environ: dict) -> Any:
        self._awaiting_connect[eio_sid] = time.monotonic() + self.connect_timeout
        return super()._handle_eio_connect(eio_sid, environ)  # type: ignore[misc]

    def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> Any:
        self._awaiting_connect.pop(eio_sid, None)
        self._binary_packet.pop(eio_sid, None)
        return super()._handle_eio_disconnect(eio_sid, reason)  # type: ignore[misc]

    def _expire_unconnected(self) -> None:
        now = time.monotonic()
        for eio_sid, deadline in list(self._awaiting_connect.items()):
            if deadline <= now:
                self._awaiting_connect.pop(eio_sid, None)
                if eio_sid in self.eio.sockets:
                    self.logger.debug("%s: no namespace joined in time, closing", eio_sid)
                    self.eio.disconnect(eio_sid)

    def _handle_connect(self, eio_sid: str, namespace: str, data: Any) -> None:
        super()._handle_connect(eio_sid, namespace, data)  # type: ignore[misc]
        if self.manager.sid_from_eio_sid(eio_sid, namespace or "/") is not None:
            self._awaiting_connect.pop(eio_sid, None)

    # -- decoding --------------------------------------------------------------------------

    def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            pkt = self._complete_packet(eio_sid, data)
        except InvalidPacket as error:
            self._protocol_violation(eio_sid, str(error))
            return
        if pkt is None:
            return  # more attachments to come
        namespace = pkt.namespace
        if pkt.packet_type == packet.CONNECT:
            self._handle_connect(eio_sid, namespace, pkt.data)
        elif pkt.packet_type == packet.DISCONNECT:
            self._handle_disconnect(eio_sid, namespace, self.reason.CLIENT_DISCONNECT)  # type: ignore[attr-defined]
        elif pkt.packet_type in (packet.EVENT, packet.BINARY_EVENT):
            self._handle_event(eio_sid, namespace, pkt.id, pkt.data)  # type: ignore[attr-defined]
        else:
            self._handle_ack(eio_sid, namespace, pkt.id, pkt.data)  # type: ignore[attr-defined]

    def _complete_packet(self, eio_sid: str, data: Any) -> Any:
        """The packet ``data`` completes, None while attachments are due; InvalidPacket if bad."""
        pending = self._binary_packet.pop(eio_sid, None)
        if pending is not None:
            if isinstance(data, str):
                raise InvalidPacket("text packet while binary attachments were due")
            try:
                if not pending.add_attachment(data):
                    self._binary_packet[eio_sid] = pending
                    return None
            except Exception as exc:
                raise InvalidPacket(f"bad binary attachment: {exc}") from None
            return pending
        if not isinstance(data, str) and self.packet_class.uses_binary_events:
            raise InvalidPacket("binary attachment without a binary packet")
        try:
            pkt = self.packet_class(encoded_packet=data)
        except Exception as exc:
            raise InvalidPacket(f"undecodable packet: {exc}") from None
        if _is_js_undefined(pkt.data):
            pkt.data = None  # a CONNECT without auth from socket.io-msgpack-parser
        if eio_sid in self.eio.sockets:  # network peers only: the test client keeps its latitude
            _validate(pkt)
        if pkt.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK) and pkt.attachment_count:
            self._binary_packet[eio_sid] = pkt
            return None
        return pkt

    def _protocol_violation(self, eio_sid: str, reason: str) -> None:
        """Close the connection of a client that broke the protocol (one debug line)."""
        self.logger.debug("%s: protocol violation, closing: %s", eio_sid, reason)
        socket = self.eio.sockets.get(eio_sid)
        if socket is None:  # an in-process peer: the caller sees the error
            raise InvalidPacket(reason)
        fail = getattr(socket, "fail", None)
        if fail is not None:
            fail(ProtocolViolation(reason))
        else:
            self.eio.disconnect(eio_sid)


def _is_js_undefined(data: Any) -> bool:
    """Whether ``data`` is JavaScript's ``undefined`` as notepack.io (socket.io-msgpack-parser)
    packs it: the msgpack extension type 0 with the single byte 0."""
    return (
        type(data).__name__ == "ExtType"
        and getattr(data, "code", None) == 0
        and (getattr(data, "data", None) == b"\x00")
    )


def _validate(pkt: Any) -> None:
    """Raise InvalidPacket unless ``pkt`` is a packet a client may send (socket.io-parser)."""
    kind, data = pkt.packet_type, pkt.data
    namespace = pkt.namespace
    if namespace is not None and (not isinstance(namespace, str) or not namespace.startswith("/")):
        raise InvalidPacket("bad namespace")
    if kind == packet.CONNECT:
        if data is not None and not isinstance(data, dict):
            raise InvalidPacket("CONNECT payload must be an object")
    elif kind == packet.DISCONNECT:
        if data is not None:
            raise InvalidPacket("DISCONNECT carries no payload")
    elif kind in (packet.EVENT, packet.BINARY_EVENT):
        if not isinstance(data, list) or not data:
            raise InvalidPacket("EVENT payload must be a non-empty array")
        name = data[0]
        if not isinstance(name, str):
            raise InvalidPacket("EVENT name must be a string")
        if name in RESERVED_EVENTS:
            raise InvalidPacket(f"reserved event name {name!r}")
        _check_id(pkt.id)
    elif kind in (packet.ACK, packet.BINARY_ACK):
        if pkt.id is None:
            raise InvalidPacket("ACK without an id")
        _check_id(pkt.id)
        if not isinstance(data, list):
            raise InvalidPacket("ACK payload must be an array")
    else:
        raise InvalidPacket(f"packet type {kind} not allowed from a client")


def _check_id(ack_id: Any) -> None:
    if ack_id is not None and (not isinstance(ack_id, int) or ack_id < 0):
        raise InvalidPacket("bad ack id")

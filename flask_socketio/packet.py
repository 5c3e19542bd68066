"""A faster Socket.IO packet class with exactly the wire format of python-socketio's ``Packet``.

python-socketio's ``Packet`` walks the payload in Python up to three times per packet (binary
detection with ``functools.reduce``, then deconstruction, then JSON encoding) and builds a new
JSON decoder for every packet it parses. ``FastPacket`` does the same work once:

- encoding tries the C JSON encoder first; when that succeeds the payload has no ``bytes`` and the
  text is kept for :meth:`encode`. Otherwise a single Python pass deconstructs the binary parts.
- decoding parses the well-formed header with one regular expression and reuses one decoder;
  anything unusual (odd headers, a BOM, bytes input) goes to the base class, so errors match too.

It is a drop-in ``serializer=`` for ``socketio.Server`` and ``socketio.Client``. Custom ``json``
modules (``Server(json=...)`` sets the class attribute) are honoured: the fast encoder and
decoder are used only while ``json`` is python-engineio's default module.
"""

from __future__ import annotations

import json as _stdlib_json
import re
from json import encoder as _json_encoder
from typing import Any

from engineio import json as _eio_json
from socketio.packet import ACK, BINARY_ACK, BINARY_EVENT, EVENT, Packet

__all__ = ["FastPacket"]

#: Same output as ``json.dumps(data, separators=(",", ":"))``, without building an encoder per call.
_encode_json = _stdlib_json.JSONEncoder(separators=(",", ":")).encode
#: Same as ``engineio.json.loads`` (its ``parse_int`` guard included), built once.
_decoder = _stdlib_json.JSONDecoder(parse_int=_eio_json._safe_int)
_decode_json = _decoder.decode
#: The decoder's scanner, called directly when the text is one JSON value and nothing else.
_scan_json = _decoder.scan_once  # type: ignore[attr-defined]
#: The same scanner with C integer parsing (no Python call per integer), for text that cannot
#: hold an integer token over the guard's 100 characters: shorter than 101, or no such run.
_scan_json_c_ints = _stdlib_json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_LONG_DIGITS = re.compile(r"-[0-9]{100}|[0-9]{101}")  # an integer token over 100 characters
#: CPython's C encoder factory (None without the ``_json`` accelerator).
_c_make_encoder = getattr(_json_encoder, "c_make_encoder", None)
_encode_str = _json_encoder.encode_basestring_ascii

#: The header of a well-formed packet: type, attachment count, namespace, ack id. Anything else is
#: parsed by the base class. Group 2 is at most 10 digits (the base class rejects more),
#: the namespace has no ``?`` and ends at a comma or at the end of the packet, and the id has at
#: most 100 digits and is not followed by another digit (the base class raises in that case).
_HEADER = re.compile(
    r"([0-9])"  # packet type
    r"(?:([0-9]{1,10})-)?"  # attachment count
    r"(?:(/[^,?]*)(?:,|\Z))?"  # namespace
    r"(?:([0-9]{1,100})(?![0-9]))?"  # ack id
)

_BINARY_TYPES = (bytes, bytearray)
#: Exact types of containers (and the object itself) in the encoder's path to a plain ``bytes``.
_PLAIN_PATH = frozenset({list, dict, bytes, bytearray})
#: Exact types that are never containers nor binary (subclasses take the general path).
_LEAVES = frozenset({str, int, float, bool, type(None)})


def _has_binary(data: Any) -> bool:
    """``Packet.data_is_binary`` without the intermediate lists."""
    if isinstance(data, _BINARY_TYPES):
        return True
    if isinstance(data, list):
        found = False
        for item in data:  # visit every item, as the base class does
            if _has_binary(item):
                found = True
        return found
    if isinstance(data, dict):
        found = False
        for item in data.values():
            if _has_binary(item):
                found = True
        return found
    return False


def _deconstruct(data: Any, attachments: list) -> Any:
    """``Packet._deconstruct_binary_internal``: bytes become numbered placeholders, in order.

    Leaves of the common JSON types are copied inline instead of through a recursive call.
    """
    if isinstance(data, dict):
        return {
            key: value if type(value) in _LEAVES else _deconstruct(value, attachments)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [item if type(item) in _LEAVES else _deconstruct(item, attachments) for item in data]
    if isinstance(data, _BINARY_TYPES):
        attachments.append(data)
        return {"_placeholder": True, "num": len(attachments) - 1}
    return data


#: Placeholder dicts for the first attachments, shared: the encoder only reads them.
_CACHED = 32
_PLACEHOLDERS = tuple({"_placeholder": True, "num": num} for num in range(_CACHED))


class _Fallback(Exception):
    """The fast path cannot reproduce the base class here; take the general one."""


class _EncoderState:
    """A C encoder with the state its ``default`` hook fills (see below)."""

    def __init__(self) -> None:
        self.attachments: list = []
        self.markers: dict = {}
        self.encode = _make_binary_encoder(self.markers, self)


def _make_binary_encoder(markers: dict, state: Any) -> Any:
    def default(obj: Any) -> Any:
        if isinstance(obj, _BINARY_TYPES):
            if not _PLAIN_PATH.issuperset(map(type, markers.values())):
                for parent in markers.values():
                    if isinstance(parent, tuple):
                        raise _Fallback
            attachments = state.attachments
            num = len(attachments)
            attachments.append(obj)
            return _PLACEHOLDERS[num] if num < _CACHED else {"_placeholder": True, "num": num}
        raise _Fallback

    assert _c_make_encoder is not None  # only called when the accelerator exists
    return _c_make_encoder(markers, default, _encode_str, None, ":", ",", False, False, True)


#: Idle encoders. A caller pops one (or builds one when none is idle) and puts it back after:
#: ``list.pop``/``append`` are atomic, so threads, greenlets and nested calls never share one.
#: (A ``threading.local`` would be per greenlet under gevent: a new encoder for every event.)
_idle_encoders: list[_EncoderState] = []


def _encode_binary(data: Any) -> tuple[str, list] | None:
    """JSON text and attachments in one C encoder pass, or None when that would differ.

    The encoder's ``default`` hook turns each ``bytes``/``bytearray`` into a placeholder, in the
    encoder's depth-first order, which is the base class's deconstruction order. The base class
    only looks into lists and dicts: ``markers`` (the encoder's circular-reference table) holds
    the containers being encoded, so bytes under a tuple, and anything else the hook does not
    know, send the caller to the general path, which then fails or succeeds like the base.
    Encoders are reused from a pool; a concurrent or nested call (a dict subclass whose
    ``items()`` encodes JSON) takes another one.
    """
    try:
        state = _idle_encoders.pop()
    except IndexError:
        state = _EncoderState()
    attachments = state.attachments = []
    try:
        text = "".join(state.encode(data, 0))
    except Exception:  # _Fallback, or json's own TypeError/ValueError/RecursionError
        state.markers.clear()  # the encoder leaves its path in there when it fails
        return None
    finally:
        state.attachments = []
        if len(_idle_encoders) < 8:
            _idle_encoders.append(state)
    return text, attachments


def _reconstruct(data: Any, attachments: list) -> Any:
    """``Packet._reconstruct_binary_internal``: placeholders become their attachments."""
    if isinstance(data, list):
        return [item if type(item) in _LEAVES else _reconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") and "num" in data:
            return attachments[data["num"]]
        return {
            key: value if type(value) in _LEAVES else _reconstruct(value, attachments)
            for key, value in data.items()
        }
    return data


def _fill_placeholders(data: Any, attachments: list) -> Any:
    """``_reconstruct`` for data that ``decode()`` just built: placeholders are replaced in place.

    JSON-decoded data has only plain lists and dicts and no shared containers, so filling it in
    place gives the same value as the base class's copying walk, in the same order. If a
    placeholder cannot be filled (a bad ``num``), the changes are undone and the base walk runs
    and raises its own error.
    """
    if type(data) is dict:
        if data.get("_placeholder") and "num" in data:
            return attachments[data["num"]]
    elif type(data) is not list:
        return data
    undo: list = []
    try:
        _fill_in(data, attachments, undo)
    except Exception:
        for container, key, value in reversed(undo):
            container[key] = value
        return _reconstruct(data, attachments)
    return data


def _fill_in(container: Any, attachments: list, undo: list) -> None:
    items = enumerate(container) if type(container) is list else container.items()
    for key, value in items:
        kind = type(value)
        if kind is dict:
            if value.get("_placeholder") and "num" in value:
                undo.append((container, key, value))
                container[key] = attachments[value["num"]]
            else:
                _fill_in(value, attachments, undo)
        elif kind is list:
            _fill_in(value, attachments, undo)


class FastPacket(Packet):
    """A ``socketio.packet.Packet`` that encodes and decodes the same bytes, faster."""

    def __init__(
        self,
        packet_type: int = EVENT,
        data: Any = None,
        namespace: str | None = None,
        id: int | None = None,
        binary: bool | None = None,
        encoded_packet: Any = None,
    ) -> None:
        self.packet_type = packet_type
        self.data = data
        self.namespace = namespace
        self.id = id
        # (payload it was made from, JSON text or None, deconstructed or None, attachments or None)
        self._cache: tuple[Any, str | None, Any, list | None] | None = None
        # the plain lists and dicts decode() just built (placeholders may be filled in place)
        self._fresh: Any = None
        if (data is not None or binary) and self.uses_binary_events:
            if binary is None:
                binary = self._scan(data)
            if binary:
                if self.packet_type == EVENT:
                    self.packet_type = BINARY_EVENT
                elif self.packet_type == ACK:
                    self.packet_type = BINARY_ACK
                else:
                    raise ValueError("Packet does not support binary payload.")
        self.attachment_count = 0
        self.attachments: list = []
        if encoded_packet:
            self.attachment_count = self.decode(encoded_packet) or 0

    # -- encoding ------------------------------------------------------------------------------

    def _scan(self, data: Any) -> bool:
        """Decide whether ``data`` is binary, keeping the work for :meth:`encode`."""
        if _c_make_encoder is not None and (self.json is _eio_json or self.json is _stdlib_json):
            encoded = _encode_binary(data)
            if encoded is not None:
                text, attachments = encoded
                self._cache = (data, text, None, attachments or None)
                return bool(attachments)
        attachments = []
        deconstructed = _deconstruct(data, attachments)
        if not attachments:
            return False  # not binary; encode() fails (or succeeds) exactly like the base class
        self._cache = (data, None, deconstructed, attachments)  # JSON-encoded in encode()
        return True

    def _dumps(self, data: Any) -> str:
        if self.json is _eio_json or self.json is _stdlib_json:
            return _encode_json(data)
        return self.json.dumps(data, separators=(",", ":"))

    def encode(self) -> str | list:
        """Encode the packet: a ``str``, or ``[str, bytes, ...]`` when it has attachments."""
        packet_type = self.packet_type
        cache = self._cache
        if cache is not None and cache[0] is not self.data:
            cache = None  # data was replaced after construction
        text: str | None
        if packet_type == BINARY_EVENT or packet_type == BINARY_ACK:
            if cache is not None and cache[3] is not None:
                attachments = cache[3]
                text = cache[1] if cache[1] is not None else self._dumps(cache[2])
            else:
                attachments = []
                deconstructed = _deconstruct(self.data, attachments)
                text = None if deconstructed is None else self._dumps(deconstructed)
            encoded = str(packet_type) + str(len(attachments)) + "-"
        else:
            attachments = None
            if cache is not None and cache[3] is None:
                text = cache[1]
            else:
                text = None if self.data is None else self._dumps(self.data)
            encoded = str(packet_type)
        namespace = self.namespace
        if namespace is not None and namespace != "/":
            encoded += namespace + ","
        if self.id is not None:
            encoded += str(self.id)
        if text is not None:
            encoded += text
        if attachments is not None:
            return [encoded, *attachments]
        return encoded

    # -- decoding ------------------------------------------------------------------------------

    def decode(self, encoded_packet: Any) -> int:
        """Decode a packet; returns how many binary attachments must follow."""
        if type(encoded_packet) is not str:
            return super().decode(encoded_packet)
        match = _HEADER.match(encoded_packet)
        if match is None:
            return super().decode(encoded_packet)
        packet_type, count, namespace, ack_id = match.groups()
        rest = encoded_packet[match.end() :]
        if namespace is None and rest[:1] == "/":
            return super().decode(encoded_packet)  # a namespace this pattern did not take
        if rest[:1].isdigit() or (count is None and rest[:1] == "-" and ack_id is not None):
            # non-ASCII digits, or more attachment digits than the base class accepts
            return super().decode(encoded_packet)
        self.packet_type = int(packet_type)
        self.namespace = namespace
        self.data = None
        if ack_id is not None:
            self.id = int(ack_id)
        if rest:
            if self.json is _eio_json and rest[0] != "\ufeff":  # json.loads rejects a BOM
                short_ints = len(rest) <= 100 or _LONG_DIGITS.search(rest) is None
                try:
                    data, end = (_scan_json_c_ints if short_ints else _scan_json)(rest, 0)
                except StopIteration:  # leading whitespace or no value: decode() says which
                    data, end = _decode_json(rest), len(rest)
                if end != len(rest):  # trailing whitespace or extra data: decode() decides
                    data = _decode_json(rest)
                self.data = data
                if count is not None:
                    self._fresh = data
            else:
                self.data = self.json.loads(rest)
        return int(count) if count is not None else 0

    def add_attachment(self, attachment: Any) -> bool:
        """Add one binary attachment; True once the packet is complete."""
        if self.attachment_count <= len(self.attachments):
            raise ValueError("Unexpected binary attachment")
        self.attachments.append(attachment)
        if self.attachment_count == len(self.attachments):
            if self._fresh is not None and self._fresh is self.data:
                self._fresh = None
                self.data = _fill_placeholders(self.data, self.attachments)
            else:
                self.data = self.reconstruct_binary(self.data, self.attachments)
            return True
        return False

    # -- the base class's public helpers, same results -----------------------------------------

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """Check if the data contains binary components."""
        return _has_binary(data)

    @classmethod
    def deconstruct_binary(cls, data: Any) -> tuple[Any, list]:
        """Extract binary components in the packet."""
        attachments: list = []
        return _deconstruct(data, attachments), attachments

    @classmethod
    def reconstruct_binary(cls, data: Any, attachments: list) -> Any:
        """Reconstruct a decoded packet using the given list of binary attachments."""
        return _reconstruct(data, attachments)

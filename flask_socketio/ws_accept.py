"""The answer to a plainly valid WebSocket handshake, built without websockets' header objects.

websockets' ``ServerProtocol.accept()`` builds a ``Request`` and a ``Response`` of validated
header objects and formats a ``Date``: about a tenth of the server's CPU per connect. Most
handshakes are the one shape RFC 6455 §4.2.1 asks for, so :func:`switching_protocols` answers
that shape itself (a few string checks and the accept key); anything else (a missing or odd
header, a subprotocol offer, another method or HTTP version) gets ``None``, and the caller hands
the request to ``accept()``, which validates it and words the refusal as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

#: RFC 6455 §1.3: appended to the client's key before hashing
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: RFC 9110 §5.6.2
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\x20-\x7e\t]*")
#: headers the fast path does not read but the handshake used to pass through websockets'
#: checks (a value with a forbidden character got 400 there)
_CHECKED_ELSEWHERE = ("HTTP_ORIGIN", "HTTP_SEC_WEBSOCKET_EXTENSIONS")


def switching_protocols(environ: dict) -> bytes | None:
    """The ``101 Switching Protocols`` response for the handshake in ``environ``, or ``None``
    when it is not the plain valid form (websockets' ``accept()`` decides those)."""
    get = environ.get
    key = get("HTTP_SEC_WEBSOCKET_KEY")
    if (
        key is None
        or len(key) != 24
        or get("REQUEST_METHOD") != "GET"
        or get("SERVER_PROTOCOL") != "HTTP/1.1"
        or get("HTTP_SEC_WEBSOCKET_VERSION") != "13"
        or str(get("HTTP_UPGRADE", "")).lower() != "websocket"
        or "HTTP_SEC_WEBSOCKET_PROTOCOL" in environ  # a subprotocol offer: accept() answers it
        or not _has_upgrade_token(str(get("HTTP_CONNECTION", "")))
        or not all(_printable(get(key)) for key in _CHECKED_ELSEWHERE)
    ):
        return None
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except (binascii.Error, ValueError):
        return None
    accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()


def _has_upgrade_token(connection: str) -> bool:
    """Whether the Connection header is a list of tokens (RFC 9110 §7.6.1) with ``upgrade``
    among them; anything websockets' parser would refuse is left to it."""
    if connection.lower() == "upgrade":
        return True
    tokens = [token.strip(" \t") for token in connection.split(",")]
    if not all(_TOKEN.fullmatch(token) for token in tokens if token):
        return False
    return any(token.lower() == "upgrade" for token in tokens)


def _printable(value: object) -> bool:
    """Whether a header value holds only visible ASCII, spaces and tabs (what websockets lets
    into a header; others get its 400)."""
    return value is None or (isinstance(value, str) and _FIELD_VALUE.fullmatch(value) is not None)

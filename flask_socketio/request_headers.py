"""Request headers for gevent's pywsgi, read without the email package.

pywsgi reads a request's headers with ``http.client.parse_headers``, whose email parser costs
about 60 us per request (a tenth of a WebSocket connect's CPU); :func:`parse` reads the same
lines, with the same limits, into the few methods pywsgi and its subclasses call, in a few
microseconds. The standard parser has no cheaper mode, hence this small one.
"""

from __future__ import annotations

from http.client import HTTPException
from typing import Any

#: the limits of http.client (a longer line, or more headers, is refused)
MAX_LINE = 65536
MAX_HEADERS = 100
_END = (b"\r\n", b"\n", b"")


class RequestHeaders:
    """The headers of one request: ``get``/``getheader`` (first value), ``headers`` (raw
    lines), ``typeheader``, ``status`` (non-empty: the headers are malformed) and ``del``."""

    __slots__ = ("_items", "_first", "status")

    def __init__(self, items: list[tuple[str, str]], status: str = "") -> None:
        self._items = items
        self.status = status
        #: lower-cased name -> first value, built on the first lookup (pywsgi and the
        #: upgrade path look up about six names per request)
        self._first: dict[str, str] | None = None

    def get(self, name: str, default: Any = None) -> Any:
        first = self._first
        if first is None:
            first = self._first = {}
            for key, value in self._items:
                first.setdefault(key.lower(), value)
        return first.get(name.lower(), default)

    getheader = get

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __delitem__(self, name: str) -> None:
        wanted = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != wanted]
        self._first = None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    @property
    def headers(self) -> list[str]:
        return [f"{key}: {value}\r\n" for key, value in self._items]

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")


def parse(fp: Any, *_: Any) -> RequestHeaders:
    """Read header lines from ``fp`` up to the blank line; a malformed block sets ``status``
    (pywsgi answers 400), more than :data:`MAX_HEADERS` raises as http.client does."""
    items: list[tuple[str, str]] = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            return RequestHeaders([], "Line too long")
        if line in _END:
            return RequestHeaders(items)
        if len(items) >= MAX_HEADERS:
            raise HTTPException(f"got more than {MAX_HEADERS} headers")
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t"):  # obsolete line folding continues the previous value
            if not items:
                return RequestHeaders([], "Invalid header line")
            key, value = items[-1]
            items[-1] = (key, f"{value} {text.strip()}")
            continue
        key, colon, value = text.partition(":")
        # RFC 9112 5.1: no whitespace between the name and the colon
        if not colon or not key or key != key.strip():
            return RequestHeaders([], "Invalid header line")
        items.append((key, value.strip()))

"""The gevent handler's header parser (flask_socketio.request_headers) against pywsgi's own:
the same values, raw lines and WSGI environ for well-formed headers, a status (pywsgi's 400)
for malformed ones, and http.client's limits."""

from __future__ import annotations

import io
from http.client import HTTPException

import pytest

from flask_socketio import request_headers

pywsgi = pytest.importorskip("gevent.pywsgi")

WELL_FORMED = [
    b"Host: 127.0.0.1:5000\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"Host: h\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 12\r\n\r\n",
    b"Host: h\r\nCookie: a=1\r\ncookie: b=2\r\nX-Empty:\r\nX-Spaces:   v  \r\n\r\n",
    b"Host: h\nAccept: */*\n\n",  # bare LF line ends
    b"\r\n",  # no headers at all
]


def ours(block: bytes) -> request_headers.RequestHeaders:
    return request_headers.parse(io.BytesIO(block))


def theirs(block: bytes):
    return pywsgi.headers_factory(io.BytesIO(block))


def environ_of(headers) -> dict:
    handler = pywsgi.WSGIHandler.__new__(pywsgi.WSGIHandler)
    handler.headers = headers
    return dict(handler._headers())


@pytest.mark.parametrize("block", WELL_FORMED)
def test_matches_pywsgi_on_well_formed_headers(block):
    mine, reference = ours(block), theirs(block)
    assert mine.status == reference.status == ""
    for name in ("host", "Connection", "UPGRADE", "content-type", "cookie", "x-empty", "nope"):
        assert mine.get(name) == reference.get(name), name
        assert mine.getheader(name, "d") == reference.getheader(name, "d"), name
    assert mine.typeheader == reference.typeheader
    assert environ_of(mine) == environ_of(reference)


def test_delete_removes_every_value():
    headers = ours(b"Content-Length: 5\r\ncontent-length: 6\r\nHost: h\r\n\r\n")
    assert headers.get("CONTENT-LENGTH") == "5"  # the first value; a lookup before the delete
    del headers["Content-Length"]
    assert "content-length" not in headers
    assert headers.items() == [("Host", "h")]


def test_folded_line_continues_the_value():
    headers = ours(b"X-Long: one\r\n  two\r\nHost: h\r\n\r\n")
    assert headers.get("x-long") == "one two"


@pytest.mark.parametrize(
    "block",
    [
        b"Host : h\r\n\r\n",  # whitespace before the colon (RFC 9112 5.1)
        b"no colon here\r\n\r\n",
        b": value\r\n\r\n",
        b" folded first\r\n\r\n",
    ],
)
def test_malformed_headers_set_a_status(block):
    assert ours(block).status == "Invalid header line"


def test_limits_of_http_client():
    assert ours(b"X: " + b"a" * request_headers.MAX_LINE + b"\r\n\r\n").status == "Line too long"
    many = b"".join(b"X-%d: v\r\n" % i for i in range(request_headers.MAX_HEADERS + 1))
    with pytest.raises(HTTPException, match="more than 100 headers"):
        ours(many + b"\r\n")
    exactly = b"".join(b"X-%d: v\r\n" % i for i in range(request_headers.MAX_HEADERS))
    assert len(ours(exactly + b"\r\n").items()) == request_headers.MAX_HEADERS

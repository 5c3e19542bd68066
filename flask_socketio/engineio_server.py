"""python-engineio's server with HTTP answers that follow the Engine.IO v4 protocol.

python-engineio deviates from the protocol's test suite in small ways; the ones fixed here are
cheap to fix at the edges without touching its session handling:

- a request without a ``transport`` query parameter gets 400 (python-engineio opens a polling
  session);
- a method other than GET, POST or OPTIONS gets 400 (python-engineio answers 405);
- a successful polling POST answers ``ok`` (python-engineio answers ``OK``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import engineio

_METHODS = ("GET", "POST", "OPTIONS")


class EngineIOServer(engineio.Server):
    """Engine.IO server answering malformed requests as the v4 protocol specifies."""

    def handle_request(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if method not in _METHODS:
            return self._reject(start_response, "Bad request method")
        if method != "OPTIONS" and "transport" not in query:
            return self._reject(start_response, "Transport unknown")
        return super().handle_request(environ, start_response)

    def _reject(self, start_response: Callable[..., Any], message: str) -> list[bytes]:
        response = self._bad_request(message)
        start_response(response["status"], response["headers"])
        return [response["response"]]

    def _ok(self, packets: Any = None, headers: Any = None, jsonp_index: Any = None) -> dict:
        response = super()._ok(packets, headers=headers, jsonp_index=jsonp_index)
        if packets is None and response.get("response") == b"OK":
            response["response"] = b"ok"
        return response

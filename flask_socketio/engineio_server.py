"""python-engineio's server with HTTP answers that follow the Engine.IO v4 protocol.

python-engineio deviates from the protocol's test suite in small ways; the ones fixed here are
cheap to fix at the edges without touching its session handling:

- a request without a ``transport`` query parameter gets 400 (python-engineio opens a polling
  session);
- a method other than GET, POST or OPTIONS gets 400 (python-engineio answers 405);
- a successful polling POST answers ``ok`` (python-engineio answers ``OK``);
- a client that stops answering pings is closed within ``ping_interval + ping_timeout`` plus a
  short tick (python-engineio visits each socket once per ``ping_timeout``, so it can be a whole
  ``ping_timeout`` late).
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

    def _service_task(self) -> None:
        """Close sockets whose ping went unanswered, checking every short tick."""
        self.service_task_event = self.create_event()
        tick = min(0.5, max(0.05, float(self.ping_timeout) / 10))
        while not self.service_task_event.wait(timeout=tick):
            for sock in list(self.sockets.values()):
                if sock.closed:
                    self.sockets.pop(sock.sid, None)
                elif not sock.closing:
                    try:
                        sock.check_ping_timeout()
                    except Exception:  # one bad socket must not stop the monitor
                        self.logger.exception("ping timeout check failed for %s", sock.sid)

    def _reject(self, start_response: Callable[..., Any], message: str) -> list[bytes]:
        response = self._bad_request(message)
        start_response(response["status"], response["headers"])
        return [response["response"]]

    def _ok(self, packets: Any = None, headers: Any = None, jsonp_index: Any = None) -> dict:
        response = super()._ok(packets, headers=headers, jsonp_index=jsonp_index)
        if packets is None and response.get("response") == b"OK":
            response["response"] = b"ok"
        return response

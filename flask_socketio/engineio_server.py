"""python-engineio's server, answering every request as the Engine.IO v4 protocol says.

Pinned against python-engineio 4.15: it overrides ``Server.handle_request`` (for requests that
carry a ``sid``), ``_handle_connect``, ``disconnect``, ``_service_task`` and ``_ok``; the session
itself is :class:`flask_socketio.eio_socket.Socket`. Beyond the session's own rules:

- a request without a ``transport`` query parameter, or with a method other than GET, POST or
  OPTIONS, gets 400 (python-engineio opens a session, or answers 405);
- the handshake advertises the heartbeat in milliseconds without rounding (python-engineio cut
  0.3 s to 0);
- a polling POST answers ``ok``; a bad one answers 400 with ``Connection: close`` and closes the
  session at once (a body the web server fails to read, e.g. its read timeout under uWSGI or
  gunicorn, is one debug line, not a traceback);
- a session closed while packets (a DISCONNECT, the CLOSE) wait for a GET keeps them for one more
  GET, up to ``ping_interval + ping_timeout``, instead of answering that GET with 400;
- one service task sends the pings when due and closes a client that stops answering them
  within ``ping_interval + ping_timeout`` plus a short tick; the same tick runs
  :attr:`EngineIOServer.tick_hooks` (the Socket.IO connect timeout uses it): no task per
  connection or per ping.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import engineio
from engineio import exceptions, packet

from .eio_socket import ProtocolViolation, RequestRefused, Socket, WSGIResponse
from .ordering import GreenletPool

_METHODS = ("GET", "POST", "OPTIONS")
#: the encoder of the OPEN packet: python-engineio's separators, made once
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


class EngineIOServer(engineio.Server):
    """Engine.IO server with v4-conformant sessions and bounded requests."""

    service_task_handle: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: called with no arguments on every tick of the service task
        self.tick_hooks: list[Callable[[], None]] = []
        spawn = _plain_spawn(self)
        if spawn is not None:
            # on gevent a task is a plain ``gevent.spawn`` (python-engineio wraps it in a
            # Greenlet subclass built in Python); bound here, so no method frame either
            self.start_background_task = spawn
        #: gevent: the sessions' writers run in reused greenlets. A new greenlet records the
        #: stack it was spawned from (gevent's greenlet tree), about 6 % of a WebSocket
        #: connect measured here (``GEVENT_TRACK_GREENLET_TREE=0``), and writers start deep.
        self.session_tasks = GreenletPool() if spawn is not None else None

    def start_session_task(self, target: Callable[..., Any], *args: Any) -> Any:
        """Start a task that lives as long as one session (its WebSocket writer); the result
        has ``join()``."""
        if self.session_tasks is None:
            return self.start_background_task(target, *args)
        return self.session_tasks.start(target, *args)

    # -- requests --------------------------------------------------------------------------

    def handle_request(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        if "close" in environ.get("HTTP_CONNECTION", "").lower():
            start_response = _confirming_close(start_response)
        if method not in _METHODS:
            return self._reject(start_response, "Bad request method")
        if method != "OPTIONS" and "transport" not in query:
            return self._reject(start_response, "Transport unknown")
        sid = query.get("sid", [None])[0]
        if sid is None or method == "OPTIONS" or "j" in query:
            return super().handle_request(environ, start_response)
        if self._refuses_origin(environ):
            return self._reject(start_response, "Not an accepted origin.")
        transport = query["transport"][0]
        if transport not in self.transports:
            return self._reject(start_response, "Invalid transport")
        response = self._session_request(environ, start_response, method, transport, sid)
        if not isinstance(response, dict):
            return response  # a WebSocket ran to its end
        return self._respond(environ, start_response, response)

    def _session_request(
        self,
        environ: dict,
        start_response: Callable[..., Any],
        method: str,
        transport: str,
        sid: str,
    ) -> Any:
        """Serve a GET or POST for session ``sid``; a response dict, or a WebSocket's result."""
        socket = self.sockets.get(sid)
        if socket is None:
            return self._bad_request(f"Invalid session {sid}")
        if socket.closed:
            if method == "GET" and transport == "polling" and _undelivered(socket):
                self.sockets.pop(sid, None)
                socket._close_noop = False
                return self._ok(socket.poll() or [packet.Packet(packet.NOOP)])
            self.sockets.pop(sid, None)
            return self._bad_request(f"Invalid session {sid}")
        if not socket.connected:
            return self._bad_request("Not connected")
        upgrade = environ.get("HTTP_UPGRADE", "").lower()
        if method == "POST":
            response = self._post(socket, environ)
        elif transport != "polling" and (transport != upgrade or not _asks_upgrade(environ)):
            return self._bad_request("Invalid transport")
        elif socket.upgraded and transport == "polling":
            return self._bad_request("Unexpected HTTP request")
        else:
            response = self._get(socket, environ, start_response)
        if socket.closed and not _undelivered(socket):
            self.sockets.pop(sid, None)
        return response

    def _get(self, socket: Any, environ: dict, start_response: Callable[..., Any]) -> Any:
        try:
            packets = socket.handle_get_request(environ, start_response)
        except RequestRefused as refusal:
            return self._bad_request(str(refusal))
        except exceptions.EngineIOError:
            socket.close(wait=False, reason=self.reason.TRANSPORT_ERROR)
            return self._bad_request()
        if isinstance(packets, WSGIResponse):
            return packets.body
        return self._ok(packets) if isinstance(packets, list) else packets

    def _post(self, socket: Any, environ: dict) -> dict:
        if socket.upgraded:
            return self._bad_request("Unexpected HTTP request")
        try:
            socket.handle_post_request(environ)
        except ProtocolViolation as violation:
            socket.fail(violation)
        except exceptions.EngineIOError as error:
            socket.fail(ProtocolViolation(str(error) or type(error).__name__))
        except OSError as error:  # the body could not be read (a read timeout of the server)
            self.logger.debug("%s: POST body unreadable: %r", socket.sid, error)
            socket.fail(None)
        except Exception:
            self.logger.exception("%s: POST failed", socket.sid)
            socket.fail(None)
        else:
            return self._ok()
        response = self._bad_request()
        response["headers"].append(("Connection", "close"))  # the body may be unread
        return response

    def _respond(self, environ: dict, start_response: Callable[..., Any], r: dict) -> list:
        if self.http_compression and len(r["response"]) >= self.compression_threshold:
            accepted = environ.get("HTTP_ACCEPT_ENCODING", "").split(",")
            for encoding in (e.split(";")[0].strip() for e in accepted):
                if encoding in self.compression_methods:
                    r["response"] = getattr(self, "_" + encoding)(r["response"])
                    r["headers"] += [("Content-Encoding", encoding)]
                    break
        start_response(r["status"], r["headers"] + self._cors_headers(environ))
        return [r["response"]]

    def _refuses_origin(self, environ: dict) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        if self.cors_allowed_origins == [] or not origin:
            return False
        allowed = self._cors_allowed_origins(environ)
        if allowed is not None and origin not in allowed:
            self._log_error_once(origin + " is not an accepted origin.", "bad-origin")
            return True
        return False

    # -- sessions --------------------------------------------------------------------------

    def _handle_connect(
        self,
        environ: dict,
        start_response: Callable[..., Any],
        transport: str,
        jsonp_index: Any = None,
    ) -> Any:
        if transport == "websocket" and not _asks_upgrade(environ):
            # python-engineio checked the Upgrade header only: the session would answer this
            # GET with its packets as a WSGI body, without a status line
            return self._bad_request("Invalid websocket upgrade")
        if self.service_task_handle is None:  # it sends the pings: needed even without
            self.start_service_task = False  # monitor_clients
            self.service_task_handle = self.start_background_task(self._service_task)
        sid = self.generate_id()
        socket = Socket(self, sid)
        self.sockets[sid] = socket
        interval = self.ping_interval + self.ping_interval_grace_period
        handshake = {
            "sid": sid,
            "upgrades": self._upgrades(sid, transport),
            "pingInterval": round(interval * 1000),
            "pingTimeout": round(self.ping_timeout * 1000),
            "maxPayload": self.max_http_buffer_size,
        }
        opening = packet.Packet(packet.OPEN, handshake)
        # encoded here with one shared encoder: python-engineio's encode builds a new
        # JSONEncoder per call (``separators=`` given to ``json.dumps``)
        opening.encode_cache = "0" + _COMPACT_JSON.encode(handshake)
        socket.send(opening)
        ret = self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            self.sockets.pop(sid, None)
            self.logger.warning("Application rejected connection")
            return self._unauthorized(ret or None)
        socket.schedule_ping()
        if transport == "websocket":
            ret = socket.handle_get_request(environ, start_response)
            if socket.closed:
                self.sockets.pop(sid, None)
            return ret.body if isinstance(ret, WSGIResponse) else ret
        socket.connected = True
        headers = None
        if self.cookie:
            cookie = self.cookie if isinstance(self.cookie, dict) else None
            cookie = cookie or {"name": self.cookie, "path": "/", "SameSite": "Lax"}
            headers = [("Set-Cookie", self._generate_sid_cookie(sid, cookie))]
        try:
            return self._ok(socket.poll(), headers=headers, jsonp_index=jsonp_index)
        except exceptions.QueueEmpty:
            return self._bad_request()

    def disconnect(self, sid: str | None = None) -> None:
        """Close one session (or all); never waits for a GET (queued packets stay for one)."""
        for socket in [self.sockets.get(sid)] if sid is not None else list(self.sockets.values()):
            if socket is None:
                continue
            socket.close(reason=self.reason.SERVER_DISCONNECT)
            if not _undelivered(socket):
                self.sockets.pop(socket.sid, None)

    def _service_task(self) -> None:
        """Close sockets whose ping went unanswered and run the tick hooks, every short tick."""
        self.service_task_event = self.create_event()
        tick = min(0.5, max(0.02, min(self.ping_timeout, self.ping_interval) / 10))
        grace = self.ping_interval + self.ping_timeout
        while not self.service_task_event.wait(timeout=tick):
            now = time.time()
            for sock in list(self.sockets.values()):
                if sock.closed:
                    closed_at = getattr(sock, "closed_at", None) or 0
                    if not _undelivered(sock) or now - closed_at > grace:
                        self.sockets.pop(sock.sid, None)
                elif not sock.closing:
                    try:
                        if sock.check_ping_timeout() and hasattr(sock, "send_due_ping"):
                            sock.send_due_ping(now)
                    except Exception:  # one bad socket must not stop the monitor
                        self.logger.exception("ping timeout check failed for %s", sock.sid)
            for hook in list(self.tick_hooks):
                try:
                    hook()
                except Exception:
                    self.logger.exception("service tick hook failed")

    # -- answers ---------------------------------------------------------------------------

    def _reject(self, start_response: Callable[..., Any], message: str) -> list[bytes]:
        response = self._bad_request(message)
        start_response(response["status"], response["headers"])
        return [response["response"]]

    def _ok(self, packets: Any = None, headers: Any = None, jsonp_index: Any = None) -> dict:
        response = super()._ok(packets, headers=headers, jsonp_index=jsonp_index)
        if packets is None and response.get("response") == b"OK":
            response["response"] = b"ok"
        return response


def _plain_spawn(server: Any) -> Callable[..., Any] | None:
    """``gevent.spawn`` when ``server`` would start tasks with python-engineio's gevent Thread
    wrapper; None otherwise (threading's daemon thread is already a plain thread)."""
    if server.async_mode != "gevent":
        return None
    from engineio.async_drivers import gevent as engineio_gevent

    if server._async.get("thread") is not engineio_gevent.Thread:
        return None
    import gevent

    return gevent.spawn


def _confirming_close(start_response: Callable[..., Any]) -> Callable[..., Any]:
    """Say ``Connection: close`` when the client asked for it: gevent's server closes without
    saying so, and a pooling client (Node's fetch) then reuses the dead connection."""

    def start(status: str, headers: list, *args: Any) -> Any:
        if not any(name.lower() == "connection" for name, _ in headers):
            headers = [*headers, ("Connection", "close")]
        return start_response(status, headers, *args)

    return start


def _asks_upgrade(environ: dict) -> bool:
    """Whether the request's ``Connection`` header names ``upgrade`` (RFC 9110, 7.8)."""
    tokens = environ.get("HTTP_CONNECTION", "").lower().split(",")
    return any(token.strip() == "upgrade" for token in tokens)


def _undelivered(socket: Any) -> bool:
    undelivered = getattr(socket, "undelivered", None)
    return bool(undelivered and undelivered())

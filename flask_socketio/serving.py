"""Web servers for each async mode, behind one small handle.

``make_server`` binds (port 0 picks a free port, read back from ``handle.port``) without serving,
so a caller that needs the port — a test fixture, ``run()`` printing its address — never has to
close and re-bind. ``shutdown()`` works in every mode and from any thread or handler, and closes
open connections too, so clients notice and reconnect when the server comes back. The gevent
and Werkzeug servers enforce the timeouts and the connection cap of :mod:`.http_limits`.
"""

from __future__ import annotations

import socket
import sys
import threading
from typing import TYPE_CHECKING, Any, Protocol

from .http_limits import ACCEPT_BATCH, ConnectionRegistry, HTTPLimits

if TYPE_CHECKING:
    import flask

    from .server import Middleware, Server

_SSL_ARGS = (
    "keyfile",
    "certfile",
    "server_side",
    "cert_reqs",
    "ssl_version",
    "ca_certs",
    "do_handshake_on_connect",
    "suppress_ragged_eofs",
    "ciphers",
)


class Servable(Protocol):
    """What serving needs of a ``SocketIO`` object (kept structural: no import of extension)."""

    async_mode: str | None
    server: Server | None
    sockio_mw: Middleware | None
    wsgi_server: Any


class ServerHandle(Protocol):
    """A bound web server: ``port`` is known before ``serve_forever()`` is called."""

    host: str
    port: int
    async_mode: str
    #: the header, body, idle and send timeouts and the connection cap in force
    http_limits: HTTPLimits

    def serve_forever(self) -> None: ...

    def shutdown(self) -> None: ...

    def stop(self, timeout: float | None = None) -> None: ...


class _UpstreamFace:
    """What upstream code expects of ``socketio.wsgi_server``: the web server itself.

    Upstream exposes gevent's ``WSGIServer`` there, so code stops a server started by ``run()``
    with ``socketio.wsgi_server.stop()`` and reads attributes such as ``server_port``; a handle
    answers both, forwarding unknown attributes to the server it wraps.
    """

    def shutdown(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float | None = None) -> None:
        """Stop serving and close open connections (upstream's name for :meth:`shutdown`)."""
        self.shutdown()

    def __getattr__(self, name: str) -> Any:
        server = self.__dict__.get("_server")
        if server is None:
            raise AttributeError(name)
        return getattr(server, name)


class WerkzeugHandle(_UpstreamFace):
    """Werkzeug's threaded server (WebSocket through simple-websocket), for ``threading``."""

    async_mode = "threading"

    def __init__(self, app: Any, host: str, port: int, ssl_context: Any = None, **kwargs: Any):
        from werkzeug.serving import make_server

        from .werkzeug_handler import LimitedRequestHandler

        self.http_limits = HTTPLimits.pop_from(kwargs)
        self.registry = ConnectionRegistry(self.http_limits)
        connections: set[socket.socket] = set()
        lock = threading.Lock()
        handler = LimitedRequestHandler.bind(
            self.registry, connections, lock, kwargs.pop("log_output", False)
        )
        self._connections = connections
        self._lock = lock
        self._server = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=handler,
            ssl_context=ssl_context,
            **kwargs,
        )
        self.host = host
        self.port = self._server.port
        self._serving = threading.Event()

    def serve_forever(self) -> None:
        self._serving.set()
        try:
            # a short poll interval keeps shutdown() (and so live-server restarts) quick
            self._server.serve_forever(poll_interval=0.05)
        finally:
            self._server.server_close()

    def shutdown(self) -> None:
        if self._serving.is_set():
            self._server.shutdown()
        else:
            self._server.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class GeventHandle(_UpstreamFace):
    """gevent's pywsgi server; WebSocket through :mod:`.transport` (gevent-websocket without
    the ``websockets`` package)."""

    async_mode = "gevent"

    def __init__(self, app: Any, host: str, port: int, log_output: bool = False, **kwargs: Any):
        from gevent import pywsgi

        from . import transport
        from .pywsgi_limits import REGISTRY_ATTR

        self.http_limits = HTTPLimits.pop_from(kwargs)
        self.registry = ConnectionRegistry(self.http_limits)
        if transport.AVAILABLE:
            # WebSocket through flask_socketio.transport (C unmasking, batched writes)
            from .pywsgi_handler import WebSocketAwareHandler

            kwargs.setdefault("handler_class", WebSocketAwareHandler)
        if "spawn" not in kwargs:  # connections run in reused greenlets (see GreenletPool)
            from .ordering import GreenletPool

            kwargs["spawn"] = GreenletPool().spawn
        self._server = pywsgi.WSGIServer(
            (host, port), app, log="default" if log_output else None, **kwargs
        )
        setattr(self._server, REGISTRY_ATTR, self.registry)
        # connections accepted in one wake-up hold descriptors before they are counted
        self._server.max_accept = min(self._server.max_accept, ACCEPT_BATCH)
        if not transport.AVAILABLE:
            self._use_gevent_websocket(app, kwargs)
        self._server.init_socket()
        self.host = host
        self.port = self._server.server_port

    def _use_gevent_websocket(self, app: Any, kwargs: dict) -> None:
        from gevent import pywsgi

        from .pywsgi_limits import LimitsMixin

        try:
            from geventwebsocket.handler import WebSocketHandler as base_handler
        except ImportError:  # WebSocket then comes from simple-websocket (slower disconnects)
            base_handler = pywsgi.WSGIHandler

        class NoDelayHandler(LimitsMixin, base_handler):
            def handle(self) -> Any:
                _no_delay(self.socket)
                return super().handle()

        if "handler_class" not in kwargs:
            self._server.handler_class = NoDelayHandler
        # gevent-websocket upgrades before the app runs; a refused Origin must get its 400
        # from Engine.IO instead of a 101 followed by a close (the browser would wait 20 s)
        self._server.pre_start_hook = lambda handler: _refuses_origin(app, handler.environ)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        self._server.stop(timeout=1)


class EventletHandle(_UpstreamFace):
    """eventlet's WSGI server (eventlet is in maintenance mode upstream; prefer gevent)."""

    async_mode = "eventlet"

    def __init__(self, app: Any, host: str, port: int, log_output: bool = False, **kwargs: Any):
        import eventlet
        import eventlet.green.socket

        # eventlet's server reads with its own options (socket_timeout, keepalive): the
        # timeouts are not applied; the connection cap becomes eventlet's max_size
        self.http_limits = HTTPLimits.pop_from(kwargs)
        kwargs.setdefault("max_size", self.http_limits.connection_cap)

        addresses = eventlet.green.socket.getaddrinfo(host, port)
        if not addresses:
            raise RuntimeError(f"Could not resolve host {host!r} to an address")
        self._socket = eventlet.listen(addresses[0][4], addresses[0][0])
        ssl_params = {k: kwargs.pop(k) for k in _SSL_ARGS if kwargs.get(k) is not None}
        for k in _SSL_ARGS:
            kwargs.pop(k, None)
        if ssl_params:
            ssl_params["server_side"] = True
            self._socket = eventlet.wrap_ssl(self._socket, **ssl_params)
        self._app = app
        self._kwargs = dict(kwargs, log_output=log_output)
        self.host = host
        self.port = self._socket.getsockname()[1]
        self._stopping = False

    def serve_forever(self) -> None:
        import eventlet.wsgi

        try:
            eventlet.wsgi.server(self._socket, self._app, **self._kwargs)
        except OSError:
            if not self._stopping:
                raise

    def shutdown(self) -> None:
        self._stopping = True
        self._socket.close()


def _no_delay(sock: Any) -> None:
    """Send small writes at once: without it, a second message sent right after a first one
    waits for the client's delayed ACK (about 40 ms on Linux)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not TCP (a Unix socket) or already closed
        pass


def _refuses_origin(app: Any, environ: dict) -> bool:
    """Whether the Engine.IO server behind ``app`` refuses this request's ``Origin`` header."""
    server = getattr(getattr(app, "wsgi_app", None), "socketio_server", None)
    origin = environ.get("HTTP_ORIGIN")
    if server is None or not origin or server.eio.cors_allowed_origins == []:
        return False
    allowed = server.eio._cors_allowed_origins(environ)
    return allowed is not None and origin not in allowed


def make_server(
    app: flask.Flask,
    socketio: Servable,
    host: str = "127.0.0.1",
    port: int = 0,
    **kwargs: Any,
) -> ServerHandle:
    """Bind a web server for ``app`` in the async mode of ``socketio`` (port 0: a free port).

    ``header_timeout``, ``body_timeout``, ``idle_timeout``, ``send_timeout`` and
    ``max_connections`` set the server's limits (:class:`~.http_limits.HTTPLimits`,
    docs/security.md); other keyword arguments go to the web server.
    """
    mode = socketio.async_mode or _require_server(socketio).async_mode
    kwargs.setdefault("http_limits", _default_limits(socketio))
    if mode == "threading":
        return WerkzeugHandle(app, host, port, **kwargs)
    if mode in ("gevent", "gevent_uwsgi"):
        return GeventHandle(app, host, port, **kwargs)
    if mode == "eventlet":
        return EventletHandle(app, host, port, **kwargs)
    raise ValueError(f"No built-in web server for async_mode {mode!r}")


def _default_limits(socketio: Servable) -> HTTPLimits:
    """The default limits, with Engine.IO's size limit as the largest body buffered at once."""
    size = getattr(getattr(socketio.server, "eio", None), "max_http_buffer_size", None)
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return HTTPLimits(buffered_body=size)
    return HTTPLimits()


def _require_server(socketio: Servable) -> Server:
    if socketio.server is None:
        raise RuntimeError("This SocketIO object has no server yet: call socketio.init_app(app).")
    return socketio.server


def run(
    socketio: Servable,
    app: flask.Flask,
    host: str | None = None,
    port: int | None = None,
    **kwargs: Any,
) -> None:
    """Serve ``app`` until stopped: the implementation of :meth:`SocketIO.run`."""
    from werkzeug.debug import DebuggedApplication

    server = _require_server(socketio)
    if host is None:
        host = "127.0.0.1"
    if port is None:
        server_name = app.config.get("SERVER_NAME")
        port = int(server_name.rsplit(":", 1)[1]) if server_name and ":" in server_name else 5000
    debug = kwargs.pop("debug", app.debug)
    log_output = kwargs.pop("log_output", debug)
    use_reloader = kwargs.pop("use_reloader", debug)
    reloader_options = dict(kwargs.pop("reloader_options", {}) or {})
    extra_files = kwargs.pop("extra_files", None)
    if extra_files:
        reloader_options["extra_files"] = extra_files
    allow_unsafe_werkzeug = kwargs.pop("allow_unsafe_werkzeug", False)
    app.debug = debug
    mode = server.async_mode
    kwargs.setdefault("http_limits", _default_limits(socketio))

    if mode == "threading":
        _check_werkzeug_allowed(allow_unsafe_werkzeug)
        if use_reloader:
            from .werkzeug_handler import LimitedRequestHandler

            # the reloader restarts the process, so the server is Werkzeug's own run_simple
            limits = HTTPLimits.pop_from(kwargs)
            kwargs.setdefault(
                "request_handler",
                LimitedRequestHandler.bind(
                    ConnectionRegistry(limits), set(), threading.Lock(), log_output
                ),
            )
            app.run(
                host=host,
                port=port,
                threaded=True,
                use_reloader=True,
                **reloader_options,
                **kwargs,
            )
            return
        werkzeug_handle = WerkzeugHandle(app, host, port, log_output=log_output, **kwargs)
        _log_startup(werkzeug_handle)
        handle: ServerHandle = werkzeug_handle
    else:
        if debug and socketio.sockio_mw is not None:
            # the debugger sits between the Socket.IO middleware and the Flask app
            socketio.sockio_mw.wsgi_app = DebuggedApplication(
                socketio.sockio_mw.wsgi_app, evalex=True
            )
        if mode == "gevent" and use_reloader:
            from gevent import monkey

            monkey.patch_thread()
            monkey.patch_time()
        handle = make_server(app, socketio, host, port, log_output=log_output, **kwargs)
    socketio.wsgi_server = handle
    try:
        if use_reloader and mode != "threading":
            from werkzeug._reloader import run_with_reloader

            run_with_reloader(handle.serve_forever, **reloader_options)
        else:
            handle.serve_forever()
    finally:
        socketio.wsgi_server = None


def _check_werkzeug_allowed(allow_unsafe_werkzeug: bool) -> None:
    """Werkzeug is a development server: refuse it when stdin is not a terminal (a deployment)."""
    if sys.stdin is not None and sys.stdin.isatty():
        return
    if not allow_unsafe_werkzeug:
        raise RuntimeError(
            "The Werkzeug web server (async_mode='threading') is a development server and stdin "
            "is not a terminal, which looks like a deployment. Use gevent (pip install gevent "
            "gevent-websocket) for production, or pass allow_unsafe_werkzeug=True to run()."
        )
    from werkzeug._internal import _log

    _log("warning", "Werkzeug appears to be used in a deployment; consider gevent instead.")


def _log_startup(handle: WerkzeugHandle) -> None:
    log_startup = getattr(handle._server, "log_startup", None)
    if log_startup is not None:
        log_startup()

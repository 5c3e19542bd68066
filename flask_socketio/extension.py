"""The ``SocketIO`` extension object: configuration, handler registry, server-side emits."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import flask
import socketio

from . import serving
from .dispatch import Dispatcher, Handler
from .flask_context import current_request_context
from .namespace import BoundNamespace, Namespace
from .options import OWN_OPTIONS, python_socketio_options
from .queues import manager_for_url
from .server import SERVER_KEY, Middleware, Server


def _payload(args: tuple[Any, ...]) -> Any:
    """python-socketio takes one data argument; several go as a tuple."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


class SocketIO:
    """Socket.IO for a Flask application.

    ``SocketIO(app, **options)`` or ``SocketIO(**options)`` then ``init_app(app, **options)``
    (options from both merge; later wins). Without an app but with ``message_queue``, the object
    is a write-only emitter for worker processes. Options of its own: ``manage_session`` (fork the
    Flask session per connection; default True), ``message_queue``, ``channel`` (default
    ``'flask-socketio'``), ``path``/``resource`` (default ``'socket.io'``); every python-socketio
    and python-engineio server option passes through.
    """

    reason = socketio.Server.reason

    def __init__(self, app: flask.Flask | None = None, **kwargs: Any) -> None:
        self.server: Server | None = None
        self.server_options: dict[str, Any] = {}
        # the extension's own options, kept apart as upstream does: server_options holds what
        # python-socketio's Server takes (code builds its own with Server(**server_options))
        self._own_options: dict[str, Any] = {}
        self.wsgi_server: Any = None
        self.handlers: list[tuple[str, Handler, str]] = []
        self.namespace_handlers: list[Namespace] = []
        self.exception_handlers: dict[str, Handler] = {}
        self.default_exception_handler: Handler | None = None
        self.manage_session = True
        self.async_mode: str | None = None
        self.sockio_mw: Middleware | None = None
        self._servers: weakref.WeakSet[Server] = weakref.WeakSet()
        self._app_servers: weakref.WeakKeyDictionary[flask.Flask, Server] = (
            weakref.WeakKeyDictionary()
        )
        self._queue_manager: Any = None
        self._dispatcher = Dispatcher(self)
        if app is not None or "message_queue" in kwargs:
            self.init_app(app, **kwargs)
        else:
            self.server_options.update(kwargs)

    # -- setup ------------------------------------------------------------------------------

    def init_app(self, app: flask.Flask | None, **kwargs: Any) -> None:
        """Build a Socket.IO server for ``app`` with every handler registered so far.

        Each call builds a new server (app factories call it once per app); all of them keep
        receiving handlers registered later.
        """
        if app is not None:
            if not hasattr(app, "extensions"):  # pragma: no cover - very old Flask
                app.extensions = {}
            app.extensions["socketio"] = self
        self.server_options.update(kwargs)
        for key in OWN_OPTIONS:
            if key in self.server_options and key != "message_queue":
                self._own_options[key] = self.server_options.pop(key)
        self.manage_session = self._own_options.get("manage_session", self.manage_session)
        url = self.server_options.get("message_queue")
        manager = self.server_options.get("client_manager")
        if url and (manager is None or manager is self._queue_manager):
            # a manager serves one server: build a new one for every server we build
            channel = self._own_options.get("channel", "flask-socketio")
            self._queue_manager = manager_for_url(url, channel, write_only=app is None)
            self.server_options["client_manager"] = self._queue_manager
        server = Server(flask_app=app, **python_socketio_options(app, self.server_options))
        server.extension = self
        self.server = server
        self.async_mode = server.async_mode
        self._servers.add(server)
        for event, handler, namespace in self.handlers:
            self._attach_handler(server, event, handler, namespace)
        for namespace_handler in self.namespace_handlers:
            server.register_namespace(BoundNamespace(namespace_handler))

        if app is not None:
            self._app_servers[app] = server
            options_ = self._own_options
            path = options_.get("path") or options_.get("resource") or "socket.io"
            inner = app.wsgi_app
            if isinstance(inner, Middleware) and inner.flask_app is app:
                inner = inner.wsgi_app  # re-initialising this app: replace our own middleware
            self.sockio_mw = Middleware(server, app, inner, socketio_path=path.lstrip("/"))
            app.wsgi_app = self.sockio_mw  # type: ignore[method-assign]  # Flask's own advice

    # -- handler registration ---------------------------------------------------------------

    def on(self, message: str, namespace: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for ``message`` (``'*'`` catches every event).

        Reserved names: ``connect`` (handler takes ``auth`` or nothing; return False or raise
        ``ConnectionRefusedError`` to refuse), ``disconnect`` (takes ``reason`` or nothing),
        ``message`` and ``json``. ``namespace='*'`` catches every namespace.
        """
        namespace = namespace or "/"

        def decorator(handler: Handler) -> Handler:
            self.handlers.append((message, handler, namespace))
            for server in list(self._servers):
                self._attach_handler(server, message, handler, namespace)
            return handler

        return decorator

    def on_event(self, message: str, handler: Handler, namespace: str | None = None) -> None:
        """Register ``handler`` for ``message`` without a decorator."""
        self.on(message, namespace=namespace)(handler)

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Decorator registering a handler named after the function (bare or with arguments)."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(handler: Handler) -> Handler:
            return self.on(handler.__name__, *args, **kwargs)(handler)

        return set_handler

    def on_namespace(self, namespace_handler: Namespace) -> None:
        """Register a class-based :class:`Namespace` instance."""
        if not isinstance(namespace_handler, Namespace):
            raise ValueError("on_namespace() takes a flask_socketio.Namespace instance.")
        namespace_handler._set_socketio(self)
        self.namespace_handlers.append(namespace_handler)
        for server in list(self._servers):
            server.register_namespace(BoundNamespace(namespace_handler))

    def on_error(self, namespace: str | None = None) -> Callable[[Handler], Handler]:
        """Decorator registering the handler for exceptions raised in ``namespace``'s handlers."""
        namespace = namespace or "/"

        def decorator(exception_handler: Handler) -> Handler:
            if not callable(exception_handler):
                raise ValueError("exception_handler must be callable")
            self.exception_handlers[namespace] = exception_handler
            return exception_handler

        return decorator

    def on_error_default(self, exception_handler: Handler) -> Handler:
        """Decorator registering the handler for exceptions in namespaces without their own."""
        if not callable(exception_handler):
            raise ValueError("exception_handler must be callable")
        self.default_exception_handler = exception_handler
        return exception_handler

    # -- dispatch ---------------------------------------------------------------------------

    def _attach_handler(
        self, server: Server, message: str, handler: Handler, namespace: str
    ) -> None:
        self._dispatcher.attach(server, message, handler, namespace)

    def _handle_event(
        self, handler: Handler, message: str, namespace: str, sid: str, *args: Any
    ) -> Any:
        """Upstream-compatible entry point: run ``handler`` in the context of ``sid``.

        Code written for upstream calls this from an overridden ``Namespace.trigger_event``.
        """
        return self._dispatcher.run(self._require_server(), handler, message, namespace, sid, args)

    # -- server-side operations -------------------------------------------------------------

    def _require_server(self) -> Server:
        if self.server is None:
            raise RuntimeError(
                "This SocketIO object has no server yet: call socketio.init_app(app) first."
            )
        return self.server

    def server_for(self, app: flask.Flask | None) -> Server:
        """The server that ``init_app`` built for ``app`` (the latest server when none matches)."""
        server = self._app_servers.get(app) if app is not None else None
        return server or self._require_server()

    def _current_server(self) -> Server:
        """The server of the app handling the current request, else the latest one built."""
        ctx = current_request_context()
        if ctx is not None:
            server = ctx.request.environ.get(SERVER_KEY)
            if server is not None and server.extension is self:
                return server
        return self._require_server()

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Emit ``event`` with ``args`` from the server, in or outside a handler.

        Keyword arguments: ``namespace`` (default ``'/'``), ``to``/``room`` (a sid or room; all
        clients when absent), ``include_self``, ``skip_sid``, ``callback``, ``ignore_queue``.
        """
        namespace = kwargs.pop("namespace", None) or "/"
        to = kwargs.pop("to", None) or kwargs.pop("room", None)
        include_self = kwargs.pop("include_self", True)
        skip_sid = kwargs.pop("skip_sid", None)
        if not include_self and not skip_sid:
            skip_sid = _current_sid("emit(include_self=False)")
        callback = kwargs.pop("callback", None)
        server = self._current_server()
        if callback is not None:
            callback = self._dispatcher.callback_in_context(server, callback, namespace)
        server.emit(
            event,
            _payload(args),
            namespace=namespace,
            to=to,
            skip_sid=skip_sid,
            callback=callback,
            **kwargs,
        )

    def call(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Emit ``event`` to one client (``to=sid``) and wait for its acknowledgement.

        Returns the client's ack arguments (one value, or a tuple for several); raises
        ``TimeoutError`` after ``timeout`` seconds (default 60).
        """
        namespace = kwargs.pop("namespace", None) or "/"
        to = kwargs.pop("to", None) or kwargs.pop("room", None)
        return self._current_server().call(
            event, _payload(args), namespace=namespace, to=to, **kwargs
        )

    def send(
        self,
        data: Any,
        json: bool = False,
        namespace: str | None = None,
        to: str | None = None,
        callback: Handler | None = None,
        include_self: bool = True,
        skip_sid: Any = None,
        **kwargs: Any,
    ) -> None:
        """Send a ``message`` (or, with ``json=True``, a ``json``) event from the server."""
        if not include_self and not skip_sid:
            skip_sid = _current_sid("send(include_self=False)")
        self.emit(
            "json" if json else "message",
            data,
            namespace=namespace,
            to=to or kwargs.pop("room", None),
            skip_sid=skip_sid,
            callback=callback,
            **kwargs,
        )

    def close_room(self, room: str, namespace: str | None = None) -> None:
        """Remove every client from ``room`` (in ``namespace``, default ``'/'``)."""
        self._current_server().close_room(room, namespace)

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start ``target`` as a task of the async mode in use; the result has ``join()``."""
        return self._require_server().start_background_task(target, *args, **kwargs)

    def sleep(self, seconds: float = 0) -> None:
        """Sleep in the async mode in use (yields to other greenlets under gevent/eventlet)."""
        return self._require_server().sleep(seconds)

    def run(
        self, app: flask.Flask, host: str | None = None, port: int | None = None, **kwargs: Any
    ) -> None:
        """Serve ``app`` with the web server of the async mode (see ``flask_socketio.serving``)."""
        serving.run(self, app, host=host, port=port, **kwargs)

    def stop(self) -> None:
        """Stop the server started by :meth:`run`; callable from a handler or another thread."""
        if self.wsgi_server is None:
            raise RuntimeError("No server to stop: socketio.run() has not started one.")
        self.wsgi_server.shutdown()

    def test_client(
        self,
        app: flask.Flask,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        flask_test_client: Any = None,
    ) -> Any:
        """Return an in-process test client connected to ``app`` (see flask_socketio_testing)."""
        from flask_socketio_testing.inprocess import SocketIOTestClient

        return SocketIOTestClient(
            app,
            self,
            namespace=namespace,
            query_string=query_string,
            headers=headers,
            auth=auth,
            flask_test_client=flask_test_client,
        )


def _current_sid(what: str) -> str:
    ctx = current_request_context()
    sid = getattr(ctx.request, "sid", None) if ctx is not None else None
    if sid is None:
        raise RuntimeError(
            f"{what} needs the sender's sid, and there is no Socket.IO request here: "
            "pass skip_sid=<sid> instead."
        )
    return sid

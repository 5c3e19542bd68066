"""The ``SocketIO`` extension object: configuration, handler registry, server-side emits."""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable
from typing import Any

import flask
import socketio
from flask import json as flask_json
from flask.globals import _cv_request
from socketio.exceptions import ConnectionRefusedError

from . import serving
from .dispatch import (
    accepts_argument,
    call_with_optional_argument,
    push_event_context,
    refuse_legacy_retry,
    remember_failed_call,
    save_flask_session,
)
from .namespace import BoundNamespace, Namespace
from .queues import manager_for_url
from .server import APP_KEY, SERVER_KEY, Middleware, Server

Handler = Callable[..., Any]

# async modes python-engineio knows, and the packages each one needs
_ASYNC_MODES: dict[str, tuple[str, ...]] = {
    "threading": (),
    "gevent": ("gevent",),
    "gevent_uwsgi": ("gevent", "uwsgi"),
    "eventlet": ("eventlet",),
}
# options of this extension that are not python-socketio server options
_OWN_OPTIONS = ("message_queue", "channel", "manage_session", "path", "resource")


def _flask_safe_json(app: flask.Flask | None) -> Any:
    """Wrap ``flask.json`` so dumps/loads always run inside the app context they need."""

    class FlaskSafeJSON:
        @staticmethod
        def dumps(*args: Any, **kwargs: Any) -> str:
            if app is None or flask.has_app_context():
                return flask_json.dumps(*args, **kwargs)
            with app.app_context():
                return flask_json.dumps(*args, **kwargs)

        @staticmethod
        def loads(*args: Any, **kwargs: Any) -> Any:
            if app is None or flask.has_app_context():
                return flask_json.loads(*args, **kwargs)
            with app.app_context():
                return flask_json.loads(*args, **kwargs)

    return FlaskSafeJSON


def _check_async_mode(mode: str | None) -> None:
    """Fail early, naming what to install, for an unknown or unavailable async mode."""
    if mode is None:
        return
    if mode not in _ASYNC_MODES:
        raise ValueError(
            f"Unknown async_mode {mode!r}. Use one of: {', '.join(_ASYNC_MODES)} "
            "(or leave it unset to pick the best one installed)."
        )
    import importlib.util

    missing = [m for m in _ASYNC_MODES[mode] if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"async_mode={mode!r} needs the {', '.join(missing)} package(s): "
            f"pip install {' '.join(missing)}" + (" gevent-websocket" if mode == "gevent" else "")
        )


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
        self.manage_session = self.server_options.get("manage_session", self.manage_session)
        url = self.server_options.get("message_queue")
        manager = self.server_options.get("client_manager")
        if url and (manager is None or manager is self._queue_manager):
            # a manager serves one server: build a new one for every server we build
            channel = self.server_options.get("channel", "flask-socketio")
            self._queue_manager = manager_for_url(url, channel, write_only=app is None)
            self.server_options["client_manager"] = self._queue_manager
        options = {k: v for k, v in self.server_options.items() if k not in _OWN_OPTIONS}
        if options.get("json") is flask_json:
            options["json"] = _flask_safe_json(app)
        if os.environ.get("FLASK_RUN_FROM_CLI") and options.get("async_mode") is None:
            options["async_mode"] = "threading"
        if options.get("async_mode") is None:
            options["async_mode"] = _default_async_mode()
        _check_async_mode(options.get("async_mode"))
        options["serializer"] = _packet_class(
            options.get("serializer", "default"), own_json=options.get("json") is not None
        )

        server = Server(flask_app=app, **options)
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
            options_ = self.server_options
            path = options_.get("path") or options_.get("resource") or "socket.io"
            inner = app.wsgi_app
            if isinstance(inner, Middleware) and inner.flask_app is app:
                inner = inner.wsgi_app  # re-initialising this app: replace our own middleware
            self.sockio_mw = Middleware(server, app, inner, socketio_path=path.lstrip("/"))
            app.wsgi_app = self.sockio_mw

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
        takes_argument = accepts_argument(handler)

        # functools.wraps: what python-socketio holds unwraps (``__wrapped__``) to ``handler``
        @functools.wraps(handler)
        def dispatch(*raw: Any) -> Any:
            args = list(raw)
            event = args.pop(0) if message == "*" else message
            real_namespace = args.pop(0) if namespace == "*" else namespace
            sid = args.pop(0)
            if message == "*":
                args.insert(0, event)
            return self._dispatch(
                server, handler, event, real_namespace, sid, tuple(args), takes_argument
            )

        server.on(message, dispatch, namespace=namespace)

    def _dispatch_namespace_event(
        self,
        server: Server,
        namespace_handler: Namespace,
        event: str,
        handler: Handler,
        args: tuple,
    ) -> Any:
        namespace = namespace_handler.namespace
        if namespace == "*":
            namespace, args = args[0], args[1:]
        sid, args = args[0], args[1:]
        return self._dispatch(
            server,
            handler,
            event,
            namespace,
            sid,
            args,
            accepts_argument(handler),
            error_hook=getattr(namespace_handler, "error", None),
        )

    def _dispatch(
        self,
        server: Server,
        handler: Handler,
        message: str | None,
        namespace: str,
        sid: str,
        args: tuple,
        takes_argument: bool = True,
        error_hook: Handler | None = None,
    ) -> Any:
        """Call ``handler`` inside the Flask context of connection ``sid``."""
        if message in ("connect", "disconnect"):
            refuse_legacy_retry(sid, message, args)
        environ = server.get_environ(sid, namespace=namespace)
        if not environ:
            return "", 400  # the client is gone; same answer as upstream
        app = environ.get(APP_KEY) or server.flask_app
        ctx, session = push_event_context(app, environ, self.manage_session)
        error: BaseException | None = None
        try:
            request = ctx.request
            request.sid = sid  # type: ignore[attr-defined]
            request.namespace = namespace  # type: ignore[attr-defined]
            request.event = {"message": message, "args": args}  # type: ignore[attr-defined]
            try:
                if message == "connect":
                    auth = args[1] if len(args) > 1 else None
                    result = call_with_optional_argument(handler, auth, takes_argument)
                elif message == "disconnect" and args:
                    result = call_with_optional_argument(handler, args[0], takes_argument)
                elif message == "disconnect":
                    result = handler()
                else:
                    result = handler(*args)
            except ConnectionRefusedError:
                raise
            except Exception as exc:
                exception_handler = error_hook or self.exception_handlers.get(
                    namespace, self.default_exception_handler
                )
                if exception_handler is None:
                    if isinstance(exc, TypeError) and message in ("connect", "disconnect"):
                        remember_failed_call(sid, exc)
                    raise
                return exception_handler(exc)
            if not self.manage_session:
                save_flask_session(app, session)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            ctx.pop(error)

    def _handle_event(
        self, handler: Handler, message: str, namespace: str, sid: str, *args: Any
    ) -> Any:
        """Upstream-compatible entry point: run ``handler`` in the context of ``sid``."""
        return self._dispatch(self._require_server(), handler, message, namespace, sid, args)

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
        ctx = _cv_request.get(None)
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
            callback = self._callback_in_context(server, callback, namespace)
        server.emit(
            event,
            _payload(args),
            namespace=namespace,
            to=to,
            skip_sid=skip_sid,
            callback=callback,
            **kwargs,
        )

    def _callback_in_context(self, server: Server, callback: Handler, namespace: str) -> Handler:
        """Make an ack callback run in the Flask context of the handler that emitted."""
        if not flask.has_request_context():
            return callback
        sid = getattr(flask.request, "sid", None)
        if sid is None:
            return callback
        original_namespace = getattr(flask.request, "namespace", namespace)

        def run_in_context(*args: Any) -> Any:
            return self._dispatch(server, callback, None, original_namespace, sid, args)

        return run_in_context

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
    sid = getattr(flask.request, "sid", None) if flask.has_request_context() else None
    if sid is None:
        raise RuntimeError(
            f"{what} needs the sender's sid, and there is no Socket.IO request here: "
            "pass skip_sid=<sid> instead."
        )
    return sid


def _default_async_mode() -> str | None:
    """gevent when installed (the production choice), else python-engineio's own pick."""
    import importlib.util

    if importlib.util.find_spec("gevent") is not None:
        return "gevent"
    return None


def _packet_class(serializer: Any, own_json: bool) -> Any:
    """The packet class for a server: FastPacket by default (same wire format, faster).

    python-socketio assigns a custom ``json`` to the packet *class*; a server with its own JSON
    module gets a subclass of its own so that other servers in the process keep theirs.
    """
    if serializer == "default":
        try:
            from .packet import FastPacket as packet_class
        except ImportError:  # pragma: no cover - the fast class is optional
            packet_class = socketio.packet.Packet
    elif serializer == "msgpack":
        from socketio.msgpack_packet import MsgPackPacket as packet_class
    else:
        packet_class = serializer
    if own_json:
        packet_class = type(packet_class.__name__, (packet_class,), {})
    return packet_class

"""Running a Socket.IO handler inside the Flask context of its connection.

Every handler runs with the app and request context of the connection's handshake request, with
``request.sid``, ``request.namespace`` and ``request.event`` set. Building that context is most of
the cost of a handler call, so the parts that cannot change during a connection (URL matching and
the forked session) are computed once per connection and kept in its WSGI environ.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import flask
from flask import signals
from flask.ctx import RequestContext
from flask.globals import _cv_app, _cv_request
from flask.sessions import SessionMixin

#: environ keys this module keeps per connection.
SESSION_KEY = "saved_session"  # upstream's name; tests written for upstream read it
MATCH_KEY = "flask_socketio.url_match"


class ManagedSession(dict, SessionMixin):
    """The connection's own copy of the Flask session (``manage_session=True``).

    It is forked from the HTTP session when the connection's first handler runs; changes made by
    handlers persist for the rest of the connection and never reach HTTP routes.
    """


ADAPTER_KEY = "flask_socketio.url_adapter"

# The fast path below mirrors RequestContext.__init__ of Flask 2.2 to 3.1; it is used only when
# that constructor has the signature it was written against, else every event builds its own.
_INIT_PARAMETERS = list(inspect.signature(RequestContext.__init__).parameters)
_FAST_INIT = _INIT_PARAMETERS == ["self", "app", "environ", "request", "session"]
_PRIVATE_SESSION = isinstance(getattr(RequestContext, "session", None), property)


class EventContext(RequestContext):
    """A request context for a Socket.IO handler that binds and matches the URL once.

    The handshake URL never changes during a connection, so the URL adapter and the routing
    result of the first event are kept in the connection's environ and reused (``match_request``
    is Flask's documented hook for this). Everything else is fresh for every event.
    """

    def __init__(
        self,
        app: flask.Flask,
        environ: dict,
        request: Any = None,
        session: SessionMixin | None = None,
    ) -> None:
        adapter = environ.get(ADAPTER_KEY) if _FAST_INIT else None
        if adapter is None:
            super().__init__(app, environ, request=request, session=session)
            if self.url_adapter is not None:
                environ[ADAPTER_KEY] = self.url_adapter
            return
        self.app = app
        if request is None:
            request = app.request_class(environ)
            request.json_module = app.json
        self.request = request
        self.url_adapter = adapter
        self.flashes = None
        if _PRIVATE_SESSION:
            self._session = session
        else:  # pragma: no cover - Flask < 3.1.3
            self.session = session
        self._after_request_functions = []
        self._cv_tokens = []

    def pop(self, exc: BaseException | None = None) -> None:  # type: ignore[override]
        """Pop the context; skip Flask's teardown machinery when nothing is registered for it.

        Teardown functions, teardown signals and parsed uploads take Flask's full ``pop``; a plain
        handler only needs the two context variables reset, which is a fifth of the cost.
        """
        app = self.app
        if (
            not _FAST_INIT
            or len(self._cv_tokens) != 1
            or app.teardown_request_funcs
            or app.teardown_appcontext_funcs
            or _has_receivers(signals.request_tearing_down)
            or _has_receivers(signals.appcontext_tearing_down)
            or _has_receivers(signals.appcontext_popped)
            or "files" in self.request.__dict__
        ):
            super().pop(exc)
            return
        token, app_ctx = self._cv_tokens.pop()
        _cv_request.reset(token)
        self.request.environ["werkzeug.request"] = None
        if app_ctx is not None:
            _cv_app.reset(app_ctx._cv_tokens.pop())

    def match_request(self) -> None:
        environ = self.request.environ
        cached = environ.get(MATCH_KEY)
        if cached is None:
            super().match_request()
            cached = (
                getattr(self.request, "url_rule", None),
                getattr(self.request, "view_args", None),
                getattr(self.request, "routing_exception", None),
            )
            environ[MATCH_KEY] = cached
        else:
            request = self.request
            request.url_rule, request.view_args, request.routing_exception = cached


def _has_receivers(signal: Any) -> bool:
    """Whether anything listens to a Flask signal.

    Flask before 2.3 replaces its signals with stand-ins that have no ``receivers`` when blinker
    is not installed; nothing can be connected to those.
    """
    return bool(getattr(signal, "receivers", None))


def _set_context_session(ctx: RequestContext, session: SessionMixin) -> None:
    """Install ``session`` as the session of a pushed context, across Flask versions."""
    if hasattr(ctx, "_session"):  # Flask >= 3.1.3 keeps it in a private attribute
        ctx._session = session
    else:  # pragma: no cover - older Flask
        ctx.session = session


def push_event_context(
    app: flask.Flask, environ: dict, manage_session: bool
) -> tuple[RequestContext, SessionMixin]:
    """Push the Flask context for one handler call and return it with the session in use."""
    if manage_session:
        forked = environ.get(SESSION_KEY)
        if forked is not None:
            ctx = EventContext(app, environ, session=forked)
            ctx.push()
            return ctx, forked
        ctx = EventContext(app, environ)
        ctx.push()
        forked = ManagedSession(ctx.session)
        environ[SESSION_KEY] = forked
        _set_context_session(ctx, forked)
        return ctx, forked
    ctx = EventContext(app, environ)
    ctx.push()
    return ctx, flask.session._get_current_object()  # type: ignore[attr-defined]


def save_flask_session(app: flask.Flask, session: SessionMixin) -> None:
    """Save a session that Flask's session interface manages (``manage_session=False``)."""
    if getattr(session, "modified", True):
        app.session_interface.save_session(app, session, app.response_class())


def accepts_argument(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` can be called with one positional argument.

    Connect handlers may take ``auth`` or nothing and disconnect handlers ``reason`` or nothing.
    The signature is read through ``__wrapped__`` (``functools.wraps``), so a decorated handler
    is judged by the function it wraps.
    """
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # builtins and some C callables
        return True
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


def call_with_optional_argument(
    handler: Callable[..., Any], argument: Any, takes_argument: bool
) -> Any:
    """Call ``handler(argument)``, or ``handler()`` when it takes no argument.

    A decorator that forwards ``(*args, **kwargs)`` without ``functools.wraps`` hides whether the
    real handler takes the argument. Then the call with it fails inside the forwarding wrappers
    with ``TypeError``, and the handler is called again without it, as upstream does; a
    ``TypeError`` raised by the handler's own code is never retried.
    """
    if not takes_argument:
        return handler()
    try:
        return handler(argument)
    except TypeError as exc:
        if not _raised_while_forwarding(exc):
            raise
    return handler()


def _raised_while_forwarding(exc: BaseException) -> bool:
    """Whether ``exc`` came from calling through wrappers that only forward ``*args``.

    A call whose arguments do not bind fails in the caller's frame, so when every frame between
    the call site and the error takes ``*args``, the error is the forwarded call's; a frame of a
    function with a fixed signature on the way means the error came from running code.
    """
    traceback = exc.__traceback__
    frame_tb = traceback.tb_next if traceback is not None else None  # skip our own frame
    while frame_tb is not None:
        if not frame_tb.tb_frame.f_code.co_flags & inspect.CO_VARARGS:
            return False
        frame_tb = frame_tb.tb_next
    return True


# python-socketio calls a connect handler again without ``auth``, and a disconnect handler
# without ``reason``, when the first call raises TypeError. That retry is for handlers with the
# legacy signature, which call_with_optional_argument already serves; when the TypeError came
# from the handler's own code, the retry must not run it twice, so it re-raises the first error.
_failed_call: ContextVar[tuple[str, BaseException] | None] = ContextVar(
    "flask_socketio_failed_call", default=None
)


def remember_failed_call(sid: str, exc: BaseException) -> None:
    """Record that a connect/disconnect handler of ``sid`` raised ``exc`` (a TypeError)."""
    _failed_call.set((sid, exc))


def refuse_legacy_retry(sid: str, message: str, args: tuple) -> None:
    """Re-raise the recorded error when python-socketio retries a failed call of ``sid``."""
    failed = _failed_call.get()
    if failed is None:
        return
    _failed_call.set(None)
    legacy_shape = len(args) < 2 if message == "connect" else not args
    if legacy_shape and failed[0] == sid:
        raise failed[1]

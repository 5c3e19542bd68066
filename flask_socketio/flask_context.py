"""The Flask context a Socket.IO handler runs in; the one module that touches Flask internals.

Every handler runs with the app and request context of the connection's handshake request, with
``request.sid``, ``request.namespace`` and ``request.event`` set. Building that context is most of
the cost of a handler call, so the parts that cannot change during a connection (URL matching and
the forked session) are computed once per connection and kept in its WSGI environ.
"""

from __future__ import annotations

import inspect
from typing import Any

import flask
import werkzeug.wrappers
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
REQUEST_STATE_KEY = "flask_socketio.request_state"

# The fast path below mirrors RequestContext.__init__ of Flask 2.2 to 3.1; it is used only when
# that constructor has the signature it was written against, else every event builds its own.
_INIT_PARAMETERS = list(inspect.signature(RequestContext.__init__).parameters)
_FAST_INIT = _INIT_PARAMETERS == ["self", "app", "environ", "request", "session"]
_PRIVATE_SESSION = isinstance(getattr(RequestContext, "session", None), property)
_WERKZEUG_REQUEST_INIT = werkzeug.wrappers.Request.__init__


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
            request = _new_request(app, environ)
        self.request = request
        self.url_adapter = adapter
        self.flashes = None
        if _PRIVATE_SESSION:
            self._session = session
        else:  # pragma: no cover - Flask < 3.1.3, where session is a plain attribute
            setattr(self, "session", session)  # noqa: B010
        self._after_request_functions = []
        self._cv_tokens = []

    def pop(self, exc: BaseException | None = None) -> None:
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


def _new_request(app: flask.Flask, environ: dict) -> Any:
    """A fresh request object for one event, as ``app.request_class(environ)`` builds it.

    Werkzeug's constructor only derives attributes from the environ, which does not change
    during a connection: the attributes of the connection's first request are kept and copied
    into each new one. A request class with a constructor of its own is always called.
    """
    cls = app.request_class
    state = environ.get(REQUEST_STATE_KEY)
    if state is not None and state[0] is cls:
        request = cls.__new__(cls)
        request.__dict__.update(state[1])
        request.environ = environ
        environ["werkzeug.request"] = request
        return request
    request = cls(environ)
    request.json_module = app.json
    if cls.__init__ is _WERKZEUG_REQUEST_INIT:
        attributes = dict(request.__dict__)
        del attributes["environ"]  # set per request: no cycle through the environ
        environ[REQUEST_STATE_KEY] = (cls, attributes)
    return request


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
        setattr(ctx, "session", session)  # noqa: B010


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


def current_request_context() -> RequestContext | None:
    """The request context being handled in this thread or greenlet, or None (cheap to call)."""
    return _cv_request.get(None)

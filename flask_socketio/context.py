"""Functions for use inside Socket.IO handlers; they default to the current connection.

Inside a handler, ``emit('x', data)`` answers the client that sent the event, in its namespace.
Outside one (an HTTP route, a background task) there is no current connection: pass ``to=`` /
``namespace=`` (or use the ``SocketIO`` object's methods), and the error message says so.
"""

from __future__ import annotations

from typing import Any

import flask
from flask.globals import _cv_request

from .extension import SocketIO


def _socketio() -> SocketIO:
    if not flask.has_app_context():
        raise RuntimeError(
            "flask_socketio context functions need a Flask app context; outside one, call the "
            "methods of your SocketIO object instead (socketio.emit(...), socketio.send(...))."
        )
    socketio = flask.current_app.extensions.get("socketio")
    if socketio is None:
        raise RuntimeError("This Flask app has no SocketIO extension: call SocketIO(app) first.")
    return socketio


def _request_attr(name: str, function: str, hint: str) -> Any:
    """``request.sid`` / ``request.namespace`` of the current Socket.IO event, or a clear error."""
    ctx = _cv_request.get(None)
    value = getattr(ctx.request, name, None) if ctx is not None else None
    if value is None:
        raise RuntimeError(
            f"{function}() was called outside a Socket.IO event handler, so there is no current "
            f"{name}: {hint}"
        )
    return value


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    """Emit ``event`` with ``args``; by default to the client that sent the current event.

    ``broadcast=True`` sends to every client of the namespace; ``to``/``room`` to a room or sid;
    ``include_self=False`` or ``skip_sid`` leaves clients out; ``callback`` receives the ack;
    ``namespace`` defaults to the current one.
    """
    ctx = _cv_request.get(None)
    request = ctx.request if ctx is not None else None
    namespace = kwargs.pop("namespace", None) or getattr(request, "namespace", None)
    if namespace is None:
        _request_attr("namespace", "emit", "pass namespace= (and to= or broadcast=True).")
    broadcast = kwargs.pop("broadcast", False)
    to = kwargs.pop("to", None) or kwargs.pop("room", None)
    if to is None and not broadcast:
        to = getattr(request, "sid", None) or _request_attr(
            "sid", "emit", "pass to=<sid or room> or broadcast=True."
        )
    socketio = ctx.app.extensions.get("socketio") if ctx is not None else None
    (socketio or _socketio()).emit(
        event,
        *args,
        namespace=namespace,
        to=to,
        include_self=kwargs.pop("include_self", True),
        skip_sid=kwargs.pop("skip_sid", None),
        callback=kwargs.pop("callback", None),
        ignore_queue=kwargs.pop("ignore_queue", False),
        **kwargs,
    )


def send(message: Any, **kwargs: Any) -> None:
    """Send a ``message`` event (``json=True``: a ``json`` event); targets as :func:`emit`."""
    event = "json" if kwargs.pop("json", False) else "message"
    emit(event, message, **kwargs)


def call(event: str, *args: Any, **kwargs: Any) -> Any:
    """Emit ``event`` to one client (default: the current one) and return its ack.

    ``timeout`` (seconds, default 60) bounds the wait; ``TimeoutError`` when it passes.
    """
    namespace = kwargs.pop("namespace", None) or _request_attr(
        "namespace", "call", "pass namespace= and to=<sid>."
    )
    to = kwargs.pop("to", None) or kwargs.pop("room", None)
    if to is None:
        to = _request_attr("sid", "call", "pass to=<sid>.")
    return _socketio().call(event, *args, namespace=namespace, to=to, **kwargs)


def join_room(room: str, sid: str | None = None, namespace: str | None = None) -> None:
    """Put a client (default: the current one) into ``room``."""
    sid = sid or _request_attr("sid", "join_room", "pass sid=.")
    namespace = namespace or _request_attr("namespace", "join_room", "pass namespace=.")
    _socketio()._current_server().enter_room(sid, room, namespace=namespace)


def leave_room(room: str, sid: str | None = None, namespace: str | None = None) -> None:
    """Take a client (default: the current one) out of ``room``."""
    sid = sid or _request_attr("sid", "leave_room", "pass sid=.")
    namespace = namespace or _request_attr("namespace", "leave_room", "pass namespace=.")
    _socketio()._current_server().leave_room(sid, room, namespace=namespace)


def close_room(room: str, namespace: str | None = None) -> None:
    """Remove every client from ``room``; the namespace defaults to the current one."""
    namespace = namespace or _request_attr("namespace", "close_room", "pass namespace=.")
    _socketio()._current_server().close_room(room, namespace=namespace)


def rooms(sid: str | None = None, namespace: str | None = None) -> list[str]:
    """The rooms a client (default: the current one) is in, its own sid room included."""
    sid = sid or _request_attr("sid", "rooms", "pass sid=.")
    namespace = namespace or _request_attr("namespace", "rooms", "pass namespace=.")
    return _socketio()._current_server().rooms(sid, namespace=namespace)


def disconnect(sid: str | None = None, namespace: str | None = None, silent: bool = False) -> None:
    """Disconnect a client (default: the current one) from a namespace.

    ``silent`` is accepted for compatibility and has no effect.
    """
    sid = sid or _request_attr("sid", "disconnect", "pass sid=.")
    namespace = namespace or _request_attr("namespace", "disconnect", "pass namespace=.")
    _socketio()._current_server().disconnect(sid, namespace=namespace)

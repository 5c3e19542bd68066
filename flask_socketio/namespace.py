"""Class-based handlers: a :class:`Namespace` subclass with ``on_<event>`` methods."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

import socketio

if TYPE_CHECKING:
    from .dispatch import Dispatcher
    from .server import Server


class NamespaceOwner(Protocol):
    """What a :class:`Namespace` uses of the ``SocketIO`` object it is registered with."""

    server: Server | None
    _dispatcher: Dispatcher

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None: ...

    def send(self, data: Any, *args: Any, **kwargs: Any) -> None: ...

    def close_room(self, room: str, namespace: str | None = None) -> None: ...


# The server that is dispatching the current namespace event (one Namespace may serve several
# servers when an app factory calls init_app more than once).
_dispatching_server: ContextVar[Server | None] = ContextVar("_dispatching_server", default=None)


class Namespace(socketio.Namespace):
    """Handlers for one namespace, as methods named ``on_<event>``.

    Register an instance with :meth:`SocketIO.on_namespace`. Each handler runs in the Flask context
    of its connection, like decorated handlers. Define ``error(self, exc)`` to handle exceptions
    escaping this namespace's handlers; its return value becomes the ack, as with ``on_error``.
    """

    def __init__(self, namespace: str | None = None) -> None:
        self._server: Server | None = None
        super().__init__(namespace)
        self.socketio: NamespaceOwner | None = None

    @property
    def server(self) -> Server | None:
        """The python-socketio server for python-socketio's helpers on ``self``.

        ``self.enter_room(sid, room)``, ``self.rooms(sid)``, ``self.get_session(sid)`` and the
        other inherited helpers call ``self.server``: it is the server dispatching the current
        event, else the latest server this namespace was registered with.
        """
        return _dispatching_server.get() or self._server

    @server.setter
    def server(self, server: Server | None) -> None:
        self._server = server

    def _set_socketio(self, socketio: NamespaceOwner) -> None:
        self.socketio = socketio

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Run the ``on_<event>`` method for ``event``; unknown events are ignored.

        Subclasses may override this to route events differently and call ``super()``.
        """
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None
        owner = self._require_socketio()
        server = _dispatching_server.get() or owner.server
        if server is None:
            raise RuntimeError("This SocketIO object has no server yet: call init_app(app).")
        return owner._dispatcher.run_namespace_event(
            server, self.namespace, event, handler, args, getattr(self, "error", None)
        )

    def emit(
        self,
        event: str,
        data: Any = None,
        room: str | None = None,
        include_self: bool = True,
        namespace: str | None = None,
        callback: Any = None,
        to: str | None = None,
        skip_sid: Any = None,
    ) -> None:
        """Emit ``event`` to one or more clients; the namespace defaults to this one."""
        args = () if data is None else (data,)
        self._require_socketio().emit(
            event,
            *args,
            to=to or room,
            include_self=include_self,
            skip_sid=skip_sid,
            namespace=namespace or self.namespace,
            callback=callback,
        )

    def send(
        self,
        data: Any,
        room: str | None = None,
        include_self: bool = True,
        namespace: str | None = None,
        callback: Any = None,
        to: str | None = None,
    ) -> None:
        """Send a ``message`` event; the namespace defaults to this one."""
        self._require_socketio().send(
            data,
            to=to or room,
            include_self=include_self,
            namespace=namespace or self.namespace,
            callback=callback,
        )

    def close_room(self, room: str, namespace: str | None = None) -> None:
        """Remove every client from ``room``; the namespace defaults to this one."""
        self._require_socketio().close_room(room=room, namespace=namespace or self.namespace)

    def _require_socketio(self) -> NamespaceOwner:
        if self.socketio is None:
            raise RuntimeError(
                f"Namespace {self.namespace!r} is not registered: call socketio.on_namespace(...)"
            )
        return self.socketio


class BoundNamespace(socketio.Namespace):
    """What one server registers for a user's :class:`Namespace`: it records which server
    dispatches, so the same Namespace object can serve every server its ``SocketIO`` builds."""

    def __init__(self, user_namespace: Namespace) -> None:
        super().__init__(user_namespace.namespace)
        self.user_namespace = user_namespace

    def _set_server(self, server: Server) -> None:
        # python-socketio calls this on registration: the user's namespace learns its server too
        super()._set_server(server)
        self.user_namespace.server = server

    def trigger_event(self, event: str, *args: Any) -> Any:
        token = _dispatching_server.set(self.server)
        try:
            return self.user_namespace.trigger_event(event, *args)
        finally:
            _dispatching_server.reset(token)

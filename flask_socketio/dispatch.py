"""Calling a user's handler for a Socket.IO event: argument rules, error handlers, the context.

python-socketio calls what :class:`Dispatcher` registers with ``(sid, *args)`` (plus the event
and namespace for catch-alls); the dispatcher strips those, pushes the connection's Flask context
(``flask_context``), calls the handler with the arguments it takes, routes its exceptions to the
registered error handlers and saves a Flask-managed session afterwards.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from socketio.exceptions import ConnectionRefusedError

from .flask_context import current_request_context, push_event_context, save_flask_session
from .server import APP_KEY

if TYPE_CHECKING:
    from .server import Server

Handler = Callable[..., Any]


class HandlerSettings(Protocol):
    """What the dispatcher reads from the ``SocketIO`` object that owns the handlers."""

    manage_session: bool
    exception_handlers: dict[str, Handler]
    default_exception_handler: Handler | None


class Dispatcher:
    """Runs handlers for the servers of one ``SocketIO`` object."""

    def __init__(self, settings: HandlerSettings) -> None:
        self.settings = settings

    def attach(self, server: Server, message: str, handler: Handler, namespace: str) -> None:
        """Register ``handler`` for ``message`` in ``namespace`` with python-socketio."""
        takes_argument = accepts_argument(handler)
        run = self.run

        # functools.wraps: what python-socketio holds unwraps (``__wrapped__``) to ``handler``
        @functools.wraps(handler)
        def dispatch(*raw: Any) -> Any:
            args = list(raw)
            event = args.pop(0) if message == "*" else message
            real_namespace = args.pop(0) if namespace == "*" else namespace
            sid = args.pop(0)
            if message == "*":
                args.insert(0, event)
            return run(server, handler, event, real_namespace, sid, tuple(args), takes_argument)

        server.on(message, dispatch, namespace=namespace)

    def run_namespace_event(
        self,
        server: Server,
        namespace: str,
        event: str,
        handler: Handler,
        args: tuple,
        error_hook: Handler | None = None,
    ) -> Any:
        """Run the ``on_<event>`` method of a class-based namespace (``args`` start with sid)."""
        if namespace == "*":
            namespace, args = args[0], args[1:]
        sid, args = args[0], args[1:]
        return self.run(
            server,
            handler,
            event,
            namespace,
            sid,
            args,
            accepts_argument(handler),
            error_hook=error_hook,
        )

    def run(
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
            refuse_legacy_retry(sid, message)
        environ = server.get_environ(sid, namespace=namespace)
        if not environ:
            return "", 400  # the client is gone; same answer as upstream
        app = environ.get(APP_KEY) or server.flask_app
        if app is None:
            raise RuntimeError(f"No Flask app serves connection {sid!r}: build SocketIO(app).")
        settings = self.settings
        ctx, session = push_event_context(app, environ, settings.manage_session)
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
                exception_handler = error_hook or settings.exception_handlers.get(
                    namespace, settings.default_exception_handler
                )
                if exception_handler is None:
                    if isinstance(exc, TypeError) and message in ("connect", "disconnect"):
                        remember_failed_call(sid, message, exc)
                    raise
                return exception_handler(exc)
            if not settings.manage_session:
                save_flask_session(app, session)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            ctx.pop(error)

    def callback_in_context(self, server: Server, callback: Handler, namespace: str) -> Handler:
        """Make an ack callback run in the Flask context of the handler that emitted."""
        ctx = current_request_context()
        sid = getattr(ctx.request, "sid", None) if ctx is not None else None
        if ctx is None or sid is None:
            return callback
        original_namespace = getattr(ctx.request, "namespace", namespace)
        run = self.run

        def run_in_context(*args: Any) -> Any:
            return run(server, callback, None, original_namespace, sid, args)

        return run_in_context


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


# python-socketio calls a connect handler again, with or without ``auth`` (the order changed in
# 5.17), and a disconnect handler without ``reason``, when the first call raises TypeError. That
# retry is for handlers with another signature, which call_with_optional_argument already serves;
# when the TypeError came from the handler's own code, the retry must not run it again, so the
# next call for the same connection and event re-raises the first error.
_failed_call: ContextVar[tuple[str, str, BaseException] | None] = ContextVar(
    "flask_socketio_failed_call", default=None
)


def remember_failed_call(sid: str, message: str, exc: BaseException) -> None:
    """Record that the ``message`` handler of ``sid`` raised ``exc`` (a TypeError)."""
    _failed_call.set((sid, message, exc))


def refuse_legacy_retry(sid: str, message: str) -> None:
    """Re-raise the recorded error when python-socketio retries a failed call of ``sid``."""
    failed = _failed_call.get()
    if failed is None:
        return
    _failed_call.set(None)
    if failed[0] == sid and failed[1] == message:
        raise failed[2]

"""Serve a Flask-SocketIO app for browser tests: ``python -m flask_socketio_testing.serve APP``.

APP follows ``flask --app`` (Flask's ``ScriptInfo``): ``module:app``, ``module:create_app()``,
``module:create_app('testing')`` or a module holding one app. The app is served on 127.0.0.1 with
the browser harness page mounted (see ``flask_socketio_testing.e2e.harness``), gevent by default
(``--async-mode threading`` too). Once the socket is bound, exactly one line goes to stdout: the
app's URL (``http://127.0.0.1:41234``); everything after it goes to stderr. SIGTERM or SIGINT
stops the server and the process exits 0. A port in use exits 3 with a one-line reason.

gevent must patch before anything imports ``socket``, ``threading`` or ``socketio``, so the mode is
read from ``sys.argv`` and patched in before the other imports of this module.
"""

import sys


def _requested_mode(argv: list[str]) -> str:
    """The ``--async-mode`` value in ``argv`` (both spellings), before argparse is imported."""
    for i, arg in enumerate(argv):
        if arg == "--async-mode" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--async-mode="):
            return arg.split("=", 1)[1]
    return "gevent"


if __name__ == "__main__" and _requested_mode(sys.argv) == "gevent":
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import errno  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

ASYNC_MODES = ("gevent", "threading", "eventlet")
#: Exit code when the requested port is taken (the caller may retry).
EXIT_PORT_BUSY = 3
#: Exit code when the app cannot be loaded or has no SocketIO.
EXIT_BAD_APP = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flask_socketio_testing.serve",
        description="Serve a Flask-SocketIO app with the browser harness page mounted; print its "
        "URL on one line once bound; exit 0 on SIGTERM.",
    )
    parser.add_argument(
        "app",
        nargs="?",
        help="the app, as for flask --app: module:app, module:create_app() or a module",
    )
    parser.add_argument("--app", dest="app_option", metavar="APP", help="the same as APP")
    parser.add_argument("--async-mode", choices=ASYNC_MODES, default="gevent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument(
        "--node-modules",
        default=os.environ.get("SOCKETIO_NODE_MODULES", "node_modules"),
        help="folder with the socket.io-client packages the harness page serves "
        "(default: $SOCKETIO_NODE_MODULES or ./node_modules)",
    )
    parser.add_argument(
        "--no-harness", action="store_true", help="serve the app alone, without the harness page"
    )
    parser.add_argument("--message-queue", help="message queue URL for a multi-node test")
    parser.add_argument("--channel", help="message queue channel (default flask-socketio)")
    # the pytest plugin's subprocess live server reads "PORT <n>" / "BUSY" instead of the URL
    parser.add_argument("--ready-line", default="{url}", help=argparse.SUPPRESS)
    parser.add_argument("--busy-line", default=None, help=argparse.SUPPRESS)
    return parser


def load_app(app_spec: str) -> Any:
    """Load the Flask app the way ``flask --app`` does (the current folder is importable)."""
    from flask.cli import NoAppException, ScriptInfo

    try:
        return ScriptInfo(app_import_path=app_spec).load_app()
    except NoAppException as exc:
        raise SystemExit(_fail(EXIT_BAD_APP, f"cannot load {app_spec!r}: {exc.message}")) from None


def prepare_socketio(app: Any, args: argparse.Namespace) -> Any:
    """The app's SocketIO, rebuilt in the requested async mode and message queue when needed."""
    socketio = app.extensions.get("socketio")
    if socketio is None:
        raise SystemExit(
            _fail(
                EXIT_BAD_APP,
                f"{args.app} has no SocketIO: create SocketIO(app) or call socketio.init_app(app)",
            )
        )
    options: dict[str, Any] = {}
    if socketio.async_mode != args.async_mode:
        options["async_mode"] = args.async_mode
    if args.message_queue:
        options["message_queue"] = args.message_queue
        options["channel"] = args.channel or "flask-socketio"
    if options:
        socketio.init_app(app, **options)
    return socketio


def stop_on_signals(mode: str, stop: Callable[[], None]) -> None:
    """Call ``stop`` once on SIGTERM or SIGINT, outside the signal handler's frame."""
    if mode == "gevent":
        import gevent

        for signum in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, lambda: gevent.spawn(stop))
        return

    def handler(signum: int, frame: Any) -> None:
        # Werkzeug's shutdown() waits for serve_forever() to return: never call it from
        # the thread that runs serve_forever() (this handler's thread)
        threading.Thread(target=stop, name="serve-shutdown", daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def serve(argv: Sequence[str] | None = None) -> int:
    """Run the command (gevent mode needs the patching done at the top of this module)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.app = args.app or args.app_option
    if not args.app:
        parser.error("name the app: MODULE:APP, MODULE:create_app() or MODULE")
    sys.path.insert(0, os.getcwd())
    app = load_app(args.app)
    socketio = prepare_socketio(app, args)
    if not args.no_harness:
        from flask_socketio_testing.e2e.harness import mount_harness

        mount_harness(app, socketio, node_modules=args.node_modules)

    from flask_socketio.serving import make_server

    try:
        handle = make_server(app, socketio, args.host, args.port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        if args.busy_line is not None:
            print(args.busy_line, flush=True)
        return _fail(EXIT_PORT_BUSY, f"port {args.port} on {args.host} is in use")
    stop_on_signals(args.async_mode, handle.shutdown)
    url = f"http://{args.host}:{handle.port}"
    print(args.ready_line.format(url=url, port=handle.port), flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stdout carries that one line only
    handle.serve_forever()
    return 0


def _fail(code: int, message: str) -> int:
    print(f"flask_socketio_testing.serve: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(serve())

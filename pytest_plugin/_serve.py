"""Serve an app in this process: ``python -m pytest_flask_socketio._serve --app mod:app``.

Used by ``ProcessLiveServer``. In gevent mode it monkey-patches before anything else is imported.
It prints ``PORT <n>`` once the listening socket is bound (or ``BUSY`` when the requested port is
taken), then serves until SIGTERM. Everything else goes to stderr.
"""

import sys


def _argv_value(name: str, default: str) -> str:
    argv = sys.argv
    return argv[argv.index(name) + 1] if name in argv else default


_MODE = _argv_value("--async-mode", "gevent")
if _MODE == "gevent":  # patch first: nothing imported yet
    from gevent import monkey

    monkey.patch_all()
elif _MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import errno  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402


def load_app(spec: str):  # type: ignore[no-untyped-def]
    """Import ``package.module:app`` or call ``package.module:create_app()``."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"app import string {spec!r} must look like 'package.module:app'")
    module = importlib.import_module(module_name)
    call = attr.endswith("()")
    obj = getattr(module, attr[:-2] if call else attr)
    return obj() if call else obj


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--async-mode", default="gevent")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--message-queue")
    parser.add_argument("--channel")
    args = parser.parse_args()

    app = load_app(args.app)
    socketio = app.extensions.get("socketio")
    if socketio is None:
        raise SystemExit(f"{args.app} has no SocketIO: app.extensions['socketio'] is missing")
    options: dict = {}
    current = getattr(socketio, "async_mode", None)
    if current != args.async_mode:
        options["async_mode"] = args.async_mode
    if args.message_queue:
        options["message_queue"] = args.message_queue
        options["channel"] = args.channel or "flask-socketio"
    if options:
        socketio.init_app(app, **options)

    from flask_socketio.serving import make_server

    try:
        handle = make_server(app, socketio, args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print("BUSY", flush=True)
            raise SystemExit(3) from None
        raise
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    print(f"PORT {handle.port}", flush=True)
    os.dup2(2, 1)  # anything printed later goes to the log, not to the port pipe
    handle.serve_forever()


if __name__ == "__main__":
    main()

"""The server the official protocol suites expect, served by this project in one async mode.

``python suite_server.py sio|eio gevent|threading PING_INTERVAL PING_TIMEOUT [PORT]`` serves, on
127.0.0.1 (port 0: a free port, printed on the first line), either the Socket.IO app of the
socket.io-protocol suite's README (``auth`` on connect, ``message`` echoed as ``message-back``,
``message-with-ack`` acked with its arguments, a ``/custom`` namespace) or an Engine.IO echo
server at ``/engine.io/`` (engine.io-protocol suite).
The heartbeat is given in seconds, so both the reference one (0.3/0.2) and a long one can be used.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and sys.argv[2] == "gevent":
    from gevent import monkey

    monkey.patch_all()

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from protocol_support import reference_app  # noqa: E402

from flask_socketio import SocketIO, transport  # noqa: E402
from flask_socketio.serving import make_server  # noqa: E402

LIMITS = {"max_http_buffer_size": 1_000_000, "cors_allowed_origins": "*"}


def socketio_app(mode: str, interval: float, timeout: float) -> tuple[Flask, SocketIO]:
    """The reference Socket.IO app of the suite's README (the protocol tests' app), configured
    as the README's server: a 1 s connect timeout, a 1 MB payload limit."""
    return reference_app(
        async_mode=mode,
        ping_interval=interval,
        ping_timeout=timeout,
        connect_timeout=1,
        **LIMITS,
    )


def engineio_app(mode: str, interval: float, timeout: float) -> tuple[Flask, SocketIO]:
    """An Engine.IO echo server at /engine.io/ (the project's Engine.IO server class)."""
    import engineio

    app, socketio = Flask("eio-suite"), SocketIO(async_mode=mode)
    socketio.init_app(app)  # only for make_server's choice of web server
    server = socketio._require_server()
    eio = server._engineio_server_class()(
        async_mode=mode, ping_interval=interval, ping_timeout=timeout, **LIMITS
    )

    transport.install(eio)  # the WebSocket transport a SocketIO server gets

    @eio.on("message")
    def echo(sid: str, data: Any) -> None:
        eio.send(sid, data)

    app.wsgi_app = engineio.WSGIApp(eio, engineio_path="engine.io")  # type: ignore[method-assign]
    return app, socketio


def main(argv: list[str]) -> None:
    suite, mode, interval, timeout = argv[0], argv[1], float(argv[2]), float(argv[3])
    port = int(argv[4]) if len(argv) > 4 else 3000
    build = socketio_app if suite == "sio" else engineio_app
    app, socketio = build(mode, interval, timeout)
    handle = make_server(app, socketio, "127.0.0.1", port)
    print(f"serving {suite} ({mode}) on {handle.port}", flush=True)
    handle.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

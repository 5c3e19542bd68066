"""Shared setup for the core tests: the async mode under test and an app factory.

The same test modules run in threading mode (the default) and, from test_core_gevent.py, in a
subprocess patched by gevent with FLASK_SOCKETIO_TEST_ASYNC_MODE=gevent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from flask_socketio import SocketIO
from flask_socketio.serving import make_server

ASYNC_MODE = os.environ.get("FLASK_SOCKETIO_TEST_ASYNC_MODE", "threading")


def make_app(name: str = "core", **options: Any) -> tuple[Flask, SocketIO]:
    """A Flask app with a SocketIO extension in the async mode under test."""
    app = Flask(name)
    app.config["SECRET_KEY"] = "test-secret"
    options.setdefault("async_mode", ASYNC_MODE)
    return app, SocketIO(app, **options)


@contextmanager
def live_server(app: Flask, socketio: SocketIO) -> Iterator[str]:
    """Serve ``app`` on a free loopback port for the duration of the block; yields its URL."""
    handle = make_server(app, socketio, "127.0.0.1", 0)
    if ASYNC_MODE == "gevent":
        import gevent

        runner: Any = gevent.spawn(handle.serve_forever)
    else:
        runner = threading.Thread(target=handle.serve_forever, daemon=True)
        runner.start()
    try:
        yield f"http://127.0.0.1:{handle.port}"
    finally:
        handle.shutdown()
        runner.join(5)

"""Upstream's module path for the test client: ``from flask_socketio.test_client import ...``.

The client itself lives in the harness package, ``flask_socketio_testing.inprocess``.
"""

from flask_socketio_testing.inprocess import SocketIOTestClient

__all__ = ["SocketIOTestClient"]

"""Browser end-to-end testing of Flask-SocketIO apps with the real socket.io-client.

``harness`` mounts the in-page harness (the test page, the client builds from ``node_modules``
and an echo namespace) on any app; ``python -m flask_socketio_testing.e2e init DIR --app APP``
writes a Playwright Test project for an app (see ``project``).
"""

"""``python flood_server.py gevent|threading``: the echo app of limits_support under
``RLIMIT_NOFILE`` 1024 with short HTTP limits; prints its port on the first line, then serves
until killed (tests/test_http_flood.py floods it)."""

from __future__ import annotations

import resource
import sys

MODE = sys.argv[1]
if MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import os  # noqa: E402

os.environ["FLASK_SOCKETIO_TEST_ASYNC_MODE"] = MODE
_, HARD = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, HARD))

from limits_support import echo_app  # noqa: E402

from flask_socketio.serving import make_server  # noqa: E402

#: short enough for a test, long enough that the flood is all open before the first expires
FLOOD_LIMITS = {"header_timeout": 4.0, "body_timeout": 4.0, "idle_timeout": 4.0}


def main() -> None:
    app, socketio = echo_app()
    handle = make_server(app, socketio, "127.0.0.1", 0, **FLOOD_LIMITS)

    @app.route("/stats")
    def stats() -> dict:
        return dict(handle.registry.stats, open=handle.registry.count)  # type: ignore[attr-defined]

    print(handle.port, handle.http_limits.connection_cap, flush=True)
    handle.serve_forever()


if __name__ == "__main__":
    main()

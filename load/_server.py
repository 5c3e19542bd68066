"""Start the load app (load/_app.py) on gevent, on one node or several sharing Redis.

    python load/_server.py                         # one node, a free port, printed on stdout
    python load/_server.py --port 5000             # one node on port 5000
    python load/_server.py --nodes 2 --port 5000   # nodes on 5000 and 5001 sharing Redis
    python load/_server.py --nodes 2 --ready-file load/results/server.json

A thin front of the package's launcher (``python -m flask_socketio_testing.locust.server``, which
serves any app): it names this folder's app with its message queue and fault. Run with another
Flask-SocketIO virtualenv (e.g. upstream's), it loads the launcher by its path, which needs only
Flask and Flask-SocketIO.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from types import ModuleType

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(os.path.dirname(HERE), "testing", "locust", "server.py")


def _launcher() -> ModuleType:
    try:
        from flask_socketio_testing.locust import server

        return server
    except ImportError:  # another virtualenv: the launcher file itself
        spec = importlib.util.spec_from_file_location("_load_launcher", LAUNCHER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--message-queue",
        default=None,
        help="message queue URL (default with --nodes > 1: $REDIS_URL or redis://127.0.0.1:6379/0)",
    )
    p.add_argument("--channel", default=None, help="message queue channel (default: unique)")
    p.add_argument(
        "--fault",
        default=None,
        choices=["misdeliver", "drop"],
        help="break the relay on purpose (to test the load checks)",
    )
    p.add_argument("--nodes", type=int, default=1, help="number of server processes")
    args, rest = p.parse_known_args(argv)
    if args.nodes > 1 and not args.message_queue:
        args.message_queue = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    channel = args.channel or f"flask-socketio-load-{os.getpid()}"
    app = (
        f"{os.path.join(HERE, '_app.py')}:create_load_app("
        f"message_queue={args.message_queue!r}, channel={channel!r}, fault={args.fault!r})"
    )
    return int(_launcher().main([app, "--nodes", str(args.nodes), *rest]))


if __name__ == "__main__":
    sys.exit(main())

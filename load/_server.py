"""Start the load app (load/_app.py) on gevent, on one node or several sharing Redis.

    python load/_server.py                         # one node, a free port, printed on stdout
    python load/_server.py --port 5000             # one node on port 5000
    python load/_server.py --nodes 2 --port 5000   # nodes on 5000 and 5001 sharing Redis
    python load/_server.py --nodes 2 --ready-file load/results/server.json

Prints one JSON line when every node listens: ``{"urls": [...], "ports": [...], "pids": [...],
"flask_socketio": version, ...}`` (also written to ``--ready-file``; pass that file to Locust as
``--sio-server-file`` so users spread over the nodes and capacity runs sample the server's CPU).
Runs until SIGINT/SIGTERM (or ``--run-seconds``). It uses only upstream Flask-SocketIO's API plus
``flask_socketio.serving.make_server`` when present, so any Flask-SocketIO virtualenv can run it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

#: a server left running is stopped after this long (every loop is bounded)
MAX_RUN_SECONDS = 4 * 3600


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 is supported")
    p.add_argument("--port", type=int, default=0, help="first port (0: a free port per node)")
    p.add_argument("--nodes", type=int, default=1, help="number of server processes")
    p.add_argument(
        "--message-queue",
        default=None,
        help="message queue URL (default with --nodes > 1: $REDIS_URL or redis://127.0.0.1:6379/0)",
    )
    p.add_argument(
        "--channel", default=None, help="message queue channel (default: unique per run)"
    )
    p.add_argument(
        "--fault",
        default=None,
        choices=["misdeliver", "drop"],
        help="break the relay on purpose (to test the load checks)",
    )
    p.add_argument("--ready-file", default=None, help="write the ready JSON here too")
    p.add_argument(
        "--run-seconds",
        type=float,
        default=None,
        help="stop after this many seconds (default: run until interrupted)",
    )
    p.add_argument("--node", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost"):
        p.error("load runs only target 127.0.0.1")
    if args.nodes < 1 or args.nodes > 16:
        p.error("--nodes must be between 1 and 16")
    return args


def _version() -> dict[str, Any]:
    import importlib.metadata as md

    import flask_socketio

    def v(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "?"

    return {
        "flask_socketio": v("Flask-SocketIO"),
        "flask_socketio_path": os.path.dirname(flask_socketio.__file__),
        "python_socketio": v("python-socketio"),
        "python_engineio": v("python-engineio"),
        "gevent": v("gevent"),
        "python": sys.executable,
    }


def serve_node(args: argparse.Namespace) -> None:
    """One gevent server process (patches first: nothing else may import socket before)."""
    from gevent import monkey

    monkey.patch_all()

    import gevent
    from _app import create_app  # load/ is sys.path[0] when run as a script

    app, socketio = create_app(
        args.message_queue, args.channel or "flask-socketio-load", fault=args.fault
    )
    try:
        from flask_socketio.serving import make_server  # this project's core
    except ImportError:
        make_server = None
    if make_server is not None:
        handle = make_server(app, socketio, host="127.0.0.1", port=args.port)
        port, stop, serve = handle.port, handle.shutdown, handle.serve_forever
        via = "flask_socketio.serving.make_server"
    else:  # upstream Flask-SocketIO: the same stack socketio.run() uses for gevent
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        server = pywsgi.WSGIServer(
            ("127.0.0.1", args.port), app, handler_class=WebSocketHandler, log=None
        )
        server.init_socket()
        port, stop, serve = server.server_port, server.stop, server.serve_forever
        via = "gevent.pywsgi + geventwebsocket (upstream)"

    info = {
        "port": port,
        "pid": os.getpid(),
        "url": f"http://127.0.0.1:{port}",
        "via": via,
        "message_queue": args.message_queue,
        **_version(),
    }
    print(json.dumps(info), flush=True)

    def _stop(*_a: Any) -> None:
        gevent.spawn(stop)

    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    gevent.spawn_later(args.run_seconds or MAX_RUN_SECONDS, stop)
    serve()


def _write_ready(args: argparse.Namespace, info: dict[str, Any]) -> None:
    line = json.dumps(info)
    print(line, flush=True)
    if args.ready_file:
        os.makedirs(os.path.dirname(os.path.abspath(args.ready_file)), exist_ok=True)
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(line + "\n")
        os.replace(tmp, args.ready_file)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.node:
        serve_node(args)
        return 0
    if args.nodes > 1 and not args.message_queue:
        args.message_queue = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    channel = args.channel or f"flask-socketio-load-{os.getpid()}"
    children: list[subprocess.Popen[str]] = []
    nodes: list[dict[str, Any]] = []
    try:
        for i in range(args.nodes):
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--node",
                "--channel",
                channel,
                "--port",
                str(args.port + i if args.port else 0),
            ]
            if args.message_queue:
                cmd += ["--message-queue", args.message_queue]
            if args.fault:
                cmd += ["--fault", args.fault]
            child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            children.append(child)
            line = child.stdout.readline() if child.stdout else ""
            if not line:
                raise RuntimeError(f"node {i} exited before listening (code {child.wait(5)})")
            nodes.append(json.loads(line))
        info = {
            "urls": [n["url"] for n in nodes],
            "ports": [n["port"] for n in nodes],
            "pids": [n["pid"] for n in nodes],
            "nodes": len(nodes),
            "message_queue": args.message_queue,
            "channel": channel if args.message_queue else None,
            **{
                k: v
                for k, v in nodes[0].items()
                if k not in ("port", "pid", "url", "message_queue")
            },
        }
        _write_ready(args, info)
        stopping = False

        def _stop(*_a: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        deadline = time.monotonic() + (args.run_seconds or MAX_RUN_SECONDS)
        while not stopping and all(c.poll() is None for c in children):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return 0 if all(c.poll() is None for c in children) else 1
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
        for c in children:
            try:
                c.wait(10)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait(5)
        if args.ready_file and os.path.exists(args.ready_file):
            os.remove(args.ready_file)


if __name__ == "__main__":
    sys.exit(main())

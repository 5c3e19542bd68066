"""Serve any Flask-SocketIO app on gevent for a load run, on one node or several.

    python -m flask_socketio_testing.locust.server myapp:app
    python -m flask_socketio_testing.locust.server "myapp:create_app(debug=False)" --port 5000
    python -m flask_socketio_testing.locust.server myapp:app --nodes 2 --ready-file server.json

``APP`` is what ``flask --app`` takes (``module:app``, ``module:create_app(...)``, a file path);
Flask's own loader reads it. Each node is a process of its own, patched by gevent before anything
else is imported. Several nodes serve the same app on consecutive (or free) ports: they share
rooms only when the app itself names a message queue (``SocketIO(app, message_queue=...)``).

Prints one JSON line when every node listens: ``{"urls": [...], "ports": [...], "pids": [...],
"flask_socketio": version, ...}``, also written to ``--ready-file``; pass that file to Locust as
``--sio-server-file`` so users spread over the nodes and capacity runs sample the server's CPU.
Runs until SIGINT/SIGTERM (or ``--run-seconds``), then removes the ready file.

This module needs only the standard library, Flask and Flask-SocketIO (this project's or
upstream's: it uses ``flask_socketio.serving.make_server`` when present), so another virtualenv
can run the file by its path for a side-by-side comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "parse_args"]

#: a server left running is stopped after this long (every loop is bounded)
MAX_RUN_SECONDS = 4 * 3600
#: seconds a node has to start listening
START_TIMEOUT = 60.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The launcher's command line (see the module doc)."""
    p = argparse.ArgumentParser(
        prog="python -m flask_socketio_testing.locust.server",
        description="Serve a Flask-SocketIO app on gevent for a load run.",
    )
    p.add_argument("app", help="the app, as flask --app takes it: module:app or module:factory()")
    p.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 is supported")
    p.add_argument("--port", type=int, default=0, help="first port (0: a free port per node)")
    p.add_argument("--nodes", type=int, default=1, help="number of server processes (default 1)")
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
    if not 1 <= args.nodes <= 16:
        p.error("--nodes must be between 1 and 16")
    return args


def _versions() -> dict[str, Any]:
    import importlib.metadata as md

    import flask_socketio

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    return {
        "flask_socketio": version("Flask-SocketIO") or getattr(flask_socketio, "__version__", None),
        "flask_socketio_path": os.path.dirname(flask_socketio.__file__),
        "python_socketio": version("python-socketio"),
        "python_engineio": version("python-engineio"),
        "gevent": version("gevent"),
        "python": sys.executable,
    }


def _serve_node(args: argparse.Namespace) -> None:
    """One gevent server process: patch first, then load and serve the app."""
    from gevent import monkey

    monkey.patch_all()

    import gevent
    from flask.cli import ScriptInfo

    app = ScriptInfo(app_import_path=args.app).load_app()
    socketio = app.extensions.get("socketio")
    if socketio is None:
        raise SystemExit(f"{args.app}: the app has no SocketIO (SocketIO(app) was never called)")
    make_server: Any = None
    try:
        from flask_socketio.serving import make_server  # this project's core
    except ImportError:
        pass
    if make_server is not None:
        handle = make_server(app, socketio, host="127.0.0.1", port=args.port)
        port, stop, serve = handle.port, handle.shutdown, handle.serve_forever
        via = "flask_socketio.serving.make_server"
    else:  # upstream Flask-SocketIO: the stack socketio.run() uses for gevent
        from gevent import pywsgi
        from geventwebsocket.handler import WebSocketHandler

        server = pywsgi.WSGIServer(
            ("127.0.0.1", args.port), app, handler_class=WebSocketHandler, log=None
        )
        server.init_socket()
        port, stop, serve = server.server_port, server.stop, server.serve_forever
        via = "gevent.pywsgi + geventwebsocket (upstream)"
    options = getattr(socketio, "server_options", {}) or {}
    info = {
        "port": port,
        "pid": os.getpid(),
        "url": f"http://127.0.0.1:{port}",
        "via": via,
        "app": args.app,
        "async_mode": getattr(socketio, "async_mode", None),
        "message_queue": options.get("message_queue"),
        **_versions(),
    }
    print(json.dumps(info), flush=True)

    def _stop(*_a: Any) -> None:
        gevent.spawn(stop)

    gevent.signal_handler(signal.SIGTERM, _stop)
    gevent.signal_handler(signal.SIGINT, _stop)
    gevent.spawn_later(args.run_seconds or MAX_RUN_SECONDS, stop)
    serve()


def _node_command(args: argparse.Namespace, port: int) -> list[str]:
    here = os.path.abspath(__file__)
    if __spec__ is not None and __spec__.name.endswith(".server") and "." in __spec__.name:
        start = [sys.executable, "-m", __spec__.name]
    else:  # run by its path (another virtualenv)
        start = [sys.executable, here]
    return [*start, args.app, "--node", "--port", str(port)]


def _write_ready(path: str | None, info: dict[str, Any]) -> None:
    line = json.dumps(info)
    print(line, flush=True)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(line + "\n")
        os.replace(tmp, path)


def _start_nodes(args: argparse.Namespace, children: list[subprocess.Popen[str]]) -> list[Any]:
    import selectors

    nodes = []
    for i in range(args.nodes):
        cmd = _node_command(args, args.port + i if args.port else 0)
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        children.append(child)
        assert child.stdout is not None
        with selectors.DefaultSelector() as sel:  # bounded wait for the node's first line
            sel.register(child.stdout, selectors.EVENT_READ)
            ready = sel.select(START_TIMEOUT)
        line = child.stdout.readline() if ready else ""
        if not line:
            code = child.poll()
            why = f"exited with code {code}" if code is not None else "did not start in time"
            raise RuntimeError(f"server node {i} for {args.app!r} {why} (see its stderr above)")
        nodes.append(json.loads(line))
    return nodes


def _stop_children(children: list[subprocess.Popen[str]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the nodes, print (and write) the ready JSON, run until stopped."""
    args = parse_args(argv)
    if args.node:
        _serve_node(args)
        return 0
    children: list[subprocess.Popen[str]] = []
    try:
        nodes = _start_nodes(args, children)
        shared = {k: v for k, v in nodes[0].items() if k not in ("port", "pid", "url")}
        info = {
            "urls": [n["url"] for n in nodes],
            "ports": [n["port"] for n in nodes],
            "pids": [n["pid"] for n in nodes],
            "nodes": len(nodes),
            **shared,
        }
        _write_ready(args.ready_file, info)
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
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop_children(children)
        if args.ready_file and os.path.exists(args.ready_file):
            os.remove(args.ready_file)


if __name__ == "__main__":
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # run by path: keep this folder's modules from shadowing others
    sys.exit(main())

"""Handler dispatch through the Flask layer: events per second, ours against upstream.

Each event goes through python-socketio's ``_trigger_event`` (what the server calls for a decoded
EVENT packet) and so through the extension's handler wrapper: Flask app and request context,
session, ``request.sid``/``namespace``/``event``, the handler. No packet encoding, no transport:
this isolates the Flask layer. The same script runs under this repository's environment and
under upstream Flask-SocketIO's (``UPSTREAM_PYTHON``, default ``.venv-upstream/bin/python``;
``make bench`` creates it), one after the other on the same machine, and prints both.

    python tests/benchmarks/bench_dispatch.py [--events 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def measure(events: int, repeat: int) -> dict:
    """Events per second of one echo handler, best of ``repeat`` runs, in this interpreter."""
    import flask
    from flask import Flask, request, session

    import flask_socketio
    from flask_socketio import SocketIO

    app = Flask("bench")
    app.config["SECRET_KEY"] = "bench"
    socketio = SocketIO(app, async_mode="threading")
    results = {}

    @socketio.on("echo")
    def echo(data):
        session.get("user")
        return data, request.sid

    client = socketio.test_client(app)
    server = socketio.server
    sid = server.manager.sid_from_eio_sid(client.eio_sid, "/")
    payload = {"text": "hello", "n": 1}
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(events):
            server._trigger_event("echo", "/", sid, payload)
        best = max(best, events / (time.perf_counter() - start))
    results["dispatch_per_s"] = round(best)
    results["flask_socketio"] = getattr(flask_socketio, "__version__", None) or _dist_version()
    results["flask"] = getattr(flask, "__version__", None) or _dist_version("flask")
    client.disconnect()
    return results


def _dist_version(name: str = "flask-socketio") -> str:
    from importlib.metadata import version

    return version(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.events, args.repeat)))
        return
    upstream_python = os.environ.get("UPSTREAM_PYTHON", str(ROOT / ".venv-upstream/bin/python"))
    rows = []
    upstream_python = os.path.abspath(upstream_python)
    for label, python in (("this repo", sys.executable), ("upstream", upstream_python)):
        if not Path(python).exists():
            sys.exit(f"{python} not found: run `make bench` or set UPSTREAM_PYTHON")
        worker = [python, __file__, "--worker", "--events", str(args.events)]
        out = subprocess.run(
            [*worker, "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
            cwd="/",
        ).stdout
        rows.append((label, json.loads(out.strip().splitlines()[-1])))
    ours, theirs = rows[0][1], rows[1][1]
    print(f"{'':12} {'version':>12} {'events/s':>10}")
    for label, result in rows:
        print(f"{label:12} {result['flask_socketio']:>12} {result['dispatch_per_s']:>10}")
    print(f"ratio (this repo / upstream): {ours['dispatch_per_s'] / theirs['dispatch_per_s']:.2f}x")


if __name__ == "__main__":
    main()

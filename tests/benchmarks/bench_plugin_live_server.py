"""Live server startup times (pytest plugin): threading in a thread, gevent in a subprocess.

Run from the repository root: ``.venv/bin/python tests/benchmarks/bench_plugin_live_server.py``.
Prints, per mode, the time from ``start()`` to a bound, serving server (median and max of several
runs), and the time until a first websocket client has connected.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from flask_socketio_testing import Client  # noqa: E402
from pytest_flask_socketio.live_server import ProcessLiveServer, ThreadLiveServer  # noqa: E402

from tests.apps.plugin_app import create_app  # noqa: E402


def measure(make, runs: int) -> tuple[list[float], list[float]]:
    starts, ready = [], []
    for _ in range(runs):
        server = make()
        t0 = time.perf_counter()
        server.start()
        starts.append(time.perf_counter() - t0)
        with Client(server.url) as client:
            assert client.is_connected()
        ready.append(time.perf_counter() - t0)
        if hasattr(server, "close"):
            server.close()
        else:
            server.stop()
    return starts, ready


def show(name: str, starts: list[float], ready: list[float]) -> None:
    print(
        f"{name:<28} start: median {statistics.median(starts) * 1000:7.1f} ms  "
        f"max {max(starts) * 1000:7.1f} ms | start+first client: median "
        f"{statistics.median(ready) * 1000:7.1f} ms  (n={len(starts)})"
    )


def main() -> None:
    app = create_app()
    socketio = app.extensions["socketio"]
    show("threading (in a thread)", *measure(lambda: ThreadLiveServer(app, socketio), 20))
    spec = "tests.apps.plugin_app:create_app()"
    show(
        "gevent (subprocess)", *measure(lambda: ProcessLiveServer(spec, "gevent", cwd=str(ROOT)), 5)
    )
    show(
        "threading (subprocess)",
        *measure(lambda: ProcessLiveServer(spec, "threading", cwd=str(ROOT)), 5),
    )


if __name__ == "__main__":
    main()

"""The Locust load harness (load/, flask_socketio_testing.locust), issue 7.

Locust monkey-patches gevent when imported, so everything that imports it runs in a child
process: the unit checks (tests/support/load_units.py), and a tiny capacity run. The server
under load (load/_server.py) is checked directly: two nodes sharing Redis relay a room message
across nodes.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOAD = ROOT / "load"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# find_spec, not importorskip: importing Locust would monkey-patch this pytest process
if not all(importlib.util.find_spec(m) for m in ("locust", "geventwebsocket", "psutil")):
    pytest.skip(
        "needs the locust extra (locust, gevent-websocket, psutil)", allow_module_level=True
    )


def _tail(proc: subprocess.CompletedProcess[str], n: int = 3000) -> str:
    return (proc.stdout or "")[-n:] + "\n--- stderr ---\n" + (proc.stderr or "")[-n:]


def test_units_in_a_gevent_child_process() -> None:
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import sys, pytest\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:randomly', "
        f"{str(ROOT / 'tests' / 'support' / 'load_units.py')!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, _tail(proc)


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[dict]:
    if not _redis_up():
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    ready = tmp_path / "server.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(LOAD / "_server.py"),
            "--nodes",
            "2",
            "--message-queue",
            REDIS_URL,
            "--ready-file",
            str(ready),
            "--run-seconds",
            "120",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(300):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), proc.stderr.read() if proc.poll() is not None else "no ready file"
        yield json.loads(ready.read_text())
    finally:
        proc.terminate()
        proc.wait(20)
    assert not ready.exists()  # removed on shutdown


def test_two_nodes_share_rooms_through_redis(two_nodes: dict) -> None:
    import socketio

    assert two_nodes["nodes"] == 2 and len(set(two_nodes["pids"])) == 2
    assert len(set(two_nodes["ports"])) == 2 and two_nodes["message_queue"] == REDIS_URL
    assert two_nodes["via"] == "flask_socketio.serving.make_server"
    got: list[dict] = []
    a, b = socketio.Client(reconnection=False), socketio.Client(reconnection=False)
    b.on("chat", lambda data: got.append(data))
    try:
        a.connect(two_nodes["urls"][0], transports=["websocket"], wait_timeout=10)
        b.connect(two_nodes["urls"][1], transports=["websocket"], wait_timeout=10)
        assert a.call("join", "across", timeout=10) and b.call("join", "across", timeout=10)
        assert a.call("chat", {"room": "across", "n": 1}, timeout=10)
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        assert got == [{"room": "across", "n": 1}]
        assert a.call("echo", [1, "x"], timeout=10) == [1, "x"]
    finally:
        a.disconnect()
        b.disconnect()


@pytest.mark.timeout(180)
def test_capacity_run_writes_summary_csv_and_plot(tmp_path: Path) -> None:
    ready = tmp_path / "server.json"
    out = tmp_path / "capacity"
    server = subprocess.Popen(
        [
            sys.executable,
            str(LOAD / "_server.py"),
            "--ready-file",
            str(ready),
            "--run-seconds",
            "150",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if ready.exists():
                break
            time.sleep(0.1)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                f"{LOAD / 'broadcast.py'},{LOAD / '_capacity.py'}",
                "--headless",
                "--sio-server-file",
                str(ready),
                "--step-users",
                "10",
                "--step-seconds",
                "3",
                "--step-settle",
                "1",
                "--step-spawn-rate",
                "20",
                "--step-max-users",
                "20",
                "--delivery-grace",
                "2",
                "--slo-p99-ms",
                "10000",
                "--bcast-senders",
                "0.2",
                "--bcast-interval",
                "0.5",
                "--capacity-out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=150,
        )
    finally:
        server.terminate()
        server.wait(20)
    assert proc.returncode == 0, _tail(proc)
    summary = json.loads((out / "summary.json").read_text())
    assert [s["users"] for s in summary["steps"]] == [10, 20]
    assert summary["held_users"] == 20 and summary["breaking_step"] is None
    step = summary["steps"][-1]
    assert step["received"] > 0 and step["lost"] == 0 and step["misdelivered"] == 0
    assert step["server_cpu_pct"] is not None and step["loadgen_cpu_pct"] >= 0
    assert summary["versions"]["server"]["via"] == "flask_socketio.serving.make_server"
    rows = list(csv.DictReader((out / "steps.csv").open()))
    assert [r["users"] for r in rows] == ["10", "20"]
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"

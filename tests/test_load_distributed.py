"""Locust distributed (a master and two workers on loopback, and ``--processes 2``): delivery is
accounted exactly over all workers (flask_socketio_testing.locust.distributed).

Every run is bounded: Locust's own ``-t``, a timeout on each process, and the processes this test
started are killed if still running.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOAD = ROOT / "load"

# find_spec, not importorskip: importing Locust would monkey-patch this pytest process
if not all(importlib.util.find_spec(m) for m in ("locust", "geventwebsocket", "psutil")):
    pytest.skip("needs the load extra (locust, gevent-websocket, psutil)", allow_module_level=True)

RUN = ["-u", "40", "-r", "40", "-t", "10s", "--delivery-grace", "2", "--stop-timeout", "3"]
SLO = ["--slo-p99-ms", "10000", "--slo-delivered", "1"]


@pytest.fixture
def server_file(tmp_path: Path) -> Iterator[str]:
    ready = tmp_path / "server.json"
    proc = subprocess.Popen(
        [sys.executable, str(LOAD / "_server.py"), "--ready-file", str(ready)]
        + ["--run-seconds", "200"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "the load server did not start"
        yield str(ready)
    finally:
        proc.terminate()
        proc.wait(20)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", *args]


def run_master_and_workers(cwd: Path, files: str, *args: str, workers: int = 2) -> tuple[int, str]:
    """Run a headless master with ``workers`` worker processes; its exit code and log."""
    port = str(_free_port())
    master = subprocess.Popen(
        _locust("-f", files, "--master", "--headless", "--expect-workers", str(workers))
        + ["--master-bind-host", "127.0.0.1", "--master-bind-port", port, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    procs = [master]
    try:
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    _locust("-f", files, "--worker", "--master-host", "127.0.0.1")
                    + ["--master-port", port],
                    cwd=cwd,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        out, _ = master.communicate(timeout=150)
        for worker in procs[1:]:
            worker.wait(30)
        return master.returncode, out
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _worker_lines(log: str) -> dict[int, dict[str, int]]:
    pattern = (
        r"worker (\d+): delivered (\d+)/(\d+), (\d+) lost, (\d+) misdelivered, "
        r"(\d+) duplicates, (\d+) messages \((\d+) from other workers\)"
    )
    out = {}
    for m in re.finditer(pattern, log):
        w, delivered, expected, lost, mis, dup, messages, announced = map(int, m.groups())
        out[w] = {
            "delivered": delivered,
            "expected": expected,
            "lost": lost,
            "misdelivered": mis,
            "duplicates": dup,
            "messages": messages,
            "own": messages - announced,
            "announced": announced,
        }
    return out


def _sends(stats_file: Path) -> int:
    rows = json.loads(stats_file.read_text())
    return sum(r["num_requests"] for r in rows if r["method"] == "send")


@pytest.mark.timeout(200)
def test_master_with_two_workers_accounts_every_delivery(tmp_path: Path, server_file: str) -> None:
    files = f"{LOAD / 'broadcast.py'},{LOAD / 'rooms.py'}"
    code, log = run_master_and_workers(
        tmp_path,
        files,
        *RUN,
        *SLO,
        *("--sio-server-file", server_file, "--json-file", "stats"),
        *("--bcast-senders", "0.2", "--bcast-interval", "0.5", "--room-size", "8"),
    )
    assert code == 0, log[-4000:]
    workers = _worker_lines(log)
    assert sorted(workers) == [0, 1], log[-4000:]
    for counts in workers.values():
        assert counts["expected"] > 0 and counts["lost"] == 0
        assert counts["delivered"] == counts["expected"]
        assert counts["misdelivered"] == counts["duplicates"] == 0
    # every message is expected on both workers: its sender's and, announced, the other
    assert workers[0]["announced"] >= 0.9 * workers[1]["own"] > 0
    assert workers[1]["announced"] >= 0.9 * workers[0]["own"] > 0
    assert sum(c["own"] for c in workers.values()) <= _sends(tmp_path / "stats.json")
    total = sum(c["delivered"] for c in workers.values())
    assert f"delivered {total}/{total} = 1.00000" in log


@pytest.mark.timeout(200)
def test_a_worker_whose_receipts_vanish_is_reported(tmp_path: Path, server_file: str) -> None:
    (tmp_path / "deaf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(LOAD)!r})\n"
        "import broadcast\n\n\n"
        "class DeafOnWorker1(broadcast.BroadcastUser):\n"
        "    def receive(self, event, *args):\n"
        "        if getattr(self.environment.runner, 'worker_index', 0) == 1:\n"
        "            return  # this worker's receipts are lost\n"
        "        super().receive(event, *args)\n"
    )
    code, log = run_master_and_workers(
        tmp_path,
        "deaf.py",
        *RUN,
        *SLO,
        *("--sio-server-file", server_file, "--bcast-senders", "0.2", "--bcast-interval", "0.5"),
    )
    assert code == 1, log[-4000:]
    workers = _worker_lines(log)
    assert workers[0]["lost"] == 0 and workers[0]["delivered"] > 0, log[-4000:]
    assert workers[1]["delivered"] == 0 and workers[1]["lost"] > 0, log[-4000:]
    assert "Socket.IO check FAILED" in log and "lost of" in log


@pytest.mark.timeout(200)
def test_processes_option_accounts_the_same(tmp_path: Path, server_file: str) -> None:
    if os.name == "nt":
        pytest.skip("Locust's --processes needs fork")
    proc = subprocess.run(
        _locust("-f", str(LOAD / "broadcast.py"), "--headless", "--processes", "2")
        + [*RUN, *SLO, "--sio-server-file", server_file]
        + ["--bcast-senders", "0.2", "--bcast-interval", "0.5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=150,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    workers = _worker_lines(log)
    assert sorted(workers) == [0, 1], log[-4000:]
    assert all(c["delivered"] == c["expected"] > 0 for c in workers.values())


@pytest.mark.timeout(240)
def test_capacity_report_comes_from_the_master(tmp_path: Path, server_file: str) -> None:
    out = tmp_path / "capacity"
    code, log = run_master_and_workers(
        tmp_path,
        f"{LOAD / 'broadcast.py'},{LOAD / '_capacity.py'}",
        *("--sio-server-file", server_file, "--step-users", "10", "--step-seconds", "3"),
        *("--step-settle", "1", "--step-spawn-rate", "20", "--step-max-users", "20"),
        *("--delivery-grace", "2", "--slo-p99-ms", "10000", "--capacity-out", str(out)),
        *("--bcast-senders", "0.2", "--bcast-interval", "0.5"),
    )
    assert code == 0, log[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [s["users"] for s in summary["steps"]] == [10, 20]
    assert summary["held_users"] == 20
    for step in summary["steps"]:
        assert step["received"] > 0 and step["lost"] == 0 and step["sends_per_s"] > 0
    assert re.search(r"capacity step 1: 20 users held", log)
    workers = _worker_lines(log)
    assert sorted(workers) == [0, 1] and all(c["lost"] == 0 for c in workers.values())
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"

"""Load runs for an app the harness was not written for (tests/load_other_app.py): its own
namespace, auth, join event and ack, and a relay that wraps the payload.

The locustfile is the one docs/load.md shows, taken from the page, so the manual's example is
what runs here. Locust patches gevent when imported, so every run is a child process.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "load.md"

# find_spec, not importorskip: importing Locust would monkey-patch this pytest process
if not all(importlib.util.find_spec(m) for m in ("locust", "geventwebsocket", "psutil")):
    pytest.skip("needs the load extra (locust, gevent-websocket, psutil)", allow_module_level=True)


def _tail(proc: subprocess.CompletedProcess[str], n: int = 3000) -> str:
    return (proc.stdout or "")[-n:] + "\n--- stderr ---\n" + (proc.stderr or "")[-n:]


def forum_locustfile() -> str:
    """The ``ForumUser`` locustfile of docs/load.md."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if "class ForumUser(SocketIOUser)" in b]
    assert len(found) == 1, "docs/load.md shows one ForumUser locustfile"
    return found[0]


@pytest.fixture
def forum(tmp_path: Path) -> Iterator[dict]:
    """The forum app on a gevent node of the package's launcher; its ready JSON."""
    ready = tmp_path / "server.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask_socketio_testing.locust.server",
            "tests/load_other_app.py:create_app",
            "--ready-file",
            str(ready),
            "--run-seconds",
            "150",
        ],
        cwd=ROOT,
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
        info = json.loads(ready.read_text())
        info["file"] = str(ready)
        yield info
    finally:
        proc.terminate()
        proc.wait(20)


def _locust(
    tmp_path: Path, files: str, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", files, "--headless", "--stop-timeout", "3", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.timeout(150)
def test_wrapped_relay_is_measured_and_checked_completely(tmp_path: Path, forum: dict) -> None:
    (tmp_path / "forum.py").write_text(forum_locustfile())
    proc = _locust(
        tmp_path,
        "forum.py",
        *("-u", "20", "-r", "20", "-t", "8s", "--delivery-grace", "2"),
        *("--sio-server-file", forum["file"], "--slo-p99-ms", "10000", "--slo-delivered", "1"),
        *("--json-file", "stats", "--only-summary"),
    )
    assert proc.returncode == 0, _tail(proc)
    rows = {(r["method"], r["name"]): r for r in json.loads((tmp_path / "stats.json").read_text())}
    assert rows[("connect", "/forum")]["num_requests"] == 20
    assert rows[("call", "enter")]["num_failures"] == 0
    assert rows[("send", "say")]["num_requests"] > 0
    assert rows[("recv", "post")]["num_requests"] > rows[("send", "say")]["num_requests"]
    assert sum(r["num_failures"] for r in rows.values()) == 0
    check = re.search(r"Socket\.IO check passed: (.*)", proc.stderr)
    assert check, _tail(proc)
    delivered = re.search(r"delivered (\d+)/(\d+) = 1\.00000", check.group(1))
    assert delivered and int(delivered.group(1)) == int(delivered.group(2)) > 0, check.group(1)
    assert "receive p50" in check.group(1) and "p99" in check.group(1)


@pytest.mark.timeout(120)
def test_refused_connect_reports_the_servers_reason(tmp_path: Path, forum: dict) -> None:
    (tmp_path / "bad.py").write_text(forum_locustfile().replace("letmein", "wrong-token"))
    proc = _locust(
        tmp_path,
        "bad.py",
        *("-u", "2", "-r", "2", "-t", "2s", "--sio-server-file", forum["file"]),
    )
    assert proc.returncode == 1, _tail(proc)
    output = proc.stdout + proc.stderr
    assert "forum: bad or missing token" in output, _tail(proc)
    assert "One or more namespaces failed to connect" not in output


@pytest.mark.timeout(180)
def test_capacity_run_for_another_app(tmp_path: Path, forum: dict) -> None:
    (tmp_path / "forum.py").write_text(forum_locustfile())
    out = tmp_path / "capacity"
    proc = _locust(
        tmp_path,
        f"forum.py,{ROOT / 'load' / '_capacity.py'}",
        *("--sio-server-file", forum["file"], "--step-users", "8", "--step-seconds", "3"),
        *("--step-settle", "1", "--step-spawn-rate", "20", "--step-max-users", "16"),
        *("--delivery-grace", "2", "--slo-p99-ms", "10000", "--capacity-out", str(out)),
        timeout=160,
    )
    assert proc.returncode == 0, _tail(proc)
    lines = re.findall(r"capacity step \d+: .*", proc.stderr)
    assert [line.split(" | ")[0] for line in lines] == [
        "capacity step 0: 8 users held",
        "capacity step 1: 16 users held",
    ], _tail(proc)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["held_users"] == 16
    for step in summary["steps"]:
        assert step["sends_per_s"] > 0  # the relay renames say -> post
        assert step["received"] > 0 and step["received"] == step["expected"]
        assert step["server_cpu_pct"] is not None and step["p99_ms"] is not None
    assert summary["versions"]["server"]["app"] == "tests/load_other_app.py:create_app"
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_options_show_in_help_through_the_package_entry(tmp_path: Path) -> None:
    (tmp_path / "forum.py").write_text(forum_locustfile())
    proc = subprocess.run(
        [sys.executable, "-m", "flask_socketio_testing.locust", "-f", "forum.py", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, _tail(proc)
    for flag in ("--sio-server-file", "--slo-p99-ms", "--delivery-grace", "--step-users"):
        assert flag in proc.stdout, flag

"""Load smoke run (issue 7): ~20 s, 300 Locust users on broadcast.py and rooms.py against a
gevent server, failing on any lost, misdelivered or duplicated message. Two short runs against a
deliberately broken relay prove the check fails.

Run it on its own (`make test-load-smoke`); it is too timing-heavy for the parallel run.
The same smoke is a plain command too: ``python load/_smoke.py``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# find_spec, not importorskip: importing Locust would monkey-patch this pytest process
if not all(importlib.util.find_spec(m) for m in ("locust", "geventwebsocket", "psutil")):
    pytest.skip(
        "needs the locust extra (locust, gevent-websocket, psutil)", allow_module_level=True
    )


def _smoke(out: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "load" / "_smoke.py"), "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _tail(proc: subprocess.CompletedProcess[str], n: int = 4000) -> str:
    return (proc.stdout or "")[-n:] + "\n--- stderr ---\n" + (proc.stderr or "")[-n:]


@pytest.mark.timeout(300)
def test_smoke_broadcast_and_rooms_lose_nothing(tmp_path: Path) -> None:
    proc = _smoke(tmp_path, "--delivery-grace", "10")
    assert proc.returncode == 0, _tail(proc)
    rows = json.loads((tmp_path / "locust.json").read_text())
    by = {(r["method"], r["name"]): r for r in rows}
    assert by[("connect", "/")]["num_requests"] == 300
    assert by[("recv", "chat")]["num_requests"] > 1000
    assert sum(r["num_failures"] for r in rows) == 0


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("fault", "error"), [("misdeliver", "misdelivered message"), ("drop", "lost of")]
)
def test_smoke_fails_when_the_server_breaks_delivery(
    tmp_path: Path, fault: str, error: str
) -> None:
    proc = _smoke(
        tmp_path,
        "--fault",
        fault,
        "--users",
        "40",
        "--spawn-rate",
        "40",
        "--run-time",
        "8s",
        "--delivery-grace",
        "2",
        timeout=120,
    )
    assert proc.returncode == 1, _tail(proc)
    assert "Socket.IO check FAILED" in proc.stderr and error in proc.stderr

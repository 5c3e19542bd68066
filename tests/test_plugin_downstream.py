"""The downstream sample project (tests/downstream/) run as a user would: a fresh directory with
an app and a test module, this package installed, ``pytest -n 2 --socketio-transport=all``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOWNSTREAM = Path(__file__).resolve().parent / "downstream"


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"))
    }
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.timeout(300)
def test_downstream_project_passes_with_xdist(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(DOWNSTREAM, project, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--socketio-transport=all",
            "--socketio-require-services",
            "-q",
            "-rA",
        ],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=280,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "16 passed" in out, out
    for transport in ("inprocess", "polling", "websocket"):
        assert f"test_room_chat[{transport}]" in out
    assert "test_gevent_server" in out and "test_cluster" in out

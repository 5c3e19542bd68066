"""The downstream sample project (tests/downstream/) run in this repository's environment: a fresh
copy of the project, ``pytest -n 2 --socketio-transport=all``. ``test_install_wheel`` runs the
same project against the built wheel in a clean virtualenv."""

from __future__ import annotations

import os
import re
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
    assert "20 passed" in out, out
    for transport in ("inprocess", "polling", "websocket"):
        assert f"test_a_ticket_from_open_to_answer[{transport}]" in out
        assert f"test_connect_is_refused_with_the_reason[{transport}-wrong-key]" in out
    assert "test_served_by_gevent" in out
    assert "test_every_agent_hears_every_post_over_a_slow_network" in out


def test_the_plugin_manual_quotes_the_project_as_it_is() -> None:
    """Every code block of docs/plugin.md headed ``# tests/downstream/...`` is in that file."""
    manual = (DOWNSTREAM.parents[1] / "docs" / "plugin.md").read_text()
    blocks = re.findall(r"```(?:python|ini)\n# (tests/downstream/\S+)\n(.*?)```", manual, re.S)
    assert len(blocks) >= 5
    for path, text in blocks:
        source = (DOWNSTREAM.parents[1] / path).read_text()
        assert text in source, f"docs/plugin.md quotes {path} as it no longer is:\n{text}"

"""The protocol test modules again, in gevent mode, in a process that gevent patched first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from core_support import ASYNC_MODE

HERE = Path(__file__).parent
MODULES = ["test_protocol_engineio.py", "test_protocol_socketio.py"]
RUNNER = (
    "from gevent import monkey\n"
    "monkey.patch_all()\n"
    "import sys, pytest\n"
    "sys.exit(pytest.main(sys.argv[1:]))\n"
)


@pytest.mark.skipif(ASYNC_MODE != "threading", reason="this is the launcher of the gevent run")
@pytest.mark.parametrize("module", MODULES)
def test_protocol_module_passes_in_gevent_mode(module):
    pytest.importorskip("gevent", reason="gevent mode needs gevent (pip install gevent)")
    env = dict(os.environ, FLASK_SOCKETIO_TEST_ASYNC_MODE="gevent")
    env.pop("PYTEST_XDIST_WORKER", None)
    args = ["-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:flask_socketio"]
    args += ["--noconftest", "--rootdir", str(HERE.parent), str(HERE / module)]
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout

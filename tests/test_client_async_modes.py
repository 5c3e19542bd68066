"""The test client in gevent and eventlet mode without monkey patching, and upstream's test module.

Each case runs in a fresh interpreter, so nothing here patches or imports gevent/eventlet into the
pytest process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import sys, time
    from flask import Flask
    from flask_socketio import SocketIO

    mode = sys.argv[1]
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode=mode)
    assert socketio.server.async_mode == mode, socketio.server.async_mode

    @socketio.on("connect", namespace="/bg")
    def on_connect():
        socketio.start_background_task(lambda: socketio.emit("started", namespace="/bg"))

    @socketio.on("later")
    def later(delay):
        def task():
            socketio.sleep(delay)
            socketio.emit("done", delay)
        socketio.start_background_task(task)

    client = socketio.test_client(app, namespace="/bg")
    time.sleep(0.05)  # a real sleep: without monkey patching no greenlet runs here
    received = client.get_received("/bg")  # reading yields to the loop first
    assert [e["name"] for e in received] == ["started"], received

    client.connect()
    client.emit("later", 0.05)
    assert client.receive(timeout=2) == {"name": "done", "args": [0.05], "namespace": "/"}
    client.emit("later", 0.01)
    assert client.expect("done", timeout=2) == [0.01]
    client.emit("later", 0.01)
    try:
        client.assert_nothing_received(timeout=1)
    except AssertionError as exc:
        assert "'done'" in str(exc)
    else:
        raise SystemExit("assert_nothing_received did not see the background emit")
    client.close()
    print("ok", mode)
    """
)


@pytest.mark.parametrize("mode", ["threading", "gevent", "eventlet"])
def test_background_tasks_without_monkey_patching(mode: str) -> None:
    if mode != "threading" and importlib.util.find_spec(mode) is None:
        pytest.skip(f"{mode} is not installed")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok {mode}" in result.stdout


UPSTREAM_TESTS = os.environ.get(
    "FLASK_SOCKETIO_UPSTREAM_TESTS",
    os.path.join(os.path.dirname(__file__), "..", "build", "upstream", "test_socketio.py"),
)


def test_upstream_test_module_passes_unmodified(tmp_path) -> None:
    """Flask-SocketIO 5.6.1's own test_socketio.py, run as-is against this package."""
    if not os.path.exists(UPSTREAM_TESTS):
        message = f"{UPSTREAM_TESTS} is missing: `make setup` downloads upstream's sdist"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            os.path.abspath(UPSTREAM_TESTS),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout

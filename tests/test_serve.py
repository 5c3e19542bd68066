"""``python -m flask_socketio_testing.serve``: loads apps as ``flask --app`` does, serves them with
the harness page, prints the URL on one line, refuses a taken port, exits 0 on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask_socketio_testing import Client

ROOT = Path(__file__).resolve().parent.parent
E2E_NODE_MODULES = ROOT / "e2e" / "node_modules"
STARTUP_TIMEOUT = 20.0


class Served:
    """One serve subprocess: its URL (first stdout line) and its stderr."""

    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask_socketio_testing.serve", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``signum``; the exit code and everything on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            pytest.fail(f"serve did not exit within 10 s of signal {signum}:\n{err}")
        return self.proc.returncode, err


@pytest.fixture
def serve() -> Iterator[type[Served]]:
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, *args: str, cwd: Path = ROOT) -> None:
            super().__init__(*args, cwd=cwd)
            started.append(self)

    yield Tracked
    for served in started:
        if served.proc.poll() is None:
            served.stop(signal.SIGKILL)


@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_module_app_served_with_the_harness(serve, mode):
    served = serve(
        "tests.browser_other_app:app",
        "--port",
        "0",
        "--async-mode",
        mode,
        "--node-modules",
        str(E2E_NODE_MODULES),
    )
    assert served.url.startswith("http://127.0.0.1:"), served.url
    assert requests.get(served.url + "/", timeout=5).text == "the shop"
    page = requests.get(served.url + "/_socketio_harness/", timeout=5)
    assert page.status_code == 200 and "harness.js" in page.text
    if E2E_NODE_MODULES.is_dir():
        clients = requests.get(served.url + "/_socketio_harness/clients", timeout=5).json()
        assert {"socket.io-client-4.8", "socket.io-client-3.1"} <= set(clients)
    # the app's own namespace and auth, and the harness's echo namespace
    with Client(served.url, namespace="/shop", auth={"token": "s3cret"}) as shop:
        assert shop.call("add_to_cart", "tea", namespace="/shop") == 1
    with Client(served.url, namespace="/_harness") as echo:
        assert echo.call("echo", {"a": 1}, namespace="/_harness") == {"a": 1}
    code, err = served.stop()
    assert code == 0, err
    assert "Traceback" not in err


def test_factory_with_the_flask_app_rules(serve):
    served = serve("tests.browser_other_app:create_app()", "--async-mode", "threading")
    assert requests.get(served.url + "/", timeout=5).text == "the shop"
    assert served.stop()[0] == 0


def test_a_module_with_one_app_from_its_folder(serve):
    served = serve("browser_other_app", cwd=ROOT / "tests")
    assert requests.get(served.url + "/", timeout=5).text == "the shop"
    assert served.stop()[0] == 0


def test_sigint_exits_cleanly_too(serve):
    served = serve("tests.browser_other_app:app")
    code, err = served.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err, err


def test_a_taken_port_is_refused_with_its_reason(serve):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        served = serve("tests.browser_other_app:app", "--port", str(port))
        code, err = served.stop()
    assert served.url == ""
    assert code == 3
    assert f"port {port} on 127.0.0.1 is in use" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("tests.no_such_module:app", "Could not import 'tests.no_such_module'"),
        ("tests.browser_other_app:missing", "Failed to find attribute 'missing'"),
        ("tests.test_serve", "no SocketIO"),
    ],
)
def test_an_app_that_cannot_load_says_why(serve, spec, reason, tmp_path):
    if spec == "tests.test_serve":
        (tmp_path / "plain_app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
        served = serve("plain_app:app", cwd=tmp_path)
    else:
        served = serve(spec)
    code, err = served.stop()
    assert code == 2 and reason in err and "Traceback" not in err, err


def test_the_url_is_the_only_line_on_stdout(serve):
    served = serve("tests.browser_other_app:app")
    requests.get(served.url + "/", timeout=5)
    served.proc.send_signal(signal.SIGTERM)
    rest, _ = served.proc.communicate(timeout=10)
    assert rest == ""


def test_gevent_is_patched_before_the_app_is_imported(serve, tmp_path):
    (tmp_path / "probe_app.py").write_text(
        "import socket, threading\n"
        "from gevent import monkey\n"
        "from flask import Flask, jsonify\n"
        "from flask_socketio import SocketIO\n"
        "PATCHED = monkey.is_module_patched('socket') and monkey.is_module_patched('threading')\n"
        "app = Flask(__name__)\n"
        "socketio = SocketIO(app)\n"
        "app.add_url_rule('/patched', 'patched', lambda: jsonify(PATCHED))\n"
    )
    served = serve("probe_app:app", cwd=tmp_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            assert json.loads(requests.get(served.url + "/patched", timeout=5).text) is True
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert served.stop()[0] == 0

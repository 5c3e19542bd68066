"""Message-queue services for tests: ``redis_url``, ``amqp_url`` and a channel per test.

A service that cannot be found skips the test with the reason, unless the run requires services
(``--socketio-require-services`` or ``SOCKETIO_REQUIRE_SERVICES=1``), in which case it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

__all__ = [
    "redis_url",
    "amqp_url",
    "socketio_channel",
    "services_required",
    "ping_redis",
    "ping_amqp",
]

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def services_required(config: pytest.Config) -> bool:
    """True when missing services must fail the test instead of skipping it."""
    env = os.environ.get("SOCKETIO_REQUIRE_SERVICES", "").strip().lower()
    return bool(config.getoption("socketio_require_services")) or env in ("1", "true", "yes")


def _unavailable(config: pytest.Config, reason: str) -> None:
    if services_required(config):
        pytest.fail(
            f"{reason} (services are required: --socketio-require-services or "
            "SOCKETIO_REQUIRE_SERVICES=1)",
            pytrace=False,
        )
    pytest.skip(reason)


def _exchange(host: str, port: int, send: bytes, timeout: float = 1.0) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(send)
        return sock.recv(64)


def ping_redis(url: str) -> bool:
    """True when a Redis server answers PING at ``url`` (redis:// only)."""
    parsed = urlparse(url)
    try:
        reply = _exchange(parsed.hostname or "127.0.0.1", parsed.port or 6379, b"PING\r\n")
    except OSError:
        return False
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


def ping_amqp(url: str) -> bool:
    """True when an AMQP 0-9-1 broker answers the protocol header at ``url``."""
    parsed = urlparse(url)
    try:
        reply = _exchange(
            parsed.hostname or "127.0.0.1", parsed.port or 5672, b"AMQP\x00\x00\x09\x01"
        )
    except OSError:
        return False
    return reply[:1] == b"\x01"  # a method frame: Connection.Start


def _free_port() -> int:
    # redis-server cannot bind port 0 and report it, so this one case picks a port first
    # and retries if it was taken in between.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_redis_server() -> tuple[subprocess.Popen[bytes], str] | None:
    exe = shutil.which("redis-server")
    if exe is None:
        return None
    for _attempt in range(3):
        port = _free_port()
        workdir = tempfile.mkdtemp(prefix="socketio-redis-")
        proc = subprocess.Popen(
            [
                exe,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            if ping_redis(url):
                return proc, url
            time.sleep(0.05)
        proc.kill()
        proc.wait(5)
    return None


@pytest.fixture(scope="session")
def redis_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """URL of a Redis server for message-queue tests (session scope).

    ``REDIS_URL`` when set; else a Redis answering on 127.0.0.1:6379; else a ``redis-server``
    started for the session on a free port (stopped at the end); else the test is skipped, or
    fails with ``--socketio-require-services`` / ``SOCKETIO_REQUIRE_SERVICES=1``. Combine with
    ``socketio_channel`` so that tests (and xdist workers) never see each other's messages.
    """
    env = os.environ.get("REDIS_URL")
    if env:
        if not ping_redis(env):
            _unavailable(pytestconfig, f"REDIS_URL={env} does not answer")
        yield env
        return
    if ping_redis(DEFAULT_REDIS):
        yield DEFAULT_REDIS
        return
    started = _start_redis_server()
    if started is None:
        _unavailable(pytestconfig, "no Redis on 127.0.0.1:6379 and no redis-server to start")
        return
    proc, url = started
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def amqp_url(pytestconfig: pytest.Config) -> str:
    """URL of a RabbitMQ (AMQP 0-9-1) broker (session scope).

    ``AMQP_URL`` when set, else 127.0.0.1:5672 (guest/guest) if it answers; otherwise the test
    is skipped, or fails with ``--socketio-require-services`` / ``SOCKETIO_REQUIRE_SERVICES=1``.
    """
    url = os.environ.get("AMQP_URL") or DEFAULT_AMQP
    if not ping_amqp(url):
        _unavailable(pytestconfig, f"no AMQP broker answers at {url}")
    return url


@pytest.fixture
def socketio_channel(request: pytest.FixtureRequest) -> str:
    """A message-queue channel name unique to this test (and xdist worker).

    Pass it as ``SocketIO(..., channel=socketio_channel)``; ``socketio_cluster`` uses it.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"flask-socketio-test-{worker}-{uuid.uuid4().hex[:12]}"

"""pytest plugin for Flask-SocketIO apps (entry point ``pytest11``).

Registers the options, ini settings and markers, parametrizes client tests per transport, adds a
transcript per client to failure reports, and fails a test whose fixtures leaked a client, a
server, a subprocess or a thread. The fixtures live in ``fixtures``, ``services`` and
``simulation``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import pytest

from .fixtures import (  # noqa: F401 - fixtures are registered by being importable here
    CLIENTS_KEY,
    RESOURCES_KEY,
    SERVER_LOGS_KEY,
    socketio,
    socketio_app_spec,
    socketio_client,
    socketio_client_factory,
    socketio_cluster,
    socketio_live_server,
    socketio_transport,
)
from .services import amqp_url, redis_url, socketio_channel  # noqa: F401
from .simulation import socketio_fault_proxy, socketio_swarm_factory  # noqa: F401
from .transcript import format_transcript
from .transports import selected_transports

pytest_plugins = ["pytest_flask_socketio.browser"]  # socketio_page (pytest-playwright)

CLIENT_FIXTURES = ("socketio_client", "socketio_client_factory", "socketio_transport")
THREADS_KEY = pytest.StashKey[set[int | None]]()
LEAK_GRACE = 3.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flask-socketio", "Flask-SocketIO testing")
    group.addoption(
        "--socketio-transport",
        dest="socketio_transport",
        default=None,
        help="transports for socketio_client/socketio_client_factory: inprocess, polling, "
        "websocket or all; a comma list runs each client test once per transport "
        "(default: ini socketio_transport, else inprocess)",
    )
    group.addoption(
        "--socketio-require-services",
        dest="socketio_require_services",
        action="store_true",
        default=False,
        help="fail (instead of skip) tests whose Redis/RabbitMQ cannot be found; also "
        "SOCKETIO_REQUIRE_SERVICES=1",
    )
    parser.addini("socketio_transport", "default for --socketio-transport", default="inprocess")
    parser.addini(
        "socketio_app",
        "import string of the app for subprocess live servers, "
        "e.g. mypackage.app:app or mypackage:create_app()",
        default="",
    )
    parser.addini(
        "socketio_leak_check",
        "fail tests whose socketio fixtures leak clients, servers, subprocesses or threads",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "socketio_client(namespace=None, auth=None, headers=None, query_string=None): "
        "configure the socketio_client fixture",
        "socketio_transports(*transports): transports this test can run over "
        "(inprocess, polling, websocket)",
        "socketio_server(async_mode='threading', app=None, subprocess=False): how "
        "socketio_live_server serves the app; app is an import string",
        "socketio_cluster(nodes=2, message_queue='redis'): nodes of socketio_cluster and the "
        "message queue they share (redis, amqp or a URL)",
    ):
        config.addinivalue_line("markers", line)
    selected_transports(config)  # fail early on a bad option


def pytest_report_header(config: pytest.Config) -> str:
    return f"flask-socketio: transports={','.join(selected_transports(config))}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not any(name in metafunc.fixturenames for name in CLIENT_FIXTURES):
        return
    selected = selected_transports(metafunc.config)
    marker = metafunc.definition.get_closest_marker("socketio_transports")
    allowed = [t for t in selected if marker is None or t in marker.args]
    if allowed == selected and len(selected) == 1:
        return  # one transport, no id change; the fixture reads the option
    if not allowed:
        only = ", ".join(marker.args) if marker else ""
        params = [
            pytest.param(
                selected[0],
                id=selected[0],
                marks=pytest.mark.skip(reason=f"this test runs only over {only}"),
            )
        ]
    else:
        params = [pytest.param(t, id=t) for t in allowed]
    metafunc.parametrize("socketio_transport", params, indirect=True)


# -- failure transcripts -------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for label, client in item.stash.get(CLIENTS_KEY, []):
            try:
                text = format_transcript(client)
            except Exception as exc:  # noqa: BLE001 - never break reporting
                text = f"(no transcript: {exc!r})"
            report.sections.append((f"socketio transcript: {label} ({report.when})", text))
        if report.when != "setup":
            for name, tail in item.stash.get(SERVER_LOGS_KEY, []):
                if tail.strip():
                    report.sections.append((f"socketio server log: {name}", tail))
    return report


# -- leak detection --------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[THREADS_KEY] = {t.ident for t in threading.enumerate()}
    return (yield)


SOCKETIO_FIXTURES = frozenset(
    (
        "socketio_client",
        "socketio_client_factory",
        "socketio_live_server",
        "socketio_cluster",
        "socketio_swarm_factory",
        "socketio_fault_proxy",
    )
)


def _find_leaks(item: pytest.Item) -> list[str]:
    resources = item.stash.get(RESOURCES_KEY, [])
    uses_fixtures = bool(SOCKETIO_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    if not resources and not uses_fixtures:
        return []
    before = item.stash.get(THREADS_KEY, set())
    deadline = time.monotonic() + LEAK_GRACE
    while True:
        leaks = [leak for res in resources for leak in res.leaks()]
        leaks += [
            f"non-daemon thread {t.name!r} started during the test"
            for t in threading.enumerate()
            if uses_fixtures
            and t.ident not in before
            and not t.daemon
            and t.is_alive()
            and t is not threading.main_thread()
        ]
        if not leaks or time.monotonic() >= deadline:
            return leaks
        time.sleep(0.05)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    error: BaseException | None = None
    try:
        result = yield
    except BaseException as exc:  # re-raised below, after the leak check
        error = exc
        result = None
    leaks: list[str] = []
    if item.config.getini("socketio_leak_check"):
        leaks = _find_leaks(item)
    item.stash[RESOURCES_KEY] = []
    if error is not None:
        raise error
    if leaks:
        listed = "\n  ".join(leaks)
        pytest.fail(
            f"socketio fixtures leaked after teardown ({len(leaks)}):\n  {listed}", pytrace=False
        )
    return result

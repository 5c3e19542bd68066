"""Browser fixtures: pytest-playwright's ``page`` against ``socketio_live_server``.

``socketio_page`` is ``page`` opened on the harness page of the live server, with one
socket.io-client build loaded; tests that use it run once per client package installed in
``socketio_node_modules`` (ini; default ``node_modules``, or ``$SOCKETIO_NODE_MODULES``).
Chromium is the system's (``CHROMIUM_PATH``, default ``/usr/bin/chromium``), given to
pytest-playwright through ``browser_type_launch_args``: Playwright downloads no browser.
Needs the ``browser`` extra (pytest-playwright).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MISSING_EXTRA = (
    "socketio_page needs pytest-playwright: pip install 'Flask-SocketIO[browser]' "
    "(Playwright's browser download is not needed: Chromium comes from CHROMIUM_PATH)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "socketio_node_modules",
        "folder with the socket.io-client packages socketio_page loads (relative to rootdir; "
        "default: $SOCKETIO_NODE_MODULES, else node_modules)",
        default="",
    )


def node_modules_path(config: pytest.Config) -> Path:
    """The node_modules folder the harness page serves client builds from."""
    value = config.getini("socketio_node_modules") or os.environ.get(
        "SOCKETIO_NODE_MODULES", "node_modules"
    )
    return (config.rootpath / value).resolve()


def pytest_configure(config: pytest.Config) -> None:
    # subprocess live servers (python -m flask_socketio_testing.serve) read it from there
    os.environ.setdefault("SOCKETIO_NODE_MODULES", str(node_modules_path(config)))
    if importlib.util.find_spec("pytest_playwright") is not None:
        # registered after every entry-point plugin: its fixture overrides pytest-playwright's
        config.pluginmanager.import_plugin("pytest_flask_socketio._chromium")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests that use ``socketio_client_package`` once per installed client package."""
    if "socketio_client_package" not in metafunc.fixturenames:
        return
    from flask_socketio_testing.e2e.harness import client_packages

    folder = node_modules_path(metafunc.config)
    packages = client_packages(folder)
    params: list[Any] = [pytest.param(name, id=f"{name}@{v}") for name, v in packages.items()]
    if not params:
        reason = (
            f"no socket.io-client package in {folder}: npm install socket.io-client there "
            "(or set the socketio_node_modules ini option / SOCKETIO_NODE_MODULES)"
        )
        params = [pytest.param(None, id="no-client", marks=pytest.mark.skip(reason=reason))]
    metafunc.parametrize("socketio_client_package", params, scope="session")


@pytest.fixture(scope="session")
def socketio_node_modules(pytestconfig: pytest.Config) -> Path:
    """The node_modules folder with the socket.io-client builds (ini ``socketio_node_modules``)."""
    return node_modules_path(pytestconfig)


@pytest.fixture
def socketio_page(
    request: pytest.FixtureRequest,
    app: Any,
    socketio: Any,
    socketio_node_modules: Path,
    socketio_client_package: str,
) -> Iterator[Any]:
    """pytest-playwright's ``page`` on the live server's harness page, the client loaded.

    In the page, ``harness.open(name, namespace, options)`` opens a socket and
    ``harness.call``/``harness.emit``/``harness.waitForEvent`` drive it (see docs/browser.md).
    The test runs once per installed client package (``socketio_client_package``).
    """
    if importlib.util.find_spec("pytest_playwright") is None:
        pytest.fail(MISSING_EXTRA, pytrace=False)
    from flask_socketio_testing.e2e.harness import URL_PREFIX, mount_harness

    mount_harness(app, socketio, node_modules=socketio_node_modules)  # before the first request
    server = request.getfixturevalue("socketio_live_server")
    page = request.getfixturevalue("page")
    page.goto(f"{server.url}{URL_PREFIX}/?client={socketio_client_package}")
    page.wait_for_function("typeof io === 'function' && !!window.harness")
    yield page

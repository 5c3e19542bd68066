"""The repository's own pytest setup: it uses the plugin (pytest_flask_socketio) like any
downstream app would, with the small app in tests/apps/plugin_app.py.

Tests that use ``socketio_client``/``socketio_client_factory`` run over every transport with
``--socketio-transport=all`` (``make test`` passes it for client-behaviour tests).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

APP_SPEC = "tests.apps.plugin_app:create_app()"

# the downstream sample project is run by tests/test_plugin_downstream.py, in its own directory
collect_ignore = ["tests/downstream"]
# pytester runs the plugin in isolated pytest processes (tests/test_plugin_pytester.py)
pytest_plugins = ["pytester"]


@pytest.fixture
def app() -> Iterator[Flask]:
    """A fresh app per test (threading mode, so it can also be served in a thread)."""
    from tests.apps.plugin_app import create_app

    yield create_app()


@pytest.fixture
def socketio_app_spec(request: pytest.FixtureRequest, app: Flask) -> str | None:
    """Subprocess servers import the same app: the marker's ``app=``, else tests/apps/plugin_app.py
    when the test's ``app`` is that one (a module overriding ``app`` must name its own)."""
    marker = request.node.get_closest_marker("socketio_server")
    spec = marker.kwargs.get("app") if marker else None
    if spec:
        return spec
    return APP_SPEC if app.import_name == "tests.apps.plugin_app" else None

"""The plugin's fixtures: clients of every transport, live servers and clusters.

The app comes from the project's ``app`` fixture (a Flask app with ``SocketIO``), as in
pytest-flask. Every client, server and subprocess a fixture starts is closed after the test; the
plugin then checks that nothing was left behind and fails the test naming what leaked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask_socketio_testing.interface import SocketIOClient

from .app_spec import HOW_TO_SET, AppSpecError, derive_app_spec, subprocess_pythonpath
from .clients import SocketIOClientFactory
from .cluster import SocketIOCluster
from .live_server import LiveServer, LiveServerError, ProcessLiveServer, ThreadLiveServer
from .stash import (
    CLIENTS_KEY,
    RESOURCES_KEY,
    SERVER_LOGS_KEY,
    marker_kwargs,
    register_resource,
    register_server_log,
)
from .transports import NETWORK_TRANSPORTS, TRANSPORTS, selected_transports

if TYPE_CHECKING:
    from flask_socketio import SocketIO

__all__ = [
    "socketio",
    "socketio_app_spec",
    "socketio_transport",
    "socketio_live_server",
    "socketio_client_factory",
    "socketio_client",
    "socketio_cluster",
    "SocketIOClientFactory",
    "SocketIOCluster",
    "CLIENTS_KEY",
    "RESOURCES_KEY",
    "SERVER_LOGS_KEY",
    "TRANSPORTS",
    "NETWORK_TRANSPORTS",
    "make_live_server",
]


# -- the app ---------------------------------------------------------------------------------


@pytest.fixture
def socketio(app: Flask) -> SocketIO:
    """The ``SocketIO`` instance of the ``app`` fixture (``app.extensions['socketio']``).

    Override it in a project whose extension lives elsewhere.
    """
    ext = getattr(app, "extensions", {}).get("socketio")
    if ext is None:
        raise LookupError(
            "the app fixture has no SocketIO: app.extensions['socketio'] is "
            "missing (call SocketIO(app) or socketio.init_app(app))"
        )
    return ext


@pytest.fixture
def socketio_app_spec(request: pytest.FixtureRequest) -> str | None:
    """Import string of the app for subprocess servers (``package.module:app`` or
    ``package.module:create_app()``): the ``socketio_server(app=...)`` marker, else the ini
    option ``socketio_app``, else None. A project may override this fixture."""
    spec = marker_kwargs(request, "socketio_server").get("app")
    return spec or request.config.getini("socketio_app") or None


@pytest.fixture
def socketio_transport(request: pytest.FixtureRequest) -> str:
    """The transport this test's clients use: ``inprocess``, ``polling`` or ``websocket``.

    Chosen with ``--socketio-transport`` (or ini ``socketio_transport``); with several, the test
    is parametrized and its id names the transport.
    """
    param = getattr(request, "param", None)
    if param is not None:
        return param
    transport = selected_transports(request.config)[0]
    marker = request.node.get_closest_marker("socketio_transports")
    if marker is not None and transport not in marker.args:
        pytest.skip(f"this test runs only over {', '.join(marker.args)}, not {transport}")
    return transport


# -- live server ----------------------------------------------------------------------------


def make_live_server(
    request: pytest.FixtureRequest, app: Flask, socketio: SocketIO, app_spec: str | None
) -> LiveServer:
    """Pick the live server for this test from the ``socketio_server`` marker and the app.

    A threading app is served in a thread; any other mode (gevent, the default when it is
    installed) in a subprocess that imports the app from ``app_spec``, else from the import
    string derived from the app object (``derive_app_spec``).
    """
    options = marker_kwargs(request, "socketio_server")
    mode = options.get("async_mode")
    current = getattr(socketio, "async_mode", None)
    in_thread = (
        not options.get("subprocess", False)
        and mode in (None, "threading")
        and current == "threading"
    )
    if in_thread:
        return ThreadLiveServer(app, socketio)
    mode = mode or current or "threading"
    derived = not app_spec
    if not app_spec:
        try:
            app_spec = derive_app_spec(app, request)
        except AppSpecError as exc:
            raise LiveServerError(
                f"a {mode} live server runs in a subprocess, which imports the app by its "
                f"import string, and none was found: {exc}"
                + (
                    "; or create SocketIO(app, async_mode='threading') for an in-thread server"
                    if mode != "threading"
                    else ""
                )
            ) from None
    return ProcessLiveServer(
        app_spec,
        mode,
        cwd=str(request.config.rootpath),
        env={"PYTHONPATH": subprocess_pythonpath()},
        name=request.node.name[:40],
        spec_hint=f"derived from the app fixture's app; to choose another, {HOW_TO_SET}"
        if derived
        else None,
    )


@pytest.fixture
def socketio_live_server(
    request: pytest.FixtureRequest, app: Flask, socketio: SocketIO, socketio_app_spec: str | None
) -> Iterator[LiveServer]:
    """The app served for real on 127.0.0.1, ready when the test starts.

    Attributes ``url``, ``port``, ``async_mode``, ``startup_time``; methods ``stop()``,
    ``start()``, ``restart()`` (same port, so clients reconnect). A threading app runs in a
    thread of the test process; a gevent app (``SocketIO(app)`` with gevent installed) or
    ``@pytest.mark.socketio_server(async_mode='gevent')`` runs a subprocess that monkey-patches
    first and imports the app from the marker's ``app=``, the ini ``socketio_app``, or else
    the module-level name (or no-argument factory) the app fixture's app comes from. The
    server binds port 0 itself and reports the port.
    """
    server = make_live_server(request, app, socketio, socketio_app_spec)
    register_resource(request, server)
    server.start()
    try:
        yield server
    finally:
        if isinstance(server, ProcessLiveServer):
            register_server_log(request, server.name, server.log_tail())
            server.close()
        else:
            server.stop()


# -- clients ---------------------------------------------------------------------------------


@pytest.fixture
def socketio_client_factory(
    request: pytest.FixtureRequest, app: Flask, socketio: SocketIO, socketio_transport: str
) -> Iterator[SocketIOClientFactory]:
    """A callable ``(namespace=None, auth=None, headers=None, query_string=None,
    flask_test_client=None) -> client`` making connected clients of the test's transport.

    In-process clients are ``socketio.test_client(...)``; polling and websocket clients are
    ``flask_socketio_testing.Client`` objects connected to ``socketio_live_server``, with the
    same interface. Every client it made is disconnected after the test.
    """
    factory = SocketIOClientFactory(request, app, socketio, socketio_transport)
    if socketio_transport in NETWORK_TRANSPORTS:
        factory.live_server  # noqa: B018 - start it now so that it stops after the clients
    yield factory
    factory.close_all()


@pytest.fixture
def socketio_client(
    request: pytest.FixtureRequest, socketio_client_factory: SocketIOClientFactory
) -> SocketIOClient:
    """A client connected to the default namespace (or the marker's), closed after the test.

    Configure it with ``@pytest.mark.socketio_client(namespace=..., auth=..., headers=...,
    query_string=...)``.
    """
    return socketio_client_factory(**marker_kwargs(request, "socketio_client"))


# -- cluster ---------------------------------------------------------------------------------


@pytest.fixture
def socketio_cluster(
    request: pytest.FixtureRequest, socketio_app_spec: str | None, socketio_channel: str
) -> Iterator[SocketIOCluster]:
    """Several live server processes of the app sharing a real message queue.

    ``@pytest.mark.socketio_cluster(nodes=2, message_queue='redis'|'amqp')`` (defaults: 2,
    redis); the async mode comes from ``socketio_server(async_mode=...)`` (default threading).
    The nodes use a channel unique to this test. They import the app from
    ``socketio_server(app=...)``, the ini ``socketio_app``, or the import string derived from
    the app fixture's app.
    """
    options = marker_kwargs(request, "socketio_cluster")
    queue = options.get("message_queue", "redis")
    if queue == "redis":
        url = request.getfixturevalue("redis_url")
    elif queue in ("amqp", "rabbitmq", "kombu"):
        url = request.getfixturevalue("amqp_url")
    elif isinstance(queue, str) and "://" in queue:
        url = queue
    else:
        raise ValueError(f"socketio_cluster(message_queue={queue!r}): use 'redis', 'amqp' or a URL")
    if not socketio_app_spec:
        try:
            socketio_app_spec = derive_app_spec(request.getfixturevalue("app"), request)
        except AppSpecError as exc:
            msg = f"socketio_cluster needs the app as an import string: {exc}"
            raise LiveServerError(msg) from None
    mode = marker_kwargs(request, "socketio_server").get("async_mode", "threading")
    cluster = SocketIOCluster(
        request, socketio_app_spec, int(options.get("nodes", 2)), url, socketio_channel, mode
    )
    register_resource(request, cluster)
    t0 = time.perf_counter()
    try:
        cluster.start()
        cluster.startup_time = time.perf_counter() - t0
        yield cluster
    finally:
        for node in cluster.nodes:
            register_server_log(request, node.name, node.log_tail())
        cluster.close()

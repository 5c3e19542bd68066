"""The plugin's fixtures: clients of every transport, live servers and clusters.

The app comes from the project's ``app`` fixture (a Flask app with ``SocketIO``), as in
pytest-flask. Every client, server and subprocess a fixture starts is closed after the test; the
plugin then checks that nothing was left behind and fails the test naming what leaked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .live_server import LiveServer, LiveServerError, ProcessLiveServer, ThreadLiveServer
from .transcript import RecordingClient
from .transports import NETWORK_TRANSPORTS, TRANSPORTS, selected_transports

if TYPE_CHECKING:  # network clients need requests and websocket-client: imported when used
    from flask_socketio_testing.client import Client

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
]


#: per test: the clients to transcribe on failure, as (label, client)
CLIENTS_KEY = pytest.StashKey[list]()
#: per test: objects with ``leaks() -> list[str]``, checked after teardown
RESOURCES_KEY = pytest.StashKey[list]()


def _register(request: pytest.FixtureRequest, key: pytest.StashKey, value: Any) -> None:
    request.node.stash.setdefault(key, []).append(value)


def _marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker else {}


# -- the app ---------------------------------------------------------------------------------


@pytest.fixture
def socketio(app: Any) -> Any:
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
    spec = _marker_kwargs(request, "socketio_server").get("app")
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


def _rootdir(request: pytest.FixtureRequest) -> str:
    return str(request.config.rootpath)


def make_live_server(
    request: pytest.FixtureRequest, app: Any, socketio: Any, app_spec: str | None
) -> LiveServer:
    """Pick the live server for this test from the ``socketio_server`` marker and the app."""
    options = _marker_kwargs(request, "socketio_server")
    mode = options.get("async_mode")
    current = getattr(socketio, "async_mode", None)
    in_thread = (
        not options.get("subprocess", False)
        and mode in (None, "threading")
        and (current == "threading" or app_spec is None)
    )
    if in_thread:
        return ThreadLiveServer(app, socketio)
    if not app_spec:
        raise LiveServerError(
            f"a {mode or current} live server runs in a subprocess, which needs the app as an "
            "import string: set the ini option socketio_app = package.module:app (or "
            ":create_app()) or use @pytest.mark.socketio_server(app='package.module:app')"
        )
    return ProcessLiveServer(
        app_spec, mode or current or "threading", cwd=_rootdir(request), name=request.node.name[:40]
    )


@pytest.fixture
def socketio_live_server(
    request: pytest.FixtureRequest, app: Any, socketio: Any, socketio_app_spec: str | None
) -> Iterator[LiveServer]:
    """The app served for real on 127.0.0.1, ready when the test starts.

    Attributes ``url``, ``port``, ``async_mode``, ``startup_time``; methods ``stop()``,
    ``start()``, ``restart()`` (same port, so clients reconnect). Threading mode runs in a
    thread of the test process; ``@pytest.mark.socketio_server(async_mode='gevent')`` runs a
    subprocess that monkey-patches first and imports the app from ``socketio_app`` (ini) or
    the marker's ``app=``. The server binds port 0 itself and reports the port.
    """
    server = make_live_server(request, app, socketio, socketio_app_spec)
    _register(request, RESOURCES_KEY, server)
    server.start()
    try:
        yield server
    finally:
        if isinstance(server, ProcessLiveServer):
            request.node.stash.setdefault(SERVER_LOGS_KEY, []).append(
                (server.name, server.log_tail())
            )
            server.close()
        else:
            server.stop()


#: per test: (name, log tail) of subprocess servers, shown when the test fails
SERVER_LOGS_KEY = pytest.StashKey[list]()


# -- clients ---------------------------------------------------------------------------------


def _cookie_header(flask_test_client: Any) -> str | None:
    """The Flask test client's cookies as a Cookie header (for network clients)."""
    cookies = getattr(flask_test_client, "_cookies", None)
    pairs = []
    if isinstance(cookies, dict):  # Werkzeug >= 2.3
        pairs = [f"{c.key}={c.value}" for c in cookies.values()]
    else:
        jar = getattr(flask_test_client, "cookie_jar", None) or []
        pairs = [f"{c.name}={c.value}" for c in jar]
    return "; ".join(pairs) or None


class SocketIOClientFactory:
    """Makes connected clients of one transport; every client it made is closed at teardown.

    ``factory(namespace=None, auth=None, headers=None, query_string=None,
    flask_test_client=None)``; keyword ``transport=`` overrides the test's transport and
    ``url=`` connects a network client elsewhere (a ``FaultProxy``, another node).
    """

    def __init__(
        self, request: pytest.FixtureRequest, app: Any, socketio: Any, transport: str
    ) -> None:
        self.request = request
        self.app = app
        self.socketio = socketio
        self.transport = transport
        self.clients: list[Any] = []

    @property
    def live_server(self) -> LiveServer:
        """The test's ``socketio_live_server`` (started on first use)."""
        return self.request.getfixturevalue("socketio_live_server")

    def __call__(
        self,
        namespace: str | None = None,
        auth: Any = None,
        headers: dict | None = None,
        query_string: str | None = None,
        flask_test_client: Any = None,
        *,
        transport: str | None = None,
        url: str | None = None,
    ) -> Any:
        transport = transport or self.transport
        name = f"client-{len(self.clients) + 1}-{transport}"
        if transport == "inprocess":
            raw = self.socketio.test_client(
                self.app,
                namespace=namespace,
                query_string=query_string,
                headers=headers,
                auth=auth,
                flask_test_client=flask_test_client,
            )
            client: Any = RecordingClient(raw, name)
            if raw.is_connected(namespace):
                client._log("connect", namespace, raw.get_sid(namespace))
            else:
                client._log("connect_error", namespace, raw.get_connect_error(namespace))
        elif transport in NETWORK_TRANSPORTS:
            from flask_socketio_testing.client import Client

            all_headers = dict(headers or {})
            if flask_test_client is not None:
                cookie = _cookie_header(flask_test_client)
                if cookie:
                    all_headers.setdefault("Cookie", cookie)
            client = Client(
                url or self.live_server.url,
                transport=transport,
                namespace=namespace or "/",
                auth=auth,
                headers=all_headers,
                query_string=query_string,
                name=name,
            )
        else:
            raise ValueError(f"unknown transport {transport!r}; use one of {TRANSPORTS}")
        self.clients.append(client)
        _register(self.request, CLIENTS_KEY, (name, client))
        if transport in NETWORK_TRANSPORTS:
            _register(self.request, RESOURCES_KEY, client)
            client.connect()
        return client

    def close_all(self) -> None:
        """Disconnect every client this factory made."""
        for client in self.clients:
            try:
                close = getattr(client, "close", None) or client.disconnect
                close()
            except Exception:  # noqa: BLE001 - already disconnected by the test
                pass


@pytest.fixture
def socketio_client_factory(
    request: pytest.FixtureRequest, app: Any, socketio: Any, socketio_transport: str
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
) -> Any:
    """A client connected to the default namespace (or the marker's), closed after the test.

    Configure it with ``@pytest.mark.socketio_client(namespace=..., auth=..., headers=...,
    query_string=...)``.
    """
    return socketio_client_factory(**_marker_kwargs(request, "socketio_client"))


# -- cluster ---------------------------------------------------------------------------------


class SocketIOCluster:
    """Several live server processes of one app sharing a message queue and a channel.

    ``nodes`` (live servers with ``url``), ``message_queue``, ``channel``,
    ``client(node=0, transport='websocket', **connect_kwargs)``.
    """

    def __init__(
        self,
        request: pytest.FixtureRequest,
        app_spec: str,
        nodes: int,
        message_queue: str,
        channel: str,
        async_mode: str,
    ) -> None:
        self.request = request
        self.message_queue = message_queue
        self.channel = channel
        self.async_mode = async_mode
        self.nodes: list[ProcessLiveServer] = [
            ProcessLiveServer(
                app_spec,
                async_mode,
                message_queue=message_queue,
                channel=channel,
                cwd=_rootdir(request),
                name=f"node{i}",
            )
            for i in range(nodes)
        ]
        self.clients: list[Client] = []

    def start(self) -> None:
        """Start every node concurrently; raise if one fails."""
        errors: list[BaseException] = []

        def run(node: ProcessLiveServer) -> None:
            try:
                node.start()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if errors:
            raise errors[0]

    def client(self, node: int = 0, transport: str = "websocket", **connect_kwargs: Any) -> Client:
        """A network client connected to ``nodes[node]``; closed after the test.

        ``connect_kwargs``: ``namespace``, ``auth``, ``headers``, ``query_string``,
        ``reconnection``.
        """
        from flask_socketio_testing.client import Client

        name = f"node{node}-client-{len(self.clients) + 1}-{transport}"
        client = Client(self.nodes[node].url, transport=transport, name=name, **connect_kwargs)
        self.clients.append(client)
        _register(self.request, CLIENTS_KEY, (name, client))
        _register(self.request, RESOURCES_KEY, client)
        client.connect()
        return client

    def close(self) -> None:
        """Close every client and stop every node."""
        for client in self.clients:
            client.close()
        for node in self.nodes:
            node.close()

    def leaks(self) -> list[str]:
        return [leak for node in self.nodes for leak in node.leaks()]

    def __len__(self) -> int:
        return len(self.nodes)


@pytest.fixture
def socketio_cluster(
    request: pytest.FixtureRequest, socketio_app_spec: str | None, socketio_channel: str
) -> Iterator[SocketIOCluster]:
    """Several live server processes of the app sharing a real message queue.

    ``@pytest.mark.socketio_cluster(nodes=2, message_queue='redis'|'amqp')`` (defaults: 2,
    redis); the async mode comes from ``socketio_server(async_mode=...)`` (default threading).
    The nodes use a channel unique to this test. Needs the app as an import string (ini
    ``socketio_app`` or ``socketio_server(app=...)``).
    """
    options = _marker_kwargs(request, "socketio_cluster")
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
        raise LiveServerError(
            "socketio_cluster needs the app as an import string: ini option "
            "socketio_app or @pytest.mark.socketio_server(app=...)"
        )
    mode = _marker_kwargs(request, "socketio_server").get("async_mode", "threading")
    cluster = SocketIOCluster(
        request, socketio_app_spec, int(options.get("nodes", 2)), url, socketio_channel, mode
    )
    _register(request, RESOURCES_KEY, cluster)
    t0 = time.perf_counter()
    try:
        cluster.start()
        cluster.startup_time = time.perf_counter() - t0  # type: ignore[attr-defined]
        yield cluster
    finally:
        for node in cluster.nodes:
            request.node.stash.setdefault(SERVER_LOGS_KEY, []).append((node.name, node.log_tail()))
        cluster.close()

"""socketio_live_server (threading in a thread, gevent in a subprocess), its restarts on the same
port, socketio_cluster over Redis and RabbitMQ, and the service fixtures."""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests
from flask_socketio_testing import Client
from pytest_flask_socketio.live_server import ProcessLiveServer, ThreadLiveServer


def test_threading_server_in_a_thread(socketio_live_server):
    assert isinstance(socketio_live_server, ThreadLiveServer)
    assert socketio_live_server.async_mode == "threading"
    assert socketio_live_server.url == f"http://127.0.0.1:{socketio_live_server.port}"
    assert requests.get(socketio_live_server.url + "/pid", timeout=5).text == str(os.getpid())
    assert socketio_live_server.startup_time < 0.5  # typically ~3 ms; see the benchmark


def test_threading_restart_same_port_clients_reconnect(socketio_live_server):
    port = socketio_live_server.port
    with Client(socketio_live_server.url, transport="websocket") as client:
        first_sid = client.get_sid()
        socketio_live_server.stop()
        assert client.wait_disconnected(5)
        socketio_live_server.start()
        assert socketio_live_server.port == port
        assert client.wait_reconnected(10)
        assert client.get_sid() != first_sid
        assert client.call("add", 1, 2) == 3
        socketio_live_server.restart()
        assert socketio_live_server.port == port
        assert client.wait_disconnected(5) and client.wait_reconnected(10)


def test_live_server_and_inprocess_client_side_by_side(app, socketio, socketio_live_server):
    inproc = socketio.test_client(app)
    with Client(socketio_live_server.url) as net:
        inproc.get_received()
        net.get_received()
        net.emit("shout", "x")
        assert net.expect("shout") == ["x"]
        assert inproc.expect("shout") == ["x"]
    inproc.disconnect()


@pytest.mark.socketio_server(async_mode="gevent")
def test_gevent_server_in_a_subprocess(socketio_live_server):
    assert isinstance(socketio_live_server, ProcessLiveServer)
    assert socketio_live_server.async_mode == "gevent"
    assert requests.get(socketio_live_server.url + "/pid", timeout=5).text != str(os.getpid())
    assert socketio_live_server.startup_time < 5  # typically ~0.7 s; see the benchmark
    for transport in ("websocket", "polling"):
        with Client(socketio_live_server.url, transport=transport) as client:
            client.emit("echo", {"b": b"\x01"})
            assert client.expect("echo") == [{"b": b"\x01"}]


@pytest.mark.socketio_server(async_mode="gevent")
def test_gevent_restart_same_port(socketio_live_server):
    port = socketio_live_server.port
    pid = requests.get(socketio_live_server.url + "/pid", timeout=5).text
    with Client(socketio_live_server.url) as client:
        socketio_live_server.restart()
        assert socketio_live_server.port == port
        assert client.wait_disconnected(5) and client.wait_reconnected(10)
        assert client.call("whoami")["pid"] != int(pid)


@pytest.mark.socketio_server(async_mode="gevent")
def test_network_clients_of_a_gevent_server(socketio_client_factory, socketio_live_server):
    client = socketio_client_factory(transport="websocket")
    assert client.url == socketio_live_server.url
    assert client.call("add", 20, 22) == 42


@pytest.mark.socketio_server(async_mode="threading", subprocess=True)
def test_threading_server_in_a_subprocess(socketio_live_server):
    assert isinstance(socketio_live_server, ProcessLiveServer)
    with Client(socketio_live_server.url, transport="polling") as client:
        assert client.call("add", 1, 1) == 2


@pytest.mark.socketio_server(async_mode="gevent", app="tests.nowhere:app")
def test_bad_app_spec_names_the_problem(request):
    with pytest.raises(Exception, match="did not start"):
        request.getfixturevalue("socketio_live_server")


def test_many_servers_bind_distinct_ports(app, socketio):
    servers = [ThreadLiveServer(app, socketio) for _ in range(5)]
    try:
        for s in servers:
            s.start()
        assert len({s.port for s in servers}) == 5
    finally:
        for s in servers:
            s.stop()
    assert not [
        t
        for t in threading.enumerate()
        if t.name.startswith("socketio-live-server")
        and t.is_alive()
        and any(t.name.endswith(str(s.port)) for s in servers)
    ]


@pytest.mark.parametrize("queue", ["redis", "amqp"])
def test_cluster_broadcast_crosses_nodes(request, queue):
    request.applymarker(pytest.mark.socketio_cluster(nodes=2, message_queue=queue))
    cluster = request.getfixturevalue("socketio_cluster")
    assert len(cluster.nodes) == 2
    assert len({n.port for n in cluster.nodes}) == 2
    a = cluster.client(0)
    b = cluster.client(1, transport="polling")
    assert a.call("whoami")["pid"] != b.call("whoami")["pid"]
    a.get_received()
    b.get_received()
    a.emit("shout", {"from": "node0"})
    assert b.expect("shout", timeout=5) == [{"from": "node0"}]
    assert a.expect("shout", timeout=5) == [{"from": "node0"}]


@pytest.mark.socketio_cluster(nodes=3)
def test_cluster_of_three_rooms(socketio_cluster, socketio_channel):
    assert socketio_cluster.channel == socketio_channel
    clients = [socketio_cluster.client(i) for i in range(3)]
    for c in clients[:2]:
        assert c.call("join", "blue") == "blue"
    for c in clients:
        c.get_received()
    clients[2].emit("to_room", "blue", 7)
    assert clients[0].expect("room_message", timeout=5) == [7]
    assert clients[1].expect("room_message", timeout=5) == [7]
    clients[2].assert_nothing_received(timeout=0.3)


def test_channels_are_unique_per_test(socketio_channel):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert socketio_channel.startswith(f"flask-socketio-test-{worker}-")


def test_redis_url_answers(redis_url):
    from pytest_flask_socketio.services import ping_redis

    assert ping_redis(redis_url)


def test_amqp_url_answers(amqp_url):
    from pytest_flask_socketio.services import ping_amqp

    assert ping_amqp(amqp_url)


def test_client_drop_reconnects(socketio_live_server):
    for transport in ("websocket", "polling"):
        with Client(socketio_live_server.url, transport=transport) as client:
            sid = client.get_sid()
            t0 = time.monotonic()
            client.drop()
            assert client.wait_reconnected(10), client.transcript
            assert time.monotonic() - t0 < 5
            assert client.get_sid() != sid
            assert client.call("add", 1, 1) == 2


def test_redis_server_fallback_starts_and_stops():
    import shutil

    from pytest_flask_socketio.services import _start_redis_server, ping_redis

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    started = _start_redis_server()
    assert started is not None
    proc, url = started
    try:
        assert ping_redis(url)
        assert not url.endswith(":6379/0")
    finally:
        proc.terminate()
        proc.wait(5)
    assert not ping_redis(url)


def test_call_timeout_is_both_timeout_errors(socketio_live_server):
    import socketio as python_socketio

    with Client(socketio_live_server.url) as client:
        with pytest.raises(TimeoutError):
            client.call("no-such-event", timeout=0.2)
        with pytest.raises(python_socketio.exceptions.TimeoutError):
            client.call("no-such-event", timeout=0.2)


class TestAppInGeventMode:
    """An app whose SocketIO is in gevent mode (the core's default when gevent is installed)
    cannot be served in a thread of an unpatched test process: a subprocess serves it."""

    @pytest.fixture
    def app(self):
        from tests.plugin_app import create_app

        return create_app(async_mode="gevent")

    def test_network_clients_use_a_gevent_subprocess(
        self, socketio_client_factory, socketio_live_server
    ):
        assert isinstance(socketio_live_server, ProcessLiveServer)
        assert socketio_live_server.async_mode == "gevent"
        client = socketio_client_factory(transport="polling")
        assert client.call("add", 1, 2) == 3

    def test_without_an_app_spec_the_fixture_factory_is_derived(self, request):
        from pytest_flask_socketio.fixtures import make_live_server

        app = request.getfixturevalue("app")
        server = make_live_server(request, app, app.extensions["socketio"], None)
        assert isinstance(server, ProcessLiveServer)
        assert server.app_spec == "tests.plugin_app:create_app()"

    def test_an_app_built_out_of_reach_says_what_to_set(self, request):
        from pytest_flask_socketio.fixtures import make_live_server
        from pytest_flask_socketio.live_server import LiveServerError

        app = request.getfixturevalue("app")
        app.import_name = "__main__"  # as if built in a script: nothing to import it from
        with pytest.raises(LiveServerError, match="set the ini option socketio_app = "):
            make_live_server(request, app, app.extensions["socketio"], None)


@pytest.mark.socketio_server(async_mode="gevent")
@pytest.mark.socketio_cluster(nodes=2, message_queue="redis")
def test_gevent_cluster(socketio_cluster):
    assert socketio_cluster.async_mode == "gevent"
    a, b = socketio_cluster.client(0), socketio_cluster.client(1)
    b.get_received()
    a.emit("shout", "over redis, on gevent")
    assert b.expect("shout", timeout=5) == ["over redis, on gevent"]

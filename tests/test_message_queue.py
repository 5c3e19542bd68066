"""Message queues for many nodes, against the real Redis and the real RabbitMQ.

For each backend two gevent server processes of ``tests/apps/mq_app.py`` share a channel that is
unique to the test (so parallel xdist workers never see each other's messages); python-socketio
WebSocket clients sit on both nodes, and a write-only ``SocketIO(message_queue=..., channel=...)``
without an app emits from this process, as a worker process would.

Services come from the plugin's ``redis_url`` / ``amqp_url`` fixtures: ``REDIS_URL`` (default
redis://127.0.0.1:6379/0) and ``AMQP_URL`` (default amqp://guest:guest@127.0.0.1:5672//). A service
that does not answer skips its tests, or fails them when ``SOCKETIO_REQUIRE_SERVICES=1`` or ``CI``
is set. Each test gets its own channel from the plugin's ``socketio_channel``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from flask import Flask

import flask_socketio.queues
from flask_socketio import SocketIO
from flask_socketio.queues import MessageQueueError

MQ_APP = Path(__file__).resolve().parent / "apps" / "mq_app.py"
START_TIMEOUT = 60.0  # seconds for a node to print its port (a loaded 2-core box is slow)
WAIT = 10.0  # seconds for an expected event to arrive
QUIET = 0.3  # seconds in which an unexpected event would have arrived (loopback: ms)


# -- services ----------------------------------------------------------------------------------


@pytest.fixture(params=["redis", "amqp"])
def queue_url(request: pytest.FixtureRequest) -> str:
    """The URL of the real Redis, then RabbitMQ, from the plugin's ``redis_url``/``amqp_url``.

    Those skip a test when their service does not answer (fail with SOCKETIO_REQUIRE_SERVICES=1);
    here a skip becomes a failure when ``CI`` is set too.
    """
    try:
        return request.getfixturevalue(f"{request.param}_url")
    except pytest.skip.Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{request.param}: {exc.msg} [CI is set: services are required]")
        raise


# -- server nodes and clients ------------------------------------------------------------------


class Node:
    """One server process of tests/apps/mq_app.py (gevent, patched first), killed at teardown."""

    def __init__(self, name: str, url: str, channel: str, log_dir: Path) -> None:
        self.name = name
        self._stdout_path = log_dir / f"{name}.out"
        self._stderr_path = log_dir / f"{name}.err"
        self._stdout = open(self._stdout_path, "wb")
        self._stderr = open(self._stderr_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(MQ_APP), "--queue", url, "--channel", channel, "--node", name],
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
        )
        self.port: int | None = None

    def wait_for_port(self, deadline: float) -> int:
        """Read ``PORT=<n>`` from the node's stdout (written to a file: no pipe to fill)."""
        while time.monotonic() < deadline:
            for line in self._stdout_path.read_text().splitlines():
                if line.startswith("PORT="):
                    self.port = int(line.split("=", 1)[1])
                    return self.port
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(
            f"node {self.name} did not print its port within {START_TIMEOUT} s "
            f"(exit code {self.process.poll()}); stderr:\n{self.stderr()}"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self._stderr_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        finally:
            self._stdout.close()
            self._stderr.close()


class Recorder:
    """A python-socketio WebSocket client that records every event it receives."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.client = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.acks: dict[str, Any] = {}  # event -> what this client acks it with
        self._lock = threading.Lock()
        self.client.on("*", self._record)

    def _record(self, event: str, *args: Any) -> Any:
        with self._lock:
            self.events.append((event, args[0] if len(args) == 1 else list(args)))
            return self.acks.get(event)

    def connect(self, url: str) -> None:
        self.client.connect(url, transports=["websocket"], wait_timeout=WAIT)

    def call(self, event: str, data: Any = None) -> Any:
        return self.client.call(event, data, timeout=WAIT)

    def received(self, event: str) -> list[Any]:
        with self._lock:
            return [data for name, data in self.events if name == event]

    def clear(self) -> None:
        with self._lock:
            self.events.clear()

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # already gone; teardown must go on
            pass


def _wait_for(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Cluster:
    """Two nodes on one channel, clients on each, and an external write-only emitter."""

    def __init__(self, url: str, channel: str, tmp_path: Path) -> None:
        self.url = url
        self.channel = channel
        self.nodes: dict[str, Node] = {}
        self.clients: dict[str, Recorder] = {}
        self.emitter: SocketIO | None = None
        self.channels = [channel]  # every channel used, for the AMQP clean-up
        self._tmp_path = tmp_path

    def start(self) -> None:
        for name in ("A", "B"):  # both start at once, then both are waited for
            self.nodes[name] = Node(name, self.url, self.channel, self._tmp_path)
        deadline = time.monotonic() + START_TIMEOUT
        for node in self.nodes.values():
            node.wait_for_port(deadline)
        self.emitter = SocketIO(message_queue=self.url, channel=self.channel)

    def client(self, label: str, node: str, rooms: tuple[str, ...] = ()) -> Recorder:
        """Connect a client to ``node``; it joins ``rooms``."""
        recorder = Recorder(label)
        self.clients[label] = recorder
        recorder.connect(self.nodes[node].url)
        assert recorder.call("node") == node
        for room in rooms:
            assert recorder.call("join", room) is True
        return recorder

    def wait_until_subscribed(self) -> None:
        """Emit probes through the queue until every client got one, then forget them.

        A node subscribes to the channel when its first client connects; an emit published
        before that is (rightly) never seen, so the tests start only once all nodes listen.
        """
        assert self.emitter is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.emitter.emit("probe", "probe")
            if _wait_for(lambda: all(c.received("probe") for c in self.clients.values()), 0.2):
                break
        missing = [c.label for c in self.clients.values() if not c.received("probe")]
        if missing:
            raise AssertionError(
                f"clients {missing} never got a probe through {self.url}; node logs:\n"
                + "\n".join(f"{n.name}: {n.stderr()}" for n in self.nodes.values())
            )
        time.sleep(0.1)  # late duplicates of earlier probes
        for client in self.clients.values():
            client.clear()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        for node in self.nodes.values():
            node.kill()
        if self.url.startswith("amqp"):
            self._delete_exchanges()

    def _delete_exchanges(self) -> None:
        """RabbitMQ keeps each channel's fanout exchange: delete it (queues expire alone)."""
        import kombu

        try:
            with kombu.Connection(self.url, connect_timeout=2) as connection:
                for channel in self.channels:
                    connection.default_channel.exchange_delete(channel)
        except Exception as exc:  # clean-up only: never hide the test's own outcome
            print(f"could not delete exchanges {self.channels}: {exc}")


@pytest.fixture
def cluster(queue_url: str, socketio_channel: str, tmp_path: Path) -> Iterator[Cluster]:
    """Two gevent nodes of tests/apps/mq_app.py on a fresh channel; all killed at teardown."""
    cluster = Cluster(queue_url, socketio_channel, tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def _assert_got(
    clients: dict[str, Recorder], event: str, expected: Any, receivers: set[str]
) -> None:
    """``receivers`` get ``event`` exactly once with ``expected``; the other clients never."""
    assert _wait_for(lambda: all(clients[r].received(event) for r in receivers)), {
        label: c.events for label, c in clients.items()
    }
    time.sleep(QUIET)
    for label, client in clients.items():
        want = [expected] if label in receivers else []
        assert client.received(event) == want, f"{label}: {client.events}"


# -- the tests ---------------------------------------------------------------------------------


def test_external_emitter_broadcast_and_room_reach_both_nodes(cluster: Cluster) -> None:
    clients = {
        "a_red": cluster.client("a_red", "A", rooms=("red",)),
        "a_plain": cluster.client("a_plain", "A"),
        "b_red": cluster.client("b_red", "B", rooms=("red",)),
        "b_blue": cluster.client("b_blue", "B", rooms=("blue",)),
    }
    cluster.wait_until_subscribed()
    assert cluster.emitter is not None

    cluster.emitter.emit("news", {"n": 1})
    _assert_got(clients, "news", {"n": 1}, set(clients))

    cluster.emitter.emit("red-news", {"n": 2}, to="red")
    _assert_got(clients, "red-news", {"n": 2}, {"a_red", "b_red"})

    cluster.emitter.emit("multi", ("x", 3), room="blue")  # several arguments, `room=` alias
    _assert_got(clients, "multi", ["x", 3], {"b_blue"})

    # an emitter on another channel of the same queue reaches nobody here
    cluster.channels.append(f"other-{uuid.uuid4().hex}")
    stranger = SocketIO(message_queue=cluster.url, channel=cluster.channels[-1])
    stranger.emit("stray", "nope")
    time.sleep(QUIET)
    assert all(not c.received("stray") for c in clients.values())


def test_emit_from_handler_on_one_node_reaches_clients_on_the_other(cluster: Cluster) -> None:
    """Handler emits (room, broadcast, with an ack callback) cross from one node to the other."""
    clients = {
        "a_sender": cluster.client("a_sender", "A"),
        "a_red": cluster.client("a_red", "A", rooms=("red",)),
        "b_red": cluster.client("b_red", "B", rooms=("red",)),
        "b_plain": cluster.client("b_plain", "B"),
    }
    cluster.wait_until_subscribed()

    assert clients["a_sender"].call("relay", {"event": "hey", "data": "red", "to": "red"})
    _assert_got(clients, "hey", "red", {"a_red", "b_red"})

    assert clients["b_plain"].call("relay", {"event": "all", "data": {"from": "B"}})
    _assert_got(clients, "all", {"from": "B"}, set(clients))

    # leaving a room on node B is honoured for emits coming from node A
    assert clients["b_red"].call("leave", "red") is True
    assert clients["a_sender"].call("relay", {"event": "again", "data": 1, "to": "red"})
    _assert_got(clients, "again", 1, {"a_red"})

    # an emit with an ack callback from node A's handler to a client on node B: the ack
    # travels back through the queue and the callback runs on node A
    clients["b_plain"].acks["question"] = ("yes", 42)
    target = clients["b_plain"].client.get_sid()
    assert clients["a_sender"].call("ask", {"to": target, "data": "anyone?"})
    _assert_got(clients, "question", "anyone?", {"b_plain"})
    _assert_got(clients, "answer", ["yes", 42], {"a_sender"})


# -- clear errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["bogus://127.0.0.1:1234", "http://127.0.0.1:6379", "127.0.0.1"])
@pytest.mark.parametrize("with_app", [True, False])
def test_unknown_scheme_is_a_clear_error(url: str, with_app: bool) -> None:
    app = Flask(__name__) if with_app else None
    with pytest.raises(MessageQueueError) as info:
        SocketIO(app, message_queue=url, async_mode="threading")
    message = str(info.value)
    assert "Unknown message queue URL scheme" in message and repr(url) in message
    assert "redis://" in message and "amqp://" in message  # says what to write instead
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        ("redis://127.0.0.1:6379/0", "redis", "redis"),
        ("rediss://127.0.0.1:6380/0", "redis", "redis"),
        ("amqp://guest:guest@127.0.0.1:5672//", "kombu", "kombu"),
        ("kafka://127.0.0.1:9092", "kafka", "kafka-python"),
        ("zmq+tcp://127.0.0.1:5555+5556", "zmq", "pyzmq"),
    ],
)
def test_missing_client_library_names_the_package(
    url: str, module: str, package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated: the library is installed here, so flask_socketio.queues is made to believe it
    # is not by patching the importlib.util.find_spec it uses to look for it.
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == module or name.startswith(module + "."):
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(flask_socketio.queues.importlib.util, "find_spec", find_spec)
    with pytest.raises(MessageQueueError) as info:
        SocketIO(Flask(__name__), message_queue=url, async_mode="threading")
    message = str(info.value)
    assert f"pip install {package}" in message, message
    assert repr(url) in message

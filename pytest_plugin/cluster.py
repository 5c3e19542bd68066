"""``SocketIOCluster``: live server processes of one app sharing a message queue."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from .app_spec import subprocess_pythonpath
from .live_server import ProcessLiveServer
from .stash import register_client, register_resource

if TYPE_CHECKING:  # network clients need requests and websocket-client: imported when used
    from flask_socketio_testing.client import Client

__all__ = ["SocketIOCluster"]


class SocketIOCluster:
    """Several live server processes of one app sharing a message queue and a channel.

    ``nodes`` (live servers with ``url``), ``message_queue``, ``channel``, ``startup_time``
    (seconds, set by the fixture), ``client(node=0, transport='websocket', **connect_kwargs)``.
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
        self.startup_time: float | None = None
        self.nodes: list[ProcessLiveServer] = [
            ProcessLiveServer(
                app_spec,
                async_mode,
                message_queue=message_queue,
                channel=channel,
                cwd=str(request.config.rootpath),
                env={"PYTHONPATH": subprocess_pythonpath()},
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
        register_client(self.request, name, client)
        register_resource(self.request, client)
        client.connect()
        return client

    def close(self) -> None:
        """Close every client and stop every node."""
        for client in self.clients:
            client.close()
        for node in self.nodes:
            node.close()

    def leaks(self) -> list[str]:
        """What the nodes left behind (processes, ports)."""
        return [leak for node in self.nodes for leak in node.leaks()]

    def __len__(self) -> int:
        return len(self.nodes)

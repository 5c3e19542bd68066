"""``SocketIOClientFactory``: connected clients of the test's transport, closed after the test.

In-process clients are ``SocketIOTestClient`` objects; polling and websocket clients are network
``Client`` objects connected to the test's live server. Both satisfy ``SocketIOClient`` and keep a
transcript that the plugin prints when the test fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio_testing.flask_client import cookie_header
from flask_socketio_testing.inprocess import SocketIOTestClient
from flask_socketio_testing.interface import SocketIOClient

from .live_server import LiveServer
from .stash import register_client, register_resource
from .transports import NETWORK_TRANSPORTS, TRANSPORTS

if TYPE_CHECKING:
    from flask_socketio import SocketIO

__all__ = ["SocketIOClientFactory", "TRANSCRIPT_LIMIT"]

#: transcript entries each fixture client keeps (the report shows the last 200)
TRANSCRIPT_LIMIT = 1000


class SocketIOClientFactory:
    """Makes connected clients of one transport; every client it made is closed at teardown.

    ``factory(namespace=None, auth=None, headers=None, query_string=None,
    flask_test_client=None)``; keyword ``transport=`` overrides the test's transport and
    ``url=`` connects a network client elsewhere (a ``FaultProxy``, another node).
    """

    def __init__(
        self, request: pytest.FixtureRequest, app: Flask, socketio: SocketIO, transport: str
    ) -> None:
        self.request = request
        self.app = app
        self.socketio = socketio
        self.transport = transport
        self.clients: list[SocketIOClient] = []

    @property
    def live_server(self) -> LiveServer:
        """The test's ``socketio_live_server`` (started on first use)."""
        server: LiveServer = self.request.getfixturevalue("socketio_live_server")
        return server

    def __call__(
        self,
        namespace: str | None = None,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        query_string: str | None = None,
        flask_test_client: FlaskClient | None = None,
        *,
        transport: str | None = None,
        url: str | None = None,
    ) -> SocketIOClient:
        transport = transport or self.transport
        name = f"client-{len(self.clients) + 1}-{transport}"
        client: SocketIOClient
        # what every kind of client takes alike
        common: dict[str, Any] = {"auth": auth, "query_string": query_string, "name": name}
        common["transcript_limit"] = TRANSCRIPT_LIMIT
        if transport == "inprocess":
            client = SocketIOTestClient(
                self.app,
                self.socketio,
                namespace=namespace,
                headers=headers,
                flask_test_client=flask_test_client,
                **common,
            )
            self._keep(name, client)
            return client
        if transport not in NETWORK_TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; use one of {TRANSPORTS}")
        from flask_socketio_testing.client import Client  # needs requests, websocket-client

        all_headers = dict(headers or {})
        if flask_test_client is not None:
            cookie = cookie_header(flask_test_client)
            if cookie:
                all_headers.setdefault("Cookie", cookie)
        network = Client(
            url or self.live_server.url,
            transport=transport,
            namespace=namespace or "/",
            headers=all_headers,
            **common,
        )
        self._keep(name, network)
        register_resource(self.request, network)
        network.connect()
        return network

    def _keep(self, name: str, client: SocketIOClient) -> None:
        self.clients.append(client)
        register_client(self.request, name, client)

    def close_all(self) -> None:
        """Close every client this factory made (closing twice is harmless)."""
        for client in self.clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - a broken client must not hide the others
                pass

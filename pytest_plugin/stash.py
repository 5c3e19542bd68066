"""What the fixtures leave on a test item for the plugin's report and leak hooks."""

from __future__ import annotations

from typing import Any, Protocol

import pytest
from flask_socketio_testing.interface import SocketIOClient

__all__ = [
    "CLIENTS_KEY",
    "RESOURCES_KEY",
    "SERVER_LOGS_KEY",
    "HasLeaks",
    "register_client",
    "register_resource",
    "register_server_log",
    "marker_kwargs",
]


class HasLeaks(Protocol):
    """Anything a fixture started that can say what it left behind."""

    def leaks(self) -> list[str]: ...


#: per test: the clients to transcribe on failure, as (label, client)
CLIENTS_KEY = pytest.StashKey[list[tuple[str, SocketIOClient]]]()
#: per test: objects with ``leaks() -> list[str]``, checked after teardown
RESOURCES_KEY = pytest.StashKey[list[HasLeaks]]()
#: per test: (name, log tail) of subprocess servers, shown when the test fails
SERVER_LOGS_KEY = pytest.StashKey[list[tuple[str, str]]]()


def register_client(request: pytest.FixtureRequest, label: str, client: SocketIOClient) -> None:
    """Show ``client``'s transcript in the report if the test fails."""
    request.node.stash.setdefault(CLIENTS_KEY, []).append((label, client))


def register_resource(request: pytest.FixtureRequest, resource: HasLeaks) -> None:
    """Fail the test if ``resource.leaks()`` is not empty after teardown."""
    request.node.stash.setdefault(RESOURCES_KEY, []).append(resource)


def register_server_log(request: pytest.FixtureRequest, name: str, tail: str) -> None:
    """Show a subprocess server's log tail in the report if the test fails."""
    request.node.stash.setdefault(SERVER_LOGS_KEY, []).append((name, tail))


def marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of the closest ``name`` marker (empty without one)."""
    marker = request.node.get_closest_marker(name)
    return dict(marker.kwargs) if marker else {}

"""Fixtures for client simulation: swarms of clients and a fault-injecting proxy.

Registered by the plugin. Both fixtures clean up after the test and fail it if a client thread
or the proxy thread outlives it. Swarms of network clients need the ``testing`` extra; ``Swarm``
is imported when a test asks for one, so that without it the fixture still exists and its error
says what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask_socketio_testing.faults import FaultProxy

from .live_server import LiveServer

if TYPE_CHECKING:
    from flask_socketio_testing.swarm import Swarm

__all__ = ["socketio_swarm_factory", "socketio_fault_proxy"]


def _target_of(request: pytest.FixtureRequest, target: object) -> str | Flask:
    """What a swarm connects to: a URL, or a Flask app for in-process clients."""
    if target is None:
        target = request.getfixturevalue("socketio_live_server")
    if isinstance(target, (LiveServer, FaultProxy)):
        return target.url
    if isinstance(target, (str, Flask)):
        return target
    raise TypeError(
        f"cannot build a swarm for {target!r}: pass a URL, a Flask app, a live "
        "server or a FaultProxy"
    )


@pytest.fixture
def socketio_swarm_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Swarm]]:
    """Build swarms of clients: ``make(size, target=None, *, connect=True, **options) -> Swarm``.

    ``target`` is a URL, a live server, a ``FaultProxy`` or a Flask app (in-process clients);
    by default the ``socketio_live_server`` fixture. ``options`` are ``Swarm``'s (``transport``,
    ``namespace``, ``auth``, ``headers``, ``concurrency``, ``connect_timeout``, ...). With
    ``connect=True`` the swarm is connected and the test fails unless every client made it.
    Every swarm is disconnected after the test, which fails if a client thread survives.

    Example::

        def test_broadcast(socketio_swarm_factory, socketio_live_server):
            swarm = socketio_swarm_factory(200, auth=lambda i: {"room": "lobby"})
            ledger = DeliveryLedger()
            ledger.attach(swarm.clients, "news")
            ...
    """
    from flask_socketio_testing.swarm import Swarm

    swarms: list[Swarm] = []

    def make(size: int, target: Any = None, *, connect: bool = True, **options: Any) -> Swarm:
        swarm = Swarm(_target_of(request, target), size, **options)
        swarms.append(swarm)
        if connect:
            stats = swarm.connect()
            if not stats.ok:
                pytest.fail(f"the swarm did not connect:\n{stats}", pytrace=False)
        return swarm

    yield make
    leaks: list[str] = []
    for swarm in swarms:
        swarm.disconnect()
        leaks.extend(swarm.leaks(timeout=5.0))
    if leaks:
        shown = "\n  ".join(leaks[:10])
        pytest.fail(
            f"{len(leaks)} swarm client threads outlived their swarm:\n  {shown}", pytrace=False
        )


@pytest.fixture
def socketio_fault_proxy(socketio_live_server: Any) -> Iterator[FaultProxy]:
    """A ``FaultProxy`` in front of ``socketio_live_server``: connect clients to ``proxy.url``.

    Set ``latency``/``jitter`` (seconds, each direction) while the test runs; ``cut()`` closes
    every proxied connection, ``blackhole()``/``restore()`` stop and resume forwarding. Closed
    after the test, which fails if the proxy thread survives.
    """
    proxy = FaultProxy(socketio_live_server.url)
    try:
        yield proxy
    finally:
        proxy.close()
    if proxy.running:
        pytest.fail("the FaultProxy thread outlived the test", pytrace=False)

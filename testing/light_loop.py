"""The loop light swarm clients share: one asyncio loop in one thread, one HTTP session.

Kept apart from :mod:`flask_socketio_testing._lightio` (the python-socketio internals) and from
:mod:`flask_socketio_testing.light` (the synchronous client API): this is the thread, the session
and the watchdog that closes silent websocket connections.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ._lightio import LightSocketIO, Owner, aiohttp, light_socketio

__all__ = ["LightLoop"]

T = TypeVar("T")


class LightLoop:
    """One asyncio event loop in one daemon thread, with one HTTP session for all its clients.

    ``run(coro, timeout)`` runs a coroutine there and waits for its result; ``submit(coro)`` fires
    one without waiting. A watchdog closes websocket connections that stayed silent past their
    ping interval + ping timeout. ``close()`` closes the session, stops the loop and joins the
    thread, bounded in time.
    """

    WATCHDOG_PERIOD = 0.25

    def __init__(self, name: str = "swarm") -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self.clients: list[LightSocketIO] = []
        self._session: aiohttp.ClientSession | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=f"{name}-loop", daemon=True)
        self.thread.start()
        self._ready.wait(10)
        self.run(self._start(), 10)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    async def _start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        # no cookie jar: clients must not see each other's cookies through the shared session
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        )
        self._watchdog = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.WATCHDOG_PERIOD)
            now = self.loop.time()
            for sio in self.clients:
                if sio.silent_for(now) > sio.eio.deadline():
                    sio.kill()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    def new_client(self, owner: Owner, **kwargs: Any) -> LightSocketIO:
        """A python-socketio ``AsyncClient`` on this loop's shared session."""
        sio = light_socketio(owner, self.session, **kwargs)
        self.clients.append(sio)
        return sio

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and return its result; ``TimeoutError`` after ``timeout``."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def submit(self, coro: Awaitable[Any]) -> None:
        """Start ``coro`` on the loop without waiting for it (errors are dropped)."""
        asyncio.run_coroutine_threadsafe(_quiet(coro), self.loop)

    def call(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` on the loop thread soon."""
        self.loop.call_soon_threadsafe(fn)

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def close(self, timeout: float = 10.0) -> None:
        """Close the session, stop the loop, join the thread (bounded by ``timeout``)."""
        if not self.thread.is_alive():
            return
        deadline = time.monotonic() + timeout

        async def finish() -> None:
            self._watchdog.cancel()
            if self._session is not None:
                await self._session.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.1, deadline - time.monotonic()))

        try:
            self.run(finish(), max(0.1, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - stopping anyway
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(max(0.1, deadline - time.monotonic()))


async def _quiet(coro: Awaitable[Any]) -> None:
    try:
        await coro
    except Exception:  # noqa: BLE001 - fire and forget
        pass

"""Connecting and stopping many light clients at once, a bounded number at a time, on their loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

__all__ = ["connect_all", "stop_all"]


class _Member(Protocol):
    """What these need of a light client (:class:`~flask_socketio_testing.light.LightClient`)."""

    connect_timeout: float

    async def aconnect(self) -> None: ...

    async def astop(self) -> None: ...


async def connect_all(
    clients: Sequence[_Member], indices: list[int], concurrency: int, timeout: float
) -> tuple[dict[int, float], dict[int, str]]:
    """Connect ``clients[i]`` for each index, ``concurrency`` at a time, on the running loop.

    Returns per-client connect times and errors; clients not done within ``timeout`` are errors.
    """
    times: dict[int, float] = {}
    errors: dict[int, str] = {}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(clients[i].aconnect(), clients[i].connect_timeout + 5.0)
            except Exception as exc:  # noqa: BLE001 - reported per client
                errors[i] = f"{type(exc).__name__}: {exc}"
            else:
                times[i] = time.perf_counter() - t0

    tasks = [asyncio.ensure_future(one(i)) for i in indices]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
    for i in indices:
        if i not in times and i not in errors:
            errors[i] = f"not done within {timeout} s"
    return times, errors


async def stop_all(clients: Sequence[_Member], concurrency: int = 200) -> None:
    """Disconnect every client and stop its reconnection, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(client: _Member) -> None:
        async with gate:
            try:
                await asyncio.wait_for(client.astop(), 10.0)
            except Exception:  # noqa: BLE001 - the loop closes what is left
                pass

    if clients:
        await asyncio.wait([asyncio.ensure_future(one(c)) for c in clients])

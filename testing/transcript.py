"""A client's transcript: what it sent, received and got acknowledged, in order.

Every client keeps one (bounded: the last ``limit`` entries), so a failing test can show what
happened on the wire; the pytest plugin prints it in the failure report. Entries are plain tuples
``(seconds since the client was made, kind, namespace, detail)``; kinds are ``connecting``,
``connect``, ``connect_error``, ``disconnect``, ``drop``, ``emit``, ``ack``, ``ack-timeout``,
``received`` and ``expect-failed``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Transcript", "TranscriptEntry"]

#: (seconds since the client was made, kind, namespace, detail)
TranscriptEntry = tuple[float, str, str, Any]


class Transcript:
    """The last ``limit`` entries of one client's traffic; ``limit=0`` records nothing.

    Entries hold the events themselves (no copies, no ``repr``), which keeps logging cheap;
    thousands of clients that each hold a long transcript make the garbage collector's work
    grow, which is why a plain ``socketio.test_client()`` records none unless asked.
    """

    __slots__ = ("_entries", "_t0", "log")

    #: add one entry ``(kind, namespace, detail)``, stamped with the time since creation
    log: Callable[[str, str, Any], None]

    def __init__(self, limit: int = 1000) -> None:
        self._entries: deque[TranscriptEntry] = deque(maxlen=limit)
        self._t0 = time.monotonic()
        self.log = self._append if limit else self._discard

    @property
    def limit(self) -> int:
        """How many entries are kept (0: recording is off)."""
        return self._entries.maxlen or 0

    def _append(self, kind: str, namespace: str, detail: Any) -> None:
        self._entries.append((time.monotonic() - self._t0, kind, namespace, detail))

    def _discard(self, kind: str, namespace: str, detail: Any) -> None:
        pass

    def __iter__(self) -> Iterator[TranscriptEntry]:
        return iter(list(self._entries))  # a copy: other threads may log while one reads

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> TranscriptEntry:
        return self._entries[index]

    def kinds(self) -> list[str]:
        """The entries' kinds, in order (handy in assertions)."""
        return [entry[1] for entry in self]

    def __repr__(self) -> str:
        return f"<Transcript {len(self)} entries>"

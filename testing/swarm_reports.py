"""What swarms report: connect statistics and reconnection reports (plain data, printable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SwarmConnectStats", "SwarmReconnectReport"]


@dataclass
class SwarmConnectStats:
    """What :meth:`Swarm.connect` measured. Times are seconds.

    ``total`` is the wall time to connect the whole swarm; the percentiles are per-client connect
    times (each from the start of its own ``connect()`` call); ``failed`` lists
    ``(index, error)`` for clients that did not connect.
    """

    size: int
    connected: int
    total: float
    concurrency: int
    failed: list[tuple[int, str]] = field(default_factory=list)
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    @property
    def ok(self) -> bool:
        """True when every client connected."""
        return self.connected == self.size

    @property
    def rate(self) -> float:
        """Connected clients per second over the whole run."""
        return self.connected / self.total if self.total > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable figures (at most 10 failures listed)."""
        return {
            "ok": self.ok,
            "size": self.size,
            "connected": self.connected,
            "failed": len(self.failed),
            "total": self.total,
            "rate": self.rate,
            "concurrency": self.concurrency,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
            "failures": [list(f) for f in self.failed[:10]],
        }

    def __str__(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.0f} ms"

        text = (
            f"SwarmConnectStats: {self.connected}/{self.size} connected in {self.total:.2f} s "
            f"({self.rate:.0f}/s, concurrency {self.concurrency}); per client p50 {ms(self.p50)} "
            f"p95 {ms(self.p95)} p99 {ms(self.p99)} max {ms(self.max)}"
        )
        if self.failed:
            shown = "; ".join(f"#{i}: {e}" for i, e in self.failed[:3])
            text += f"\n  {len(self.failed)} failed, e.g. {shown}"
        return text


@dataclass
class SwarmReconnectReport:
    """What :meth:`Swarm.wait_reconnected` saw since the swarm's last checkpoint.

    ``time_to_all_back`` runs from the first client's disconnect to the last client's
    reconnect (None unless every client is back). ``downtime_*`` are per-client seconds between
    noticing the loss and regaining the connection. ``lost`` maps client index to the ids of
    messages the ledger expected at that client, sent between the checkpoint and the client's
    return, that never arrived; ``messages_lost`` counts them.
    """

    size: int
    reconnected: int
    not_back: list[int] = field(default_factory=list)
    time_to_all_back: float | None = None
    waited: float = 0.0
    downtime_p50: float | None = None
    downtime_max: float | None = None
    lost: dict[int, list[str]] = field(default_factory=dict)

    @property
    def all_back(self) -> bool:
        """True when every client disconnected and came back."""
        return not self.not_back

    @property
    def messages_lost(self) -> int:
        """Expected deliveries that never happened because their client was gone."""
        return sum(len(v) for v in self.lost.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable figures."""
        return {
            "all_back": self.all_back,
            "size": self.size,
            "reconnected": self.reconnected,
            "not_back": self.not_back[:20],
            "time_to_all_back": self.time_to_all_back,
            "waited": self.waited,
            "downtime_p50": self.downtime_p50,
            "downtime_max": self.downtime_max,
            "messages_lost": self.messages_lost,
            "clients_with_losses": len([k for k, v in self.lost.items() if v]),
        }

    def __str__(self) -> str:
        back = "-" if self.time_to_all_back is None else f"{self.time_to_all_back:.2f} s"
        text = (
            f"SwarmReconnectReport: {self.reconnected}/{self.size} back "
            f"(all back after {back}, waited {self.waited:.2f} s); "
            f"messages lost while gone: {self.messages_lost}"
        )
        if self.not_back:
            text += f"\n  not back: {self.not_back[:10]}{' ...' if len(self.not_back) > 10 else ''}"
        return text

"""The delivery report: what :meth:`DeliveryLedger.verify` found, as counts, examples and latencies.

Kept apart from the recorder (:mod:`flask_socketio_testing.ledger`) so the report reads on its own;
``percentile`` is shared with the swarm statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DeliveryReport", "percentile"]

_SHOW = 5  # problem examples shown by str(report)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (like numpy's default) of an already sorted list."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass
class DeliveryReport:
    """The outcome of :meth:`DeliveryLedger.verify`.

    ``expected`` and ``delivered`` count (message, recipient) pairs; the problem fields list them:
    ``missing`` and ``misdelivered`` hold ``(client_id, msg_id)``, ``duplicated`` holds
    ``(client_id, msg_id, times_received)``, ``out_of_order`` holds ``(client_id, sender, msg_id)``
    for an arrival whose sequence number is lower than one already received from that sender.
    Latencies are seconds, from the first arrival of each expected pair.
    """

    messages: int
    expected: int
    delivered: int
    missing: list[tuple[str, str]] = field(default_factory=list)
    duplicated: list[tuple[str, str, int]] = field(default_factory=list)
    misdelivered: list[tuple[str, str]] = field(default_factory=list)
    out_of_order: list[tuple[str, str | None, str]] = field(default_factory=list)
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    waited: float = 0.0
    min: float | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is missing, duplicated, misdelivered or out of order."""
        return not (self.missing or self.duplicated or self.misdelivered or self.out_of_order)

    def assert_ok(self) -> DeliveryReport:
        """Raise ``AssertionError`` saying what went wrong unless the report is :attr:`ok`.

        The message counts each kind of problem with examples (client/message ids) and ends with
        the whole report. Returns the report, so ``ledger.verify().assert_ok().p50`` reads well.
        """
        if self.ok:
            return self
        problems = []
        for name in ("missing", "duplicated", "misdelivered", "out_of_order"):
            items = getattr(self, name)
            if items:
                shown = ", ".join("/".join(str(p) for p in item) for item in items[:_SHOW])
                more = f" and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
                problems.append(f"{len(items)} {name.replace('_', ' ')} ({shown}{more})")
        raise AssertionError(
            f"{self.delivered} of {self.expected} expected deliveries arrived; "
            + "; ".join(problems)
            + "\n"
            + str(self)
        )

    def as_dict(self) -> dict[str, Any]:
        """Counts, percentiles and a few examples of each problem, JSON-serialisable."""
        return {
            "ok": self.ok,
            "messages": self.messages,
            "expected": self.expected,
            "delivered": self.delivered,
            "missing": len(self.missing),
            "duplicated": len(self.duplicated),
            "misdelivered": len(self.misdelivered),
            "out_of_order": len(self.out_of_order),
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
            "min": self.min,
            "waited": self.waited,
            "examples": {
                "missing": [list(x) for x in self.missing[:_SHOW]],
                "duplicated": [list(x) for x in self.duplicated[:_SHOW]],
                "misdelivered": [list(x) for x in self.misdelivered[:_SHOW]],
                "out_of_order": [list(x) for x in self.out_of_order[:_SHOW]],
            },
        }

    def __str__(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:.1f} ms"

        lines = [
            f"DeliveryReport: {'OK' if self.ok else 'FAILED'} "
            f"({self.messages} messages, waited {self.waited:.2f} s)",
            f"  {'expected':<14}{self.expected:>8}",
            f"  {'delivered':<14}{self.delivered:>8}",
        ]
        for name in ("missing", "duplicated", "misdelivered", "out_of_order"):
            items = getattr(self, name)
            line = f"  {name.replace('_', ' '):<14}{len(items):>8}"
            if items:
                shown = ", ".join("/".join(str(p) for p in item) for item in items[:_SHOW])
                more = f", ... {len(items) - _SHOW} more" if len(items) > _SHOW else ""
                line += f"   e.g. {shown}{more}"
            lines.append(line)
        lines.append(
            f"  {'latency':<14}min {ms(self.min)}  p50 {ms(self.p50)}  p95 {ms(self.p95)}  "
            f"p99 {ms(self.p99)}  max {ms(self.max)}"
        )
        return "\n".join(lines)

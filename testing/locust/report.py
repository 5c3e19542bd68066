"""The capacity report: one line per step, and ``summary.json``, ``steps.csv``, ``plot.png``.

The plot draws measured values only: a figure that was not sampled (server CPU without
``--sio-server-file``, latency of a step that received nothing) leaves a gap and says so, rather
than a line at 0.
"""

from __future__ import annotations

import csv
import importlib.metadata as md
import json
import logging
import math
import os
import platform
import time
from typing import Any, Protocol

import psutil
from flask_socketio_testing.locust.options import option
from locust.env import Environment
from locust.runners import Runner

__all__ = ["LOADGEN_CPU_WARN", "ProcessSampler", "step_line", "summarize", "write_report"]

logger = logging.getLogger("flask_socketio_testing.locust.capacity")


class CapacityRun(Protocol):
    """What the report reads of a capacity run (``CapacityShape``; structural, no import cycle)."""

    env: Environment
    steps: list[dict[str, Any]]
    warnings: list[str]
    server_info: dict[str, Any]
    started_at: float
    inc: int
    start_users: int
    step_seconds: float
    settle: float
    rate: float
    max_users: int
    slo_p99: float
    slo_delivered: float

    @property
    def active_runner(self) -> Runner: ...


#: % of one core above which the load generator, not the server, is what a step measures
LOADGEN_CPU_WARN = 90.0
#: labels of reference lines and step marks in the plot (not data curves)
MARKS = ("SLO p99", "SLO delivered", "held", "broke")


class ProcessSampler:
    """CPU time and memory of a set of processes (the server's, or this Locust process tree)."""

    def __init__(self, pids: list[int]) -> None:
        self.procs: list[psutil.Process] = []
        for pid in pids:
            try:
                self.procs.append(psutil.Process(pid))
            except psutil.Error:
                logger.warning("cannot watch process %s", pid)

    @classmethod
    def this_process_tree(cls) -> ProcessSampler:
        me = psutil.Process()
        return cls([me.pid] + [c.pid for c in me.children(recursive=True)])

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def rss_mb(self) -> float:
        total = 0
        for p in self.procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 1e6


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _pct(value: float | None) -> str:
    return "not sampled" if value is None else f"{value:.0f}%"


def step_line(step: dict[str, Any]) -> str:
    """One readable line for a finished step, verdict first."""
    verdict = "held" if step["held"] else "BROKE (" + "; ".join(step["problems"]) + ")"
    ratio = step["delivered_ratio"]
    delivered = "-" if ratio is None else f"{ratio:.5f}"
    return (
        f"capacity step {step['step']}: {step['users']} users {verdict} | "
        f"receive p50 {_ms(step['p50_ms'])}, p99 {_ms(step['p99_ms'])} | "
        f"delivered {step['received']}/{step['expected']} = {delivered} | "
        f"{step['sends_per_s']:g} sends/s, {step['deliveries_per_s']:g} deliveries/s | "
        f"CPU server {_pct(step['server_cpu_pct'])}, Locust {_pct(step['loadgen_cpu_pct'])}"
        + (f", load average {step['loadavg_1m']:g}" if step.get("loadavg_1m") is not None else "")
    )


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def summarize(shape: CapacityRun) -> dict[str, Any]:
    """Everything ``summary.json`` holds: versions, machine, SLO, steps, what held."""
    steps = shape.steps
    held = [s for s in steps if s["held"]]
    broke = next((s for s in steps if not s["held"]), None)
    info = shape.server_info
    return {
        "label": str(option(shape.env, "capacity_label", "")),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(shape.started_at)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenario": sorted(u.__name__ for u in shape.active_runner.user_classes),
        "host": shape.env.host,
        "versions": {
            "locust": _version("locust"),
            "python_socketio_client": _version("python-socketio"),
            "server": {k: v for k, v in info.items() if k not in ("urls", "ports", "pids")},
        },
        "server": {k: info.get(k) for k in ("urls", "pids", "nodes", "message_queue", "app")},
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_end": list(os.getloadavg()),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        },
        "slo": {"p99_ms": shape.slo_p99, "delivered": shape.slo_delivered},
        "step": {
            "users": shape.inc,
            "start": shape.start_users,
            "seconds": shape.step_seconds,
            "settle": shape.settle,
            "spawn_rate": shape.rate,
            "max_users": shape.max_users,
        },
        "held_users": held[-1]["users"] if held else 0,
        "held_step": held[-1] if held else None,
        "breaking_step": broke,
        "steps": steps,
        "warnings": shape.warnings,
    }


def write_report(shape: CapacityRun, out: str) -> dict[str, Any]:
    """Write ``summary.json``, ``steps.csv`` and ``plot.png`` to ``out``; returns the summary."""
    os.makedirs(out, exist_ok=True)
    summary = summarize(shape)
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
    if shape.steps:
        with open(os.path.join(out, "steps.csv"), "w", newline="", encoding="utf-8") as fh:
            fields = [k for k in shape.steps[0] if k != "problems"] + ["problems"]
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            for s in shape.steps:
                writer.writerow({**s, "problems": "; ".join(s["problems"])})
        try:
            plot(summary, os.path.join(out, "plot.png"))
        except Exception:  # noqa: BLE001 - the figures matter more than the picture
            logger.exception("plot failed")
    return summary


def _values(steps: list[dict[str, Any]], key: str) -> list[float]:
    # None (not measured) becomes NaN: matplotlib leaves a gap instead of drawing a 0
    return [math.nan if s[key] is None else float(s[key]) for s in steps]


def _title(summary: dict[str, Any]) -> str:
    what = summary["label"] or ", ".join(summary["scenario"])
    server = summary["versions"]["server"]
    version = server.get("flask_socketio")
    nodes = summary["server"].get("nodes")
    where = []
    if version:
        where.append(f"Flask-SocketIO {version}")
    if server.get("app"):  # "path/to/app.py:create_app(...)" -> "app.py:create_app"
        where.append(os.path.basename(str(server["app"]).split("(")[0]))
    if nodes:
        where.append(f"{nodes} node(s)")
    if not where:
        where.append(str(summary.get("host") or "server not described (no --sio-server-file)"))
    return f"{what}: {summary['held_users']} users held\n" + ", ".join(where)


def plot(summary: dict[str, Any], path: str) -> list[str]:
    """Draw latency, delivered ratio, message rates and CPU per step, marking the held and the
    breaking step; returns the labels of the curves drawn (each one measured data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = summary["steps"]
    users = [s["users"] for s in steps]
    fig, axes = plt.subplots(4, 1, figsize=(8, 11), sharex=True)
    lat, ratio, rate, cpu = axes
    lat.plot(users, _values(steps, "p50_ms"), "o-", label="p50")
    lat.plot(users, _values(steps, "p99_ms"), "o-", label="p99")
    lat.axhline(summary["slo"]["p99_ms"], color="red", linestyle="--", label="SLO p99")
    lat.set_ylabel("receive latency (ms)")
    lat.set_title(_title(summary), fontsize=10)
    ratio.plot(users, _values(steps, "delivered_ratio"), "o-", color="tab:green", label="delivered")
    ratio.axhline(summary["slo"]["delivered"], color="red", linestyle="--", label="SLO delivered")
    ratio.set_ylabel("delivered / expected")
    rate.plot(users, _values(steps, "deliveries_per_s"), "o-", label="deliveries/s")
    rate.plot(users, _values(steps, "sends_per_s"), "o-", label="sends/s")
    rate.set_ylabel("messages per second")
    server_cpu = _values(steps, "server_cpu_pct")
    if all(math.isnan(v) for v in server_cpu):
        cpu.text(
            0.02, 0.9, "server CPU not sampled (no --sio-server-file)", transform=cpu.transAxes
        )
    else:
        cpu.plot(users, server_cpu, "o-", label="server CPU %")
    cpu.plot(users, _values(steps, "loadgen_cpu_pct"), "o-", label="Locust CPU %")
    cpu.axhline(LOADGEN_CPU_WARN, color="grey", linestyle=":", label="_warn")
    cpu.set_ylabel("% of one core")
    cpu.set_xlabel("users")
    held, broke = summary["held_step"], summary["breaking_step"]
    for i, ax in enumerate(axes):  # the step marks, named in the top panel's legend
        if held is not None:
            label = f"held ({held['users']} users)" if i == 0 else "_held"
            ax.axvline(held["users"], color="green", alpha=0.4, linewidth=3, label=label)
        if broke is not None:
            label = f"broke ({broke['users']} users)" if i == 0 else "_broke"
            ax.axvline(broke["users"], color="red", alpha=0.4, linewidth=3, label=label)
        ax.legend(fontsize=8, loc="best")
    curves = [str(line.get_label()) for ax in axes for line in ax.get_lines()]
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [c for c in curves if not c.startswith(("_",) + MARKS)]

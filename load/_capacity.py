"""Capacity run: step the number of users up until the receive SLO breaks.

Add this file to a scenario (it starts with ``_`` so ``locust -f load/`` never picks it up)::

    python load/_server.py --ready-file load/results/server.json &
    locust -f load/broadcast.py,load/_capacity.py --headless \\
        --sio-server-file load/results/server.json \\
        --step-users 100 --step-seconds 30 --step-max-users 2000

Each step holds ``users`` for ``--step-seconds``: once the users are spawned and
``--step-settle`` seconds passed, receive latency, deliveries and CPU are measured until the step
ends; the step then runs ``--delivery-grace`` seconds more so lost deliveries of messages sent in
the window are counted in it. A step holds when p99 receive latency < ``--slo-p99-ms`` and
delivered / expected >= ``--slo-delivered`` and nothing was misdelivered. The run stops at the
first step that breaks (or at ``--step-max-users``) and writes to ``--capacity-out``:
``summary.json`` (versions, machine, SLO, per-step figures, the highest step that held),
``steps.csv`` and ``plot.png``. It exits 1 when no step held. A warning is logged (and kept in
the summary) when this Locust process uses more than 90% of a core: its figures then describe the
load generator, not the server.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import time
from typing import Any

import psutil
from flask_socketio_testing.locust import (
    DeliveryBook,
    diff_snapshots,
    evaluate_slo,
    option,
    read_server_file,
    stats_snapshot,
)
from locust import LoadTestShape, events

logger = logging.getLogger("load.capacity")

LOADGEN_CPU_WARN = 90.0


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("capacity run (load/_capacity.py)")
    group.add_argument("--step-users", type=int, default=100, help="users added per step")
    group.add_argument(
        "--step-start", type=int, default=0, help="users of the first step (default: --step-users)"
    )
    group.add_argument(
        "--step-seconds",
        type=float,
        default=30.0,
        help="length of a step's measurement (default 30)",
    )
    group.add_argument(
        "--step-settle",
        type=float,
        default=5.0,
        help="seconds after spawning before measuring (default 5)",
    )
    group.add_argument(
        "--step-spawn-rate", type=float, default=50.0, help="users started per second (default 50)"
    )
    group.add_argument(
        "--step-max-users",
        type=int,
        default=3000,
        help="stop after the step with this many users (default 3000)",
    )
    group.add_argument(
        "--capacity-out", default="", help="output folder (default load/results/capacity-<time>)"
    )
    group.add_argument("--capacity-label", default="", help="a label stored in the summary")


class _Procs:
    """CPU time and memory of a set of processes (this Locust process and its children, or the
    server's processes)."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = []
        for pid in pids:
            try:
                self.procs.append(psutil.Process(pid))
            except psutil.Error:
                logger.warning("cannot watch process %s", pid)

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


class StepLoadShape(LoadTestShape):
    """Steps users up until the receive-latency / delivery SLO breaks (see the module doc)."""

    capacity_run = True
    use_common_options = False

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.finished = False
        self.written = False
        self._step = 0
        self._phase = "spawn"
        self._phase_t = 0.0
        self._snap0: dict[str, Any] | None = None
        self._window: dict[str, Any] | None = None
        self._measure_t = 0.0
        self._lost_start: int | None = None
        self._started_at = time.time()
        self._setup_done = False

    # configuration ------------------------------------------------------------------------
    def _setup(self) -> None:
        env = self.runner.environment
        self.env = env
        self.inc = max(1, int(option(env, "step_users", 100)))
        self.start_users = int(option(env, "step_start", 0)) or self.inc
        self.step_seconds = float(option(env, "step_seconds", 30.0))
        self.settle = float(option(env, "step_settle", 5.0))
        self.rate = float(option(env, "step_spawn_rate", 50.0))
        self.max_users = int(option(env, "step_max_users", 3000))
        self.grace = float(option(env, "delivery_grace", 5.0))
        self.slo_p99 = float(option(env, "slo_p99_ms", 250.0))
        self.slo_delivered = float(option(env, "slo_delivered", 0.999))
        out = str(option(env, "capacity_out", "")) or os.path.join(
            "load", "results", time.strftime("capacity-%Y%m%d-%H%M%S")
        )
        self.out = out
        server_file = str(option(env, "sio_server_file", ""))
        self.server_info: dict[str, Any] = read_server_file(server_file) if server_file else {}
        self.server = _Procs([int(p) for p in self.server_info.get("pids", [])])
        if not self.server.procs:
            self.warnings.append("server pids unknown (pass --sio-server-file): no server CPU")
        me = psutil.Process()
        self.loadgen = _Procs([me.pid] + [c.pid for c in me.children(recursive=True)])
        self._setup_done = True

    def users(self) -> int:
        return self.start_users + self._step * self.inc

    # the shape ----------------------------------------------------------------------------
    def tick(self) -> tuple[int, float] | None:
        if not self._setup_done:
            self._setup()
            self._phase_t = self.get_run_time()
        if self.finished:
            return None
        now = self.get_run_time()
        users = self.users()
        if self._phase == "spawn":
            if self.runner.user_count >= users or now - self._phase_t > 600:
                self._phase, self._phase_t = "settle", now
        elif self._phase == "settle":
            if now - self._phase_t >= self.settle:
                self._snap0 = stats_snapshot(self.env.stats)
                self._cpu0 = (self.server.cpu_seconds(), self.loadgen.cpu_seconds(), time.time())
                self._phase, self._phase_t = "measure", now
                self._measure_t, self._lost_start = now, None
        if (
            self._phase in ("measure", "grace")
            and self._lost_start is None
            and now - self._measure_t >= self.grace + DeliveryBook.EPOCH
        ):
            # losses are reported `grace` (+ an epoch) after the send: from here on they are
            # this window's
            self._lost_start = stats_snapshot(self.env.stats)["lost"]
        if self._phase == "measure":
            if now - self._phase_t >= self.step_seconds:
                snap1 = stats_snapshot(self.env.stats)
                cpu1 = (self.server.cpu_seconds(), self.loadgen.cpu_seconds(), time.time())
                book = getattr(self.env, "_sio_delivery_book", None)  # local runs only
                self._window = {
                    "snap": diff_snapshots(self._snap0, snap1),
                    "cpu0": self._cpu0,
                    "cpu1": cpu1,
                    "users_running": self.runner.user_count,
                    "connected": book.connected if book is not None else None,
                }
                self._phase, self._phase_t = "grace", now
        elif self._phase == "grace":
            if (
                now - self._phase_t >= self.grace + DeliveryBook.EPOCH + 0.5
                and self._lost_start is not None
            ):
                self._close_step(users)
                if self.finished:
                    return None
                self._step += 1
                self._phase, self._phase_t = "spawn", now
        return self.users(), self.rate

    def _close_step(self, users: int) -> None:
        assert self._window is not None and self._snap0 is not None
        # deliveries lost in the window are reported `grace` seconds after their send
        late = stats_snapshot(self.env.stats)
        w = self._window["snap"]
        lost = late["lost"] - (self._lost_start or 0)
        result = evaluate_slo(
            w["hist"],
            w["received"],
            lost,
            w["misdelivered"],
            w["duplicates"],
            self.slo_p99,
            self.slo_delivered,
        )
        (s0, l0, t0), (s1, l1, t1) = self._window["cpu0"], self._window["cpu1"]
        secs = max(1e-6, t1 - t0)
        step = {
            "step": self._step,
            "users": users,
            "users_running": self._window["users_running"],
            "connected": self._window["connected"],
            "seconds": round(w["seconds"], 2),
            "sends_per_s": round(w["sends"] / w["seconds"], 1),
            "deliveries_per_s": round(w["received"] / w["seconds"], 1),
            "received": w["received"],
            "lost": lost,
            "misdelivered": w["misdelivered"],
            "duplicates": w["duplicates"],
            "delivered_ratio": result.delivered_ratio,
            "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms,
            "server_cpu_pct": round(100 * (s1 - s0) / secs, 1) if self.server.procs else None,
            "server_rss_mb": round(self.server.rss_mb(), 1) if self.server.procs else None,
            "loadgen_cpu_pct": round(100 * (l1 - l0) / secs, 1),
            "loadgen_rss_mb": round(self.loadgen.rss_mb(), 1),
            "loadavg_1m": round(os.getloadavg()[0], 2),  # a busy machine skews the figures
            "other_failures": w["other_failures"],
            "held": result.ok and w["received"] > 0 and not w["other_failures"],
            "problems": (result.problems if w["received"] else ["nothing was received"])
            + (
                [f"{w['other_failures']} failed connects/calls/emits"]
                if w["other_failures"]
                else []
            ),
        }
        self.steps.append(step)
        if step["loadgen_cpu_pct"] > LOADGEN_CPU_WARN:
            msg = (
                f"step {self._step} ({users} users): load generator at "
                f"{step['loadgen_cpu_pct']}% CPU; these figures are the load generator's, "
                "not the server's"
            )
            self.warnings.append(msg)
            logger.warning(msg)
        logger.info("capacity step %s: %s", self._step, json.dumps(step))
        if not step["held"] or users >= self.max_users:
            self.finished = True
            self.write()

    # output -------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        import importlib.metadata as md

        held = [s for s in self.steps if s["held"]]
        broke = next((s for s in self.steps if not s["held"]), None)
        return {
            "label": str(option(self.env, "capacity_label", "")),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._started_at)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "scenario": sorted(u.__name__ for u in self.runner.user_classes),
            "versions": {
                "locust": md.version("locust"),
                "python_socketio_client": md.version("python-socketio"),
                "server": {
                    k: v for k, v in self.server_info.items() if k not in ("urls", "ports", "pids")
                },
            },
            "server": {
                k: self.server_info.get(k) for k in ("urls", "pids", "nodes", "message_queue")
            },
            "machine": {
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "loadavg_end": list(os.getloadavg()),
                "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
            },
            "slo": {"p99_ms": self.slo_p99, "delivered": self.slo_delivered},
            "step": {
                "users": self.inc,
                "start": self.start_users,
                "seconds": self.step_seconds,
                "settle": self.settle,
                "spawn_rate": self.rate,
                "max_users": self.max_users,
            },
            "held_users": held[-1]["users"] if held else 0,
            "held_step": held[-1] if held else None,
            "breaking_step": broke,
            "steps": self.steps,
            "warnings": self.warnings,
        }

    def write(self) -> None:
        if self.written or not self._setup_done:
            return
        self.written = True
        os.makedirs(self.out, exist_ok=True)
        summary = self.summary()
        with open(os.path.join(self.out, "summary.json"), "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
        if self.steps:
            with open(os.path.join(self.out, "steps.csv"), "w", newline="", encoding="utf-8") as fh:
                fields = [k for k in self.steps[0] if k != "problems"] + ["problems"]
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                for s in self.steps:
                    writer.writerow({**s, "problems": "; ".join(s["problems"])})
            try:
                _plot(self.steps, summary, os.path.join(self.out, "plot.png"))
            except Exception:  # noqa: BLE001 - the figures matter more than the picture
                logger.exception("plot failed")
        self.env.process_exit_code = 0 if summary["held_users"] else 1
        logger.info(
            "capacity: %s users held the SLO (p99 < %g ms, delivered >= %g); results in %s",
            summary["held_users"],
            self.slo_p99,
            self.slo_delivered,
            self.out,
        )


def _plot(steps: list[dict[str, Any]], summary: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = [s["users"] for s in steps]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    ax1.plot(users, [s["p50_ms"] or 0 for s in steps], "o-", label="p50")
    ax1.plot(users, [s["p99_ms"] or 0 for s in steps], "o-", label="p99")
    ax1.axhline(summary["slo"]["p99_ms"], color="red", linestyle="--", label="SLO p99")
    ax1.set_ylabel("receive latency (ms)")
    ax1.legend()
    nodes = summary["server"].get("nodes") or 1
    ax1.set_title(
        f"{summary['label'] or ', '.join(summary['scenario'])}: "
        f"{summary['held_users']} users held (Flask-SocketIO "
        f"{summary['versions']['server'].get('flask_socketio', '?')}, {nodes} node(s))"
    )
    ax2.plot(users, [s["deliveries_per_s"] for s in steps], "o-", label="deliveries/s")
    ax2.plot(users, [s["sends_per_s"] for s in steps], "o-", label="sends/s")
    ax2.set_ylabel("messages per second")
    ax2.legend()
    ax3.plot(users, [s["server_cpu_pct"] or 0 for s in steps], "o-", label="server CPU %")
    ax3.plot(users, [s["loadgen_cpu_pct"] for s in steps], "o-", label="Locust CPU %")
    ax3.axhline(LOADGEN_CPU_WARN, color="grey", linestyle=":")
    ax3.set_xlabel("users")
    ax3.set_ylabel("% of one core")
    ax3.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@events.quitting.add_listener
def _write_on_quit(environment: Any, **_kw: Any) -> None:
    shape = environment.shape_class
    if isinstance(shape, StepLoadShape) and not shape.written:
        shape.write()

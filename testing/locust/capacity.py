"""The capacity run: step the number of users up until the receive SLO breaks.

Put the shape in a locustfile (importing it is enough: Locust uses any shape class it finds)::

    from flask_socketio_testing.locust import CapacityShape  # noqa: F401

then ``locust -f scenario.py,capacity.py --headless --sio-server-file server.json
--step-users 100 --step-seconds 30 --step-max-users 2000``.

Each step holds ``users`` for ``--step-seconds``: once the users are spawned and
``--step-settle`` seconds passed, receive latency, deliveries and CPU are measured until the step
ends; the step then runs ``--delivery-grace`` seconds more so that lost deliveries of messages
sent in the window are counted in it. A step holds when p99 receive latency < ``--slo-p99-ms``,
delivered / expected >= ``--slo-delivered``, nothing was misdelivered or duplicated and no
connect, call or send failed. The run stops at the first step that breaks (or at
``--step-max-users``), logs one line per step with its verdict and writes the report
(:mod:`.report`) to ``--capacity-out``. It exits 1 when no step held.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask_socketio_testing.locust.book import DeliveryBook
from flask_socketio_testing.locust.options import add_option, option, read_server_file
from flask_socketio_testing.locust.report import (
    LOADGEN_CPU_WARN,
    ProcessSampler,
    step_line,
    write_report,
)
from flask_socketio_testing.locust.slo import diff_snapshots, evaluate_slo, stats_snapshot
from locust import LoadTestShape, events
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, Runner

__all__ = ["CapacityShape"]

logger = logging.getLogger("flask_socketio_testing.locust.capacity")

#: a step whose users never all start is measured anyway after this long
SPAWN_TIMEOUT = 600.0


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("capacity run (flask_socketio_testing.locust.CapacityShape)")
    add_option(group, "--step-users", type=int, default=100, help="users added per step")
    add_option(
        group,
        "--step-start",
        type=int,
        default=0,
        help="users of the first step (default: --step-users)",
    )
    add_option(
        group,
        "--step-seconds",
        type=float,
        default=30.0,
        help="length of a step's measurement (default 30)",
    )
    add_option(
        group,
        "--step-settle",
        type=float,
        default=5.0,
        help="seconds after spawning before measuring (default 5)",
    )
    add_option(
        group,
        "--step-spawn-rate",
        type=float,
        default=50.0,
        help="users started per second (default 50)",
    )
    add_option(
        group,
        "--step-max-users",
        type=int,
        default=3000,
        help="stop after the step with this many users (default 3000)",
    )
    add_option(
        group,
        "--capacity-out",
        default="",
        help="output folder (default load/results/capacity-<time>)",
    )
    add_option(group, "--capacity-label", default="", help="a label stored in the summary")


class CapacityShape(LoadTestShape):
    """Steps users up until the receive-latency / delivery SLO breaks (see the module doc)."""

    #: tells the end-of-run check that this shape reports and sets the exit code itself
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
        self._snap0: dict[str, Any] = {}
        self._cpu0: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._window: dict[str, Any] | None = None
        self._measure_t = 0.0
        self._lost_start: int | None = None
        self.started_at = time.time()
        self._setup_done = False

    @property
    def active_runner(self) -> Runner:
        """The runner driving this shape (Locust sets it before the first tick)."""
        if self.runner is None:
            raise RuntimeError("CapacityShape used outside a Locust run")
        return self.runner

    # configuration ------------------------------------------------------------------------
    def _setup(self) -> None:
        env = self.active_runner.environment
        self.env = env
        self.inc = max(1, int(option(env, "step_users", 100)))
        self.start_users = int(option(env, "step_start", 0)) or self.inc
        self.step_seconds = float(option(env, "step_seconds", 30.0))
        self.settle = float(option(env, "step_settle", 5.0))
        self.rate = float(option(env, "step_spawn_rate", 50.0))
        self.max_users = int(option(env, "step_max_users", 3000))
        self.grace = float(option(env, "delivery_grace", 5.0))
        if isinstance(self.active_runner, MasterRunner):
            # workers' failures reach the master with their next stats report
            self.grace += WORKER_REPORT_INTERVAL + 0.5
        self.slo_p99 = float(option(env, "slo_p99_ms", 250.0))
        self.slo_delivered = float(option(env, "slo_delivered", 0.999))
        self.out = str(option(env, "capacity_out", "")) or os.path.join(
            "load", "results", time.strftime("capacity-%Y%m%d-%H%M%S")
        )
        server_file = str(option(env, "sio_server_file", ""))
        self.server_info: dict[str, Any] = read_server_file(server_file) if server_file else {}
        self.server = ProcessSampler([int(p) for p in self.server_info.get("pids", [])])
        if not self.server.procs:
            self.warnings.append("server pids unknown (pass --sio-server-file): no server CPU")
        self.loadgen = ProcessSampler.this_process_tree()
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
            if self.active_runner.user_count >= users or now - self._phase_t > SPAWN_TIMEOUT:
                self._phase, self._phase_t = "settle", now
        elif self._phase == "settle":
            if now - self._phase_t >= self.settle:
                self._snap0 = stats_snapshot(self.env.stats)
                self._cpu0 = self._cpu()
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
                book = getattr(self.env, "_sio_delivery_book", None)  # local runs only
                self._window = {
                    "snap": diff_snapshots(self._snap0, stats_snapshot(self.env.stats)),
                    "cpu0": self._cpu0,
                    "cpu1": self._cpu(),
                    "users_running": self.active_runner.user_count,
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

    def _cpu(self) -> tuple[float, float, float]:
        return (self.server.cpu_seconds(), self.loadgen.cpu_seconds(), time.time())

    def _close_step(self, users: int) -> None:
        assert self._window is not None
        # deliveries lost in the window are reported `grace` seconds after their send
        lost = stats_snapshot(self.env.stats)["lost"] - (self._lost_start or 0)
        w = self._window["snap"]
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
        problems = result.problems if w["received"] else ["nothing was received"]
        if w["other_failures"]:
            problems = problems + [f"{w['other_failures']} failed connects/calls/sends"]
        seconds = max(1e-6, w["seconds"])
        step = {
            "step": self._step,
            "users": users,
            "users_running": self._window["users_running"],
            "connected": self._window["connected"],
            "seconds": round(w["seconds"], 2),
            "sends_per_s": round(w["sends"] / seconds, 1),
            "deliveries_per_s": round(w["received"] / seconds, 1),
            "received": w["received"],
            "expected": w["received"] + lost,
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
            "held": not problems,
            "problems": problems,
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
        logger.info("%s", step_line(step))
        if not step["held"] or users >= self.max_users:
            self.finished = True
            self.write()

    # output -------------------------------------------------------------------------------
    def write(self) -> None:
        """Write the report once and set the process exit code (1 when no step held)."""
        if self.written or not self._setup_done:
            return
        self.written = True
        summary = write_report(self, self.out)
        self.env.process_exit_code = 0 if summary["held_users"] else 1
        logger.info(
            "capacity: %s users held the SLO (p99 < %g ms, delivered >= %g); results in %s",
            summary["held_users"],
            self.slo_p99,
            self.slo_delivered,
            self.out,
        )


@events.quitting.add_listener
def _write_on_quit(environment: Any, **_kw: Any) -> None:
    shape = environment.shape_class
    if isinstance(shape, CapacityShape) and not shape.written:
        shape.write()

"""The served Socket.IO server under load: this project, upstream Flask-SocketIO and Node socket.io.

Every server runs the same app (``join`` acks, ``bcast`` emits to a room, ``echo`` returns its
data) on a free loopback port, in its own process, and one Node socket.io-client 4.8 load
generator (``loadgen/loadgen.js``, WebSocket transport) drives each in turn. Servers alternate
within every round (the order rotates), and the table shows the median of the rounds and the
ratios to upstream and to Node. socket.io-client spends more CPU per connect than the servers,
so connects are also driven by a minimal client (``loadgen/handshake.js``), 30 at a time,
which keeps the server busy (its connect capacity); for the same reason the broadcast's 200
clients receive in two Node processes (one process is one core). Memory is the server
process's RSS growth over 1,000 idle clients, divided by 1,000. The server's CPU time per
operation (from ``/proc``) is printed too: rates swing with whatever else the machine runs,
CPU time per operation much less. The load generator's CPU per connect is printed as well: where
the connect rate times it is one core, the client is saturated and the rate is the client's.

    python tests/benchmarks/bench_server.py [--rounds 3] [--servers project-gevent,upstream-gevent]

``UPSTREAM_PYTHON`` names upstream's interpreter (default ``.venv-upstream/bin/python``, which
``make bench`` builds); ``npm ci`` in ``loadgen/`` installs the Node side. ``PROJECT_PYTHONPATH``
puts another checkout of this project first on the project servers' path (before/after runs).
The same file is the Python server (``--serve``), so upstream runs this app under its own
installation.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOADGEN = HERE / "loadgen"

#: (name, help) of each server variant, in table order.
SERVERS = {
    "project-gevent": "this project, gevent (pywsgi)",
    "upstream-gevent": "upstream 5.6.1, gevent (pywsgi + gevent-websocket)",
    "node": "Node socket.io 4.8",
    "project-gevent-ordered": "this project, gevent, ordered_events=True",
    "project-threading": "this project, threading (Werkzeug)",
    "upstream-threading": "upstream 5.6.1, threading (Werkzeug)",
}

#: (name, loadgen workload, loadgen arguments, result key, unit, higher is better)
WORKLOADS = [
    ("acked echo/s, 50 clients", "echo", ["clients=50", "count=200"], "rate", "/s", True),
    (
        "broadcast deliveries/s, 1 room of 200, 1,000 msgs, 2 receiving processes",
        "broadcast",
        ["clients=200", "count=1000", "workers=2"],
        "rate",
        "/s",
        True,
    ),
    (
        "room deliveries/s, 50 rooms of 10, 100 msgs each",
        "rooms",
        ["rooms=50", "size=10", "count=100"],
        "rate",
        "/s",
        True,
    ),
    ("connects/s (10 at a time)", "connects", ["count=1000", "concurrency=10"], "rate", "/s", True),
    (
        "connects/s, minimal client (30 at a time)",
        "handshakes",
        ["count=3000", "concurrency=30"],
        "rate",
        "/s",
        True,
    ),
    ("ack latency p50 (ms), 1 client", "latency", ["pairs=300"], "p50", "ms", False),
    ("ack latency p99 (ms), 1 client", "latency", ["pairs=300"], "p99", "ms", False),
]
IDLE_ROW = "memory per idle connection (KiB), 1,000 clients"
ORDER_ROW = "broadcasts out of order (of 200,000 + 50,000)"
#: workload -> row of the server process's CPU time (user + system) per operation of that
#: workload, connecting its clients included; steadier than rates on a shared machine
CPU_ROWS = {
    "echo": "server CPU per acked echo (µs)",
    "broadcast": "server CPU per broadcast delivery (µs)",
    "rooms": "server CPU per room delivery (µs)",
    "connects": "server CPU per connect + disconnect (µs)",
    "handshakes": "server CPU per connect, minimal client (µs)",
}
#: workload -> row of the load generator's own CPU time per connect (its Node process)
CLIENT_CPU_ROWS = {
    "connects": "load generator CPU per connect, socket.io-client (µs)",
    "handshakes": "load generator CPU per connect, minimal client (µs)",
}
#: workload -> row of the load generator's CPU seconds per second of the run: near 1.0 means
#: its one Node process was saturated, so the rate is the client's, whatever the server
CLIENT_BUSY_ROWS = {
    "connects": "load generator cores busy, socket.io-client connects",
    "handshakes": "load generator cores busy, minimal client connects",
}


# -- the Python server (run as a subprocess, under this project or upstream) ---------------------


def serve(mode: str, ordered: bool, profile: str | None = None) -> None:
    """Serve the benchmark app on a free port; prints ``{"port": N}`` once listening.

    With ``profile``, the process runs under cProfile and writes its stats there on SIGTERM.
    """
    if mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
    if profile:
        import cProfile
        import signal

        profiler = cProfile.Profile()

        def dump(*_: object) -> None:
            profiler.disable()
            profiler.dump_stats(profile)
            os._exit(0)

        signal.signal(signal.SIGTERM, dump)
    _import_checkout(os.environ.get("PROJECT_CHECKOUT"))
    from flask import Flask

    from flask_socketio import SocketIO, emit, join_room

    if profile:
        profiler.enable()  # after the imports: the profile is of serving

    app = Flask("bench")
    app.config["SECRET_KEY"] = "bench"
    options = {"ordered_events": True} if ordered else {}
    socketio = SocketIO(app, async_mode=mode, **options)

    @socketio.on("join")
    def join(room):
        join_room(room)
        return room

    @socketio.on("bcast")
    def bcast(data):
        emit("bcast", data, to=data["room"])

    @socketio.on("echo")
    def echo(data):
        return data

    try:
        from flask_socketio.serving import make_server
    except ImportError:  # upstream: its own run(), on a port chosen here
        port = _free_port()
        print(json.dumps({"port": port}), flush=True)
        socketio.run(app, "127.0.0.1", port, allow_unsafe_werkzeug=True, log_output=False)
        return
    handle = make_server(app, socketio, "127.0.0.1", 0)
    print(json.dumps({"port": handle.port}), flush=True)
    handle.serve_forever()


def _import_checkout(folder: str | None) -> None:
    """Import ``flask_socketio`` from ``folder`` (a checkout) instead of the installed one.

    An editable install's import hook takes precedence over ``PYTHONPATH``, so the package is
    loaded from the folder explicitly; its submodules then come from the same folder.
    """
    if not folder:
        return
    import importlib.machinery
    import importlib.util

    spec = importlib.machinery.PathFinder.find_spec("flask_socketio", [folder])
    if spec is None or spec.loader is None:
        raise RuntimeError(f"no flask_socketio package in {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["flask_socketio"] = module
    spec.loader.exec_module(module)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the harness ------------------------------------------------------------------------------


class Server:
    """One server variant in its own process, on a free loopback port."""

    def __init__(self, name: str, upstream_python: str) -> None:
        if name == "node":
            command = ["node", str(LOADGEN / "server.js")]
        else:
            python = upstream_python if name.startswith("upstream") else sys.executable
            mode = "threading" if name.endswith("threading") else "gevent"
            command = [python, str(Path(__file__)), "--serve", mode]
            if name.endswith("ordered"):
                command.append("--ordered")
        env = dict(os.environ)
        if name.startswith("project") and os.environ.get("PROJECT_PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PROJECT_PYTHONPATH"]
            env["PROJECT_CHECKOUT"] = os.environ["PROJECT_PYTHONPATH"].split(os.pathsep)[0]
        self.name = name
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=HERE, env=env
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        if not ready:
            self.stop()
            raise RuntimeError(f"{name}: server did not start within 30 s")
        self.port = json.loads(self.process.stdout.readline())["port"]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"
        time.sleep(0.3)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def loadgen(workload: str, url: str, args: list[str], timeout: float = 120) -> dict:
    """Run one workload of the Node load generator and return its JSON result (the connects
    include ``cpu_seconds``, the generator's own CPU over them, its start-up left out)."""
    result = subprocess.run(
        ["node", str(LOADGEN / "loadgen.js"), workload, url, *args, f"timeout={timeout:.0f}"],
        capture_output=True,
        text=True,
        timeout=timeout + 30,
    )
    if result.returncode != 0:
        raise RuntimeError(f"loadgen {workload} failed: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def idle_memory(server: Server, clients: int = 1000) -> float:
    """KiB of server RSS per idle WebSocket connection."""
    loadgen("connects", server.url, ["count=20", "concurrency=5"])  # warm imports and caches
    time.sleep(0.5)
    before = server.rss_kib()
    proc = subprocess.Popen(
        ["node", str(LOADGEN / "loadgen.js"), "idle", server.url, f"clients={clients}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line or json.loads(line).get("ready") != clients:
            raise RuntimeError(f"idle clients did not connect: {proc.stderr.read()[-300:]}")  # type: ignore[union-attr]
        time.sleep(1.0)
        after = server.rss_kib()
        proc.stdin.write("close\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(1.0)  # let the server notice the closes before the next workload
    return (after - before) / clients


def measure(server: Server) -> dict[str, float | None]:
    """Every workload once against ``server``; a workload that fails is recorded as None.

    Idle memory comes last: a threading server takes many seconds to settle after 1,000
    clients leave, which would slow whatever ran next.
    """
    results: dict[str, float | None] = {}
    out_of_order = 0
    latency: dict | None = None
    for row, workload, args, key, _unit, _higher in WORKLOADS:
        if workload == "latency" and latency is not None:
            results[row] = latency[key]
            continue
        cpu_before = server.cpu_seconds()
        try:
            outcome = loadgen(workload, server.url, args)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"  {server.name}: {workload} failed: {exc}", file=sys.stderr, flush=True)
            results[row] = None
            continue
        if workload in CPU_ROWS:
            operations = outcome["rate"] * outcome["seconds"]
            cpu = server.cpu_seconds() - cpu_before
            results[CPU_ROWS[workload]] = cpu / operations * 1e6 if operations else None
            if workload in CLIENT_CPU_ROWS and operations:
                results[CLIENT_CPU_ROWS[workload]] = outcome["cpu_seconds"] / operations * 1e6
                results[CLIENT_BUSY_ROWS[workload]] = outcome["cpu_seconds"] / outcome["seconds"]
        if workload == "latency":
            latency = outcome
        out_of_order += int(outcome.get("out_of_order", 0))
        results[row] = outcome[key]
    results[ORDER_ROW] = out_of_order
    try:
        results[IDLE_ROW] = idle_memory(server)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"  {server.name}: idle failed: {exc}", file=sys.stderr, flush=True)
        results[IDLE_ROW] = None
    return results


def run(names: list[str], rounds: int, upstream_python: str) -> dict[str, list[dict]]:
    samples: dict[str, list[dict]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            server = Server(name, upstream_python)
            try:
                samples[name].append(measure(server))
            finally:
                server.stop()
            elapsed = time.perf_counter() - started
            print(f"round {round_number + 1}/{rounds}: {name} done in {elapsed:.0f} s", flush=True)
    return samples


def table(samples: dict[str, list[dict]]) -> str:
    """A Markdown table: medians per server, then ratios to upstream and to Node."""
    rows = [w[0] for w in WORKLOADS]
    rows += [IDLE_ROW, ORDER_ROW, *CPU_ROWS.values(), *CLIENT_CPU_ROWS.values()]
    rows += CLIENT_BUSY_ROWS.values()
    unranked = {ORDER_ROW, *CLIENT_BUSY_ROWS.values()}  # no "better" side: no ratio
    lower_better = {w[0] for w in WORKLOADS if not w[5]} | {IDLE_ROW, ORDER_ROW}
    lower_better |= set(CPU_ROWS.values()) | set(CLIENT_CPU_ROWS.values())
    names = list(samples)
    medians = {
        name: {row: _median([s.get(row) for s in runs]) for row in rows}
        for name, runs in samples.items()
        if runs
    }
    ratios = []
    if "project-gevent" in medians and "upstream-gevent" in medians:
        ratios.append(("gevent vs upstream", "project-gevent", "upstream-gevent"))
    if "project-gevent" in medians and "node" in medians:
        ratios.append(("gevent vs Node", "project-gevent", "node"))
    if "project-threading" in medians and "upstream-threading" in medians:
        ratios.append(("threading vs upstream", "project-threading", "upstream-threading"))
    header = ["workload", *names, *(label for label, _, _ in ratios)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row]
        for name in names:
            cells.append(_format(medians[name][row]) if name in medians else "-")
        for _label, ours, theirs in ratios:
            a, b = medians[ours][row], medians[theirs][row]
            if a is None or b is None:
                cells.append("-")
            elif row in unranked:
                cells.append("")
            elif row in lower_better:  # a ratio above 1 always means "this project is better"
                cells.append(f"{b / a:.2f}x" if a else "-")
            else:
                cells.append(f"{a / b:.2f}x" if b else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _median(values: list) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _format(value: float | None) -> str:
    if value is None:
        return "failed"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated names")
    parser.add_argument("--json", help="also write the raw samples to this file")
    parser.add_argument("--serve", choices=["gevent", "threading"], help=argparse.SUPPRESS)
    parser.add_argument("--ordered", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.ordered, args.profile)
        return
    upstream_python = os.environ.get("UPSTREAM_PYTHON", str(ROOT / ".venv-upstream/bin/python"))
    upstream_python = os.path.abspath(upstream_python)
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        parser.error(f"unknown servers {unknown}; choose from {', '.join(SERVERS)}")
    if any(n.startswith("upstream") for n in names) and not Path(upstream_python).exists():
        parser.error(f"no upstream interpreter at {upstream_python} (make bench builds it)")
    if not (LOADGEN / "node_modules").is_dir():
        parser.error(f"run `npm ci` in {LOADGEN} first (make bench does)")
    started = time.perf_counter()
    samples = run(names, args.rounds, upstream_python)
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=1))
    print()
    print(
        f"Served Socket.IO, {args.rounds} rounds, medians ({time.perf_counter() - started:.0f} s)"
    )
    for name in names:
        print(f"  {name}: {SERVERS[name]}")
    print()
    print(table(samples))


if __name__ == "__main__":
    main()

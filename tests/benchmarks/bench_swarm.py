"""Swarm benchmark: light websocket swarms against the project's gevent server, beside Node.

For each swarm size (default 1,000 / 3,000 / 10,000; the largest across worker processes) and each
round, a fresh gevent server subprocess serves ``tests/sim_app.py`` and two receivers take turns on
the same workload (``--broadcasts`` server emits to every client, sent back to back):

- ``python``: a :class:`~flask_socketio_testing.Swarm` (light engine), verified by one
  :class:`~flask_socketio_testing.DeliveryLedger` (exactly once, every client);
- ``node``: ``tests/benchmarks/swarm_loadgen/receiver.js`` (socket.io-client 4.8, websocket),
  which counts the same stamped deliveries itself.

Measured per run: connect time; client-side memory per client (RSS growth of the receiving
processes after connecting, divided by the clients); delivery rate (deliveries divided by the time
from the first emit to the last arrival); receiver-side latency p50/p99 (the ledger's, Node's own).
The order of the two alternates between rounds; the table shows medians and the python/node rate
ratio. The last line is JSON.

    .venv/bin/python tests/benchmarks/bench_swarm.py                       # 1k, 3k, 10k; 1 round
    .venv/bin/python tests/benchmarks/bench_swarm.py --sizes 3000 --rounds 3
    .venv/bin/python tests/benchmarks/bench_swarm.py --sizes 10000 --processes 4

Needs ``npm ci`` in tests/benchmarks/swarm_loadgen (done on first use) and about 3 file
descriptors per client: the soft ``ulimit -n`` is raised to the hard limit for this process and
the servers, receivers and workers it starts.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import psutil
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOADGEN = os.path.join(ROOT, "tests", "benchmarks", "swarm_loadgen")
sys.path.insert(0, ROOT)

from flask_socketio_testing.ledger import DeliveryLedger  # noqa: E402
from flask_socketio_testing.swarm import Swarm  # noqa: E402
from pytest_flask_socketio.live_server import ProcessLiveServer  # noqa: E402


def raise_fd_limit(needed: int) -> int:
    """Raise the soft open-files limit (inherited by children) up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < needed:
        print(f"warning: open-files limit {want} < {needed} needed; raise `ulimit -Hn`")
    return want


def ensure_loadgen() -> None:
    if not os.path.isdir(os.path.join(LOADGEN, "node_modules", "socket.io-client")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LOADGEN, check=True)


def rss_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def start_server() -> ProcessLiveServer:
    server = ProcessLiveServer(
        "tests.sim_app:create_gevent_app()", "gevent", cwd=ROOT, startup_timeout=60
    )
    server.start()
    with requests.Session() as http:  # warm up the server's routes
        http.get(server.url + "/stats", timeout=10).raise_for_status()
    return server


def emit_all(url: str, payloads: list[dict]) -> float:
    """POST every payload to the server's /emit route, back to back; returns the first send time."""
    with requests.Session() as http:
        first = time.time()
        for payload in payloads:
            body = {"event": "news", "payload": payload}
            http.post(url + "/emit", json=body, timeout=120).raise_for_status()
    return first


def server_cpu(pid: int) -> float:
    return sum(psutil.Process(pid).cpu_times()[:2])


def run_python(
    url: str, size: int, broadcasts: int, processes: int, args: Any, server_pid: int
) -> dict:
    gc.collect()
    me = os.getpid()
    rss0 = rss_of([me])
    options = {"processes": processes} if processes > 1 else {}
    t0 = time.perf_counter()
    with Swarm(
        url,
        size,
        concurrency=args.concurrency,
        connect_timeout=60,
        reconnection=False,
        inbox=0,
        **options,
    ) as swarm:
        stats = swarm.connect(timeout=600)
        built = time.perf_counter() - t0
        time.sleep(1.0)
        gc.collect()
        pids = [me, *getattr(swarm, "worker_pids", [])]
        worker_rss0 = args.worker_baseline * (len(pids) - 1)
        rss1 = rss_of(pids)
        cpu0 = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)
        server_cpu0 = server_cpu(server_pid)
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        payloads = [ledger.stamp({"n": n}, recipients=swarm.clients) for n in range(broadcasts)]
        first = emit_all(url, payloads)
        report = ledger.verify(timeout=300, settle=0.5)
        cpu = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids) - cpu0
        server_cpu1 = server_cpu(server_pid)
        last = ledger.last_arrival() or time.time()
    return {
        "receiver": "python",
        "size": size,
        "processes": processes,
        "connected": stats.connected,
        "connect_s": round(stats.total, 2),
        "setup_s": round(built, 2),
        "kib_per_client": round((rss1 - rss0 - worker_rss0) / max(1, stats.connected) / 1024, 1),
        "deliveries": report.delivered,
        "expected": report.expected,
        "ok": report.ok and stats.ok,
        "problems": None if report.ok else report.as_dict()["examples"],
        "rate": round(report.delivered / max(1e-9, last - first)),
        "p50_ms": round((report.p50 or 0) * 1000, 1),
        "p99_ms": round((report.p99 or 0) * 1000, 1),
        "client_cpu_s": round(cpu, 2),
        "server_cpu_s": round(server_cpu1 - server_cpu0, 2),
    }


def run_node(url: str, size: int, broadcasts: int, args: Any, server_pid: int) -> dict:
    expect = size * broadcasts
    command = [
        "node",
        os.path.join(LOADGEN, "receiver.js"),
        "--url",
        url,
        "--clients",
        str(size),
        "--expect",
        str(expect),
        "--concurrency",
        str(args.concurrency),
        "--timeout",
        "300",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready_line = proc.stdout.readline()
        if not ready_line.startswith("READY "):
            raise RuntimeError(f"node receiver failed: {ready_line!r}")
        ready = json.loads(ready_line.split(" ", 1)[1])
        node_cpu0 = sum(psutil.Process(proc.pid).cpu_times()[:2])
        server_cpu0 = server_cpu(server_pid)
        ledger = DeliveryLedger()  # only stamps the payloads: Node counts the deliveries
        payloads = [ledger.stamp({"n": n}, recipients=[]) for n in range(broadcasts)]
        first = emit_all(url, payloads)
        done_line = proc.stdout.readline()
        node_cpu = sum(psutil.Process(proc.pid).cpu_times()[:2]) - node_cpu0
        server_cpu1 = server_cpu(server_pid)
        done = json.loads(done_line.split(" ", 1)[1])
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    last = (done["last"] or 0) / 1000
    return {
        "receiver": "node",
        "size": size,
        "processes": 1,
        "connected": ready["connected"],
        "connect_s": ready["connect_s"],
        "kib_per_client": round(ready["rss"] / max(1, ready["connected"]) / 1024, 1),
        "deliveries": done["deliveries"],
        "expected": expect,
        "ok": done["deliveries"] == expect and not done["duplicates"],
        "rate": round(done["deliveries"] / max(1e-9, last - first)) if done["last"] else 0,
        "p50_ms": round(done["p50_ms"] or 0, 1),
        "p99_ms": round(done["p99_ms"] or 0, 1),
        "client_cpu_s": round(node_cpu, 2),
        "server_cpu_s": round(server_cpu1 - server_cpu0, 2),
    }


def one_run(kind: str, size: int, processes: int, args: Any) -> dict:
    server = start_server()
    assert server.proc is not None
    pid = server.proc.pid
    try:
        if kind == "python":
            result = run_python(server.url, size, args.broadcasts, processes, args, pid)
        else:
            result = run_node(server.url, size, args.broadcasts, args, pid)
    finally:
        server.stop()
        server.close()
    result["load1"] = round(os.getloadavg()[0], 1)
    print("  " + json.dumps(result), flush=True)
    return result


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--broadcasts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--processes", type=int, default=4, help="worker processes for sizes over --split"
    )
    parser.add_argument("--split", type=int, default=3000, help="largest size in one process")
    parser.add_argument("--no-node", action="store_true", help="skip the Node receiver")
    parser.add_argument(
        "--worker-baseline",
        type=int,
        default=0,
        help="bytes of RSS a worker process has before any client (subtracted per worker)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    raise_fd_limit(max(sizes) * 3 + 1000)
    if not args.no_node:
        ensure_loadgen()
    results: list[dict] = []
    for size in sizes:
        processes = args.processes if size > args.split else 1
        kinds = ["python"] if args.no_node else ["python", "node"]
        for r in range(args.rounds):
            print(f"size {size}, round {r + 1}", flush=True)
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                results.append(one_run(kind, size, processes, args))
    print()
    header = (
        f"{'clients':>8} {'receiver':<12} {'connect s':>9} {'KiB/client':>10} "
        f"{'delivered':>11} {'rate/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'rate vs node':>12}"
    )
    print(header)
    summary = []
    for size in sizes:
        node_rows = [r for r in results if r["size"] == size and r["receiver"] == "node"]
        for kind in ("python", "node"):
            rows = [r for r in results if r["size"] == size and r["receiver"] == kind]
            if not rows:
                continue
            ratio = ""
            if kind == "python" and node_rows:
                ratio = f"{median(rows, 'rate') / max(1, median(node_rows, 'rate')):.2f}"
            label = kind if kind == "node" else f"python x{rows[0]['processes']}"
            delivered = f"{min(r['deliveries'] for r in rows)}/{rows[0]['expected']}"
            print(
                f"{size:>8} {label:<12} {median(rows, 'connect_s'):>9.1f} "
                f"{median(rows, 'kib_per_client'):>10.1f} {delivered:>11} "
                f"{median(rows, 'rate'):>8.0f} {median(rows, 'p50_ms'):>8.0f} "
                f"{median(rows, 'p99_ms'):>8.0f} {ratio:>12}"
            )
            summary.append(
                {
                    "size": size,
                    "receiver": kind,
                    "rounds": len(rows),
                    "all_ok": all(r["ok"] for r in rows),
                    **{
                        k: median(rows, k)
                        for k in ("connect_s", "kib_per_client", "rate", "p50_ms", "p99_ms")
                    },
                    "rate_vs_node": float(ratio) if ratio else None,
                }
            )
    print("JSON " + json.dumps({"summary": summary, "runs": results}))
    if not all(r["ok"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

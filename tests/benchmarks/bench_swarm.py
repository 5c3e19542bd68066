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
ratio. The last line is JSON. The Python receiver runs in a process of its own and freezes the
garbage collector's view of the connected swarm (``gc.freeze()``): without it, one full collection
walking 3,000 clients' objects stalls the event loop for a few hundred ms.

    .venv/bin/python tests/benchmarks/bench_swarm.py                       # 1k, 3k, 10k; 1 round
    .venv/bin/python tests/benchmarks/bench_swarm.py --sizes 3000 --rounds 3
    .venv/bin/python tests/benchmarks/bench_swarm.py --sizes 10000 --processes 4

Needs ``npm ci`` in tests/benchmarks/swarm_loadgen (done on first use) and one file descriptor
per client in each process: the soft ``ulimit -n`` is raised to the hard limit for this process
and the servers, receivers and workers it starts.
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


def python_child(args: Any) -> None:
    """The Python receiver, in a process of its own (a clean memory baseline, its own GIL).

    Prints ``READY`` with the stamped payloads for the parent to emit, reads ``GO <first send
    time>`` from stdin, verifies with the ledger and prints ``DONE``.
    """
    import flask_socketio_testing.light  # noqa: F401 - imported before the memory baseline

    gc.collect()
    rss0 = rss_of([os.getpid()])
    options = {"processes": args.processes} if args.processes > 1 else {}
    with Swarm(
        args.url,
        args.size,
        concurrency=args.concurrency,
        connect_timeout=60,
        reconnection=False,
        inbox=0,
        **options,
    ) as swarm:
        stats = swarm.connect(timeout=900)
        time.sleep(1.0)
        gc.collect()
        gc.freeze()  # the clients live to the end: keep full collections from walking them
        used = rss_of([os.getpid()]) - rss0
        pool = getattr(swarm, "_pool", None)
        if pool is not None:  # workers: their growth since before their clients were built
            used += sum(now - before for before, now in pool.memory())
        pids = [os.getpid(), *swarm.worker_pids]
        ledger = DeliveryLedger()
        ledger.attach(swarm.clients, "news")
        payloads = [
            ledger.stamp({"n": n}, recipients=swarm.clients) for n in range(args.broadcasts)
        ]
        cpu0 = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids)
        ready = {
            "connected": stats.connected,
            "connect_s": stats.total,
            "kib_per_client": used / max(1, stats.connected) / 1024,
            "payloads": payloads,
        }
        print("READY " + json.dumps(ready), flush=True)
        pauses: list[float] = []
        started: list[float] = []

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                started[:] = [time.perf_counter()]
            elif started:
                pauses.append(time.perf_counter() - started[0])

        gc.callbacks.append(on_gc)
        first = float(sys.stdin.readline().split()[1])
        report = ledger.verify(timeout=600, settle=0.5)
        cpu = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in pids) - cpu0
        gc.callbacks.remove(on_gc)
        last = ledger.last_arrival() or time.time()
        done = {
            "gc_s": sum(pauses),
            "gc_max_ms": max(pauses, default=0.0) * 1000,
            "deliveries": report.delivered,
            "ok": report.ok and stats.ok,
            "problems": None if report.ok else str(report),
            "rate": report.delivered / max(1e-9, last - first),
            "p50_ms": (report.p50 or 0) * 1000,
            "p99_ms": (report.p99 or 0) * 1000,
            "client_cpu_s": cpu,
        }
        print("DONE " + json.dumps(done), flush=True)


def read_line(proc: subprocess.Popen, prefix: str) -> dict:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"receiver exited before {prefix} (exit code {proc.wait(10)})")
        if line.startswith(prefix + " "):
            parsed: dict = json.loads(line.split(" ", 1)[1])
            return parsed


def run_python(
    url: str, size: int, broadcasts: int, processes: int, args: Any, server_pid: int
) -> dict:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        "--url",
        url,
        "--size",
        str(size),
        "--processes",
        str(processes),
        "--broadcasts",
        str(broadcasts),
        "--concurrency",
        str(args.concurrency),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    try:
        ready = read_line(proc, "READY")
        server_cpu0 = server_cpu(server_pid)
        first = emit_all(url, ready["payloads"])
        assert proc.stdin is not None
        proc.stdin.write(f"GO {first}\n")
        proc.stdin.flush()
        done = read_line(proc, "DONE")
        server_cpu1 = server_cpu(server_pid)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return {
        "receiver": "python",
        "size": size,
        "processes": processes,
        "connected": ready["connected"],
        "connect_s": round(ready["connect_s"], 2),
        "kib_per_client": round(ready["kib_per_client"], 1),
        "deliveries": done["deliveries"],
        "expected": size * broadcasts,
        "ok": done["ok"],
        "problems": done["problems"],
        "rate": round(done["rate"]),
        "p50_ms": round(done["p50_ms"], 1),
        "p99_ms": round(done["p99_ms"], 1),
        "client_cpu_s": round(done["client_cpu_s"], 2),
        "gc_s": round(done["gc_s"], 2),
        "gc_max_ms": round(done["gc_max_ms"], 1),
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
        ready = read_line(proc, "READY")
        node_cpu0 = sum(psutil.Process(proc.pid).cpu_times()[:2])
        server_cpu0 = server_cpu(server_pid)
        ledger = DeliveryLedger()  # only stamps the payloads: Node counts the deliveries
        payloads = [ledger.stamp({"n": n}, recipients=[]) for n in range(broadcasts)]
        first = emit_all(url, payloads)
        done = read_line(proc, "DONE")
        node_cpu = sum(psutil.Process(proc.pid).cpu_times()[:2]) - node_cpu0
        server_cpu1 = server_cpu(server_pid)
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        python_child(args)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    raise_fd_limit(max(sizes) + 1000)  # per process: the server, the Node receiver
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

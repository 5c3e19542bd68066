"""Swarm benchmark: 500 websocket clients against a gevent live server.

Measures (and prints, as text and one JSON line):
- connect time for the whole swarm, and per-client connect percentiles;
- ledger latency p50/p99 of broadcasts to every client (server emits; receive minus send time);
- memory per connected client: client side (this process's RSS growth) and server side (the
  gevent server subprocess's RSS growth), divided by the number of clients.

    .venv/bin/python tests/benchmarks/bench_swarm.py                # clients on threads
    .venv/bin/python tests/benchmarks/bench_swarm.py --gevent       # clients on greenlets
    .venv/bin/python tests/benchmarks/bench_swarm.py --clients 200 --broadcasts 10
"""

import sys

if "--gevent" in sys.argv:  # patch before anything imports socket or threading
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import psutil  # noqa: E402
import requests  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from flask_socketio_testing.client import Client  # noqa: E402
from flask_socketio_testing.ledger import DeliveryLedger  # noqa: E402
from flask_socketio_testing.swarm import Swarm  # noqa: E402
from pytest_flask_socketio.live_server import ProcessLiveServer  # noqa: E402


def rss(pid: int | None = None) -> int:
    return psutil.Process(pid).memory_info().rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--broadcasts", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--gevent", action="store_true", help="run the clients on greenlets")
    args = parser.parse_args()
    mode = "greenlets (gevent-patched)" if args.gevent else "threads"

    server = ProcessLiveServer("tests.sim_app:create_gevent_app()", "gevent", cwd=ROOT)
    server.start()
    try:
        with Client(server.url) as warm:  # the server's first client initialises lazily
            warm.emit("join", "warm-up")
        time.sleep(0.5)
        gc.collect()
        client_rss0 = rss()
        server_rss0 = rss(server.proc.pid)

        with Swarm(
            server.url, args.clients, concurrency=args.concurrency, connect_timeout=20
        ) as swarm:
            stats = swarm.connect(timeout=300)
            time.sleep(1.0)
            gc.collect()
            client_rss1 = rss()
            server_rss1 = rss(server.proc.pid)

            ledger = DeliveryLedger()
            ledger.attach(swarm.clients, "news")
            reports = []
            for _ in range(args.broadcasts):
                mark = ledger.mark()
                payload = ledger.stamp({"bench": True}, recipients=swarm.clients)
                requests.post(
                    server.url + "/emit", json={"event": "news", "payload": payload}, timeout=10
                ).raise_for_status()
                reports.append(ledger.verify(timeout=60, since=mark, settle=0))
                time.sleep(0.5)
            ok = all(r.ok for r in reports) and stats.ok
    finally:
        server.stop()
        server.close()

    per_client_client = (client_rss1 - client_rss0) / max(1, stats.connected)
    per_client_server = (server_rss1 - server_rss0) / max(1, stats.connected)
    p50s = [r.p50 for r in reports if r.p50 is not None]
    p99s = [r.p99 for r in reports if r.p99 is not None]
    result = {
        "clients": args.clients,
        "client_mode": mode,
        "ok": ok,
        "connect_total_s": round(stats.total, 3),
        "connect_rate_per_s": round(stats.rate, 1),
        "connect_p50_ms": round((stats.p50 or 0) * 1000, 1),
        "connect_p99_ms": round((stats.p99 or 0) * 1000, 1),
        "broadcasts": [
            {
                "p50_ms": round(r.p50 * 1000, 1),
                "p99_ms": round(r.p99 * 1000, 1),
                "delivered": r.delivered,
                "ok": r.ok,
            }
            for r in reports
            if r.p50 is not None
        ],
        "broadcast_p50_ms_median": round(statistics.median(p50s) * 1000, 1) if p50s else None,
        "broadcast_p99_ms_median": round(statistics.median(p99s) * 1000, 1) if p99s else None,
        "client_rss_per_client_kib": round(per_client_client / 1024, 1),
        "server_rss_per_client_kib": round(per_client_server / 1024, 1),
    }
    print(f"clients: {args.clients} websocket, on {mode}; server: gevent subprocess")
    print(stats)
    for i, r in enumerate(reports):
        print(
            f"broadcast {i + 1}: {'OK' if r.ok else 'FAILED'} {r.delivered}/{r.expected} "
            f"min {r.min * 1000:.1f} ms p50 {r.p50 * 1000:.1f} ms "
            f"p99 {r.p99 * 1000:.1f} ms max {r.max * 1000:.1f} ms"
        )
    print(
        f"memory per connected client: client side {per_client_client / 1024:.1f} KiB, "
        f"server side {per_client_server / 1024:.1f} KiB"
    )
    print("JSON " + json.dumps(result))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

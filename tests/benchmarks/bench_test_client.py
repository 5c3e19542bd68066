"""Benchmark: this project's in-process test client against upstream Flask-SocketIO 5.6.1's.

Runs the same app and the same payload (a dict with nested bytes) in two fresh processes, one
with this repository's virtualenv and one with upstream's (``.venv-upstream``, made by
``make bench``; override with ``UPSTREAM_PYTHON``), and prints a side-by-side table:

- echo: ``emit('echo', payload)`` then ``get_received()`` (the server emits the payload back);
- ack: ``emit('ack', payload, callback=True)`` (the handler returns the payload);
- broadcast: one of 50 clients emits, the server broadcasts to all 50, every client drains its
  queue (figure: deliveries per second);
- connect: ``socketio.test_client(app)`` (handshake, CONNECT, the connect handler) then
  ``disconnect()``.

Every reply is checked against the payload (bytes included), so both clients do the real work.

    .venv/bin/python tests/benchmarks/bench_test_client.py [--seconds 1.0] [--rounds 2]
        [--repeat 3] [--async-mode threading]

The two sides run alternately (``--repeat`` pairs) and each figure is the best seen, both per
wall-clock second and per CPU second of the worker process (robust on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM_PYTHON = os.environ.get(
    "UPSTREAM_PYTHON", os.path.join(HERE, "..", "..", ".venv-upstream", "bin", "python")
)
CLIENTS = 50
PAYLOAD: dict[str, Any] = {
    "id": 7,
    "text": "hello, world",
    "blob": b"\x00\x01\x02\x03" * 8,
    "nested": {"items": [1, 2.5, None, {"raw": b"\xff\xfe"}], "ok": True},
}


def build(async_mode: str) -> tuple[Any, Any]:
    """The app both clients talk to (uses whichever flask_socketio this interpreter has)."""
    from flask import Flask

    from flask_socketio import SocketIO, emit

    app = Flask(__name__)
    app.config["SECRET_KEY"] = "bench"
    socketio = SocketIO(app, async_mode=async_mode)

    @socketio.on("connect")
    def connect(auth: Any) -> bool:
        return True

    @socketio.on("echo")
    def echo(data: Any) -> None:
        emit("echo", data)

    @socketio.on("ack")
    def ack(data: Any) -> Any:
        return data

    @socketio.on("bcast")
    def bcast(data: Any) -> None:
        emit("bcast", data, broadcast=True)

    return app, socketio


def _rate(fn: Any, seconds: float, rounds: int, unit: int = 1) -> dict[str, float]:
    """Best of ``rounds`` runs of at least ``seconds`` each, in operations (x unit) per second.

    ``wall`` divides by elapsed time; ``cpu`` by this process's CPU time, which other load on a
    shared machine disturbs much less (everything here runs in the calling thread).
    """
    best = {"wall": 0.0, "cpu": 0.0}
    for _ in range(rounds):
        count = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        deadline = start + seconds
        while True:
            fn()
            count += 1
            now = time.perf_counter()
            if now >= deadline or count >= 1_000_000:
                break
        cpu = time.process_time() - cpu_start
        best["wall"] = max(best["wall"], count * unit / (now - start))
        best["cpu"] = max(best["cpu"], count * unit / max(cpu, 1e-9))
    return best


def worker(async_mode: str, seconds: float, rounds: int) -> dict[str, Any]:
    import flask_socketio

    app, socketio = build(async_mode)
    client = socketio.test_client(app)
    client.get_received()

    def echo_once() -> None:
        client.emit("echo", PAYLOAD)
        received = client.get_received()
        assert received[0]["args"][0] == PAYLOAD, received

    def ack_once() -> None:
        assert client.emit("ack", PAYLOAD, callback=True) == PAYLOAD

    def connect_once() -> None:
        other = socketio.test_client(app, auth={"user": "bench"})
        assert other.is_connected()
        other.disconnect()

    echo_once()
    ack_once()
    connect_once()
    results = {
        "flask_socketio": os.path.dirname(flask_socketio.__file__),
        "async_mode": socketio.server.async_mode,
        "packet_class": socketio.server.packet_class.__name__,
        "echo": _rate(echo_once, seconds, rounds),
        "ack": _rate(ack_once, seconds, rounds),
        "connect": _rate(connect_once, seconds, rounds),
    }
    clients = [socketio.test_client(app) for _ in range(CLIENTS)]
    for c in clients:
        c.get_received()
    sender = clients[0]

    def broadcast_once() -> None:
        sender.emit("bcast", PAYLOAD)
        for c in clients:
            got = c.get_received()
            assert len(got) == 1 and got[0]["args"][0] == PAYLOAD, got

    broadcast_once()
    results["broadcast"] = _rate(broadcast_once, seconds, rounds, unit=CLIENTS)
    return results


def run_worker(python: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        python,
        os.path.abspath(__file__),
        "--worker",
        "--async-mode",
        args.async_mode,
        "--seconds",
        str(args.seconds),
        "--rounds",
        str(args.rounds),
    ]
    # run outside the repository so upstream's interpreter cannot import this checkout
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/", timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"worker {python} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


MEASURES = [
    ("echo round trips/s (emit+get)", "echo"),
    ("acks/s (emit callback=True)", "ack"),
    (f"broadcast deliveries/s ({CLIENTS} clients)", "broadcast"),
    ("connects/s (test_client + disconnect)", "connect"),
]


def _merge(best: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    if best is None:
        return run
    for _, key in MEASURES:
        for metric in ("wall", "cpu"):
            best[key][metric] = max(best[key][metric], run[key][metric])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per figure in a worker")
    parser.add_argument(
        "--repeat", type=int, default=3, help="worker pairs, run alternately (best kept)"
    )
    parser.add_argument("--async-mode", default="threading")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.async_mode, args.seconds, args.rounds)))
        return

    ours = upstream = None
    for _ in range(args.repeat):  # alternate, so both sides see the same machine load
        ours = _merge(ours, run_worker(sys.executable, args))
        upstream = _merge(upstream, run_worker(UPSTREAM_PYTHON, args))
    assert ours is not None and upstream is not None
    print(f"ours:     {ours['flask_socketio']} ({ours['async_mode']}, {ours['packet_class']})")
    print(f"upstream: {upstream['flask_socketio']} ({upstream['async_mode']})")
    print(
        f"best of {args.repeat} alternating worker pairs x {args.rounds} rounds of "
        f"{args.seconds:g} s; payload: dict with nested bytes"
    )
    for metric, title in (("wall", "per wall-clock second"), ("cpu", "per CPU second")):
        print()
        print(f"{title:<40}{'ours':>10}{'upstream':>10}{'ratio':>8}")
        for label, key in MEASURES:
            a, b = ours[key][metric], upstream[key][metric]
            print(f"  {label:<38}{a:>10,.0f}{b:>10,.0f}{a / b:>7.2f}x")


if __name__ == "__main__":
    main()

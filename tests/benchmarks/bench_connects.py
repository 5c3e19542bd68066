"""Connects per second and server CPU per connect, for before/after comparisons of one change.

The connect workload of ``bench_server.py`` alone (its servers, its Node load generator), with
more connects per run and a warm-up, so a change to the handshake path can be measured in a
few minutes. The load generator's own CPU per connect is printed too (it shares the cores with
the server). A variant is a server name, optionally with the checkout to import this project
from (``LABEL=SERVER@PATH``, e.g. ``before=project-gevent@/tmp/before``); variants alternate
within every round (the order rotates) and the medians are printed with the load average.

    python tests/benchmarks/bench_connects.py --rounds 3 \
        before=project-gevent@/tmp/before after=project-gevent upstream-gevent

``--client minimal`` drives them with ``loadgen/handshake.js`` instead of socket.io-client,
which costs more CPU per connect than the servers and so caps every server's rate alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import ROOT, SERVERS, Server, loadgen  # noqa: E402


def measure(
    label: str,
    spec: str,
    count: int,
    upstream_python: str,
    workload: str = "connects",
    concurrency: int = 10,
) -> tuple[float, float, float]:
    """(connects/s, server CPU µs per connect + disconnect, load generator CPU µs per connect)
    of one run of ``spec``."""
    name, _, checkout = spec.partition("@")
    if name not in SERVERS:
        raise SystemExit(f"{label}: unknown server {name!r}; choose from {', '.join(SERVERS)}")
    saved = os.environ.pop("PROJECT_PYTHONPATH", None)
    if checkout:
        os.environ["PROJECT_PYTHONPATH"] = checkout
    try:
        server = Server(name, upstream_python)
    finally:
        os.environ.pop("PROJECT_PYTHONPATH", None)
        if saved is not None:
            os.environ["PROJECT_PYTHONPATH"] = saved
    try:
        loadgen(workload, server.url, ["count=100", "concurrency=10"])  # warm-up
        cpu = server.cpu_seconds()
        outcome = loadgen(workload, server.url, [f"count={count}", f"concurrency={concurrency}"])
        cpu = server.cpu_seconds() - cpu
    finally:
        server.stop()
    return outcome["rate"], cpu / count * 1e6, outcome["cpu_seconds"] / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="LABEL=SERVER[@CHECKOUT] or SERVER")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=10, help="connects at a time")
    parser.add_argument(
        "--client",
        choices=["socket.io-client", "minimal"],
        default="socket.io-client",
        help="minimal: loadgen/handshake.js, which keeps the server the busier side",
    )
    args = parser.parse_args()
    upstream_python = os.environ.get("UPSTREAM_PYTHON", str(ROOT / ".venv-upstream/bin/python"))
    workload = "handshakes" if args.client == "minimal" else "connects"
    variants = [v.partition("=")[::2] if "=" in v else (v, v) for v in args.variants]
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _ in variants}
    for round_number in range(args.rounds):
        shift = round_number % len(variants)
        for label, spec in variants[shift:] + variants[:shift]:
            rate, cpu, client_cpu = measure(
                label,
                spec,
                args.count,
                os.path.abspath(upstream_python),
                workload,
                args.concurrency,
            )
            samples[label].append((rate, cpu, client_cpu))
            load = os.getloadavg()[0]
            print(
                f"round {round_number + 1}: {label} {rate:,.0f}/s {cpu:,.0f} µs "
                f"(client {client_cpu:,.0f} µs) load {load:.2f}"
            )
    print(
        f"\n{args.count} connects ({args.client}), {args.concurrency} at a time, "
        f"{args.rounds} rounds, medians"
    )
    for label, values in samples.items():
        rate = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        client_cpu = statistics.median(v[2] for v in values)
        print(
            f"  {label:<12} {rate:8,.0f} connects/s  {cpu:8,.0f} µs CPU per connect"
            f"  {client_cpu:8,.0f} µs load generator CPU per connect"
        )
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {loads} at {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()

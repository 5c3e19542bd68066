"""Smoke run: a short headless Locust run of broadcast.py and rooms.py against a gevent server.

    python load/_smoke.py                 # ~20 s, 300 users; exit 0 only if nothing was lost
    python load/_smoke.py --fault drop    # proves the check: must exit non-zero

Starts ``load/_server.py`` (port 0) with this interpreter, runs ``locust -f
load/broadcast.py,load/rooms.py --headless`` against it and exits with Locust's code: non-zero on
any lost, misdelivered or duplicated message, any failed connect/call, or when nothing was
received. The latency SLO is loose by default (``--slo-p99-ms 10000``): CI machines are shared,
and the smoke run checks delivery, not speed (capacity runs check speed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--spawn-rate", type=float, default=100)
    p.add_argument("--run-time", default="20s")
    p.add_argument("--scenarios", default="broadcast.py,rooms.py")
    p.add_argument("--slo-p99-ms", default="10000")
    p.add_argument("--fault", default=None, choices=["misdeliver", "drop"])
    p.add_argument("--out", default=None, help="folder for locust.json and logs (default: temp)")
    args, extra = p.parse_known_args(argv)

    out = args.out or tempfile.mkdtemp(prefix="load-smoke-")
    os.makedirs(out, exist_ok=True)
    ready = os.path.join(out, "server.json")
    server_cmd = [
        sys.executable,
        os.path.join(HERE, "_server.py"),
        "--ready-file",
        ready,
        "--run-seconds",
        "600",
    ]
    if args.fault:
        server_cmd += ["--fault", args.fault]
    server_log = open(os.path.join(out, "server.log"), "w", encoding="utf-8")  # noqa: SIM115
    server = subprocess.Popen(server_cmd, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):  # up to 30 s to start
            if os.path.exists(ready) or server.poll() is not None:
                break
            time.sleep(0.1)
        if not os.path.exists(ready):
            print(f"load smoke: server did not start (see {out}/server.log)", file=sys.stderr)
            return 2
        files = ",".join(os.path.join(HERE, f) for f in args.scenarios.split(","))
        json_file = os.path.join(out, "locust")
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            files,
            "--headless",
            "-u",
            str(args.users),
            "-r",
            str(args.spawn_rate),
            "-t",
            args.run_time,
            "--stop-timeout",
            "5",
            "--sio-server-file",
            ready,
            "--slo-p99-ms",
            args.slo_p99_ms,
            "--slo-delivered",
            "1.0",
            "--json-file",
            json_file,
            "--only-summary",
            *extra,
        ]
        print("load smoke:", " ".join(cmd), flush=True)
        rc = subprocess.run(cmd, timeout=300).returncode
        rows = _load_rows(json_file + ".json")
        received = sum(r["num_requests"] - r["num_failures"] for r in rows if r["method"] == "recv")
        failures = sum(r["num_failures"] for r in rows)
        print(
            f"load smoke: locust exit code {rc}, {received} messages received, "
            f"{failures} failures ({out})",
            flush=True,
        )
        if rc == 0 and received == 0:
            print("load smoke: nothing was received", file=sys.stderr)
            return 3
        return rc
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        server_log.close()


def _load_rows(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else data.get("stats", [])


if __name__ == "__main__":
    sys.exit(main())

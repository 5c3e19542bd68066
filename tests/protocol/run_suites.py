"""Run the official Socket.IO and Engine.IO protocol suites against this project's server.

Usage (``make protocol-suites`` calls it)::

    SIO_PROTOCOL_DIR=.../socket.io-protocol EIO_PROTOCOL_DIR=.../engine.io-protocol \
        python tests/protocol/run_suites.py [--runs 5] [--modes gevent,threading]

The suites are not part of this repository (fetch them yourself; run ``npm ci`` in their
``test-suite`` folders). They connect to a fixed ``http://localhost:3000``, so the runner runs
itself again in a private network namespace (``unshare -n``, needs root or user namespaces): port
3000 of the machine is never touched and two runs can go side by side. Each suite runs ``--runs``
times against one server per (mode, heartbeat): the reference heartbeat (300/200 ms) and a long
one (25 s), under which the tests that need a ping are left out (no close is masked by a ping
timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = HERE / "suite_server.py"
PORT = 3000
HEARTBEATS = {"300/200 ms": (0.3, 0.2), "25 s": (25.0, 20.0)}
# tests that need a ping (or check the advertised heartbeat): left out under the long heartbeat
NEEDS_PING = "heartbeat|opens? a session|open a session|disconnect from"
SUITES = {"sio": ("Socket.IO", "SIO_PROTOCOL_DIR"), "eio": ("Engine.IO", "EIO_PROTOCOL_DIR")}


def _in_private_netns() -> bool:
    return os.environ.get("PROTOCOL_SUITES_NETNS") == "1"


def _reexec_in_netns() -> None:
    """Run this script again in a new network namespace with only a loopback interface."""
    command = ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    env = dict(os.environ, PROTOCOL_SUITES_NETNS="1")
    try:
        result = subprocess.run([*command, sys.executable, *sys.argv], env=env)
    except FileNotFoundError:
        sys.exit("unshare (util-linux) is needed to give the suites a private localhost:3000")
    sys.exit(result.returncode)


def _wait_for_port(proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"suite server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("suite server did not listen within 60 s")


def _run_mocha(suite_dir: Path, long_heartbeat: bool) -> tuple[int, int, list[str]]:
    """One mocha run; returns (passes, tests, titles of the failures)."""
    args = ["node", "node_modules/.bin/mocha", "test-suite.js", "--reporter", "json", "--exit"]
    if long_heartbeat:
        args += ["--grep", NEEDS_PING, "--invert"]
    result = subprocess.run(args, cwd=suite_dir, capture_output=True, text=True, timeout=300)
    start = result.stdout.find("{")
    report = json.loads(result.stdout[start:])
    failures = [f["fullTitle"] for f in report["failures"]]
    return report["stats"]["passes"], report["stats"]["tests"], failures


def run_combo(suite: str, mode: str, heartbeat: str, runs: int, suite_dir: Path) -> list[tuple]:
    interval, timeout = HEARTBEATS[heartbeat]
    command = [sys.executable, str(SERVER), suite, mode, str(interval), str(timeout), str(PORT)]
    log_dir = os.environ.get("TMPDIR", "/tmp")
    log = open(f"{log_dir}/protocol-suite-{suite}-{mode}-{int(interval)}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(proc, time.monotonic() + 60)
        return [_run_mocha(suite_dir, heartbeat == "25 s") for _ in range(runs)]
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "5")))
    parser.add_argument("--modes", default="gevent,threading")
    parser.add_argument("--suites", default="sio,eio")
    parser.add_argument("--heartbeats", default=",".join(HEARTBEATS))
    parser.add_argument("-v", "--verbose", action="store_true", help="print failing tests")
    options = parser.parse_args()
    dirs = {}
    for suite in options.suites.split(","):
        variable = SUITES[suite][1]
        base = os.environ.get(variable)
        if not base:
            parser.error(f"set {variable} to a checkout of the {SUITES[suite][0]} protocol repo")
        suite_dir = Path(base) / "test-suite"
        if not (suite_dir / "node_modules" / ".bin" / "mocha").exists():
            parser.error(f"run `npm ci` in {suite_dir} first")
        dirs[suite] = suite_dir
    if not _in_private_netns():
        _reexec_in_netns()
    modes = options.modes.split(",")
    print(f"{'suite':<10} {'heartbeat':<11} " + " ".join(f"{m:<24}" for m in modes))
    all_green = True
    for suite, suite_dir in dirs.items():
        for heartbeat in options.heartbeats.split(","):
            cells, failures = [], {}
            for mode in modes:
                results = run_combo(suite, mode, heartbeat, options.runs, suite_dir)
                total = results[0][1]
                cells.append(" ".join(str(r[0]) for r in results) + f" /{total}")
                all_green &= all(r[0] == r[1] for r in results)
                for r in results:
                    for title in r[2]:
                        failures.setdefault(f"{mode}: {title}", 0)
                        failures[f"{mode}: {title}"] += 1
            print(f"{SUITES[suite][0]:<10} {heartbeat:<11} " + " ".join(f"{c:<24}" for c in cells))
            if options.verbose:
                for title, count in sorted(failures.items()):
                    print(f"    {count}x {title}")
            sys.stdout.flush()
    return 0 if all_green else 1


if __name__ == "__main__":
    sys.exit(main())

"""A bounded fuzzer: malformed Engine.IO / Socket.IO packets against a server in a subprocess.

Every packet it generates breaks the protocol (by construction, not by chance), so every one must
close its connection: a polling POST of bad Engine.IO packets is answered 400, a bad Socket.IO
packet over polling closes the session, a bad frame over a WebSocket gets a close frame. A
control client makes acked calls throughout; none may fail. The server's open file descriptors
and RSS are read from ``/proc`` before and after. The packets go in two equal rounds: the first
warms the server up (lazy imports, caches, the allocator's high-water mark for this mix), the
baseline is read once it has settled, and after the second round fds and RSS must be back to
that baseline: a leak grows in every round.

``python tests/protocol/fuzz.py [--packets 20000] [--mode threading|gevent]`` prints the figures;
``tests/test_protocol_fuzz.py`` runs a short version and asserts them.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import websocket

SERVER = Path(__file__).resolve().parent / "suite_server.py"
POLLING_BATCH = 10  # bad Engine.IO packets per POST (the whole payload is refused)
RESERVED = ["connect", "disconnect", "connect_error", "disconnecting", "newListener"]


# -- generators: each returns a packet that is invalid whatever the random draw ---------------


def bad_engineio(rng: random.Random) -> str:
    """An Engine.IO packet with a type no client may send, or no type at all."""
    tail = "".join(rng.choice("abc{}[]\"'0123456789 ") for _ in range(rng.randrange(12)))
    return rng.choice(["7", "8", "9", "0", "a", "x", "{", " ", "-", "Z"]) + tail


def bad_socketio(rng: random.Random) -> str:
    """An Engine.IO MESSAGE carrying a Socket.IO packet socket.io's parser rejects."""
    valid = json.dumps(["message", rng.randrange(1000), "x" * rng.randrange(8)])
    choice = rng.randrange(9)
    if choice == 0:
        return "4" + rng.choice("789abz!") + valid
    if choice == 1:
        return "42" + rng.choice(["{}", '"text"', "1", "null", "true", '{"a":[1]}'])
    if choice == 2:
        return "42" + json.dumps([rng.choice(RESERVED), {"token": "forged"}])
    if choice == 3:
        return "42" + json.dumps([rng.choice([1, None, {}, [], 2.5]), "x"])
    if choice == 4:
        return "42" + valid[: rng.randrange(1, len(valid))]  # a strict prefix: never valid JSON
    if choice == 5:
        return "43" + rng.choice(["[1]", "x[1]", "-1[1]"])
    if choice == 6:
        return "41" + rng.choice(['{"x":1}', "[1]", '"bye"'])
    if choice == 7:
        return "40" + rng.choice(["[1]", '"token"', "true"])  # "401" would be an ack id
    return "44" + json.dumps({"message": "from a client"})


@dataclass
class Tally:
    sent: int = 0
    closed: int = 0
    not_closed: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: int, closed: bool, sample: Any) -> None:
        with self.lock:
            self.sent += sent
            if closed:
                self.closed += 1
            else:
                self.not_closed.append(sample)


class Target:
    def __init__(self, base: str) -> None:
        self.url = base + "/socket.io/"
        self.ws_url = self.url.replace("http", "ws", 1) + "?EIO=4&transport=websocket"
        self.http = threading.local()
        self.sessions: list[requests.Session] = []

    def session(self) -> requests.Session:
        if not hasattr(self.http, "session"):
            self.http.session = requests.Session()
            self.sessions.append(self.http.session)
        return self.http.session

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    def open_polling(self) -> str:
        response = self.session().get(self.url, params={"EIO": "4", "transport": "polling"})
        return json.loads(response.text[1:])["sid"]

    def params(self, sid: str) -> dict:
        return {"EIO": "4", "transport": "polling", "sid": sid}


def polling_engineio(target: Target, rng: random.Random, tally: Tally) -> None:
    sid = target.open_polling()
    body = "\x1e".join(bad_engineio(rng) for _ in range(POLLING_BATCH))
    http = target.session()
    refused = http.post(target.url, params=target.params(sid), data=body).status_code == 400
    gone = http.get(target.url, params=target.params(sid), timeout=5).status_code == 400
    tally.add(POLLING_BATCH, refused and gone, body[:60])


def polling_socketio(target: Target, rng: random.Random, tally: Tally) -> None:
    sid = target.open_polling()
    http = target.session()
    packet = bad_socketio(rng)
    http.post(target.url, params=target.params(sid), data="40")
    http.post(target.url, params=target.params(sid), data=packet)
    deadline = time.monotonic() + 5
    gone = False
    while not gone and time.monotonic() < deadline:
        try:
            gone = http.get(target.url, params=target.params(sid), timeout=3).status_code == 400
        except requests.Timeout:
            break  # the session is still open: its GET waits for a ping
    tally.add(1, gone, packet)


def websocket_packet(target: Target, rng: random.Random, tally: Tally) -> None:
    ws = websocket.create_connection(target.ws_url, timeout=5)
    try:
        ws.recv()  # the Engine.IO handshake
        kind = rng.randrange(3)
        if kind == 0:
            packet: Any = bad_engineio(rng)
        elif kind == 1:
            ws.send("40")
            ws.recv()
            ws.recv()  # CONNECT answer, auth event
            packet = bad_socketio(rng)
        else:
            packet = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        if isinstance(packet, bytes):
            ws.send_binary(packet)
        else:
            ws.send(packet)
        tally.add(1, _closes(ws), packet)
    finally:
        ws.close()


def _closes(ws: websocket.WebSocket) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            opcode, _ = ws.recv_data(control_frame=True)
        except Exception:
            return True  # the connection ended
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return True
    return False


class Control(threading.Thread):
    """A well-behaved client making acked calls while the fuzzer runs."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        import socketio

        self.client = socketio.Client(reconnection=False)
        self.client.connect(base, transports=["websocket"], wait_timeout=10)
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        seq = 0
        while not self.stop.is_set():
            seq += 1
            try:
                if self.client.call("message-with-ack", seq, timeout=5) != seq:
                    self.failures.append(f"call {seq}: wrong answer")
                else:
                    self.ok += 1
            except Exception as exc:
                self.failures.append(f"call {seq}: {exc!r}")
            self.stop.wait(0.02)
        self.client.disconnect()


def proc_figures(pid: int) -> tuple[int, int]:
    """(open file descriptors, RSS in KiB) of process ``pid``."""
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return fds, int(line.split()[1])
    return fds, 0


def start_server(mode: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, str(SERVER), "sio", mode, "25", "20", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("serving"):
        process.kill()
        raise RuntimeError(f"fuzz server did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.split()[-1])}"


def settle(pid: int, baseline: int, timeout: float = 10.0) -> tuple[int, int]:
    """Wait (bounded) for the server's fds to come back to ``baseline``; the final figures."""
    deadline = time.monotonic() + timeout
    figures = proc_figures(pid)
    while figures[0] > baseline and time.monotonic() < deadline:
        time.sleep(0.2)
        figures = proc_figures(pid)
    return figures


def run(
    packets: int, mode: str = "threading", workers: int = 4, seed: int = 13, rounds: int = 2
) -> dict:
    """Fuzz a fresh server with about ``packets`` malformed packets in ``rounds`` equal rounds
    (the first a warm-up); returns the figures."""
    process, base = start_server(mode)
    try:
        target = Target(base)
        warm = Control(base)  # one connection first, so that the baseline counts a live client
        warm.stop.set()
        warm.run()
        control = Control(base)
        control.start()
        deadline = time.monotonic() + 10
        while control.ok == 0 and time.monotonic() < deadline:  # its connection is counted
            time.sleep(0.05)
        time.sleep(0.3)
        before = proc_figures(process.pid)
        tally = Tally()
        rng = random.Random(seed)
        jobs = []
        budget = packets
        while budget > 0:
            job = rng.choice(
                [polling_engineio, polling_socketio, websocket_packet, websocket_packet]
            )
            jobs.append((job, random.Random(rng.random())))
            budget -= POLLING_BATCH if job is polling_engineio else 1
        started = time.monotonic()
        size = -(-len(jobs) // rounds)
        settled = []
        for start in range(0, len(jobs), size):  # a warm-up, then the measured rounds
            round_jobs = jobs[start : start + size]
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(job, target, r, tally) for job, r in round_jobs]:
                    future.result()
            target.close()  # the round's keep-alive connections (its threads are gone)
            settled.append(settle(process.pid, before[0]))
        elapsed = time.monotonic() - started
        target.close()
        control.stop.set()
        control.join(10)
        after = settle(process.pid, before[0])
        baseline = settled[0]
        return {
            "packets": tally.sent,
            "connections": len(jobs),
            "closed": tally.closed,
            "not_closed": tally.not_closed[:5],
            "seconds": round(elapsed, 1),
            "control_calls": control.ok,
            "control_failures": control.failures[:5],
            "fds_before": before[0],
            "fds_after_warm_up": baseline[0],
            "fds_after": after[0],
            "rss_kib_before": before[1],
            "rss_kib_baseline": baseline[1],
            "rss_kib_after_each_round": [figures[1] for figures in settled],
            "rss_kib_after_measured_round": settled[-1][1],
            "rss_kib_after": after[1],
        }
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--mode", default="threading", choices=["threading", "gevent"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="the first is a warm-up")
    options = parser.parse_args()
    figures = run(options.packets, options.mode, options.workers, rounds=max(2, options.rounds))
    print(json.dumps(figures, indent=2))
    ok = not figures["not_closed"] and not figures["control_failures"]
    sys.exit(0 if ok and figures["fds_after"] <= figures["fds_before"] else 1)


if __name__ == "__main__":
    main()

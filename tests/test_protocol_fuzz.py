"""The fuzzer, short: malformed packets all close their connections, a control client's acked
calls never fail, and the server's fds and memory come back (``make protocol-fuzz`` runs the
20,000-packet version)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from core_support import ASYNC_MODE

sys.path.insert(0, str(Path(__file__).parent / "protocol"))
import fuzz  # noqa: E402

PACKETS = int(os.environ.get("FUZZ_PACKETS", "1000"))


@pytest.mark.skipif(ASYNC_MODE != "threading", reason="the fuzzer starts its own server")
@pytest.mark.parametrize("mode", ["threading", "gevent"])
def test_malformed_packets_close_their_connections_and_nothing_leaks(mode):
    if mode == "gevent":
        pytest.importorskip("gevent", reason="gevent mode needs gevent (pip install gevent)")
    figures = fuzz.run(PACKETS, mode=mode)
    assert figures["packets"] >= PACKETS
    assert figures["not_closed"] == [], figures
    assert figures["closed"] == figures["connections"]
    assert figures["control_calls"] > 0 and figures["control_failures"] == [], figures
    assert figures["fds_after"] <= figures["fds_before"], figures
    # memory back to the baseline read after the warm-up round (a leak grows in every round)
    # (threading's per-thread malloc arenas still creep a little: docs/security.md)
    assert figures["rss_kib_after_measured_round"] - figures["rss_kib_baseline"] < 8 * 1024, figures

"""Failure transcripts: what each client sent, received and got acknowledged, in order.

Every client keeps its own ``transcript`` (``flask_socketio_testing.transcript``); when a test
fails, the plugin adds one report section per client, written by :func:`format_transcript`,
followed by the events that were queued and never read by the test.
"""

from __future__ import annotations

from typing import Any

from flask_socketio_testing.interface import SocketIOClient

__all__ = ["format_transcript"]

MAX_ENTRIES = 200
MAX_PENDING = 50
MAX_DETAIL = 300


def _short(value: Any) -> str:
    if isinstance(value, tuple):  # emitted arguments are kept as the tuple they came in
        value = list(value)
    text = repr(value)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "...]"


def _detail(detail: Any) -> str:
    if isinstance(detail, dict) and "name" in detail:
        rest = {k: v for k, v in detail.items() if k not in ("name", "namespace")}
        return f"{detail['name']} " + " ".join(f"{k}={_short(v)}" for k, v in rest.items())
    return _short(detail)


def format_transcript(client: SocketIOClient) -> str:
    """A readable transcript of ``client``: state, the last entries, unread events."""
    try:
        sid, connected = client.get_sid(), client.is_connected()
    except Exception:  # noqa: BLE001 - a broken client still gets a transcript
        sid, connected = None, False
    lines = [f"transport={client.transport} sid={sid} connected={connected}"]
    entries = list(client.transcript)
    if len(entries) > MAX_ENTRIES:
        lines.append(f"... {len(entries) - MAX_ENTRIES} earlier entries left out")
        entries = entries[-MAX_ENTRIES:]
    for t, kind, namespace, detail in entries:
        lines.append(f"{t * 1000:9.1f} ms  {kind:<13} {namespace:<8} {_detail(detail)}")
    pending = client.pending()
    if pending:
        lines.append("queued, never read by the test:")
        for event in pending[:MAX_PENDING]:
            lines.append(f"    {event['namespace']} {event['name']} {_short(event['args'])}")
        if len(pending) > MAX_PENDING:
            lines.append(f"    ... {len(pending) - MAX_PENDING} more")
    return "\n".join(lines)

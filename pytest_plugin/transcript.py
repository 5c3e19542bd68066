"""Failure transcripts: what each client sent, received and got acknowledged, in order.

Network clients (``flask_socketio_testing.Client``) keep their own ``transcript``; in-process test
clients are wrapped in ``RecordingClient``, which records the same entries as the test reads them.
When a test fails, the plugin adds one report section per client.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["RecordingClient", "format_transcript"]

MAX_ENTRIES = 200
MAX_DETAIL = 300


class RecordingClient:
    """Wraps an in-process test client and records its traffic; everything else passes through.

    Events are recorded when the test reads them (``get_received``, ``receive``, ``expect``);
    events still queued at failure time are listed as pending.
    """

    def __init__(self, client: Any, name: str) -> None:
        self.__dict__["_client"] = client
        self.__dict__["name"] = name
        self.__dict__["transport"] = "inprocess"
        self.__dict__["transcript"] = []
        self.__dict__["_t0"] = time.monotonic()

    def _log(self, kind: str, namespace: str | None, detail: Any) -> None:
        self.transcript.append((time.monotonic() - self._t0, kind, namespace or "/", detail))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._client, name, value)

    def __enter__(self) -> RecordingClient:
        self._client.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self._client.__exit__(*exc)

    def __repr__(self) -> str:
        return f"<RecordingClient {self.name} {self._client!r}>"

    @property
    def wrapped(self) -> Any:
        """The in-process test client itself."""
        return self._client

    def connect(self, namespace: str | None = None, *args: Any, **kwargs: Any) -> Any:
        self._log("connecting", namespace, "inprocess")
        result = self._client.connect(namespace, *args, **kwargs)
        if self._client.is_connected(namespace):
            self._log("connect", namespace, self._client.get_sid(namespace))
        else:
            self._log("connect_error", namespace, self._client.get_connect_error(namespace))
        return result

    def disconnect(self, namespace: str | None = None) -> Any:
        self._log("disconnect", namespace, "client disconnect")
        return self._client.disconnect(namespace)

    def emit(
        self, event: str, *args: Any, callback: bool = False, namespace: str | None = None
    ) -> Any:
        self._log("emit", namespace, {"name": event, "args": list(args)})
        result = self._client.emit(event, *args, callback=callback, namespace=namespace)
        if callback:
            self._log("ack", namespace, {"name": event, "args": result})
        return result

    def send(
        self, data: Any, json: bool = False, callback: bool = False, namespace: str | None = None
    ) -> Any:
        event = "json" if json else "message"
        self._log("emit", namespace, {"name": event, "args": [data]})
        result = self._client.send(data, json=json, callback=callback, namespace=namespace)
        if callback:
            self._log("ack", namespace, {"name": event, "args": result})
        return result

    def call(
        self, event: str, *args: Any, namespace: str | None = None, timeout: float = 1.0
    ) -> Any:
        self._log("emit", namespace, {"name": event, "args": list(args)})
        try:
            result = self._client.call(event, *args, namespace=namespace, timeout=timeout)
        except Exception as exc:
            self._log("ack-timeout", namespace, {"name": event, "error": repr(exc)})
            raise
        self._log("ack", namespace, {"name": event, "args": result})
        return result

    def _received(self, events: list[dict]) -> list[dict]:
        for e in events:
            self._log(
                "received", e.get("namespace"), {"name": e.get("name"), "args": e.get("args")}
            )
        return events

    def get_received(self, namespace: str | None = None) -> list[dict]:
        return self._received(self._client.get_received(namespace))

    def receive(self, timeout: float = 1.0, namespace: str | None = None) -> dict:
        event = self._client.receive(timeout=timeout, namespace=namespace)
        self._received([event])
        return event

    def expect(self, event: str, timeout: float = 1.0, namespace: str | None = None) -> Any:
        try:
            args = self._client.expect(event, timeout=timeout, namespace=namespace)
        except AssertionError as exc:
            self._log("expect-failed", namespace, {"name": event, "error": str(exc)})
            raise
        self._log("received", namespace, {"name": event, "args": args})
        return args


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "...]"


def _pending(client: Any) -> list[dict]:
    """Events queued but never read by the test (without consuming them)."""
    queues = getattr(client, "_queues", None)  # network Client
    if isinstance(queues, dict):
        return [e for q in queues.values() for e in q]
    inner = getattr(client, "wrapped", client)
    for attr in ("_queues", "queues", "queue", "_queue"):
        q = getattr(inner, attr, None)
        if isinstance(q, dict):
            return [
                e
                for v in q.values()
                if isinstance(v, list | tuple)
                for e in v
                if isinstance(e, dict)
            ]
        if isinstance(q, list):
            return [e for e in q if isinstance(e, dict)]
    return []


def format_transcript(client: Any) -> str:
    """A readable transcript of ``client`` (network Client or RecordingClient)."""
    lines = []
    transport = getattr(client, "transport", "?")
    try:
        sid = client.get_sid()
        connected = client.is_connected()
    except Exception:  # noqa: BLE001 - a broken client still gets a transcript
        sid, connected = None, False
    lines.append(f"transport={transport} sid={sid} connected={connected}")
    entries = list(getattr(client, "transcript", []))
    if len(entries) > MAX_ENTRIES:
        lines.append(f"... {len(entries) - MAX_ENTRIES} earlier entries left out")
        entries = entries[-MAX_ENTRIES:]
    for t, kind, namespace, detail in entries:
        if isinstance(detail, dict) and "name" in detail:
            rest = {k: v for k, v in detail.items() if k != "name"}
            text = f"{detail['name']} " + " ".join(f"{k}={_short(v)}" for k, v in rest.items())
        else:
            text = _short(detail)
        lines.append(f"{t * 1000:9.1f} ms  {kind:<13} {namespace:<8} {text}")
    pending = _pending(client)
    if pending:
        lines.append("queued, never read by the test:")
        for e in pending[:50]:
            lines.append(f"    {e.get('namespace', '/')} {e.get('name')} {_short(e.get('args'))}")
    return "\n".join(lines)

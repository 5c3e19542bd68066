"""Delivery stamps: the reserved ``_ledger`` key that lets a receiver tell which message it got.

Shared by the delivery ledger, the swarm and the Locust user, so that every part of the harness
stamps and reads messages the same way. A stamp is a small dict stored under
``payload["_ledger"]``::

    {"id": str, "sender": str | None, "seq": int, "sent": float}   # sent = time.time()

A payload that is not a dict is wrapped as ``{"data": payload, "_ledger": {...}}``.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["STAMP_KEY", "stamp_payload", "read_stamp", "unwrap_payload"]

#: The reserved key a stamp lives under in a dict payload.
STAMP_KEY = "_ledger"


def stamp_payload(payload: Any, *, msg_id: str, sender: str | None, seq: int) -> dict[str, Any]:
    """Return ``payload`` with a delivery stamp added under ``"_ledger"``.

    A dict payload is copied (the caller's dict is not changed); any other payload is wrapped as
    ``{"data": payload, "_ledger": {...}}``. The send time is ``time.time()`` taken now, so stamp a
    message right before emitting it.
    """
    if isinstance(payload, dict):
        stamped = dict(payload)
    else:
        stamped = {"data": payload}
    stamped[STAMP_KEY] = {
        "id": str(msg_id),
        "sender": None if sender is None else str(sender),
        "seq": int(seq),
        "sent": time.time(),
    }
    return stamped


def read_stamp(payload: Any) -> dict[str, Any] | None:
    """Return the stamp of a received payload, or ``None`` if it carries no valid stamp.

    Accepts the payload itself or, for events that arrive with several arguments, a list or tuple
    whose first stamped element is used.
    """
    if isinstance(payload, (list, tuple)):
        for item in payload:
            stamp = read_stamp(item)
            if stamp is not None:
                return stamp
        return None
    if not isinstance(payload, dict):
        return None
    stamp = payload.get(STAMP_KEY)
    if not isinstance(stamp, dict) or "id" not in stamp or "sent" not in stamp:
        return None
    return stamp


def unwrap_payload(payload: Any) -> Any:
    """Return the application data of a stamped payload: the payload without its stamp.

    A wrapped non-dict payload gives back its ``"data"``; an unstamped payload is returned as is.
    """
    if not isinstance(payload, dict) or STAMP_KEY not in payload:
        return payload
    rest = {k: v for k, v in payload.items() if k != STAMP_KEY}
    if set(rest) == {"data"}:
        return rest["data"]
    return rest

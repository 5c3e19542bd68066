"""Delivery stamps: the reserved ``_ledger`` key that lets a receiver tell which message it got.

Shared by the delivery ledger, the swarm and the Locust user, so that every part of the harness
stamps and reads messages the same way. A stamp is a small dict stored under
``payload["_ledger"]``::

    {"id": str, "sender": str | None, "seq": int, "sent": float}   # sent = time.time()

A payload that is not a dict is wrapped as ``{"data": payload, "_ledger": {...}}``. Apps often
relay a stamped payload inside one of their own (``emit('post', {'by': user, 'body': data})``):
:func:`find_stamp` finds the stamp anywhere in dicts and lists, down to a bounded depth.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["STAMP_KEY", "MAX_DEPTH", "stamp_payload", "find_stamp", "read_stamp", "unwrap_payload"]

#: The reserved key a stamp lives under in a dict payload.
STAMP_KEY = "_ledger"

#: How deep :func:`find_stamp` looks by default (the payload itself is depth 0).
MAX_DEPTH = 8


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


def _valid(stamp: Any) -> bool:
    return isinstance(stamp, dict) and "id" in stamp and "sent" in stamp


def find_stamp(payload: Any, max_depth: int = MAX_DEPTH) -> dict[str, Any] | None:
    """Return the delivery stamp carried anywhere in ``payload``, or ``None`` if there is none.

    Looks at ``payload`` itself, then breadth first through the values of dicts and the items of
    lists and tuples, at most ``max_depth`` levels down, so the shallowest stamp wins (and, at one
    depth, the first in order: for an event with several arguments, the first stamped argument).
    Other containers and strings are not searched; a payload nested deeper than ``max_depth`` counts
    as unstamped.
    """
    if isinstance(payload, dict):  # the common case: a stamp at the top
        stamp = payload.get(STAMP_KEY)
        if _valid(stamp):
            return stamp
    level = [payload]
    for _ in range(max_depth + 1):
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                stamp = item.get(STAMP_KEY)
                if _valid(stamp):
                    return stamp
                below.extend(v for k, v in item.items() if isinstance(v, (dict, list, tuple)))
            elif isinstance(item, (list, tuple)):
                below.extend(v for v in item if isinstance(v, (dict, list, tuple)))
        if not below:
            return None
        level = below
    return None


def read_stamp(payload: Any) -> dict[str, Any] | None:
    """The same as :func:`find_stamp` with the default depth (the name older code uses)."""
    return find_stamp(payload)


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

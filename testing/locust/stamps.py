"""Find a delivery stamp wherever an app put it in the payload it relays.

Real apps wrap what they relay (``emit('post', {'by': user, 'body': data['body']})``), so the
stamp the sender put at the top of its payload arrives nested. :func:`find_stamp` searches dicts
and lists breadth first, to a bounded depth. It is
:func:`flask_socketio_testing.stamp.find_stamp` where ``stamp.py`` has it (the swarm's ledger uses
the same lookup); the copy below serves until then and goes once it does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from flask_socketio_testing import stamp as _stamp
from flask_socketio_testing.stamp import read_stamp

__all__ = ["MAX_STAMP_DEPTH", "find_stamp"]

#: how many levels of dicts / lists a stamp may be nested in
MAX_STAMP_DEPTH = 8
#: containers looked into at most (a bound on the work for one huge payload)
_MAX_NODES = 10_000


def _find_stamp(payload: Any, max_depth: int = MAX_STAMP_DEPTH) -> dict[str, Any] | None:
    """The first (shallowest) valid stamp in ``payload``, or ``None``."""
    queue: deque[tuple[Any, int]] = deque([(payload, 0)])
    seen = 0
    while queue and seen < _MAX_NODES:
        node, depth = queue.popleft()
        seen += 1
        if isinstance(node, dict):
            stamp = read_stamp(node)
            if stamp is not None:
                return stamp
            children: Any = node.values()
        elif isinstance(node, (list, tuple)):
            children = node
        else:
            continue
        if depth < max_depth:
            queue.extend((child, depth + 1) for child in children)
    return None


#: the shared lookup of ``stamp.py`` when it has one, else the copy above
find_stamp: Callable[..., dict[str, Any] | None] = getattr(_stamp, "find_stamp", _find_stamp)

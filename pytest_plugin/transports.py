"""The transports a client test runs over, as chosen by ``--socketio-transport``.

Read by the plugin's hooks (to parametrize tests) and by the fixtures (for an unparametrized
test), so it lives apart from both.
"""

from __future__ import annotations

import pytest

__all__ = ["TRANSPORTS", "NETWORK_TRANSPORTS", "selected_transports"]

TRANSPORTS = ("inprocess", "polling", "websocket")
NETWORK_TRANSPORTS = ("polling", "websocket")


def selected_transports(config: pytest.Config) -> list[str]:
    """The transports chosen by ``--socketio-transport`` or the ini option, in order."""
    raw = config.getoption("socketio_transport") or config.getini("socketio_transport")
    names: list[str] = []
    for part in str(raw).replace(" ", "").split(","):
        if not part:
            continue
        for name in TRANSPORTS if part == "all" else (part,):
            if name not in TRANSPORTS:
                raise pytest.UsageError(
                    f"--socketio-transport: unknown transport {name!r}; use "
                    f"{', '.join(TRANSPORTS)} or all"
                )
            if name not in names:
                names.append(name)
    return names or ["inprocess"]

"""The Socket.IO command line options, and reading them back (also outside a Locust run).

Registered on Locust's ``init_command_line_parser`` event when a locustfile imports this package,
so they show in ``locust -f FILE --help`` and, with their defaults, in the web UI's start form.
"""

from __future__ import annotations

import json
from typing import Any

from locust import events
from locust.env import Environment

__all__ = ["add_option", "option", "read_server_file", "target_hosts"]


def add_option(group: Any, *flags: str, web_ui: bool = True, **kwargs: Any) -> Any:
    """Add an option to an argument group, shown in Locust's web UI when ``web_ui``.

    Locust's parser marks web-UI options in its own ``add_argument``; an argument group's
    ``add_argument`` is argparse's and leaves them hidden, so the mark is set here.
    """
    action = group.add_argument(*flags, **kwargs)
    action.include_in_web_ui = web_ui
    action.is_secret = False
    action.is_required = False
    action.is_multiple = False
    return action


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("Socket.IO (flask_socketio_testing.locust)")
    add_option(
        group,
        "--sio-hosts",
        default="",
        help="Comma-separated server URLs; users are spread over them (overrides --host).",
    )
    add_option(
        group,
        "--sio-server-file",
        default="",
        help="JSON file the server launcher writes (--ready-file): server URLs and pids "
        "(used for --sio-hosts and for sampling server CPU in capacity runs).",
    )
    add_option(
        group,
        "--sio-transport",
        choices=["websocket", "polling"],
        default="websocket",
        help="Engine.IO transport the users connect with.",
    )
    add_option(
        group,
        "--slo-p99-ms",
        type=float,
        default=250.0,
        help="SLO: p99 receive latency in ms (default 250).",
    )
    add_option(
        group,
        "--slo-delivered",
        type=float,
        default=0.999,
        help="SLO: minimum delivered / expected ratio (default 0.999).",
    )
    add_option(
        group,
        "--delivery-grace",
        type=float,
        default=5.0,
        help="Seconds a room member has to receive a message before it counts as lost.",
    )


def option(environment: Environment | None, name: str, default: Any) -> Any:
    """A parsed command line option of ``environment``, or ``default`` (also as a library)."""
    opts = getattr(environment, "parsed_options", None)
    value = getattr(opts, name, None) if opts is not None else None
    return default if value is None else value


def read_server_file(path: str) -> dict[str, Any]:
    """Read the JSON the server launcher writes with ``--ready-file`` (``urls``, ``pids``, ...)."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with 'urls' and 'pids'")
    return data


def target_hosts(environment: Environment, fallback: str | None) -> list[str]:
    """The server URLs users connect to: --sio-hosts, else --sio-server-file, else --host."""
    hosts = [h.strip() for h in str(option(environment, "sio_hosts", "")).split(",") if h.strip()]
    server_file = option(environment, "sio_server_file", "")
    if not hosts and server_file:
        hosts = list(read_server_file(server_file).get("urls", []))
    if not hosts and fallback:
        hosts = [fallback]
    if not hosts:
        raise ValueError("no Socket.IO server: pass --host, --sio-hosts or --sio-server-file")
    return hosts

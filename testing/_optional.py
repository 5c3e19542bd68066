"""Errors for optional packages: which package is missing and which extra installs it.

The harness's optional parts import their packages in a guard that raises ``missing_package``'s
error, so that a user reads what to install instead of a bare ``ModuleNotFoundError`` (or, for
websocket-client, a connection error much later).
"""

from __future__ import annotations

import json
from importlib import metadata

__all__ = ["missing_package"]

#: import name -> distribution name, where they differ
_DISTRIBUTIONS = {
    "websocket": "websocket-client",
    "geventwebsocket": "gevent-websocket",
    "playwright": "pytest-playwright",
}


def _install_command(extra: str) -> str:
    """``pip install`` of this project with ``extra``, from where it was installed (PEP 610).

    The PyPI name ``Flask-SocketIO`` is upstream's, so "pip install Flask-SocketIO[x]" would be
    wrong advice: name the wheel or checkout that was actually installed.
    """
    try:
        text = metadata.distribution("Flask-SocketIO").read_text("direct_url.json")
        direct = json.loads(text or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        direct = {}
    where = str(direct.get("url", "")).removeprefix("file://") or "<this project's wheel>"
    editable = "-e " if direct.get("dir_info", {}).get("editable") else ""
    return f"pip install {editable}'{where}[{extra}]'"


def missing_package(error: ImportError, *, extra: str, needed_by: str) -> ModuleNotFoundError:
    """The error to raise (``from error``) when ``needed_by`` cannot import its package.

    ``error.name`` is the module that failed to import; the message names its distribution and
    the extra of this project that installs it. The result is a ``ModuleNotFoundError`` with the
    same ``name``, so code that catches that keeps working.
    """
    module = (error.name or "").partition(".")[0] or "an optional package"
    package = _DISTRIBUTIONS.get(module, module)
    return ModuleNotFoundError(
        f"{needed_by} needs {package}, which is not installed. It comes with the {extra!r} "
        f"extra: {_install_command(extra)} (or alone: pip install {package})",
        name=error.name,
    )

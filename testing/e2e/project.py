"""Write a Playwright Test project for a Flask-SocketIO app (``init``).

The project files ship in this package (``project/``); what is particular to the app goes into
``socketio.json``, which the shipped ``playwright.config.ts`` reads.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

#: Files copied as they are (paths inside ``project/``); package.json gets the project's name.
PROJECT_FILES = (
    "package.json",
    "package-lock.json",
    "playwright.config.ts",
    "tests/socketio.ts",
    "tests/example.spec.ts",
)
GITIGNORE = "node_modules/\ntest-results/\nplaywright-report/\n"


class ProjectExistsError(FileExistsError):
    """``init`` would overwrite a file the user may have edited."""


@dataclass
class ProjectSettings:
    """What ``socketio.json`` holds: how to serve the app and how to connect to it."""

    app: str
    python: str = sys.executable
    cwd: str = "."
    namespace: str = "/"
    auth: Any = None
    async_mode: str = "gevent"

    def to_json(self) -> str:
        data = {
            "app": self.app,
            "python": self.python,
            "cwd": self.cwd,
            "namespace": self.namespace,
            "auth": self.auth,
            "asyncMode": self.async_mode,
        }
        return json.dumps(data, indent=2) + "\n"


def template_text(name: str) -> str:
    """One shipped project file."""
    return (resources.files("flask_socketio_testing.e2e") / "project" / name).read_text("utf-8")


def write_project(
    directory: str | os.PathLike[str], settings: ProjectSettings, force: bool = False
) -> list[Path]:
    """Write the project into ``directory`` (created if needed); returns the files written.

    Refuses (``ProjectExistsError``, nothing written) when a file would be overwritten, unless
    ``force``.
    """
    root = Path(directory)
    contents = {name: template_text(name) for name in PROJECT_FILES}
    project_name = _npm_name(root.resolve().name)
    for name in ("package.json", "package-lock.json"):
        data = json.loads(contents[name])
        data["name"] = project_name
        if name == "package-lock.json":
            data["packages"][""]["name"] = project_name
        contents[name] = json.dumps(data, indent=2) + "\n"
    contents["socketio.json"] = settings.to_json()
    contents[".gitignore"] = GITIGNORE
    existing = [name for name in contents if (root / name).exists()]
    if existing and not force:
        raise ProjectExistsError(
            f"{root} already has {', '.join(existing)}; pass --force to overwrite"
        )
    written = []
    for name, text in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _npm_name(folder: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-._" else "-" for c in folder.lower()).strip("-._")
    return cleaned or "socketio-browser-tests"

"""What each compatibility-matrix cell installs, read from pyproject.toml.

A cell is named LEVEL or LEVEL-gevent, LEVEL being ``low`` or ``high``. Low cells pin every
runtime dependency to the floor that pyproject.toml states (``name==floor``), so the floors are
tested rather than guessed; high cells pin nothing, and pip takes the newest release the stated
ranges allow. ``-gevent`` adds the ``gevent`` extra (at its floors in a low cell).

``python tests/compat/cells.py CELL`` prints the pip requirements file of CELL; the Makefile
rewrites ``build/matrix/CELL.requirements`` only when that text changes, so a cell is rebuilt
when what it installs changes, not on every edit of pyproject.toml.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# what the tests run in a cell need beyond the package: upstream's test module and tests/test_core_*
TEST_REQUIREMENTS = [
    "pytest",
    "pytest-timeout",
    "requests",
    "websocket-client",
    "msgpack",
    "redis",
    "Flask-Login",
]
# typeshed's stubtest runs in the high cell without gevent (`make matrix-stubtest`)
STUBTEST_REQUIREMENTS = ["mypy", "types-Flask-SocketIO"]
STUBTEST_CELL = "high"
LEVELS = ("low", "high")
# one requirement line: name, optional [extras], then the version specifiers
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def load_project() -> dict:
    """The ``[project]`` table of pyproject.toml."""
    if sys.version_info >= (3, 11):
        import tomllib

        with open(ROOT / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle)["project"]
    # no TOML reader in the standard library before 3.11
    sys.exit("tests/compat/cells.py reads pyproject.toml: run it with Python 3.11 or newer")


def floor_pin(requirement: str) -> str:
    """``name==floor`` for a requirement like ``name>=floor,<ceiling``."""
    match = _REQUIREMENT.match(requirement.split(";", 1)[0])
    if not match:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    name, specifiers = match.groups()
    floors = [s.strip()[2:].strip() for s in specifiers.split(",") if s.strip().startswith(">=")]
    if len(floors) != 1:
        raise ValueError(f"{requirement!r} needs exactly one '>=' floor for the low cells")
    return f"{name}=={floors[0]}"


def cell_requirements(cell: str, project: dict) -> list[str]:
    """The lines of the pip requirements file that builds the virtualenv of ``cell``."""
    level, _, variant = cell.partition("-")
    if level not in LEVELS or variant not in ("", "gevent"):
        raise ValueError(f"unknown cell {cell!r}: expected low, low-gevent, high or high-gevent")
    extras = ["gevent"] if variant else []
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    lines = [f"# matrix cell {cell}, from pyproject.toml (tests/compat/cells.py)"]
    lines.append("-e " + (f".[{','.join(extras)}]" if extras else "."))
    if level == "low":
        lines += [floor_pin(requirement) for requirement in requirements]
    else:  # the stated ranges, repeated so that a change of range rebuilds the cell
        lines += requirements
    lines += TEST_REQUIREMENTS
    if cell == STUBTEST_CELL:
        lines += STUBTEST_REQUIREMENTS
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        lines = cell_requirements(argv[0], load_project())
    except (ValueError, KeyError) as exc:
        print(f"cells.py: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

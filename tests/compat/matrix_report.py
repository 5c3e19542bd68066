"""Print the compatibility matrix's results as a table; exit 1 unless every cell passed.

Each cell left, in the results folder, ``CELL.rc`` (pytest's exit code), ``CELL.xml`` (JUnit
report) and ``CELL.log``; the stubtest check left ``stubtest.rc`` and ``stubtest.log``. The
versions are read from each cell's virtualenv, so the table shows what was really installed.

Usage: ``python tests/compat/matrix_report.py RESULTS_DIR VENV_PREFIX CELL [CELL ...]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

PACKAGES = ("Flask", "Werkzeug", "python-socketio", "python-engineio", "gevent", "blinker")
COUNTS = ("passed", "failed", "skipped", "xfailed")
LOG_TAIL_LINES = 30
_VERSIONS_SCRIPT = """
import importlib.metadata as metadata, json, platform
found = {"python": platform.python_version()}
for name in %r:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = "-"
print(json.dumps(found))
"""


def installed_versions(venv: Path) -> dict[str, str]:
    """Python's and the key packages' versions in ``venv`` ("-" when not installed)."""
    python = venv / "bin" / "python"
    if not python.exists():
        return {}
    result = subprocess.run(
        [str(python), "-c", _VERSIONS_SCRIPT % (PACKAGES,)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(result.stdout) if result.returncode == 0 else {}


def junit_counts(report: Path) -> dict[str, float]:
    """passed / failed / skipped / xfailed counts and the time of a pytest JUnit report."""
    root = ElementTree.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = dict.fromkeys((*COUNTS, "time"), 0.0)
    for suite in suites:
        counts["time"] += float(suite.get("time", 0))
        for case in suite.iter("testcase"):
            skipped = case.find("skipped")
            if case.find("failure") is not None or case.find("error") is not None:
                counts["failed"] += 1
            elif skipped is not None and skipped.get("type") == "pytest.xfail":
                counts["xfailed"] += 1
            elif skipped is not None:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
    return counts


def read_code(path: Path) -> int | None:
    """The exit code stored in ``path``, or None when that step did not run."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def cell_row(results: Path, venv: Path, cell: str) -> tuple[list[str], str | None]:
    """One table row for ``cell`` and, when it did not pass, why."""
    versions = installed_versions(venv)
    code = read_code(results / f"{cell}.rc")
    counts = dict.fromkeys((*COUNTS, "time"), 0.0)
    if (results / f"{cell}.xml").exists():
        counts = junit_counts(results / f"{cell}.xml")
    problem = None
    if code is None:
        problem = "did not run (its virtualenv could not be built?)"
    elif code != 0:
        problem = f"pytest exited {code}"
    elif counts["passed"] == 0:
        problem = "ran no test"
    elif cell.startswith("low") and versions.get("blinker", "-") != "-":
        problem = "blinker is installed: the low cells must run without it"
    row = [cell, versions.get("python", "?")]
    row += [versions.get(name, "?") for name in PACKAGES]
    row += [f"{int(counts[key])}" for key in COUNTS]
    row += [f"{counts['time']:.1f}s", "ok" if problem is None else "FAILED"]
    return row, problem


def render(rows: list[list[str]]) -> str:
    """A plain-text table with aligned columns."""
    header = ["cell", "python", *PACKAGES, *COUNTS, "time", "result"]
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True))
        for row in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def log_tail(path: Path) -> str:
    """The last lines of a step's log, for the failure summary."""
    if not path.exists():
        return "  (no log)"
    lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join("  " + line for line in lines)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    results, venv_prefix, cells = Path(argv[0]), argv[1], argv[2:]
    rows, problems = [], {}
    for cell in cells:
        row, problem = cell_row(results, Path(f"{venv_prefix}-{cell}"), cell)
        rows.append(row)
        if problem:
            problems[cell] = problem
    print("\ncompatibility matrix: upstream's test module + tests/test_core_*.py per cell")
    print(render(rows))
    stubtest = read_code(results / "stubtest.rc")
    verdict = {None: "did not run", 0: "clean (allowlist: tests/compat/stubtest-allowlist.txt)"}
    print(f"stubtest types-Flask-SocketIO: {verdict.get(stubtest, f'FAILED (exit {stubtest})')}")
    if stubtest != 0:
        problems["stubtest"] = verdict.get(stubtest, f"exit {stubtest}")
    for name, problem in problems.items():
        print(f"\n{name}: {problem}; last lines of {results / (name + '.log')}:")
        print(log_tail(results / f"{name}.log"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

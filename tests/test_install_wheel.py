"""A user's install, proved: the built wheel with ``[testing,gevent]`` in a clean virtualenv.

The wheel is built from a copy of the sources (so no stale ``build/lib`` leaks into it) and
installed, not editable and without the dev extra, into a virtualenv cached under
``build/install-wheel/<hash>`` (the wheel's and the project's requirements' hash: reruns on
unchanged sources skip the install). The sample downstream project ``tests/downstream`` (an app
this package has never seen, with its own requirements, e.g. pytest-xdist) then runs its tests
there with ``-n 2 --socketio-transport=all``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOWNSTREAM = ROOT / "tests" / "downstream"
CACHE = ROOT / "build" / "install-wheel"
#: the user's install line, with the wheel in place of the name
EXTRAS = "testing,gevent"
#: not copied to build the wheel: environments, build output, the repository's own test trees
TOP_LEVEL_SKIPPED = (".git", ".venv*", "build", "dist", "tests", "e2e", "examples", "load", "docs")
SKIPPED = ("node_modules", "*.egg-info", "__pycache__")

pytestmark = pytest.mark.timeout(900)


def _run(cmd: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; on failure, fail the test with its output."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-6000:]}", pytrace=False)
    return out


def _user_env() -> dict[str, str]:
    """The environment of a user's shell: nothing of this test run or of this repository."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV", "COV_CORE"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def build_wheel(workdir: Path) -> tuple[Path, str]:
    """Build the wheel from a fresh copy of the sources; return it and the build's output."""
    source = workdir / "source"
    top_level, anywhere = (
        shutil.ignore_patterns(*TOP_LEVEL_SKIPPED),
        shutil.ignore_patterns(*SKIPPED),
    )

    def skipped(folder: str, names: list[str]) -> set[str]:
        return anywhere(folder, names) | (
            top_level(folder, names) if Path(folder) == ROOT else set()
        )

    shutil.copytree(ROOT, source, ignore=skipped, symlinks=True)
    env = _user_env() | {"SOURCE_DATE_EPOCH": "315532800"}  # the same bytes for the same sources
    out = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(workdir / "dist"), "."],
        cwd=source,
        timeout=300,
        env=env,
    )
    (wheel,) = (workdir / "dist").glob("flask_socketio-*.whl")
    return wheel, out


def clean_venv(wheel: Path, extras: str, requirements: Path) -> Path:
    """A virtualenv with ``wheel[extras]`` and ``requirements`` only, cached by their hash."""
    digest = hashlib.sha256(wheel.read_bytes() + requirements.read_bytes() + extras.encode())
    venv = CACHE / digest.hexdigest()[:16]
    if (venv / ".ready").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)  # an install that did not finish
    CACHE.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(venv)], cwd=CACHE, timeout=120, env=_user_env())
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    wanted = f"{wheel}[{extras}]" if extras else str(wheel)
    _run([*pip, wanted, "-r", str(requirements)], cwd=CACHE, timeout=600, env=_user_env())
    (venv / ".ready").touch()
    return venv


def _prune(keep: set[Path]) -> None:
    """Remove the environments of earlier sources."""
    for old in CACHE.iterdir() if CACHE.exists() else ():
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from the sources as they are now."""
    built, build_output = build_wheel(tmp_path_factory.mktemp("wheel"))
    assert "Deprecat" not in build_output, build_output  # setuptools warns about nothing
    return built


@pytest.fixture(scope="module")
def venvs(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``user``: ``[testing,gevent]`` and the downstream project's requirements; ``bare``: a
    user who forgot the extra (the wheel and pytest only)."""
    bare_requirements = tmp_path_factory.mktemp("bare") / "requirements.txt"
    bare_requirements.write_text("pytest\n")
    found = {
        "user": clean_venv(wheel, EXTRAS, DOWNSTREAM / "requirements.txt"),
        "bare": clean_venv(wheel, "", bare_requirements),
    }
    _prune(set(found.values()))
    return found


@pytest.fixture(scope="module")
def installed(venvs: dict[str, Path]) -> Path:
    return venvs["user"]


def test_the_wheel_installs_without_the_dev_extra(installed: Path, tmp_path: Path) -> None:
    python = str(installed / "bin" / "python")
    where = _run(
        [
            python,
            "-c",
            "import flask_socketio, flask_socketio_testing, pytest_flask_socketio as p; "
            "print(flask_socketio.__file__); print(p.__file__)",
        ],
        cwd=tmp_path,
        timeout=60,
        env=_user_env(),
    )
    for line in where.split():
        assert line.startswith(str(installed)), f"imported from outside the venv: {line}"
    listed = _run([python, "-m", "pip", "list"], cwd=tmp_path, timeout=60, env=_user_env())
    for dev_only in ("locust", "mypy", "ruff", "pytest-timeout", "redis", "kombu"):
        assert f"\n{dev_only} " not in listed.lower(), f"{dev_only} is installed:\n{listed}"
    _run([python, "-m", "pip", "check"], cwd=tmp_path, timeout=60, env=_user_env())


def test_the_downstream_project_passes_in_the_clean_venv(installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "helpdesk-project"
    shutil.copytree(DOWNSTREAM, project, ignore=shutil.ignore_patterns("__pycache__"))
    command = [str(installed / "bin" / "python"), "-m", "pytest", "-n", "2"]
    command += ["--socketio-transport=all", "--socketio-require-services", "-q", "-rA"]
    out = _run(command, cwd=project, timeout=600, env=_user_env())
    assert "20 passed" in out, out
    for transport in ("inprocess", "polling", "websocket"):
        assert f"test_a_ticket_from_open_to_answer[{transport}]" in out, out
    assert "PASSED tests/test_desk.py::test_served_by_gevent" in out, out
    assert "PASSED tests/test_desk.py::test_every_agent_hears_every_post" in out, out


def test_without_the_extra_fixtures_stay_and_errors_say_what_to_install(
    venvs: dict[str, Path], tmp_path: Path
) -> None:
    project = tmp_path / "helpdesk-project"
    shutil.copytree(DOWNSTREAM, project, ignore=shutil.ignore_patterns("__pycache__"))
    python = str(venvs["bare"] / "bin" / "python")
    listed = _run([python, "-m", "pytest", "--fixtures"], cwd=project, timeout=120, env=_user_env())
    for fixture in ("socketio_client_factory", "socketio_swarm_factory", "socketio_fault_proxy"):
        assert f"\n{fixture} " in listed, listed
    proc = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_desk.py"],
        cwd=project,
        env=_user_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "flask_socketio_testing.Client needs requests, which is not installed" in out, out
    assert "[testing]'" in out, out

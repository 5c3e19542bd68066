"""The README's first app and its tests, taken from the README itself and run as a user would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_app_passes_the_readme_tests(pytester: pytest.Pytester) -> None:
    app_block, tests_block = python_blocks()[:2]
    conftest, test_module = tests_block.split("# tests/test_join.py\n")
    pytester.makepyfile(myapp=app_block)
    tests_dir = pytester.mkpydir("tests")
    (tests_dir / "conftest.py").write_text(conftest)
    (tests_dir / "test_join.py").write_text(test_module)
    pytester.makeini("[pytest]\npythonpath = .\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--socketio-transport=all")
    result.assert_outcomes(passed=6)

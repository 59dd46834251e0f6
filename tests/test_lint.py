"""``ruff check`` (rules in pyproject.toml) passes on the package, tests, benchmarks, notebooks and tools.

Part of the one test command, so lint runs wherever the tests run; a failure shows ruff's findings.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ruff", reason="ruff is a dev dependency: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
LINTED = ("src", "tests", "bench", "notebooks", "tools")


def test_ruff_check_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *LINTED],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, f"ruff check {' '.join(LINTED)} (fix with `ruff check --fix`):\n" \
        f"{result.stdout}{result.stderr}"

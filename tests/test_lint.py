"""``ruff check`` (rules in pyproject.toml) passes on the package, tests, benchmarks, notebooks and tools,
``lint-imports`` finds the package's floors intact (the layers contract in pyproject.toml), and ``mypy`` finds
the package's annotations consistent.

Part of the one test command, so lint runs wherever the tests run; a failure shows the findings.
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


def test_import_layers_hold():
    """No import cycle and no import that climbs back up a floor, imports inside functions included."""
    pytest.importorskip("importlinter", reason="import-linter is a dev dependency: pip install -e '.[dev]'")
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"lint-imports (contract in pyproject.toml):\n{result.stdout}{result.stderr}"


def test_mypy_finds_the_annotations_consistent():
    """The package ships py.typed, so its annotations are checked ([tool.mypy] in pyproject.toml: src/tdfake)."""
    pytest.importorskip("mypy", reason="mypy is a dev dependency: pip install -e '.[dev]'")
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, f"mypy (settings in pyproject.toml):\n{result.stdout}{result.stderr}"


def test_only_the_tests_and_ci_name_the_machine_s_data_folder():
    """A clone's code and docs name environment variables for optional data, never a folder outside the repository."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no list of tracked files")
    naming = []
    for name in listed.stdout.splitlines():
        if name.startswith("tests/") or name == ".ci/run" or not (ROOT / name).is_file():
            continue
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:  # images and other binary files
            continue
        if "../shared/" in text or "/work/shared" in text:
            naming.append(name)
    assert not naming, f"these files name a folder outside the repository: {naming}"

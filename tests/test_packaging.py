"""The project installs as documented: conda's environment.yml mirrors pyproject.toml."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_mirrors_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert wanted == set(pip_section) - {"-e ."}


def test_console_command_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["tdfake"] == "tdfake.cli:main"


def test_cli_help_lists_every_command(capsys):
    import re

    import pytest

    from tdfake.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in ("images", "manifest", "split", "faces", "demo-data", "train", "evaluate", "predict", "run",
                    "graphs", "sweep", "robustness", "explain", "report"):
        assert re.search(rf"^    {command}(\s|$)", out, re.MULTILINE), command

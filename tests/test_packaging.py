"""The project installs as documented: conda's environment.yml mirrors pyproject.toml."""

from pathlib import Path

import tomllib
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


def test_cli_help_lists_commands(capsys):
    from tdfake.cli import main

    try:
        main(["--help"])
    except SystemExit as stop:
        assert stop.code == 0
    assert "COMMAND" in capsys.readouterr().out

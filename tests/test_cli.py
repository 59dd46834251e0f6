"""The `tdfake` command's one error boundary: user errors are one line on stderr and exit 2, bugs keep tracebacks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tdfake import cli, console
from tdfake.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tdfake: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("argv, message", [
    (["train", "--arm", "tk", "--set", "split_by=video"], "split_by='video' is not allowed; choose one of group, "),
    (["train", "--arm", "tk", "--set", "head=max"], "head='max' is not allowed; choose one of flatten, avg"),
    (["train", "--arm", "tk", "--set", "epoch=3"], "unknown config keys ['epoch']"),
    (["train", "--arm", "tk", "--config", "missing.yaml"], "missing.yaml: no such config"),
    (["run", "--set", "data_dir=/no/such/folder"], "/no/such/folder: data folder not found"),
    (["evaluate", "no_such_run"], "no_such_run/best.keras: missing"),
    (["report", "no_such_run"], "no_such_run: no results.csv, seeds.csv, comparisons.csv; give the folder"),
    (["report"], "name a run folder (runs/NAME) or a page's folder"),
    (["report", "runs/a", "runs/b", "--out", "page.md"], "--out and --card name one page's files"),
    (["report", "--headline", "README.md", "--machine"], "--headline fills the README's table only"),
    (["report", "--headline", "CHANGELOG.md"], "CHANGELOG.md: no headline block; put the lines"),
])
def test_user_errors_are_one_line_and_exit_2(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the default --config is configs/demo.yaml
    monkeypatch.delenv("TDFAKE_DEBUG", raising=False)
    assert main(argv) == 2
    assert message in _one_error_line(capsys)


def test_debug_flag_and_variable_show_the_traceback(monkeypatch):
    monkeypatch.delenv("TDFAKE_DEBUG", raising=False)
    with pytest.raises(FileNotFoundError, match="no_such_run"):
        main(["--debug", "evaluate", "no_such_run"])
    monkeypatch.setenv("TDFAKE_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="no_such_run"):
        main(["evaluate", "no_such_run"])


def test_console_script_exits_2_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TDFAKE_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "tdfake.cli", "images", str(tmp_path / "none"), str(tmp_path / "o")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 2
    expected = f"tdfake: error: {tmp_path / 'none'}: no such folder; pass the folder that holds your images"
    assert result.stderr.strip().splitlines() == [expected]


def test_bugs_keep_their_traceback(monkeypatch):
    def broken(args):
        raise AttributeError("a bug, not a user error")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_handler(parser(), broken))
    with pytest.raises(AttributeError, match="a bug"):
        main(["graphs", "anywhere"])


def test_a_library_key_error_is_a_bug_not_a_user_error(monkeypatch):
    import pandas as pd

    def broken(args):
        pd.DataFrame({"a": [1]})[["missing"]]  # pandas raises KeyError: a bug in the handler

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_handler(parser(), broken))
    with pytest.raises(KeyError, match="missing"):
        main(["graphs", "anywhere"])


def _with_handler(parser, handler):
    parser._subparsers._group_actions[0].choices["graphs"].set_defaults(func=handler)
    return parser


def test_a_command_module_that_fails_to_import_is_an_error(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="no_such_command"):
        cli.build_parser()


def test_library_messages_are_plain_stdout_lines_that_a_user_can_quiet(capsys):
    """What the command (and tdfake.notebook) installs: log records as bare lines on stdout, once, quieted by level."""
    package = logging.getLogger("tdfake")
    saved = package.level, package.handlers[:]
    package.handlers.clear()  # as in a fresh process (earlier tests ran the command)
    package.setLevel(logging.NOTSET)
    try:
        handler = console.show_messages()
        assert console.show_messages() is handler and package.handlers == [handler]
        logging.getLogger("tdfake.study").info("tdfake: made anew")
        logging.getLogger("tdfake.evaluate").warning("tdfake: 2 images could not be used")
        assert capsys.readouterr().out == "tdfake: made anew\ntdfake: 2 images could not be used\n"
        package.setLevel(logging.WARNING)  # what the module doc tells a notebook user
        logging.getLogger("tdfake.study").info("hidden")
        logging.getLogger("tdfake.evaluate").warning("shown")
        assert capsys.readouterr().out == "shown\n"
    finally:
        package.handlers[:] = saved[1]
        package.setLevel(saved[0])

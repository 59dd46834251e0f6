"""`tdfake archive`: a study without its checkpoints keeps its results, and `tdfake run` resumes from it."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from tiny_models import tiny_study_argv

from tdfake import layout
from tdfake.archive import archive_study
from tdfake.cli import main

ARMS = ("baseline", "tk", "tk_diff")


@pytest.mark.slow
def test_an_archived_study_keeps_its_results_and_is_never_scored_anew(tiny_study_unchanged, tmp_path, capsys):
    out = Path(tiny_study_unchanged["out_dir"])
    archive = tmp_path / "archive"
    assert main(["archive", str(out), str(archive)]) == 0
    assert not list(archive.rglob("*.keras")) and not (archive / layout.IMAGES_DIR).exists()
    for arm in ARMS:
        assert not (archive / arm / layout.LOGS_DIR).exists()
        record = json.loads((archive / arm / layout.ARCHIVE_RECORD).read_text())
        assert record["best_checkpoint_bytes"] == (out / arm / layout.BEST_CHECKPOINT).stat().st_size
        assert layout.is_archived(archive / arm) and not layout.is_archived(out / arm)
        pd.testing.assert_frame_equal(pd.read_csv(archive / arm / layout.PREDICTIONS_FILE),
                                      pd.read_csv(out / arm / layout.PREDICTIONS_FILE))

    # A new machine: the archive copied into a fresh study folder; images are remade from the data, nothing is
    # trained or scored, and the results are those of the original study.
    restored = tmp_path / "restored"
    shutil.copytree(archive, restored)
    overrides = {**tiny_study_unchanged, "out_dir": str(restored), "graphs_dir": str(tmp_path / "graphs")}
    assert main(tiny_study_argv(overrides)) == 0
    assert not list(restored.rglob("*.keras"))
    pd.testing.assert_frame_equal(pd.read_csv(restored / layout.RESULTS_CSV), pd.read_csv(out / layout.RESULTS_CSV))
    pd.testing.assert_frame_equal(pd.read_csv(restored / layout.COMPARISONS_CSV),
                                  pd.read_csv(out / layout.COMPARISONS_CSV))

    # Other training settings, or a test set the runs were never scored on, stop the run with the fix.
    capsys.readouterr()
    assert main(tiny_study_argv({**overrides, "dense_units": 8})) == 2
    assert "dense_units 64 -> 8" in capsys.readouterr().err
    demo = tiny_study_unchanged["demo_dir"]
    assert main(tiny_study_argv({**overrides, "test_sets.more": demo})) == 2
    error = capsys.readouterr().err
    assert "has no report on test set more" in error and "archived without its checkpoints" in error
    assert "--force" in error


@pytest.mark.slow
def test_runs_not_yet_scored_on_every_test_set_are_not_archived(tiny_study_copy, tmp_path):
    out = Path(tiny_study_copy["out_dir"])
    (out / layout.TEST_SETS_DIR / "extra").mkdir(parents=True)
    (out / layout.TEST_SETS_DIR / "extra" / layout.MANIFEST_FILE).write_text("path,label\n")
    scored = layout.test_set_report_dir(out / "baseline", "extra")  # as if tk and tk_diff were still being scored
    scored.mkdir(parents=True)
    shutil.copy(out / "baseline" / layout.REPORT_JSON, scored / layout.REPORT_JSON)
    archived = archive_study(out, tmp_path / "archive")
    assert archived == [tmp_path / "archive" / "baseline"]
    assert not (tmp_path / "archive" / "tk").exists()

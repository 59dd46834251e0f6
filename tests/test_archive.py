"""`tdfake archive`: a study without its checkpoints keeps its results, and `tdfake run` resumes from it."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from tiny_models import tiny_study_argv

from tdfake import layout, provenance
from tdfake.archive import archive_study
from tdfake.cli import main
from tdfake.datasets import read_manifest

ARMS = ("baseline", "tk", "tk_diff")


def _text_files(folder: Path) -> dict[Path, str]:
    return {path: path.read_text() for path in folder.rglob("*") if path.suffix in (".csv", ".json", ".md", ".yaml")}


@pytest.mark.slow
def test_an_archived_study_moves_to_other_folders_keeps_its_results_and_is_never_scored_anew(
        tiny_study_copy, tmp_path, capsys):
    out = Path(tiny_study_copy["out_dir"])
    extra = tmp_path / "extra"
    shutil.copytree(tiny_study_copy["demo_dir"], extra)
    study = {**tiny_study_copy, "test_sets.extra": str(extra)}
    assert main(tiny_study_argv(study)) == 0  # the three runs scored on a test set too
    # baseline's report on it recorded as before rows were fingerprinted without their folder
    record_file = layout.test_set_report_dir(out / "baseline", "extra") / "report.provenance.json"
    record = json.loads(record_file.read_text())
    manifest = read_manifest(out / layout.TEST_SETS_DIR / "extra" / layout.MANIFEST_FILE)
    record["params"]["rows"] = provenance.table_fingerprint(manifest, ["root", "path", "label", "group"])
    record_file.write_text(json.dumps(record))

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
    # No place of this machine is named: the data, the test set and the study's folder are placeholders.
    texts = _text_files(archive)
    places = [str(Path(folder).resolve()) for folder in (tiny_study_copy["demo_dir"], extra, out)]
    assert not [(path, place) for path, text in texts.items() for place in places if place in text]
    assert any("${demo_dir}" in text for text in texts.values())
    assert any("${test_sets.extra}" in text for text in texts.values())

    # Another machine: data, test set and study folder elsewhere. Restored, the images are remade from the
    # data, nothing is trained or scored, and the results are those of the original study.
    moved_demo, moved_extra, restored = tmp_path / "moved_demo", tmp_path / "moved_extra", tmp_path / "restored"
    shutil.copytree(tiny_study_copy["demo_dir"], moved_demo)
    shutil.move(extra, moved_extra)
    overrides = {**study, "out_dir": str(restored), "graphs_dir": str(tmp_path / "graphs"),
                 "demo_dir": str(moved_demo), "test_sets.extra": str(moved_extra)}
    capsys.readouterr()
    assert main(["restore", str(archive), *tiny_study_argv(overrides)[1:]]) == 0
    assert all(layout.is_archived(restored / arm) for arm in ARMS)
    assert "${" not in "".join(_text_files(restored).values())
    assert main(tiny_study_argv(overrides)) == 0
    assert not list(restored.rglob("*.keras"))
    for table in (layout.RESULTS_CSV, layout.COMPARISONS_CSV):
        pd.testing.assert_frame_equal(pd.read_csv(restored / table), pd.read_csv(out / table))

    # A place the config does not set, other training settings, or a test set the runs were never scored on
    # stop with the fix.
    capsys.readouterr()
    without_extra = {key: value for key, value in overrides.items() if key != "test_sets.extra"}
    assert main(["restore", str(archive), *tiny_study_argv({**without_extra, "out_dir": tmp_path / "again"})[1:]]) == 2
    assert "--set test_sets.extra=PATH" in capsys.readouterr().err
    assert main(tiny_study_argv({**overrides, "dense_units": 8})) == 2
    assert "dense_units 64 -> 8" in capsys.readouterr().err
    assert main(tiny_study_argv({**overrides, "test_sets.more": str(moved_demo)})) == 2
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

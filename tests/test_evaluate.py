"""tdfake.evaluate and `tdfake evaluate` / `tdfake predict` on a tiny hand-weighted model.

The model is GlobalAveragePooling → Dense(1, sigmoid) with fixed weights, so the score of an
image is known in closed form: sigmoid(10 · mean red / 255 − 5).  Real images here are darker in
red than fakes (with overlap), so the scores are informative but imperfect.  No training happens;
the run folder is :func:`tiny_models.write_run`'s.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score
from tiny_models import expected_score, face_split, tiny_config, write_run

from tdfake import layout
from tdfake.cli import main
from tdfake.config import Config
from tdfake.evaluate import evaluate_run, load_or_make_report, predict_paths, report_on_rows, report_params
from tdfake.layout import load_run
from tdfake.metrics import AtThreshold, ChosenThreshold, class_metrics, equal_error_rate, evaluate_scores

# red level per image: reals from 0.20 to 0.60, fakes from 0.45 to 0.85
REAL_RED = np.linspace(0.20, 0.60, 12)
FAKE_RED = np.linspace(0.45, 0.85, 12)
# split per index (same for both classes): 6 train, 3 val, 3 test
SPLITS = ["train", "val", "test", "train", "val", "test", "train", "val", "test", "train", "train", "train"]


def _video(cls: str, i: int, path: str) -> str:
    return f"{cls[0]}{i // 2}"  # two images per video


def _group(cls: str, i: int, path: str) -> str:
    return f"g{i // 2}"  # real r1 and fake f1 linked in group g1


@pytest.fixture
def split(tmp_path):
    """12 + 12 PNG faces under data/real and data/fake, and their split (6 train, 3 val, 3 test per class)."""
    return face_split(tmp_path / "data", (REAL_RED, FAKE_RED), SPLITS, group_of=_group, video_of=_video)


@pytest.fixture
def data_dir(split):
    return Path(split["root"].iloc[0])


@pytest.fixture
def run_dir(tmp_path, split):
    """A baseline run folder laid out as `tdfake run` writes it: OUT/images/OR/..., OUT/baseline/."""
    return write_run(tmp_path / "out", "baseline", split, tiny_config(batch_size=5))


def test_evaluate_run_scores_val_and_test_and_writes_the_report(run_dir):
    report = evaluate_run(run_dir, n_bootstrap=50)
    predictions = pd.read_csv(run_dir / "predictions.csv", dtype={"group": str})
    assert list(predictions.columns) == ["path", "label", "group", "split", "score"]
    assert sorted(predictions["split"].unique()) == ["test", "val"]
    assert len(predictions) == 12  # 3 val + 3 test per class
    images = run_dir.parent / "images" / "OR"
    for row in predictions.itertuples():
        assert row.score == pytest.approx(expected_score(images / row.path), abs=1e-5)

    test = predictions[predictions["split"] == "test"]
    val = predictions[predictions["split"] == "val"]
    assert report.auroc == pytest.approx(roc_auc_score(test["label"], test["score"]))
    assert isinstance(report.chosen, ChosenThreshold) and isinstance(report.at_study_threshold, AtThreshold)
    assert (report.chosen.source, report.chosen.method) == ("validation", "eer")
    assert report.chosen.threshold == pytest.approx(equal_error_rate(val["label"], val["score"])[1])
    assert report.chosen.metrics == class_metrics(test["label"], test["score"], report.chosen.threshold)
    assert report.at_study_threshold == class_metrics(test["label"], test["score"], 0.5)
    assert report.chosen.metrics.fake.recall == pytest.approx(
        recall_score(test["label"], test["score"] >= report.chosen.threshold))
    assert report.table.loc["TOTAL ACCURACY", "support"] == 6
    # intervals resample the split's groups (g1, g2, g4 each hold a real and a fake video)
    assert (report.bootstrap_unit, report.n_bootstrap_units, report.n_videos) == ("group", 3, 6)
    direct = evaluate_scores(test["label"], test["score"], val["label"], val["score"], groups=test["group"],
                             n_bootstrap=50, seed=Config().seed)
    assert all(report.ci[k] == pytest.approx(direct.ci[k]) for k in direct.ci)

    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["auroc"] == pytest.approx(report.auroc)
    # report.json keeps its JSON shape: the typed records read back as they were
    assert saved["chosen"]["threshold"] == report.chosen.threshold and saved["chosen"]["source"] == "validation"
    assert saved["chosen"]["metrics"]["confusion"] == report.chosen.metrics.confusion
    assert saved["at_study_threshold"]["FAKE"]["f1-score"] == pytest.approx(report.at_study_threshold.fake.f1)
    back = layout.load_run(run_dir).report()
    assert back.chosen == report.chosen and back.at_study_threshold == report.at_study_threshold
    assert layout.chosen_threshold(run_dir) == report.chosen.threshold
    pd.testing.assert_frame_equal(layout.validation_scores(run_dir).reset_index(drop=True),
                                  val.reset_index(drop=True))
    pd.testing.assert_frame_equal(layout.test_predictions(run_dir), test.reset_index(drop=True))
    text = (run_dir / "report.md").read_text()
    assert "TOTAL ACCURACY" in text and "study" in text and "chosen on **validation**" in text
    assert "3 test groups (6 videos)" in text


def test_run_json_can_point_at_the_original_images(run_dir, data_dir, tmp_path):
    run = load_run(run_dir)  # run.json written by layout.write_run_info: images relative to the run folder
    assert (run.arm, run.kind, run.seed) == ("baseline", "OR", Config().seed)
    assert json.loads((run_dir / "run.json").read_text())["images_root"] == "../images"
    assert run.images_root.resolve() == (run_dir.parent / "images").resolve()
    moved = tmp_path / "elsewhere" / "my-run"
    moved.parent.mkdir()
    run_dir.rename(moved)
    (moved / "run.json").unlink()
    with pytest.raises(ValueError, match="run.json"):  # neither run.json nor an arm's folder name
        load_run(moved)
    layout.write_run_info(moved, "baseline", "OR", None, seed=7)  # None: each row's root/path
    assert (load_run(moved).images_root, load_run(moved).seed) == (None, 7)
    report = evaluate_run(moved, n_bootstrap=0)
    predictions = pd.read_csv(moved / "predictions.csv")
    for row in predictions.itertuples():
        assert row.score == pytest.approx(expected_score(data_dir / row.path), abs=1e-5)
    assert report.chosen.source == "validation"


def test_other_data_is_named_by_its_folder_or_manifest_name(tmp_path):
    """One name for `evaluate --data`, `compare --data` and video folders: a dotted folder name is kept whole."""
    assert layout.data_name(tmp_path / "faces.v2") == "faces.v2"
    assert layout.data_name(tmp_path / "faces.v2.csv") == "faces.v2"  # a manifest: without .csv
    assert layout.eval_dir(tmp_path / "run", tmp_path / "faces.v2") == tmp_path / "run" / "eval-faces.v2"


def test_evaluate_on_other_data_keeps_the_validation_threshold(run_dir, data_dir):
    (data_dir / "fake" / "broken.png").write_bytes(b"not an image")
    report = evaluate_run(run_dir, data=data_dir, n_bootstrap=0)
    out = run_dir / "eval-data"
    predictions = pd.read_csv(out / "predictions.csv")
    scored = predictions[predictions["split"] == "test"]
    assert len(scored) == 24  # every readable image of the folder, the broken one skipped
    assert "fake/broken.png" in pd.read_csv(out / "skipped.csv")["path"].tolist()
    for row in scored.itertuples():
        assert row.score == pytest.approx(expected_score(data_dir / row.path), abs=1e-5)
    assert report.auroc == pytest.approx(roc_auc_score(scored["label"], scored["score"]))
    own = predictions[predictions["split"] == "val"]
    assert report.chosen.threshold == pytest.approx(equal_error_rate(own["label"], own["score"])[1])
    assert not (run_dir / "report.json").exists()  # the run's own report is left alone


def test_predict_paths_scores_files_and_folders_and_reports_bad_files(run_dir, data_dir):
    (data_dir / "real" / "empty.jpg").write_bytes(b"")
    table = predict_paths(run_dir, [data_dir / "fake" / "f03.png", data_dir / "real"], threshold=0.5)
    assert list(table.columns) == ["path", "score", "prediction", "error"]
    assert len(table) == 1 + 13
    bad = table[table["path"].str.endswith("empty.jpg")].iloc[0]
    assert np.isnan(bad["score"]) and bad["prediction"] == "" and "empty" in bad["error"]
    good = table[table["error"] == ""]
    for row in good.itertuples():
        assert row.score == pytest.approx(expected_score(row.path), abs=1e-5)
        assert row.prediction == ("fake" if row.score >= 0.5 else "real")


def test_cli_evaluate_then_predict_uses_the_validation_threshold(run_dir, data_dir, capsys):
    assert main(["evaluate", str(run_dir), "--bootstrap", "20"]) == 0
    assert "TOTAL ACCURACY" in capsys.readouterr().out
    threshold = json.loads((run_dir / "report.json").read_text())["chosen"]["threshold"]
    image = data_dir / "real" / "r05.png"
    assert main(["predict", str(run_dir), str(image)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "path,score,prediction,error"
    path, score, prediction, _ = lines[1].split(",")
    assert float(score) == pytest.approx(expected_score(image), abs=1e-5)
    assert prediction == ("fake" if float(score) >= threshold else "real")


def test_missing_run_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="best.keras"):
        evaluate_run(tmp_path)


def test_report_on_rows_reproduces_the_runs_own_report(run_dir):
    full = evaluate_run(run_dir, n_bootstrap=30)
    run = load_run(run_dir)
    scored = layout.test_predictions(run_dir)[["path", "score"]]
    test = run.split[run.split["split"] == "test"].merge(scored, on="path")
    val = layout.validation_scores(run_dir)
    report = report_on_rows(run, test, val, n_bootstrap=30)
    assert report.summary() == full.summary()  # same threshold, same groups resampled with the split's seed
    direct = evaluate_scores(test["label"], test["score"], val["label"], val["score"], groups=test["group"],
                             videos=test["video"], threshold_method=run.cfg.threshold, n_bootstrap=30,
                             seed=run.cfg.seed, methods=test["method"])
    assert report.ci == direct.ci and report.chosen == direct.chosen


def test_load_or_make_report_records_what_the_report_depends_on(run_dir):
    first = load_or_make_report(run_dir)
    params = report_params(run_dir)
    assert set(params) == {"files", "threshold", "images_root"} and params["files"]["files"] == 2
    assert params["threshold"] == "eer" and params["images_root"] == "../images"  # as run.json keeps it
    record = json.loads((run_dir / "report.provenance.json").read_text())
    assert record["step"] == "report" and record["params"] == json.loads(json.dumps(params))
    written = (run_dir / "report.json").stat().st_mtime_ns
    assert load_or_make_report(run_dir).summary() == first.summary()
    assert (run_dir / "report.json").stat().st_mtime_ns == written  # reused while the record matches


def test_a_copied_study_keeps_its_reports(run_dir, tmp_path):
    load_or_make_report(run_dir)
    copy = Path(shutil.copytree(run_dir.parent, tmp_path / "copy")) / "baseline"  # copy2: times kept
    written = (copy / "report.json").stat().st_mtime_ns
    assert report_params(copy) == report_params(run_dir)
    load_or_make_report(copy)
    assert (copy / "report.json").stat().st_mtime_ns == written  # reused, not evaluated anew
    os.utime(copy / "best.keras")  # a checkpoint rewritten in the copy: evaluated anew there only
    load_or_make_report(copy)
    assert (copy / "report.json").stat().st_mtime_ns > written

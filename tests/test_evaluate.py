"""tdfake.evaluate and `tdfake evaluate` / `tdfake predict` on a tiny hand-weighted model.

The model is GlobalAveragePooling → Dense(1, sigmoid) with fixed weights, so the score of an
image is known in closed form: sigmoid(10 · mean red / 255 − 5).  Real images here are darker in
red than fakes (with overlap), so the scores are informative but imperfect.  No training happens.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from tiny_models import SIZE, expected_score, face, red_model

from tdfake.cli import main
from tdfake.config import Config
from tdfake.evaluate import evaluate_run, load_run, predict_paths
from tdfake.images import read_rgb, write_rgb
from tdfake.metrics import equal_error_rate, evaluate_scores

# red level per image: reals from 0.20 to 0.60, fakes from 0.45 to 0.85
REAL_RED = np.linspace(0.20, 0.60, 12)
FAKE_RED = np.linspace(0.45, 0.85, 12)
# split per index (same for both classes): 6 train, 3 val, 3 test
SPLITS = ["train", "val", "test", "train", "val", "test", "train", "val", "test", "train", "train", "train"]


@pytest.fixture
def data_dir(tmp_path):
    """A real/ and fake/ folder of 12 + 12 PNG faces."""
    root = tmp_path / "data"
    for i, red in enumerate(REAL_RED):
        write_rgb(root / "real" / f"r{i:02d}.png", face(red, i))
    for i, red in enumerate(FAKE_RED):
        write_rgb(root / "fake" / f"f{i:02d}.png", face(red, 100 + i))
    return root


@pytest.fixture
def run_dir(tmp_path, data_dir):
    """A baseline run folder laid out as `tdfake run` writes it: OUT/images/OR/..., OUT/baseline/."""
    out = tmp_path / "out"
    rows = []
    for label, prefix in ((0, "real/r"), (1, "fake/f")):
        for i, split in enumerate(SPLITS):
            path = f"{prefix}{i:02d}.png"
            video = f"{prefix[0]}{i // 2}"  # two images per video; real r1 and fake f1 linked in group g1
            rows.append((str(data_dir), path, label, "real" if label == 0 else "fake", video, f"g{i // 2}", split))
    split = pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group", "split"])
    for path in split["path"]:
        write_rgb(out / "images" / "OR" / path, read_rgb(data_dir / path))
    run = out / "baseline"
    run.mkdir(parents=True)
    Config().override(image_size=SIZE, batch_size=5, weights=None, out_dir=str(out)).to_yaml(run / "config.yaml")
    split.to_csv(run / "split.csv", index=False)
    red_model().save(run / "best.keras")
    return run


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
    assert report.chosen["source"] == "validation"
    assert report.chosen["threshold"] == pytest.approx(equal_error_rate(val["label"], val["score"])[1])
    assert report.table.loc["TOTAL ACCURACY", "support"] == 6
    # intervals resample the split's groups (g1, g2, g4 each hold a real and a fake video)
    assert (report.bootstrap_unit, report.n_bootstrap_units, report.n_videos) == ("group", 3, 6)
    direct = evaluate_scores(test["label"], test["score"], val["label"], val["score"], groups=test["group"],
                             n_bootstrap=50, seed=Config().seed)
    assert all(report.ci[k] == pytest.approx(direct.ci[k]) for k in direct.ci)

    saved = json.loads((run_dir / "report.json").read_text())
    assert saved["auroc"] == pytest.approx(report.auroc)
    text = (run_dir / "report.md").read_text()
    assert "TOTAL ACCURACY" in text and "study" in text and "chosen on **validation**" in text
    assert "3 test groups (6 videos)" in text


def test_run_json_can_point_at_the_original_images(run_dir, data_dir, tmp_path):
    moved = tmp_path / "elsewhere" / "my-run"
    moved.parent.mkdir()
    run_dir.rename(moved)
    with pytest.raises(ValueError, match="run.json"):
        load_run(moved)
    (moved / "run.json").write_text(json.dumps({"arm": "baseline", "kind": "OR", "images_root": None}))
    report = evaluate_run(moved, n_bootstrap=0)
    predictions = pd.read_csv(moved / "predictions.csv")
    for row in predictions.itertuples():
        assert row.score == pytest.approx(expected_score(data_dir / row.path), abs=1e-5)
    assert report.chosen["source"] == "validation"


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
    assert report.chosen["threshold"] == pytest.approx(equal_error_rate(own["label"], own["score"])[1])
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

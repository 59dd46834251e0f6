"""Extra test sets (tdfake.test_sets) and the config's dotted ``--set``, on real files and a hand-weighted model.

The model is GlobalAveragePooling -> Dense(1, sigmoid) with fixed weights: the score of an image is
sigmoid(10 * mean red / 255 - 5), so every score can be checked in closed form.  No training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score
from tiny_models import SIZE, expected_score, face, red_model

from tdfake import plots
from tdfake.config import Config, ConfigError
from tdfake.evaluate import evaluate_run
from tdfake.images import read_rgb, write_rgb
from tdfake.metrics import Report, equal_error_rate
from tdfake.test_sets import (
    OWN_TEST_SET,
    evaluate_test_sets,
    load_set_reports,
    results_by_set,
    sets_markdown,
)


@pytest.fixture
def run_out(tmp_path):
    """A `tdfake run` folder with an evaluated baseline arm (own split: 6 train, 3 val, 3 test per class)."""
    data, out = tmp_path / "data", tmp_path / "out"
    rows = []
    for label, (cls, reds) in enumerate((("real", np.linspace(0.2, 0.6, 12)), ("fake", np.linspace(0.45, 0.85, 12)))):
        for i, red in enumerate(reds):
            path = f"{cls}/{cls[0]}{i:02d}.png"
            write_rgb(data / path, face(red, 100 * label + i))
            write_rgb(out / "images" / "OR" / path, read_rgb(data / path))
            split = ["train", "val", "test", "train"][i % 4] if i < 8 else ["val", "test", "train", "train"][i % 4]
            rows.append((str(data), path, label, cls, path, path, split))
    run = out / "baseline"
    run.mkdir(parents=True)
    cfg = Config().override(image_size=SIZE, batch_size=5, weights=None, out_dir=str(out), workers=1)
    cfg.to_yaml(run / "config.yaml")
    pd.DataFrame(rows, columns=["root", "path", "label", "method", "video", "group", "split"]).to_csv(
        run / "split.csv", index=False)
    red_model().save(run / "best.keras")
    evaluate_run(run, n_bootstrap=0)
    return cfg


@pytest.fixture
def ffpp_set(tmp_path):
    """A FaceForensics++-layout folder with two methods: Deepfakes (easy, very red) and FaceSwap (hard)."""
    root = tmp_path / "ffpp"
    for i, red in enumerate(np.linspace(0.2, 0.6, 8)):
        write_rgb(root / f"REAL/{i:03d}_frame0.png", face(red, 300 + i))
    for i, red in enumerate(np.linspace(0.6, 0.9, 5)):
        write_rgb(root / f"FAKE/Deepfakes/{i:03d}_{i + 1:03d}_frame0.png", face(red, 400 + i))
    for i, red in enumerate(np.linspace(0.3, 0.6, 5)):
        write_rgb(root / f"FAKE/FaceSwap/{i:03d}_{i + 2:03d}_frame0.png", face(red, 500 + i))
    (root / "FAKE/FaceSwap/009_010_frame0.png").write_bytes(b"not an image")
    return root


def test_dotted_set_adds_entries_to_dict_fields(tmp_path):
    cfg = Config().override(test_sets={"kept": "/data/kept"})
    cfg = cfg.override_from_strings(["test_sets.photos=data/photos", "test_sets.dfdc=/x/dfdc", "epochs=3"])
    assert cfg.test_sets == {"kept": "/data/kept", "photos": "data/photos", "dfdc": "/x/dfdc"} and cfg.epochs == 3
    assert Config().test_sets == {}
    assert cfg.rooted(tmp_path).test_sets["photos"] == str(tmp_path / "data/photos")
    assert cfg.rooted(tmp_path).test_sets["dfdc"] == "/x/dfdc"
    with pytest.raises(TypeError, match="'epochs' is not a dict field"):
        Config().override_from_strings(["epochs.x=3"])
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert Config.from_yaml(path).test_sets == cfg.test_sets


def test_every_arm_on_an_extra_set_with_the_validation_threshold(run_out, ffpp_set):
    cfg = run_out.override(test_sets={"ffpp": str(ffpp_set)})
    sets = evaluate_test_sets(cfg, arms=("baseline",))
    report = sets["ffpp"]["baseline"]
    out = Path(cfg.out_dir)
    folder = out / "baseline" / "test_sets" / "ffpp"
    predictions = pd.read_csv(folder / "predictions.csv")
    assert len(predictions) == 18 and set(predictions["split"]) == {"test"}  # all rows but the broken file
    assert pd.read_csv(folder / "skipped.csv")["path"].tolist() == ["FAKE/FaceSwap/009_010_frame0.png"]
    for row in predictions.itertuples():  # images made under the run folder, scored as the model says
        staged = out / "test_sets" / "ffpp" / "images" / "OR" / row.path
        assert row.score == pytest.approx(expected_score(ffpp_set / row.path), abs=1e-5) and staged.is_file()
    assert report.auroc == pytest.approx(roc_auc_score(predictions["label"], predictions["score"]))
    own = pd.read_csv(out / "baseline" / "predictions.csv").query("split == 'val'")
    assert report.chosen["source"] == "validation"
    assert report.chosen["threshold"] == pytest.approx(equal_error_rate(own["label"], own["score"])[1])

    manifest = pd.read_csv(out / "test_sets" / "ffpp" / "manifest.csv").set_index("path")
    methods = manifest.loc[predictions["path"], "method"].to_numpy()
    by_method = {r["method"]: r for r in report.per_method}
    assert sorted(by_method) == ["Deepfakes", "FaceSwap"]
    for method, record in by_method.items():
        keep = (methods == "real") | (methods == method)
        fakes = predictions[methods == method]
        assert record["auroc"] == pytest.approx(roc_auc_score(predictions["label"][keep], predictions["score"][keep]))
        assert record["recall_at_threshold"] == pytest.approx(
            recall_score(fakes["label"], fakes["score"] >= report.chosen["threshold"]))
        assert record["n_fake"] == len(fakes) and record["n_real"] == 8
    assert by_method["Deepfakes"]["auroc"] > by_method["FaceSwap"]["auroc"]
    saved = json.loads((folder / "report.json").read_text())
    assert [r["method"] for r in saved["per_method"]] == ["Deepfakes", "FaceSwap"]
    assert "Per manipulation method" in (folder / "report.md").read_text()

    # reused, not recomputed, on a second call; and readable back for the graphs
    mtime = (folder / "report.json").stat().st_mtime_ns
    evaluate_test_sets(cfg, arms=("baseline",))
    assert (folder / "report.json").stat().st_mtime_ns == mtime
    assert load_set_reports(out, ["baseline", "tk"])["ffpp"]["baseline"].auroc == report.auroc


def test_results_table_markdown_and_figure_show_the_sets_side_by_side(run_out, ffpp_set, tmp_path):
    cfg = run_out.override(test_sets={"ffpp": str(ffpp_set)})
    own = Report.from_json(Path(cfg.out_dir) / "baseline" / "report.json")
    sets = {OWN_TEST_SET: {"baseline": own}, **evaluate_test_sets(cfg, arms=("baseline",))}
    results = results_by_set(sets)
    assert results["test_set"].tolist() == ["test", "ffpp"] and list(results.index) == ["baseline", "baseline"]
    assert results["auroc"].tolist() == [own.auroc, sets["ffpp"]["baseline"].auroc]
    assert results["study_auroc"].iloc[0] == 0.943 and np.isnan(results["study_auroc"].iloc[1])
    text = sets_markdown(cfg, sets)
    assert f"## Test set `ffpp`: {ffpp_set}" in text and "All 8 real + 10 fake images" in text
    assert f"95 % intervals over {sets['ffpp']['baseline'].ci_basis()}." in text
    assert "### Per method: baseline (OR) on `ffpp`" in text and "FaceSwap" in text
    assert "on `test`" not in text  # the own split holds one method: no per-method table

    fig = plots.plot_comparison(sets[OWN_TEST_SET], path=tmp_path / "cmp.png", test_sets={"ffpp": sets["ffpp"]})
    auc_ax = fig.axes[1]
    heights = [p.get_height() for p in auc_ax.patches if p.get_height() > 0]
    assert heights == pytest.approx([own.auroc, sets["ffpp"]["baseline"].auroc])
    assert [t.get_text() for t in auc_ax.get_xticklabels()] == ["own test split", "ffpp"]
    study = next(line for line in auc_ax.lines if line.get_label() == "study")
    assert list(study.get_ydata()) == [0.943]  # the study's marker only over the own split
    assert (tmp_path / "cmp.png").stat().st_size > 0


def test_bad_set_names_and_missing_folders_are_explained(run_out, tmp_path):
    with pytest.raises(ValueError, match="other than 'test'"):
        evaluate_test_sets(run_out.override(test_sets={"test": str(tmp_path)}))
    with pytest.raises(ValueError, match="letters, digits"):
        evaluate_test_sets(run_out.override(test_sets={"a/b": str(tmp_path)}))
    with pytest.raises(FileNotFoundError, match="test_sets.gone: .*no such data folder"):
        evaluate_test_sets(run_out.override(test_sets={"gone": str(tmp_path / "nope")}))


def test_a_set_name_pointed_at_another_folder_is_rescored(run_out, ffpp_set, tmp_path):
    out = Path(run_out.out_dir)
    evaluate_test_sets(run_out.override(test_sets={"other": str(ffpp_set)}), arms=("baseline",))
    smaller = tmp_path / "smaller"
    for path in sorted(ffpp_set.rglob("*.png"))[:-4]:
        (smaller / path.relative_to(ffpp_set)).parent.mkdir(parents=True, exist_ok=True)
        (smaller / path.relative_to(ffpp_set)).write_bytes(path.read_bytes())
    sets = evaluate_test_sets(run_out.override(test_sets={"other": str(smaller)}), arms=("baseline",))
    scored = pd.read_csv(out / "baseline" / "test_sets" / "other" / "predictions.csv")
    assert len(scored) == sets["other"]["baseline"].n_real + sets["other"]["baseline"].n_fake
    assert len(scored) < 18  # the first folder's 18 usable images are not what is reported
    assert len(pd.read_csv(out / "test_sets" / "other" / "manifest.csv")) == len(list(smaller.rglob("*.png")))


@pytest.mark.parametrize("sets", [{"test": "/x"}, {"a b": "/x"}, {"photos": 3}, ["/x"]])
def test_bad_test_set_entries_are_refused_when_the_config_is_built(sets):
    with pytest.raises(ConfigError, match="test_sets"):
        Config().override(test_sets=sets)

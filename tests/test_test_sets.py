"""Extra test sets (tdfake.test_sets) and the config's dotted ``--set``, on real files and a hand-weighted model.

The model is GlobalAveragePooling -> Dense(1, sigmoid) with fixed weights: the score of an image is
sigmoid(10 * mean red / 255 - 5), so every score can be checked in closed form.  No training; the
run folder is :func:`tiny_models.write_run`'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score
from tiny_models import expected_score, face, face_split, tiny_config, write_run

from tdfake import layout, plots
from tdfake.config import Config, ConfigError
from tdfake.constants import OWN_TEST_SET
from tdfake.images import write_rgb
from tdfake.metrics import Report, equal_error_rate
from tdfake.results import results_by_set, sets_markdown
from tdfake.test_sets import evaluate_test_sets, load_set_reports


def _split_of(i: int) -> str:
    return ["train", "val", "test", "train"][i % 4] if i < 8 else ["val", "test", "train", "train"][i % 4]


@pytest.fixture
def run_out(tmp_path):
    """The config of a `tdfake run` folder with an evaluated baseline arm (6 train, 3 val, 3 test per class)."""
    split = face_split(tmp_path / "data", (np.linspace(0.2, 0.6, 12), np.linspace(0.45, 0.85, 12)), _split_of)
    run = write_run(tmp_path / "out", "baseline", split, tiny_config(batch_size=5), evaluate=True)
    return layout.load_run(run).cfg


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
    out = Path(cfg.out_dir)
    run = out / "baseline"
    sets = evaluate_test_sets(cfg, [run])
    assert list(sets) == ["ffpp"] and list(sets["ffpp"]) == [run]  # set -> run folder -> report
    report = sets["ffpp"][run]
    folder = layout.test_set_report_dir(run, "ffpp")
    assert folder == run / "test_sets" / "ffpp"
    written = pd.read_csv(folder / "predictions.csv")
    own = pd.read_csv(run / "predictions.csv").query("split == 'val'")
    val = written[written["split"] == "val"]  # the rows the threshold was chosen on come first, as in every report
    pd.testing.assert_frame_equal(val.reset_index(drop=True), own.reset_index(drop=True))
    predictions = written[written["split"] == "test"].reset_index(drop=True)
    assert len(predictions) == 18 and len(written) == len(own) + 18  # all rows but the broken file
    assert pd.read_csv(folder / "skipped.csv")["path"].tolist() == ["FAKE/FaceSwap/009_010_frame0.png"]
    for row in predictions.itertuples():  # images made under the study's test set folder, scored as the model says
        staged = layout.test_set_dir(out, "ffpp") / "images" / "OR" / row.path
        assert row.score == pytest.approx(expected_score(ffpp_set / row.path), abs=1e-5) and staged.is_file()
    assert report.auroc == pytest.approx(roc_auc_score(predictions["label"], predictions["score"]))
    assert report.chosen.source == "validation"
    assert report.chosen.threshold == pytest.approx(equal_error_rate(own["label"], own["score"])[1])
    assert report.chosen.threshold == layout.chosen_threshold(run)  # the run's own operating point
    assert report.chosen.metrics.accuracy == pytest.approx(
        np.mean((predictions["score"] >= report.chosen.threshold) == predictions["label"]))
    pd.testing.assert_frame_equal(layout.test_predictions(run, "ffpp")[["path", "score"]],
                                  predictions[["path", "score"]])

    manifest = pd.read_csv(layout.test_set_dir(out, "ffpp") / "manifest.csv").set_index("path")
    methods = manifest.loc[predictions["path"], "method"].to_numpy()
    by_method = {r["method"]: r for r in report.per_method}
    assert sorted(by_method) == ["Deepfakes", "FaceSwap"]
    for method, record in by_method.items():
        keep = (methods == "real") | (methods == method)
        fakes = predictions[methods == method]
        assert record["auroc"] == pytest.approx(roc_auc_score(predictions["label"][keep], predictions["score"][keep]))
        assert record["recall_at_threshold"] == pytest.approx(
            recall_score(fakes["label"], fakes["score"] >= report.chosen.threshold))
        assert record["n_fake"] == len(fakes) and record["n_real"] == 8
    assert by_method["Deepfakes"]["auroc"] > by_method["FaceSwap"]["auroc"]
    saved = json.loads((folder / "report.json").read_text())
    assert [r["method"] for r in saved["per_method"]] == ["Deepfakes", "FaceSwap"]
    assert "Per manipulation method" in (folder / "report.md").read_text()

    # reused, not recomputed, on a second call; and readable back for the graphs
    mtime = (folder / "report.json").stat().st_mtime_ns
    evaluate_test_sets(cfg, [run])
    assert (folder / "report.json").stat().st_mtime_ns == mtime
    assert layout.test_set_names([run, out / "tk"]) == ["ffpp"]
    loaded = load_set_reports([run, out / "tk"])  # the tk arm has no report on the set: left out
    assert list(loaded) == ["ffpp"] and list(loaded["ffpp"]) == [run]
    assert loaded["ffpp"][run].summary() == report.summary()


def test_results_table_markdown_and_figure_show_the_sets_side_by_side(run_out, ffpp_set, tmp_path):
    cfg = run_out.override(test_sets={"ffpp": str(ffpp_set)})
    run = Path(cfg.out_dir) / "baseline"
    own = Report.from_json(run / "report.json")
    ffpp = evaluate_test_sets(cfg, [run])["ffpp"][run]
    seed = int(cfg.seed)
    results = results_by_set({OWN_TEST_SET: {seed: {"baseline": own}}, "ffpp": {seed: {"baseline": ffpp}}}, cfg)
    assert list(results.columns[:2]) == ["test_set", "seed"]
    assert results["test_set"].tolist() == ["test", "ffpp"] and list(results.index) == ["baseline", "baseline"]
    assert results["seed"].tolist() == [seed, seed]
    assert results["auroc"].tolist() == [own.auroc, ffpp.auroc]
    assert results["accuracy_at_threshold"].tolist() == [own.chosen.metrics.accuracy, ffpp.chosen.metrics.accuracy]
    assert results["accuracy_at_0.5"].tolist() == [own.accuracy, ffpp.accuracy]
    assert "accuracy" not in results.columns  # accuracy is always named by its threshold
    assert results["study_auroc"].iloc[0] == 0.943 and np.isnan(results["study_auroc"].iloc[1])
    assert results["study_accuracy_at_0.5"].iloc[0] == 0.839 and np.isnan(results["study_accuracy_at_0.5"].iloc[1])
    sets = {OWN_TEST_SET: {"baseline": own}, "ffpp": {"baseline": ffpp}}
    text = sets_markdown(cfg, sets)
    assert f"## Test set `ffpp`: {ffpp_set}" in text and "All 8 real + 10 fake images" in text
    assert f"95 % intervals over {ffpp.ci_basis()}." in text
    assert f" {ffpp.chosen.threshold:.3f} " in text  # the threshold chosen on the run's validation split
    assert "### Per method: baseline (OR) on `ffpp`" in text and "FaceSwap" in text
    assert "on `test`" not in text  # the own split holds one method: no per-method table

    fig = plots.plot_comparison(sets[OWN_TEST_SET], path=tmp_path / "cmp.png", test_sets={"ffpp": sets["ffpp"]})
    auc_ax = fig.axes[1]
    heights = [p.get_height() for p in auc_ax.patches if p.get_height() > 0]
    assert heights == pytest.approx([own.auroc, ffpp.auroc])
    assert [t.get_text() for t in auc_ax.get_xticklabels()] == ["own test split", "ffpp"]
    study = next(line for line in auc_ax.lines if line.get_label() == "study")
    assert list(study.get_ydata()) == [0.943]  # the study's marker only over the own split
    assert (tmp_path / "cmp.png").stat().st_size > 0


def test_bad_set_names_and_missing_folders_are_explained(run_out, tmp_path):
    with pytest.raises(ConfigError, match="other than 'test'"):
        run_out.override(test_sets={"test": str(tmp_path)})
    with pytest.raises(ConfigError, match="letters, digits"):
        run_out.override(test_sets={"a/b": str(tmp_path)})
    run = Path(run_out.out_dir) / "baseline"
    with pytest.raises(FileNotFoundError, match="test_sets.gone: .*no such data folder"):
        evaluate_test_sets(run_out.override(test_sets={"gone": str(tmp_path / "nope")}), [run])


def test_a_set_name_pointed_at_another_folder_is_rescored(run_out, ffpp_set, tmp_path):
    out = Path(run_out.out_dir)
    run = out / "baseline"
    evaluate_test_sets(run_out.override(test_sets={"other": str(ffpp_set)}), [run])
    smaller = tmp_path / "smaller"
    for path in sorted(ffpp_set.rglob("*.png"))[:-4]:
        (smaller / path.relative_to(ffpp_set)).parent.mkdir(parents=True, exist_ok=True)
        (smaller / path.relative_to(ffpp_set)).write_bytes(path.read_bytes())
    sets = evaluate_test_sets(run_out.override(test_sets={"other": str(smaller)}), [run])
    scored = layout.test_predictions(run, "other")
    assert len(scored) == sets["other"][run].n_real + sets["other"][run].n_fake
    assert len(scored) < 18  # the first folder's 18 usable images are not what is reported
    assert len(pd.read_csv(out / "test_sets" / "other" / "manifest.csv")) == len(list(smaller.rglob("*.png")))


@pytest.mark.parametrize("sets", [{"test": "/x"}, {"a b": "/x"}, {"photos": 3}, ["/x"]])
def test_bad_test_set_entries_are_refused_when_the_config_is_built(sets):
    with pytest.raises(ConfigError, match="test_sets"):
        Config().override(test_sets=sets)

"""The end-to-end job: `tdfake run` on tiny demo settings (a copy of the session's tiny study), its outputs,
resume, and bad files."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_models import tiny_study_argv

from tdfake import layout
from tdfake.cli import main
from tdfake.config import Config
from tdfake.metrics import Report
from tdfake.study import prepare

ROOT = Path(__file__).resolve().parents[1]


def test_prepare_leaves_out_unreadable_files_and_records_them(write_images, tmp_path):
    names = [f"real/r{i:02d}.png" for i in range(10)] + [f"fake/f{i:02d}.png" for i in range(10)]
    data = write_images(names, size=40)
    (data / "fake" / "f99.jpg").write_bytes(b"not a jpeg")  # one corrupt file among good ones
    cfg = Config().override(data_dir=str(data), layout="folders", per_class=None, out_dir=str(tmp_path / "run"),
                            train_fraction=0.6, val_fraction=0.2, test_fraction=0.2, workers=1)
    prepared = prepare(cfg, ["baseline"])
    assert "fake/f99.jpg" not in set(prepared.split["path"])
    assert len(prepared.split) == 20 and set(prepared.split["split"]) == {"train", "val", "test"}
    skipped = pd.read_csv(prepared.images_root / "skipped.csv")
    assert list(skipped["path"]) == ["fake/f99.jpg"] and "decodable" in skipped["reason"][0]
    # the split is written once and reused, so every arm and every re-run sees the same rows
    again = prepare(cfg, ["baseline"])
    pd.testing.assert_frame_equal(again.split, prepared.split)


@pytest.mark.slow
def test_run_writes_results_and_graphs_then_resumes(tiny_study_copy, capsys):
    out, graphs = Path(tiny_study_copy["out_dir"]), Path(tiny_study_copy["graphs_dir"])
    arms = ["baseline", "tk", "tk_diff"]
    results = pd.read_csv(out / layout.RESULTS_CSV, index_col="arm")
    assert list(results.index) == arms and list(results.columns[:2]) == ["test_set", "seed"]
    assert results["test_set"].eq("test").all() and results["seed"].eq(Config().seed).all()
    assert results["auroc"].between(0, 1).all() and (results["study_auroc"] == [0.943, 0.9405, 0.782]).all()
    assert "accuracy" not in results.columns and {"accuracy_at_0.5", "accuracy_at_threshold"} <= set(results.columns)
    for arm in arms:  # the table is the arms' own reports
        report = Report.from_json(out / arm / layout.REPORT_JSON)
        assert results.loc[arm, "auroc"] == pytest.approx(report.auroc)
        assert results.loc[arm, "accuracy_at_threshold"] == pytest.approx(report.chosen.metrics.accuracy)
        assert results.loc[arm, "threshold"] == pytest.approx(report.chosen.threshold)
    comparisons = pd.read_csv(out / layout.COMPARISONS_CSV)
    assert comparisons[["arm_a", "arm_b"]].values.tolist() == [["baseline", "tk"], ["baseline", "tk_diff"],
                                                               ["tk", "tk_diff"]]
    for row in comparisons.itertuples():  # Δ = b − a of the arms' own AUROCs
        assert row.delta_auroc == pytest.approx(results.loc[row.arm_b, "auroc"] - results.loc[row.arm_a, "auroc"])
    seeds = pd.read_csv(out / layout.SEEDS_CSV)
    assert seeds["arm"].tolist() == arms and seeds["n_seeds"].eq(1).all()
    np.testing.assert_allclose(seeds["auroc_mean"], results["auroc"])
    text = (out / layout.RESULTS_MD).read_text()
    assert "study" in text and "TOTAL ACCURACY" in text and "## Paired comparisons" in text
    for name in ("comparison.png", "roc.png", "confusion_matrices.png", "learning_rate.png",
                 "tucker_example.png", "history_baseline.png", "history_tk.png", "history_tk_diff.png",
                 "explain_grid.png", "paired_comparisons.png"):
        assert (graphs / name).stat().st_size > 0, name
    for arm in arms:
        assert {"predictions.csv", "report.md", "report.json", "best.keras", "run.json", "logs"} <= {
            p.name for p in (out / arm).iterdir()}

    argv = tiny_study_argv(tiny_study_copy)
    checkpoints = {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in arms}
    reports = {arm: (out / arm / "report.json").stat().st_mtime_ns for arm in arms}
    assert main(argv) == 0  # a second run resumes: nothing is retrained or evaluated again, the results are the same
    assert {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in checkpoints} == checkpoints
    assert {arm: (out / arm / "report.json").stat().st_mtime_ns for arm in reports} == reports
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv", index_col="arm"), results)

    capsys.readouterr()
    assert main(argv + ["--set", "dense_units=8"]) == 2  # other settings: the trained arms are not reused silently
    error = capsys.readouterr().err
    assert "dense_units 64 -> 8" in error and "--force" in error
    assert {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in checkpoints} == checkpoints


def test_prepare_remakes_images_of_another_rank_and_keeps_the_rest(write_images, tmp_path, caplog):
    names = [f"real/r{i:02d}.png" for i in range(5)] + [f"fake/f{i:02d}.png" for i in range(5)]
    data = write_images(names, size=40)
    cfg = Config().override(data_dir=str(data), layout="folders", per_class=None, out_dir=str(tmp_path / "run"),
                            train_fraction=0.6, val_fraction=0.2, test_fraction=0.2, workers=1, tucker_method="fast")
    first = prepare(cfg, ["baseline", "tk"])
    tk, original = first.images_root / "TK" / names[0], first.images_root / "OR" / names[0]
    stamps = tk.stat().st_mtime_ns, original.stat().st_mtime_ns
    prepare(cfg, ["baseline", "tk"])
    assert (tk.stat().st_mtime_ns, original.stat().st_mtime_ns) == stamps  # same settings: reused

    caplog.set_level(logging.INFO, logger="tdfake")
    prepare(cfg.override(rank=[5, 5, 3]), ["baseline", "tk"])
    assert "rank [30, 30, 3] -> [5, 5, 3]" in caplog.text  # logged (the CLI shows it)
    assert tk.stat().st_mtime_ns != stamps[0] and original.stat().st_mtime_ns == stamps[1]
    from tdfake.images import read_rgb
    from tdfake.tucker import tk_image

    np.testing.assert_array_equal(read_rgb(tk), tk_image(read_rgb(data / names[0]), (5, 5, 3), "fast"))


@pytest.mark.slow
def test_new_arms_and_a_kind_registered_at_test_time_run_through_tdfake_run(tiny_study_copy, monkeypatch, tmp_path):
    """Two arms the study did not have, added to a finished study with config entries only: ``tk_r5`` (TK at a
    lower rank) and ``gray`` (a kind registered here); the study's three arms are reused as they are."""
    from dataclasses import dataclass

    from tdfake import transforms
    from tdfake.images import read_rgb, write_rgb

    @dataclass(frozen=True)
    class Gray:
        pass

    def gray(image, _params):
        return np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)

    monkeypatch.setattr(transforms, "_TRANSFORMS", dict(transforms._TRANSFORMS))
    transforms.register("gray", gray, params=Gray, version="1")
    out = Path(tiny_study_copy["out_dir"])
    study_arms = ["baseline", "tk", "tk_diff"]
    checkpoints = {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in study_arms}
    comparisons = ("[{a: baseline, b: tk, non_inferiority_margin: 0.02}, {a: baseline, b: tk_r5}, "
                   "{a: baseline, b: gray, non_inferiority_margin: 0.1}]")
    argv = tiny_study_argv(tiny_study_copy) + ["--set", "arms.tk_r5={input: TK, rank: [5, 5, 3]}", "--set",
                                               "arms.gray={input: gray}", "--set", f"comparisons={comparisons}"]
    assert main(argv) == 0

    assert {arm: (out / arm / "best.keras").stat().st_mtime_ns for arm in study_arms} == checkpoints  # reused
    results = pd.read_csv(out / layout.RESULTS_CSV, index_col="arm")
    assert list(results.index) == [*study_arms, "tk_r5", "gray"]
    assert results.loc[["tk_r5", "gray"], "images"].tolist() == ["TK_rank-5-5-3", "gray"]
    assert results.loc[["tk_r5", "gray"], "study_auroc"].isna().all() and results.loc["tk", "study_auroc"] == 0.9405
    for arm in ("tk_r5", "gray"):
        assert results.loc[arm, "auroc"] == pytest.approx(Report.from_json(out / arm / layout.REPORT_JSON).auroc)
    pairs = pd.read_csv(out / layout.COMPARISONS_CSV)
    assert pairs[["arm_a", "arm_b"]].values.tolist() == [["baseline", "tk"], ["baseline", "tk_r5"],
                                                         ["baseline", "gray"]]
    assert pairs["margin"].tolist()[::2] == [0.02, 0.1] and pd.isna(pairs["margin"].iloc[1])
    assert pd.read_csv(out / layout.SEEDS_CSV)["arm"].tolist() == [*study_arms, "tk_r5", "gray"]
    text = (out / layout.RESULTS_MD).read_text()
    assert "## gray (gray), training seed" in text and "tk_r5 vs baseline" in text

    row = pd.read_csv(out / "tk_r5" / layout.SPLIT_FILE).iloc[0]
    crop = read_rgb(Path(row["root"]) / row["path"])
    expected = {"gray": gray(crop, None),
                "TK_rank-5-5-3": transforms.spec("TK", {"rank": [5, 5, 3]}, {"tucker_method": "fast"}).apply(crop)}
    for folder, image in expected.items():  # each file is the kind's image of the crop, encoded as the crop was
        write_rgb(tmp_path / folder / row["path"], image)
        np.testing.assert_array_equal(read_rgb(out / "images" / folder / row["path"]),
                                      read_rgb(tmp_path / folder / row["path"]))
    assert layout.load_run(out / "gray").spec == transforms.spec("gray")
    graphs = Path(tiny_study_copy["graphs_dir"])
    assert {"history_tk_r5.png", "history_gray.png"} <= {p.name for p in graphs.iterdir()}


@pytest.mark.slow
def test_a_collapsed_run_is_replaced_by_the_next_unused_seed(tiny_study_copy, monkeypatch):
    """replace_collapsed: tk's seed-42 run (made to read as collapsed) is left out of the results and the
    comparisons, reported in training.csv, and replaced by seed 44 after the config's seeds 42 and 43."""
    from tdfake import study

    out = Path(tiny_study_copy["out_dir"])
    collapsed = out / "tk"  # the tiny runs' real validation AUROCs vary around the rule's 0.55: only this one counts
    monkeypatch.setattr(study, "collapse_reason",
                        lambda run_dir: "validation AUROC 0.500 < 0.55" if Path(run_dir) == collapsed else "")
    argv = tiny_study_argv({**tiny_study_copy, "seeds": "[42, 43]", "replace_collapsed": 1})
    assert main(argv) == 0
    training = pd.read_csv(out / layout.TRAINING_CSV)  # training.csv applies the real rule to every run trained
    assert training[["arm", "seed"]].values.tolist() == [["baseline", 42], ["baseline", 43], ["tk", 42],
                                                           ["tk", 43], ["tk", 44], ["tk_diff", 42], ["tk_diff", 43]]
    assert (out / "seed_44" / "tk" / layout.BEST_CHECKPOINT).is_file() and not (out / "seed_44" / "baseline").exists()
    results = pd.read_csv(out / layout.RESULTS_CSV)
    assert sorted(results.loc[results["arm"] == "tk", "seed"]) == [43, 44]
    assert sorted(results.loc[results["arm"] == "baseline", "seed"]) == [42, 43]
    comparisons = pd.read_csv(out / layout.COMPARISONS_CSV)
    assert comparisons["n_seeds"].eq(2).all()
    seeds = pd.read_csv(out / layout.SEEDS_CSV).set_index("arm")
    assert seeds.loc["tk", "seeds"] == "43 44"

    # Its replacement collapsed as well: one usable tk run of two after one replacement, so tk failed to train
    # and leaves the comparisons; nothing is retrained.
    twice = {collapsed, out / "seed_44" / "tk"}
    monkeypatch.setattr(study, "collapse_reason",
                        lambda run_dir: "validation AUROC 0.500 < 0.55" if Path(run_dir) in twice else "")
    assert main(argv) == 0
    comparisons = pd.read_csv(out / layout.COMPARISONS_CSV)
    assert comparisons[["arm_a", "arm_b"]].values.tolist() == [["baseline", "tk_diff"]]

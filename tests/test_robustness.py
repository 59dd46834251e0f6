"""tdfake robustness on hand-weighted tiny models: every score is checked in closed form on the perturbed crop.

The red model scores an image sigmoid(10 · mean red / 255 − 5) (tests/tiny_models.py), so the
score of each row under each condition is known from the perturbed crop itself; the TK arm's
score from the Tucker image of the perturbed crop.  No training; the run folders are
:func:`tiny_models.write_run`'s.  Each perturbed condition's paired Δ AUROC against the arm
unperturbed is checked against :func:`tdfake.stats.paired_auroc` and scikit-learn on the saved scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from tiny_models import expected_score, face, face_split, tiny_config, write_run

from tdfake import layout, plots, stats
from tdfake.cli import main
from tdfake.config import Config
from tdfake.evaluate import evaluate_run
from tdfake.images import read_rgb, write_rgb
from tdfake.metrics import Report
from tdfake.perturb import PERTURBATIONS, perturb
from tdfake.robustness import COLUMNS, robustness
from tdfake.tucker import tk_image

RANK = [8, 8, 3]


def _split_of(i: int) -> str:
    return "train" if i >= 8 else ("test" if i % 4 < 2 else "val")  # test groups hold two crops


def _group(cls: str, i: int, path: str) -> str:
    return f"{cls}{i // 2}"


def _study(tmp_path: Path, arm: str = "baseline") -> tuple[Path, Path]:
    """A `tdfake run` folder with one evaluated arm; 4 of 16 crops per class are test rows. Returns (out, data)."""
    split = face_split(tmp_path / "data", (np.linspace(0.2, 0.6, 16), np.linspace(0.3, 0.7, 16)), _split_of,
                       group_of=_group)
    out = tmp_path / "out"
    write_run(out, arm, split, tiny_config(rank=RANK), evaluate=True)
    return out, tmp_path / "data"


@pytest.fixture
def baseline(tmp_path):
    return _study(tmp_path)


def _scores(out: Path, arm: str, name: str, level: int) -> pd.DataFrame:
    return pd.read_csv(out / "scores" / arm / (f"{name}-{level}.csv" if name != "none" else "none.csv"))


def test_every_score_is_the_models_score_of_the_perturbed_crop_and_none_reproduces_evaluate(baseline, tmp_path):
    out_dir, data = baseline
    run = out_dir / "baseline"
    rob = tmp_path / "rob"
    table = robustness([run], out=rob, seed=3, n_bootstrap=20)

    assert set(COLUMNS) >= {"arm", "perturbation", "level", "parameter", "auroc", "auroc_ci_low", "auroc_ci_high",
                            "accuracy_at_threshold", "accuracy_at_threshold_ci_low", "accuracy_at_threshold_ci_high",
                            "threshold", "n_real", "n_fake", "ci_basis", "delta_auroc", "delta_auroc_ci_low",
                            "delta_auroc_ci_high", "p_auroc", "verdict_auroc"}
    assert "accuracy" not in COLUMNS  # accuracy is named by its threshold
    written = pd.read_csv(rob / layout.ROBUSTNESS_CSV)
    assert list(written.columns) == COLUMNS and len(written) == 1 + sum(len(p.levels) for p in PERTURBATIONS.values())
    assert written["setting"].tolist()[:6] == ["none", "q90", "q70", "q50", "q30", "k7"]

    for row in table.itertuples():
        scores = _scores(rob, "baseline", row.perturbation, row.level)
        assert len(scores) == 8 and scores["score"].notna().all()
        for path, score in zip(scores["path"], scores["score"]):
            crop = perturb(read_rgb(data / path), row.perturbation, row.level, seed=3, key=path)
            assert score == pytest.approx(expected_score(crop), abs=1e-5), (row.perturbation, row.level, path)
        assert row.auroc == pytest.approx(roc_auc_score(scores["label"], scores["score"]))
        assert row.accuracy_at_threshold == pytest.approx(
            np.mean((scores["score"] >= row.threshold) == scores["label"]))
        assert row.ci_basis == "4 test groups (8 videos)"  # intervals resample the split's groups
        assert row.auroc_ci_low <= row.auroc <= row.auroc_ci_high

    report = evaluate_run(run, n_bootstrap=20)  # what `tdfake evaluate` reports on the test split
    none = table[table["perturbation"] == "none"].iloc[0]
    assert none["auroc"] == report.auroc == Report.from_json(run / "report.json").auroc
    assert none["threshold"] == report.chosen.threshold and report.chosen.source == "validation"
    assert none["threshold_method"] == report.chosen.method == "eer"
    assert none["accuracy_at_threshold"] == report.chosen.metrics.accuracy
    assert (none["auroc_ci_low"], none["auroc_ci_high"]) == report.ci["auroc"]
    assert (none["accuracy_at_threshold_ci_low"], none["accuracy_at_threshold_ci_high"]) == \
        report.ci["accuracy_at_chosen"]
    clean, noisy = _scores(rob, "baseline", "none", 0), _scores(rob, "baseline", "noise", 5)
    assert np.abs(noisy["score"] - clean["score"]).min() > 1e-3  # the perturbation reached the model

    # each perturbed condition against the arm unperturbed, paired on the same crops and groups
    assert table.loc[table["perturbation"] == "none", ["delta_auroc", "p_auroc"]].isna().all().all()
    for row in table[table["perturbation"] != "none"].itertuples():
        scores = _scores(rob, "baseline", row.perturbation, row.level)
        paired = stats.paired_auroc(clean["label"].to_numpy(), clean["score"].to_numpy(), scores["score"].to_numpy(),
                                    groups=clean["group"].astype(str).to_numpy(), n_bootstrap=20,
                                    seed=Config().seed)
        assert row.delta_auroc == pytest.approx(paired.delta)
        assert row.delta_auroc == pytest.approx(roc_auc_score(scores["label"], scores["score"])
                                                - roc_auc_score(clean["label"], clean["score"]))
        assert (row.delta_auroc_ci_low, row.delta_auroc_ci_high) == pytest.approx(paired.ci)
        assert row.p_auroc == pytest.approx(paired.p_value) and row.verdict_auroc == stats.verdict(paired)

    fig = plots.plot_robustness(table, rob / "robustness.png")
    assert len(fig.axes) == 4 and (rob / "robustness.png").stat().st_size > 0
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["σ²=0.001", "σ²=0.002", "σ²=0.005", "σ²=0.01",
                                                                    "σ²=0.05"]
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in dashed] == [none["auroc"]]


def test_deterministic_for_a_seed_and_resumed_from_saved_scores(baseline, tmp_path):
    run = baseline[0] / "baseline"
    first, second = tmp_path / "a", tmp_path / "b"
    robustness([run], out=first, perturbations=["noise"], seed=5, n_bootstrap=20)
    robustness([run], out=second, perturbations=["noise"], seed=5, n_bootstrap=20)
    assert (first / layout.ROBUSTNESS_CSV).read_bytes() == (second / layout.ROBUSTNESS_CSV).read_bytes()

    saved = {p: p.stat().st_mtime_ns for p in (first / "scores" / "baseline").glob("*.csv")}
    assert len(saved) == 6
    robustness([run], out=first, perturbations=["noise"], seed=5, n_bootstrap=20)  # all reused
    assert {p: p.stat().st_mtime_ns for p in saved} == saved
    other = robustness([run], out=first, perturbations=["noise"], seed=6, n_bootstrap=20)  # noise redone
    changed = {p.stem for p in saved if p.stat().st_mtime_ns != saved[p]}
    assert changed == {f"noise-{level}" for level in range(1, 6)} | {"none"}  # the record holds the seed
    noisy = _scores(first, "baseline", "noise", 5)
    crop = perturb(read_rgb(baseline[1] / noisy["path"][0]), "noise", 5, seed=6, key=noisy["path"][0])
    assert noisy["score"][0] == pytest.approx(expected_score(crop), abs=1e-5)
    assert other["seed"].eq(6).all()


def test_tk_arm_scores_the_tucker_image_of_the_perturbed_crop(tmp_path):
    out_dir, data = _study(tmp_path, arm="tk")
    rob = tmp_path / "rob"
    table = robustness([out_dir], out=rob, perturbations=["noise"], seed=0, n_bootstrap=0)
    assert table["arm"].eq("tk").all() and len(table) == 6
    cfg = Config.from_yaml(out_dir / "tk" / "config.yaml")
    assert table["auroc"].iloc[0] == Report.from_json(out_dir / "tk" / "report.json").auroc
    first = layout.load_run(out_dir / "tk").split.iloc[0]  # the TK images the run was evaluated on are real ones
    made = read_rgb(out_dir / "images" / cfg.image_spec("tk").folder / first["path"])
    np.testing.assert_array_equal(made, tk_image(read_rgb(data / first["path"]), RANK, cfg.tucker_method))
    for row in table.itertuples():
        scores = _scores(rob, "tk", row.perturbation, row.level)
        for path, score in zip(scores["path"], scores["score"]):
            crop = perturb(read_rgb(data / path), row.perturbation, row.level, key=path)
            assert score == pytest.approx(expected_score(tk_image(crop, RANK, cfg.tucker_method)), abs=1e-4)
    clean, noisy = _scores(rob, "tk", "none", 0), _scores(rob, "tk", "noise", 5)
    assert np.abs(noisy["score"] - clean["score"]).min() > 1e-3  # so TK of the clean crop would not match


def test_other_data_with_an_unreadable_crop_is_scored_and_the_crop_listed(baseline, tmp_path):
    photos = tmp_path / "photos"
    for label, cls in enumerate(("real", "fake")):
        for i, red in enumerate(np.linspace(0.3, 0.7, 4) + 0.1 * label):
            write_rgb(photos / cls / f"{i}.png", face(red, 500 + 10 * label + i))
    (photos / "fake" / "broken.png").write_bytes(b"not an image")
    table = robustness([baseline[0] / "baseline"], data=photos, out=tmp_path / "rob", perturbations=["resize"],
                       n_bootstrap=0)
    assert table["n_real"].eq(4).all() and table["n_fake"].eq(4).all() and table["n_skipped"].eq(1).all()
    skipped = pd.read_csv(tmp_path / "rob" / "skipped.csv")
    assert skipped["path"].tolist() == ["fake/broken.png"] * 6
    assert skipped["reason"].str.contains("not a decodable image").all()
    assert skipped["level"].tolist() == [0, 1, 2, 3, 4, 5]


def test_cli_writes_table_and_figure_and_explains_bad_input(baseline, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TDFAKE_DEBUG", raising=False)
    out_dir = baseline[0]
    assert main(["robustness", str(out_dir), "--perturbations", "jpeg", "--bootstrap", "20"]) == 0
    assert {p.name for p in layout.robustness_dir(out_dir).glob("robustness.*")} == {layout.ROBUSTNESS_CSV,
                                                                                    layout.ROBUSTNESS_FIGURE}
    table = layout.read_robustness(out_dir)
    assert table["setting"].tolist() == ["none", "q90", "q70", "q50", "q30"] and table["arm"].eq("baseline").all()
    assert "q30" in capsys.readouterr().out

    unevaluated = out_dir / "baseline"
    (unevaluated / "predictions.csv").unlink()
    assert main(["robustness", str(unevaluated), "-o", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "evaluate the run first (`tdfake evaluate" in error[0]
    assert main(["robustness", str(tmp_path / "nowhere")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "nowhere: not a run folder" in error[0]

"""tdfake.plots: every figure is drawn from real inputs, says what it shows and is written as PNG;
tdfake.graphs.draw_graphs: every figure of a study folder (one built by :func:`tiny_models.write_run`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from tiny_models import face_split, red_conv_model, tiny_config, write_run

from tdfake import arms, layout, plots
from tdfake.arms import STUDY_RESULTS, Comparison
from tdfake.config import Config
from tdfake.evaluate import evaluate_run
from tdfake.graphs import draw_graphs
from tdfake.metrics import evaluate_scores
from tdfake.results import compare_arms
from tdfake.transforms import spec

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_report(separation: float, seed: int):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(60, int), np.ones(60, int)]
    s = np.clip(rng.normal(0.5 + separation * (y - 0.5), 0.2), 0, 1)
    vy = np.r_[np.zeros(20, int), np.ones(20, int)]
    vs = np.clip(rng.normal(0.5 + separation * (vy - 0.5), 0.2), 0, 1)
    return evaluate_scores(y, s, vy, vs, n_bootstrap=50, seed=seed)


@pytest.fixture(scope="module")
def reports():
    return {"baseline": make_report(0.5, 1), "tk": make_report(0.45, 2), "tk_diff": make_report(0.2, 3)}


@pytest.fixture
def history():
    epochs = np.arange(6)
    return pd.DataFrame({
        "epoch": epochs,
        "accuracy": 0.6 + 0.05 * epochs, "val_accuracy": [0.6, 0.65, 0.7, 0.72, 0.7, 0.69],
        "loss": 0.7 - 0.08 * epochs, "val_loss": [0.68, 0.6, 0.55, 0.5, 0.52, 0.56],
        "lr": [0.0] * 6,
    })


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_history_curves_mark_the_best_checkpoint(tmp_path, history):
    fig = plots.plot_history(history, "tk", tmp_path / "h.png")
    assert isinstance(fig, Figure) and is_png(tmp_path / "h.png")
    accuracy, loss = fig.axes
    assert accuracy.get_title() == "TK: accuracy" and loss.get_xlabel() == "epoch"
    assert legend_texts(loss) == ["training", "validation", "best checkpoint (epoch 4)"]
    np.testing.assert_allclose(loss.lines[1].get_ydata(), history["val_loss"])
    with pytest.raises(ValueError, match="val_loss"):
        plots.plot_history(history.drop(columns="val_loss"))


def test_learning_rate_trace_follows_the_study_formula(tmp_path, history):
    cfg = Config().override(base_lr=1e-3, max_lr=7e-3, step_size=5, gamma=0.99, clr_mode="exp_range")
    it = np.arange(40)
    cycle = np.floor(1 + it / (2 * 5))
    x = np.abs(it / 5 - 2 * cycle + 1)
    expected = 1e-3 + (7e-3 - 1e-3) * np.maximum(0, 1 - x) * 0.99 ** it
    np.testing.assert_allclose(plots.learning_rate_trace(cfg, 40), expected, rtol=1e-5)

    history = history.assign(lr=expected[[7, 14, 21, 28, 35, 39]])
    fig = plots.plot_learning_rate(cfg, 40, history, steps_per_epoch=7, path=tmp_path / "lr.png")
    ax = fig.axes[0]
    assert is_png(tmp_path / "lr.png")
    assert ax.get_xlabel() == "batch (iteration)" and ax.get_ylabel() == "learning rate"
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [7, 14, 21, 28, 35, 42])


def test_roc_figure_has_every_arm_with_auroc_and_eer(tmp_path, reports):
    fig = plots.plot_roc(reports, tmp_path / "roc.png")
    ax = fig.axes[0]
    texts = legend_texts(ax)
    for arm, report in reports.items():
        assert f"{arms.label(arm)}: AUROC {report.auroc:.3f}" in texts
    eer_points = [line for line in ax.lines if line.get_marker() == "o"]
    assert [(pt.get_xdata()[0], pt.get_ydata()[0]) for pt in eer_points] == [
        (r.eer, 1 - r.eer) for r in reports.values()
    ]
    assert is_png(tmp_path / "roc.png")


def test_confusion_panels_show_the_counts(tmp_path, reports):
    fig = plots.plot_confusion(reports, "chosen", tmp_path / "cm.png")
    assert len([ax for ax in fig.axes if ax.images]) == 3
    first = fig.axes[0]
    matrix = reports["baseline"].chosen.metrics.confusion
    counts = [int(t.get_text().split("\n")[0]) for t in first.texts]
    assert counts == [matrix[0][0], matrix[0][1], matrix[1][0], matrix[1][1]]
    assert "validation" in first.get_title()
    with pytest.raises(ValueError, match="study"):
        plots.plot_confusion(reports, "test")


def test_comparison_shows_intervals_and_the_study(tmp_path, reports):
    fig = plots.plot_comparison(reports, path=tmp_path / "cmp.png")
    acc_ax, auc_ax = fig.axes
    bars = [p.get_height() for p in auc_ax.patches]
    assert bars == pytest.approx([r.auroc for r in reports.values()])
    study = [line for line in auc_ax.lines if line.get_label() == "study"][0]
    assert list(study.get_ydata()) == [STUDY_RESULTS[a]["auroc"] for a in reports]
    assert "study" in legend_texts(acc_ax) and "this run (95 % CI)" in legend_texts(acc_ax)
    assert is_png(tmp_path / "cmp.png")


def test_an_arm_the_study_did_not_have_is_drawn_without_a_study_mark_in_a_colour_of_its_own(reports):
    shown = {"baseline": reports["baseline"], "tk_r5": reports["tk"]}
    fig = plots.plot_comparison(shown)
    auc_ax = fig.axes[1]
    study = [line for line in auc_ax.lines if line.get_label() == "study"][0]
    assert list(study.get_xdata()) == [0] and list(study.get_ydata()) == [STUDY_RESULTS["baseline"]["auroc"]]
    colours = [p.get_facecolor() for p in auc_ax.patches]
    assert colours[0] != colours[1] and [t.get_text() for t in auc_ax.get_xticklabels()] == ["baseline (OR)", "tk_r5"]
    assert f"tk_r5: AUROC {reports['tk'].auroc:.3f}" in legend_texts(plots.plot_roc(shown).axes[0])
    assert arms.colour("tk_r5", 1) not in arms.COLOURS.values() and arms.study_results("tk_r5") is None


def test_arm_images_show_each_crop_as_each_arm_sees_it(tmp_path):
    rng = np.random.default_rng(0)
    images = {"real": rng.integers(0, 256, (40, 40, 3), dtype=np.uint8),
              "fake": rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)}
    settings = {"rank": (8, 8, 3)}
    specs = {"baseline": spec("OR"), "tk": spec("TK", defaults=settings), "tk_diff": spec("TK_diff", defaults=settings),
             "control": spec("blur", {"sigma": 2}), "also_tk": spec("TK", defaults=settings)}
    fig = plots.plot_arm_images(images, specs, path=tmp_path / "tk.png")
    assert len(fig.axes) == 8  # two crops x four kinds: also_tk shares tk's column
    assert fig.axes[0].get_ylabel() == "real" and fig.axes[4].get_ylabel() == "fake"
    assert [ax.get_title() for ax in fig.axes[:4]] == [
        "baseline (OR):\noriginal", "TK, also_tk:\nTucker rank [8×8×3] reconstruction",
        "TK_diff:\n|original − TK|, stretched", "control:\nGaussian blur, sigma 2.0 px"]
    for column in range(4):
        np.testing.assert_array_equal(fig.axes[4 + column].images[0].get_array(),
                                      list(specs.values())[column].apply(images["fake"]))
    assert is_png(tmp_path / "tk.png")


def test_draw_graphs_regenerates_every_figure_of_a_study_folder(tmp_path, reports, history):
    out = tmp_path / "out"
    reds = (np.linspace(0.2, 0.6, 8), np.linspace(0.4, 0.8, 8))
    split = face_split(tmp_path / "data", reds, lambda i: ["train", "train", "val", "test"][i % 4])
    cfg = tiny_config(batch_size=3, step_size=2, rank=[4, 4, 3], tucker_method="fast")
    for arm in ("baseline", "tk"):  # hand-weighted arms: only their report is made up (the module's reports)
        run = write_run(out, arm, split, cfg, model=red_conv_model())
        history.to_csv(run / "history.csv", index=False)
        reports[arm].to_json(run / "report.json")

    written = draw_graphs(out, tmp_path / "graphs")
    assert sorted(written) == ["comparison", "confusion", "explain", "history_baseline", "history_tk",
                               "learning_rate", "roc", "tucker"]
    assert all(is_png(p) and p.parent == tmp_path / "graphs" for p in written.values())
    assert {name: p.name for name, p in written.items()} == {
        "comparison": "comparison.png", "confusion": "confusion_matrices.png", "explain": "explain_grid.png",
        "history_baseline": "history_baseline.png", "history_tk": "history_tk.png",
        "learning_rate": "learning_rate.png", "roc": "roc.png", "tucker": "tucker_example.png"}
    assert [p.name for p in layout.finished_arms(out)] == ["baseline", "tk"]
    assert layout.evaluated_arms(out) == ["baseline", "tk"]

    # what `tdfake run` (comparisons.csv), `tdfake sweep` and `tdfake robustness` wrote is drawn too
    for run in (out / "baseline", out / "tk"):  # real reports and predictions, for the paired comparison
        evaluate_run(run, n_bootstrap=0)
    comparisons = compare_arms({"baseline": [out / "baseline"], "tk": [out / "tk"]}, ["test"],
                               [Comparison("baseline", "tk", 0.05)], n_bootstrap=50)
    assert comparisons[["arm_a", "arm_b"]].values.tolist() == [["baseline", "tk"]]
    comparisons.to_csv(out / layout.COMPARISONS_CSV, index=False)
    layout.sweep_dir(out).mkdir()
    pd.DataFrame([{"rank": None, "arm": "baseline", "auroc": 0.8, "auroc_ci_low": 0.7, "auroc_ci_high": 0.9},
                  {"rank": 5, "arm": "tk", "auroc": 0.6, "auroc_ci_low": 0.5, "auroc_ci_high": 0.7},
                  {"rank": 30, "arm": "tk", "auroc": 0.7, "auroc_ci_low": 0.6, "auroc_ci_high": 0.8}]
                 ).to_csv(layout.sweep_dir(out) / layout.SWEEP_CSV, index=False)
    layout.robustness_dir(out).mkdir()
    pd.DataFrame([{"arm": "tk", "perturbation": p, "level": level, "auroc": a, "auroc_ci_low": a - 0.1,
                   "auroc_ci_high": a + 0.1} for p, level, a in (("none", 0, 0.8), ("jpeg", 1, 0.7), ("jpeg", 2, 0.6))]
                 ).to_csv(layout.robustness_dir(out) / layout.ROBUSTNESS_CSV, index=False)
    assert layout.read_sweep(out)["rank"].tolist()[1:] == [5, 30] and len(layout.read_robustness(out)) == 3
    written = draw_graphs(out, tmp_path / "graphs")
    assert {"sweep", "robustness", "forest"} <= set(written)
    assert written["sweep"].name == "rank_sweep.png" and is_png(written["sweep"]) and is_png(written["robustness"])
    assert written["forest"].name == "paired_comparisons.png" and is_png(written["forest"])
    forest = plots.plot_forest(comparisons)
    (bar,) = forest.axes[0].containers  # one errorbar per comparison: Δ AUROC with its interval
    assert bar.lines[0].get_xdata()[0] == pytest.approx(comparisons["delta_auroc"].iloc[0])
    with pytest.raises(FileNotFoundError, match="tdfake run"):
        draw_graphs(tmp_path / "empty")


def test_rank_examples_show_tk_and_tk_diff_with_the_reconstruction_error(tmp_path):
    from tdfake.tucker import relative_error, tk_diff_image, tk_image, tucker_reconstruct

    image = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    fig = plots.plot_rank_examples(image, [2, 8], path=tmp_path / "ranks.png")
    top, bottom = fig.axes[1:3], fig.axes[4:6]
    errors = []
    for ax, below, r in zip(top, bottom, (2, 8)):
        np.testing.assert_array_equal(ax.images[0].get_array(), tk_image(image, (r, r, 3)))
        np.testing.assert_array_equal(below.images[0].get_array(), tk_diff_image(image, (r, r, 3)))
        error = relative_error(image, tucker_reconstruct(image, (r, r, 3)))
        assert ax.get_title() == f"TK r={r}\nerror {error:.3f}"
        errors.append(error)
    assert errors[1] < errors[0]  # a higher rank keeps more of the crop
    assert is_png(tmp_path / "ranks.png")

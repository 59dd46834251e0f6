"""The study's tables: results by test set and seed, the seed spread, and the paired comparisons between arms.

A study folder is written by hand (each run's predictions.csv and report.json, as evaluation writes
them) so every number can be checked against scikit-learn and :mod:`tdfake.stats` on the same arrays.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tdfake import layout, stats
from tdfake.cli import main
from tdfake.compare import compare_runs
from tdfake.config import Config
from tdfake.constants import OWN_TEST_SET
from tdfake.metrics import evaluate_scores
from tdfake.plots import plot_forest
from tdfake.results import (
    COMPARISON_COLUMNS,
    compare_arms,
    results_by_set,
    results_markdown,
    seed_summary,
    training_checks,
)

ARMS = tuple(Config().arms)  # the study's: baseline, tk, tk_diff
COMPARISONS = Config(margin=0.02).comparison_specs()  # the study's three, margin 0.02 on tk against baseline
SEEDS = (42, 43)
N_TEST, N_VAL = 120, 40
QUALITY = {"baseline": 1.6, "tk": 1.5, "tk_diff": 0.4, "tk_r5": 1.2}  # separation of fake from real scores per arm


def write_run(run_dir, arm: str, seed: int, rng, cfg: Config | None = None) -> None:
    """predictions.csv (val + test, rows shuffled) and report.json of one arm (of ``cfg``) and seed."""
    def rows(split, n):
        label = np.arange(n) % 2
        group = [f"{split}{i // 4}" for i in range(n)]  # four rows per group: a real video with its fakes
        shared = np.repeat(rng.normal(0, 0.7, n // 4), 4)  # a group's rows share a component, as frames do
        score = 1 / (1 + np.exp(-(QUALITY[arm] * (label - 0.5) * 2 + shared + rng.normal(0, 1, n))))
        return pd.DataFrame({"path": [f"{split}/{i:03d}.png" for i in range(n)], "label": label, "group": group,
                             "split": split, "score": score})

    cfg = Config(seed=SEEDS[0]) if cfg is None else cfg
    val, test = rows("val", N_VAL), rows("test", N_TEST)
    run_dir.mkdir(parents=True)
    # what makes a finished run folder for tdfake.layout (compare reads scores, never the checkpoint)
    cfg.to_yaml(run_dir / layout.CONFIG_FILE)
    pd.concat([val, test]).assign(root="r", method="m", video=lambda t: t["path"]).to_csv(run_dir / layout.SPLIT_FILE,
                                                                                    index=False)
    (run_dir / layout.BEST_CHECKPOINT).write_bytes(b"")
    layout.write_run_info(run_dir, arm, cfg.image_spec(arm).kind, None, seed)
    pd.concat([val, test]).sample(frac=1, random_state=seed).to_csv(run_dir / layout.PREDICTIONS_FILE, index=False)
    report = evaluate_scores(test["label"], test["score"], val["label"], val["score"], groups=test["group"],
                             n_bootstrap=200, seed=seed)
    report.to_json(run_dir / layout.REPORT_JSON)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    run_dirs = {arm: [] for arm in ARMS}
    for seed in SEEDS:
        for arm in ARMS:
            run_dir = layout.arm_dir(out, arm, seed, SEEDS[0])
            write_run(run_dir, arm, seed, rng)
            run_dirs[arm].append(run_dir)
    return out, run_dirs


def arrays(run_dirs, arm):
    tables = [layout.test_predictions(d).sort_values("path") for d in run_dirs[arm]]
    thresholds = [layout.chosen_threshold(d) for d in run_dirs[arm]]
    scores = np.stack([t["score"].to_numpy() for t in tables])
    decisions = np.stack([(t["score"].to_numpy() >= th).astype(int) for t, th in zip(tables, thresholds)])
    return tables[0]["label"].to_numpy(), tables[0]["group"].to_numpy(), scores, decisions


def test_comparisons_are_the_paired_tests_on_the_same_rows_pooled_over_seeds(study):
    out, run_dirs = study
    table = compare_arms(run_dirs, [OWN_TEST_SET], COMPARISONS, n_bootstrap=300, seed=42)
    assert list(table.columns) == COMPARISON_COLUMNS
    assert [(r.arm_a, r.arm_b) for r in table.itertuples()] == [("baseline", "tk"), ("baseline", "tk_diff"),
                                                                 ("tk", "tk_diff")]
    y, groups, base, base_dec = arrays(run_dirs, "baseline")
    _, _, diff, diff_dec = arrays(run_dirs, "tk_diff")
    expected = stats.paired_auroc(y, base, diff, groups=groups, n_bootstrap=0, seed_effect="random")
    fixed = stats.paired_auroc(y, base, diff, groups=groups, n_bootstrap=300, seed=42)
    row = table[(table["arm_a"] == "baseline") & (table["arm_b"] == "tk_diff")].iloc[0]
    # two seeds: the primary columns treat seeds as random, the *_fixed ones condition on the networks
    assert row["seed_effect"] == "random" and row["df_auroc"] == pytest.approx(expected.df)
    assert (row["delta_auroc_fixed_ci_low"], row["delta_auroc_fixed_ci_high"]) == pytest.approx(fixed.ci)
    assert (row["delta_auroc_bootstrap_ci_low"], row["delta_auroc_bootstrap_ci_high"]) == pytest.approx(
        fixed.bootstrap_ci)
    np.testing.assert_allclose(table["p_auroc_holm"], stats.holm(table["p_auroc"].to_numpy()))
    assert row["mdd_auroc"] == pytest.approx(stats.minimum_detectable_difference(expected.se, df=expected.df))
    sklearn_delta = np.mean([roc_auc_score(y, diff[s]) - roc_auc_score(y, base[s]) for s in range(len(SEEDS))])
    assert row["delta_auroc"] == pytest.approx(sklearn_delta, abs=1e-12) == pytest.approx(expected.delta)
    assert (row["delta_auroc_ci_low"], row["delta_auroc_ci_high"]) == pytest.approx(expected.ci)
    assert row["p_auroc"] == pytest.approx(expected.p_value)
    assert row["n_seeds"] == 2 and row["n_rows"] == N_TEST and row["n_groups"] == N_TEST // 4
    assert row["verdict_auroc"] == ("lower" if row["p_auroc_holm"] < 0.05 else "no detectable difference")
    accuracy = stats.paired_accuracy(y, base_dec, diff_dec, groups=groups, n_bootstrap=300, seed=42)
    assert row["delta_accuracy_at_threshold"] == pytest.approx(accuracy.delta)
    assert row["delta_accuracy_at_threshold"] == pytest.approx(
        np.mean([(diff_dec[s] == y).mean() - (base_dec[s] == y).mean() for s in range(len(SEEDS))]))
    # non-inferiority is asked of TK against the baseline only
    tk = table[table["arm_b"] == "tk"].iloc[0]
    assert tk["margin"] == 0.02 and tk["non_inferior"] == (tk["delta_auroc_ci_low"] > -0.02)
    assert tk["non_inferior"] == (tk["p_non_inferior"] < 0.025)
    assert tk["inferior_beyond_margin"] == (tk["delta_auroc_ci_high"] < -0.02)
    assert row["non_inferior"] is None or pd.isna(row["non_inferior"])


def test_rows_of_other_test_rows_refuse(study, tmp_path):
    out, run_dirs = study
    other = tmp_path / "tk"
    rng = np.random.default_rng(1)
    write_run(other, "tk", 42, rng)
    predictions = pd.read_csv(other / layout.PREDICTIONS_FILE)
    predictions.loc[predictions["split"] == "test", "path"] += ".other"
    predictions.to_csv(other / layout.PREDICTIONS_FILE, index=False)
    with pytest.raises(ValueError, match="other test rows"):
        compare_arms({"tk": [run_dirs["tk"][0], other], "baseline": run_dirs["baseline"]}, [OWN_TEST_SET],
                     COMPARISONS)


def test_seed_summary_and_results_md(study):
    out, run_dirs = study
    from tdfake.metrics import Report

    sets = {OWN_TEST_SET: {seed: {arm: Report.from_json(run_dirs[arm][i] / layout.REPORT_JSON) for arm in ARMS}
                           for i, seed in enumerate(SEEDS)}}
    results = results_by_set(sets, Config())
    assert list(results.columns[:2]) == ["test_set", "seed"] and len(results) == 6
    assert "accuracy" not in results.columns and {"accuracy_at_0.5", "accuracy_at_threshold"} <= set(results.columns)
    seeds = seed_summary(results)
    tk = seeds[seeds["arm"] == "tk"].iloc[0]
    aurocs = results.loc["tk", "auroc"].to_numpy()
    assert tk["auroc_mean"] == pytest.approx(aurocs.mean()) and tk["auroc_sd"] == pytest.approx(aurocs.std(ddof=1))
    assert tk["n_seeds"] == 2 and tk["seeds"] == "42 43"
    comparisons = compare_arms(run_dirs, [OWN_TEST_SET], COMPARISONS, n_bootstrap=0)
    text = results_markdown(Config(name="demo", seeds=list(SEEDS)), sets, comparisons, seeds)
    assert "## Paired comparisons" in text and "## Spread over training seeds" in text
    assert "tk_diff vs baseline" in text and "lower" in text
    figure = plot_forest(comparisons, out / "forest.png")
    assert (out / "forest.png").is_file() and len(figure.axes[0].get_yticks()) == len(comparisons)


def test_an_arm_the_study_did_not_have_gets_its_rows_tables_and_the_configs_comparison(tmp_path):
    cfg = Config(arms={"baseline": {"input": "OR"}, "tk_r5": {"input": "TK", "rank": [5, 5, 3]}},
                 comparisons=[{"a": "baseline", "b": "tk_r5", "non_inferiority_margin": 0.05}])
    rng = np.random.default_rng(1)
    for arm in cfg.arms:
        write_run(tmp_path / arm, arm, cfg.seed, rng, cfg)
    run_dirs = {arm: [tmp_path / arm] for arm in cfg.arms}
    comparisons = compare_arms(run_dirs, [OWN_TEST_SET], cfg.comparison_specs(), n_bootstrap=0)
    (row,) = comparisons.itertuples()
    assert (row.arm_a, row.arm_b, row.margin) == ("baseline", "tk_r5", 0.05)
    assert row.non_inferior == (row.delta_auroc_ci_low > -0.05)

    from tdfake.evaluate import report_markdown
    from tdfake.metrics import Report

    reports = {arm: Report.from_json(tmp_path / arm / layout.REPORT_JSON) for arm in cfg.arms}
    results = results_by_set({OWN_TEST_SET: {cfg.seed: reports}}, cfg)
    assert results.loc["tk_r5", ["kind", "images"]].tolist() == ["TK", "TK_rank-5-5-3"]
    assert results.loc["baseline", "study_auroc"] == 0.943 and pd.isna(results.loc["tk_r5", "study_auroc"])
    text = results_markdown(cfg, {OWN_TEST_SET: {cfg.seed: reports}}, comparisons, seed_summary(results))
    assert "tk_r5 vs baseline" in text and ("non-inferior (margin 0.05" in text or "not shown (margin 0.05" in text)
    assert f"## tk_r5 (TK_rank-5-5-3), training seed {cfg.seed}\n" in text
    assert f"## baseline (OR), training seed {cfg.seed}, beside the study" in text
    report = report_markdown(reports["tk_r5"], layout.load_run(tmp_path / "tk_r5"))
    assert report.startswith("## tk_r5 (TK_rank-5-5-3): the run's test split\n")
    assert "Beside the study" not in report


def test_compare_two_runs_and_two_studies(study, tmp_path, capsys):
    out, run_dirs = study
    a, b = run_dirs["baseline"][0], run_dirs["tk_diff"][0]
    table = compare_runs(a, b, n_bootstrap=100)
    y, groups, base, _ = arrays(run_dirs, "baseline")
    _, _, diff, _ = arrays(run_dirs, "tk_diff")
    expected = stats.paired_auroc(y, base[0], diff[0], groups=groups, n_bootstrap=100)
    assert len(table) == 1 and table.iloc[0]["test_set"] == OWN_TEST_SET
    assert table.iloc[0]["delta_auroc"] == pytest.approx(expected.delta)
    assert table.iloc[0]["p_auroc"] == pytest.approx(expected.p_value)
    # two study folders (seed 43's against the config seed's): arm by arm
    studies = compare_runs(out, out / "seed_43", n_bootstrap=0)
    assert list(studies["arm_a"]) == list(ARMS) == list(studies["arm_b"])
    assert main(["compare", str(a), str(b), "--bootstrap", "0", "-o", str(tmp_path / "c.csv")]) == 0
    assert "lower" in capsys.readouterr().out and (tmp_path / "c.csv").is_file()
    with pytest.raises(ValueError, match="not one of each"):
        compare_runs(a, out)


@pytest.mark.slow
def test_training_checks_apply_the_collapsed_run_rule_to_each_run(tiny_study_unchanged, tmp_path):
    """training.csv of `tdfake run`: each run's history and its validation rows; a run with constant validation
    scores, or a validation AUROC below 0.55, is named collapsed (docs/preregistration.md)."""
    out = Path(tiny_study_unchanged["out_dir"])
    written = pd.read_csv(out / layout.TRAINING_CSV)
    assert written["arm"].tolist() == ["baseline", "tk", "tk_diff"] and written["seed"].eq(42).all()
    for row in written.itertuples():
        val = layout.validation_scores(out / row.arm)
        history = pd.read_csv(out / row.arm / layout.HISTORY_FILE)
        assert row.val_auroc == pytest.approx(roc_auc_score(val["label"], val["score"]))
        assert row.best_val_loss == pytest.approx(history["val_loss"].min()) and row.epochs == len(history)
    assert (written["collapsed"].fillna("") == "").tolist() == (written["val_auroc"] >= 0.55).tolist()

    for name, scores in (("constant", lambda v: np.full(len(v), 0.5)), ("inverted", lambda v: 1 - v["label"])):
        run = tmp_path / name / "baseline"
        shutil.copytree(out / "baseline", run, ignore=shutil.ignore_patterns("*.keras", "logs"))
        predictions = pd.read_csv(run / layout.PREDICTIONS_FILE)
        val = predictions["split"] == "val"
        predictions.loc[val, "score"] = np.asarray(scores(predictions[val]), dtype=float)
        predictions.to_csv(run / layout.PREDICTIONS_FILE, index=False)
        collapsed = training_checks({"baseline": [run]})["collapsed"].iloc[0]
        expected = "validation scores constant" if name == "constant" else "validation AUROC 0.000 < 0.55"
        assert expected in collapsed

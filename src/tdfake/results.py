"""The study's tables: each arm on every test set and training seed, the spread over seeds, and the
paired comparisons between arms that decide the study's question.

* :func:`results_by_set` → ``results.csv``: one row per test set, arm and training seed (the
  study's published numbers beside the own test split's rows).
* :func:`seed_summary` → ``seeds.csv``: mean and standard deviation over training seeds, beside the
  mean width of the test-sampling interval, so a reader sees which of the two dominates.
* :func:`compare_arms` → ``comparisons.csv``: the config's comparisons (by default each Tucker arm
  against the baseline and ``tk_diff`` against ``tk``) on every test set, paired on the same test
  rows (:mod:`tdfake.stats`), with a verdict in words at α = 0.05 and, where a comparison has a
  margin (by default ``tk`` against the baseline at ``cfg.margin``), non-inferiority of ``b``.
* :func:`results_markdown` → ``results.md``: all of it for a reader.

The inputs are what the runs wrote (reports and predictions, read through :mod:`tdfake.layout`),
so the tables can be rebuilt from a finished study folder without scoring anything again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tdfake import layout, stats
from tdfake.arms import Comparison, study_results
from tdfake.config import Config
from tdfake.constants import COLLAPSE_MAX_SCORE_SD, COLLAPSE_MIN_VAL_AUROC, OWN_TEST_SET
from tdfake.metrics import Report, per_method_markdown, side_by_side, study_table, table_markdown

SetReports = Mapping[str, Mapping[int, Mapping[str, Report]]]
"""Reports of a study: test set → training seed → arm → report."""

ALPHA = 0.05
COMPARISON_COLUMNS = [
    "test_set", "arm_a", "arm_b", "n_seeds", "n_rows", "n_groups", "auroc_a", "auroc_b",
    "seed_effect", "delta_auroc", "delta_auroc_ci_low", "delta_auroc_ci_high", "se_auroc", "df_auroc", "p_auroc",
    "p_auroc_holm", "auroc_method",
    "delta_auroc_fixed_ci_low", "delta_auroc_fixed_ci_high", "p_auroc_fixed", "df_auroc_fixed",
    "delta_auroc_bootstrap_ci_low", "delta_auroc_bootstrap_ci_high", "delta_auroc_seed_sd",
    "delta_accuracy_at_threshold", "delta_accuracy_at_threshold_ci_low", "delta_accuracy_at_threshold_ci_high",
    "p_accuracy_at_threshold", "verdict_auroc", "verdict_accuracy_at_threshold", "mdd_auroc",
    "margin", "p_non_inferior", "non_inferior", "power_non_inferior", "inferior_beyond_margin",
]
"""comparisons.csv: Δ = b − a; verdicts say how b stands against a.

The primary AUROC columns (``delta_auroc``, its interval, ``se_auroc``, ``df_auroc``, ``p_auroc``) treat
training seeds as random (``seed_effect`` "random": Obuchowski–Rockette with Hillis's df) where an arm has
two or more seeds, and as fixed where it has one; the ``*_fixed`` columns are always the interval given the
trained networks.  ``p_auroc_holm`` is Holm-adjusted over the comparisons of one test set, and
``verdict_auroc`` follows it.  ``mdd_auroc``: the smallest |Δ| this comparison detects with 80 % power.
Where a comparison has a margin: ``p_non_inferior`` (one-sided, H0 Δ ≤ −margin), ``non_inferior`` (at
0.025), ``power_non_inferior`` (at a true Δ of 0) and ``inferior_beyond_margin`` (the upper end of the
interval below −margin: what a positive control must show)."""


# ------------------------------------------------------------------------------- per-run tables

def results_table(reports: Mapping[str, Report], cfg: Config) -> pd.DataFrame:
    """One row per arm: its image kind and folder (``cfg``'s), our test numbers (with 95 % intervals) and the
    study's beside them (empty for an arm the study did not have)."""
    rows = []
    for arm, report in reports.items():
        spec = cfg.image_spec(arm)
        study = study_results(arm) or {}
        rows.append({
            "arm": arm, "kind": spec.kind, "images": spec.folder, **report.summary(),
            **{f"study_{name}": study.get(key, float("nan"))
               for name, key in (("accuracy_at_0.5", "accuracy"), ("auroc", "auroc"), ("thresh_test_eer", "thresh"))},
        })
    return pd.DataFrame(rows).set_index("arm")


def results_by_set(sets: SetReports, cfg: Config) -> pd.DataFrame:
    """results.csv: :func:`results_table` per test set and training seed, stacked.

    Columns ``test_set`` and ``seed`` come first; the study's columns are kept only on the run's own
    test split (on other sets they would compare different data).
    """
    tables = []
    for name, by_seed in sets.items():
        for seed, reports in by_seed.items():
            table = results_table(reports, cfg)
            if name != OWN_TEST_SET:
                table[[c for c in table.columns if c.startswith("study_")]] = float("nan")
            tables.append(table.assign(test_set=name, seed=int(seed)))
    results = pd.concat(tables)
    return results[["test_set", "seed", *[c for c in results.columns if c not in ("test_set", "seed")]]]


def seed_summary(results: pd.DataFrame) -> pd.DataFrame:
    """seeds.csv: per test set and arm, mean and sd (ddof 1) over training seeds of AUROC and both accuracies.

    ``auroc_ci_halfwidth`` is the mean half-width of the per-seed test-sampling intervals, the
    number to hold the seed sd against.
    """
    rows = []
    for (name, arm), part in results.reset_index().groupby(["test_set", "arm"], sort=False):
        row = {"test_set": name, "arm": arm, "n_seeds": len(part), "seeds": " ".join(map(str, part["seed"]))}
        for metric in ("auroc", "accuracy_at_threshold", "accuracy_at_0.5"):
            row[f"{metric}_mean"] = float(part[metric].mean())
            row[f"{metric}_sd"] = float(part[metric].std(ddof=1)) if len(part) > 1 else float("nan")
        row["auroc_ci_halfwidth"] = float(((part["auroc_ci_high"] - part["auroc_ci_low"]) / 2).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def collapse_reason(run_dir: os.PathLike | str) -> str:
    """Why a run collapsed by the pre-registered rule, from the validation rows its scored checkpoint scored
    (``predictions.csv``): constant scores (sd below :data:`tdfake.constants.COLLAPSE_MAX_SCORE_SD`) or an
    AUROC below :data:`tdfake.constants.COLLAPSE_MIN_VAL_AUROC`; empty when it did not."""
    return _validation_check(run_dir)["collapsed"]


def _validation_check(run_dir: os.PathLike | str) -> dict:
    """The run's validation rows (read once): their count, AUROC, score sd and :func:`collapse_reason`."""
    val = layout.validation_scores(run_dir)
    auroc = float(roc_auc_score(val["label"], val["score"])) if val["label"].nunique() == 2 else float("nan")
    sd = float(val["score"].std(ddof=0))
    reasons = [f"validation scores constant (sd {sd:.1e})" if sd < COLLAPSE_MAX_SCORE_SD else "",
               f"validation AUROC {auroc:.3f} < {COLLAPSE_MIN_VAL_AUROC}" if auroc < COLLAPSE_MIN_VAL_AUROC else ""]
    return {"val_rows": len(val), "val_auroc": auroc, "val_score_sd": sd, "collapsed": "; ".join(filter(None, reasons))}


def training_checks(run_dirs: Mapping[str, Sequence[Path]]) -> pd.DataFrame:
    """training.csv: each run (arm × training seed) as it trained, and the pre-registered collapsed-run check.

    Per run: the epochs trained, the epoch of the scored (best validation loss) checkpoint and its
    validation loss, the number of validation rows it scored (``predictions.csv``, where its threshold
    was chosen), their AUROC and the standard deviation of their scores, and :func:`collapse_reason`.
    """
    rows = []
    for arm, dirs in run_dirs.items():
        for run_dir in dirs:
            history = pd.read_csv(Path(run_dir) / layout.HISTORY_FILE)
            best = int(history["val_loss"].idxmin())
            rows.append({"arm": arm, "seed": layout.run_seed(run_dir), "epochs": len(history),
                         "best_epoch": best + 1, "best_val_loss": float(history["val_loss"].iloc[best]),
                         **_validation_check(run_dir)})
    return pd.DataFrame(rows, columns=TRAINING_COLUMNS)


TRAINING_COLUMNS = ["arm", "seed", "epochs", "best_epoch", "best_val_loss", "val_rows", "val_auroc", "val_score_sd",
                    "collapsed"]


# ------------------------------------------------------------------------------- paired comparisons

@dataclass(frozen=True)
class ScoredRows:
    """The test rows every seed of one arm scored on one test set, aligned: labels, groups, scores, decisions."""

    paths: np.ndarray  # (n_rows,)
    labels: np.ndarray  # (n_rows,) 0 real, 1 fake
    groups: np.ndarray  # (n_rows,)
    scores: np.ndarray  # (n_seeds, n_rows) P(fake)
    decisions: np.ndarray  # (n_seeds, n_rows) 0/1 at each seed's own validation threshold


def scored_rows(run_dirs: Sequence[os.PathLike | str], test_set: str,
                tables: Sequence[pd.DataFrame] | None = None) -> ScoredRows:
    """One arm's seeds on one test set, from their ``predictions.csv`` files, rows in path order.

    Every seed must have scored the same rows (they share the split and the test sets' images).
    ``tables``: the runs' scored test rows when they are not the own split's or a test set's
    (``tdfake compare --data``); the thresholds are still each run's own.
    """
    if tables is None:
        tables = [layout.test_predictions(d, None if test_set == OWN_TEST_SET else test_set) for d in run_dirs]
    tables = [t.sort_values("path") for t in tables]
    first = tables[0]
    for run_dir, table in zip(run_dirs, tables):
        if list(table["path"]) != list(first["path"]):
            raise ValueError(f"{run_dir}: scored other {test_set} rows than {run_dirs[0]}; evaluate both anew")
    thresholds = np.array([layout.chosen_threshold(d) for d in run_dirs])[:, None]
    scores = np.stack([t["score"].to_numpy(dtype=float) for t in tables])
    return ScoredRows(first["path"].to_numpy(), first["label"].to_numpy(dtype=int),
                      first["group"].astype(str).to_numpy(), scores, (scores >= thresholds).astype(int))


def compare_scored(a: ScoredRows, b: ScoredRows, n_bootstrap: int = 2000, seed: int = 0,
                   margin: float | None = None) -> dict:
    """The paired comparison of two arms' scored rows: Δ AUROC and Δ accuracy at each arm's validation threshold.

    Rows are matched by path (the arms score the same crops); groups are the split's, so frames of
    a video and a real video with its fakes count as one unit.  Seeds are pooled as
    :func:`tdfake.stats.paired_auroc` does: the mean over seeds of the paired difference.
    """
    common = np.intersect1d(a.paths, b.paths)
    ia, ib = np.searchsorted(a.paths, common), np.searchsorted(b.paths, common)
    if a.scores.shape[0] != b.scores.shape[0]:
        raise ValueError(f"the arms have {a.scores.shape[0]} and {b.scores.shape[0]} seeds; compare equal sets")
    y, groups = a.labels[ia], a.groups[ia]
    # (n_seeds, n_rows) arrays: stats reads one seed's (1, n_rows) as it reads a 1-D array
    fixed = stats.paired_auroc(y, a.scores[:, ia], b.scores[:, ib], groups=groups, n_bootstrap=n_bootstrap, seed=seed)
    auroc = fixed
    if a.scores.shape[0] >= 2:  # seeds as random readers: the primary analysis wherever it is defined
        auroc = stats.paired_auroc(y, a.scores[:, ia], b.scores[:, ib], groups=groups, n_bootstrap=0,
                                   seed_effect="random")
    accuracy = stats.paired_accuracy(y, a.decisions[:, ia], b.decisions[:, ib], groups=groups,
                                     n_bootstrap=n_bootstrap, seed=seed)
    boot = fixed.bootstrap_ci if fixed.bootstrap_ci is not None else (float("nan"), float("nan"))
    nan = float("nan")
    testable = bool(np.isfinite(auroc.se) and auroc.se > 0)  # power is undefined for a zero standard error
    margin_columns: dict = {"margin": nan, "p_non_inferior": nan, "non_inferior": None, "power_non_inferior": nan,
                            "inferior_beyond_margin": None}
    if margin is not None:
        margin_columns = {
            "margin": margin, "p_non_inferior": stats.non_inferiority_p(auroc, margin),
            "non_inferior": stats.non_inferior(auroc, margin),
            "power_non_inferior": stats.non_inferiority_power(auroc.se, margin, df=auroc.df) if testable else nan,
            "inferior_beyond_margin": bool(auroc.ci[1] < -margin)}
    return {
        "n_seeds": int(a.scores.shape[0]), "n_rows": int(common.size), "n_groups": auroc.n_groups,
        "auroc_a": auroc.auroc_a, "auroc_b": auroc.auroc_b, "seed_effect": auroc.seed_effect,
        "delta_auroc": auroc.delta, "delta_auroc_ci_low": auroc.ci[0], "delta_auroc_ci_high": auroc.ci[1],
        "se_auroc": auroc.se, "df_auroc": auroc.df, "p_auroc": auroc.p_value, "auroc_method": auroc.method,
        # one comparison is its own family; compare_arms adjusts over a test set's comparisons
        "p_auroc_holm": auroc.p_value, "verdict_auroc": stats.verdict(auroc, ALPHA),
        "delta_auroc_fixed_ci_low": fixed.ci[0], "delta_auroc_fixed_ci_high": fixed.ci[1],
        "p_auroc_fixed": fixed.p_value, "df_auroc_fixed": fixed.df,
        "delta_auroc_bootstrap_ci_low": boot[0], "delta_auroc_bootstrap_ci_high": boot[1],
        "delta_auroc_seed_sd": fixed.seed_sd,
        "delta_accuracy_at_threshold": accuracy.delta, "delta_accuracy_at_threshold_ci_low": accuracy.ci[0],
        "delta_accuracy_at_threshold_ci_high": accuracy.ci[1], "p_accuracy_at_threshold": accuracy.p_value,
        "verdict_accuracy_at_threshold": stats.verdict(accuracy, ALPHA),
        "mdd_auroc": stats.minimum_detectable_difference(auroc.se, alpha=ALPHA, df=auroc.df) if testable else nan,
        **margin_columns,
    }


def _holm_verdicts(rows: pd.DataFrame) -> pd.DataFrame:
    """``p_auroc_holm`` over the comparisons of each test set and ``verdict_auroc`` from it."""
    rows = rows.copy()
    for _, part in rows.groupby("test_set", sort=False):
        rows.loc[part.index, "p_auroc_holm"] = stats.holm(part["p_auroc"].to_numpy(dtype=float))
    rows["verdict_auroc"] = [stats.verdict_words(delta, p, ALPHA)
                             for delta, p in zip(rows["delta_auroc"], rows["p_auroc_holm"])]
    return rows


def compare_arms(run_dirs: Mapping[str, Sequence[Path]], test_sets: Sequence[str], comparisons: Sequence[Comparison],
                 n_bootstrap: int = 2000, seed: int = 0) -> pd.DataFrame:
    """comparisons.csv: every comparison (``cfg.comparison_specs()``) whose arms both ran, on every test set.

    ``run_dirs``: arm → its run folders, one per training seed, in the same seed order for every arm.
    """
    rows = []
    for name in test_sets:
        scored = {arm: scored_rows(dirs, name) for arm, dirs in run_dirs.items()}
        for pair in comparisons:
            if pair.a in scored and pair.b in scored:
                rows.append({"test_set": name, "arm_a": pair.a, "arm_b": pair.b,
                             **compare_scored(scored[pair.a], scored[pair.b], n_bootstrap, seed,
                                              pair.non_inferiority_margin)})
    return _holm_verdicts(pd.DataFrame(rows, columns=COMPARISON_COLUMNS))


def comparisons_markdown(comparisons: pd.DataFrame) -> str:
    """The comparison table for a reader: Δ with its interval, p, the verdict, non-inferiority."""
    def interval(row, name: str, scale: float = 1.0) -> str:
        return (f"{row[name] * scale:+.3f} [{row[name + '_ci_low'] * scale:+.3f}, "
                f"{row[name + '_ci_high'] * scale:+.3f}]")

    def non_inferiority(row) -> str:
        if row["non_inferior"] is None or pd.isna(row["non_inferior"]):
            return ""
        return (f"{'non-inferior' if bool(row['non_inferior']) else 'not shown'} (margin {row['margin']:.2f}, "
                f"p {_p(row['p_non_inferior'])})")

    shown = pd.DataFrame({
        "test set": comparisons["test_set"],
        "b vs a": [f"{r.arm_b} vs {r.arm_a}" for r in comparisons.itertuples()],
        "seeds": [f"{r.n_seeds} ({r.seed_effect})" for r in comparisons.itertuples()],
        "ΔAUROC [95% CI]": [interval(r, "delta_auroc") for _, r in comparisons.iterrows()],
        "p (Holm)": [f"{_p(r.p_auroc)} ({_p(r.p_auroc_holm)})" for r in comparisons.itertuples()],
        "seeds fixed: [95% CI]": [f"[{r.delta_auroc_fixed_ci_low:+.3f}, {r.delta_auroc_fixed_ci_high:+.3f}]"
                                  for r in comparisons.itertuples()],
        "MDD (80 %)": comparisons["mdd_auroc"].map(lambda v: f"{v:.3f}"),
        "verdict (AUROC)": comparisons["verdict_auroc"],
        "Δaccuracy @val thresholds [95% CI]": [interval(r, "delta_accuracy_at_threshold")
                                               for _, r in comparisons.iterrows()],
        "p (accuracy)": comparisons["p_accuracy_at_threshold"].map(_p),
        "non-inferiority of b": [non_inferiority(r) for _, r in comparisons.iterrows()],
        "groups": comparisons["n_groups"],
        "test": comparisons["auroc_method"],
    })
    return shown.to_markdown(index=False, disable_numparse=True)


def _p(value: float) -> str:
    return "" if pd.isna(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


# ------------------------------------------------------------------------------- results.md

def results_markdown(cfg: Config, sets: SetReports, comparisons: pd.DataFrame | None = None,
                     seeds: pd.DataFrame | None = None) -> str:
    """``results.md``: the verdicts first, then the arms side by side per seed, the seed spread, each
    arm's table beside the study's, and the extra test sets."""
    own = sets[OWN_TEST_SET]
    first_seed = next(iter(own))
    reports = own[first_seed]
    first = next(iter(reports.values()))
    data = cfg.data_dir or f"built-in demo dataset ({cfg.demo_dir})"
    seed_list = list(own)
    lines = [
        f"# Results: `{cfg.name}` config", "",
        f"Data: {data}; split by {cfg.split_by}, split seed {cfg.seed}; "
        f"training seeds {', '.join(map(str, seed_list))}; "
        f"test set {first.n_real} real + {first.n_fake} fake. Study columns: the 2020 study's published test "
        "results on FaceForensics++ c40 NeuralTextures (1000 real + 1000 fake), shown for comparison, not "
        "measured here.", "",
    ]
    if comparisons is not None and len(comparisons):
        lines += [
            "## Paired comparisons (Δ = b − a on the same test rows)", "",
            f"Verdicts at α = {ALPHA}: *higher* / *lower* when the two-sided p is below α, else *no detectable "
            "difference* (which is not a proof of equality; the non-inferiority column tests that, for the pairs "
            "given a margin: b is non-inferior only when the lower end of the interval of Δ is above −margin, in "
            "AUROC). Several seeds are pooled as the mean over seeds of the paired difference, and the interval "
            "treats them as random (Obuchowski–Rockette with Hillis's df: retraining noise included); the "
            "fixed-seed interval, conditional on these trained models, is in its own column. Accuracy is each "
            "arm's at its own validation threshold.", "",
            comparisons_markdown(comparisons), "",
        ]
    if seeds is not None and len(seed_list) > 1:
        lines += ["## Spread over training seeds", "",
                  "sd over seeds beside the mean half-width of one seed's 95 % test-sampling interval of AUROC.", "",
                  _seed_table(seeds), ""]
    for seed, by_arm in own.items():
        title = "## The arms side by side" + (f" (training seed {seed})" if len(seed_list) > 1 else "")
        lines += [title, "",
                  "Accuracy @0.5 and THRESH (EER threshold of the test ROC) are computed as the study did; the "
                  "threshold chosen on validation and the test accuracy at it are the leak-free figures. "
                  f"The 95 % intervals resample {first.resampled()}.", "",
                  _summary_table(by_arm, cfg), ""]
    for arm, report in reports.items():
        if study_results(arm) is None:
            lines += [f"## {arm} ({cfg.image_spec(arm).folder}), training seed {first_seed}", "",
                      table_markdown(report.table), ""]
        else:
            lines += [f"## {arm} ({cfg.image_spec(arm).folder}), training seed {first_seed}, beside the study", "",
                      table_markdown(side_by_side({"ours": report.table, "study": study_table(arm)})), ""]
    lines.append(sets_markdown(cfg, {name: by_seed[first_seed] for name, by_seed in sets.items()}))
    return "\n".join(lines)


def _summary_table(reports: Mapping[str, Report], cfg: Config) -> str:
    results = results_table(reports, cfg)

    def interval(row, name):
        return f"{row[name]:.3f} [{row[name + '_ci_low']:.3f}, {row[name + '_ci_high']:.3f}]"

    summary = pd.DataFrame({
        "input": results["images"],
        "accuracy @0.5 [95% CI]": [interval(r, "accuracy_at_0.5") for _, r in results.iterrows()],
        "AUROC [95% CI]": [interval(r, "auroc") for _, r in results.iterrows()],
        "CI rests on": [report.ci_basis() for report in reports.values()],
        "AP": results["average_precision"].map("{:.3f}".format),
        "THRESH (test EER)": results["thresh_test_eer"].map("{:.3f}".format),
        "threshold (val EER)": results["threshold"].map("{:.3f}".format),
        "accuracy @val threshold [95% CI]": [interval(r, "accuracy_at_threshold") for _, r in results.iterrows()],
        "video AUROC": results["video_auroc"].map(lambda v: "" if pd.isna(v) else f"{v:.3f}"),
        "study accuracy": results["study_accuracy_at_0.5"].map(_number),
        "study AUROC": results["study_auroc"].map(_number),
        "study THRESH": results["study_thresh_test_eer"].map(_number),
    })
    return summary.to_markdown(disable_numparse=True)


def _number(value: float) -> str:
    """A published number as the study gave it; empty for an arm the study did not have."""
    return "" if pd.isna(value) else f"{value:g}"


def _seed_table(seeds: pd.DataFrame) -> str:
    def mean_sd(metric: str) -> list[str]:
        return [f"{m:.3f} ± {s:.3f}" for m, s in zip(seeds[f"{metric}_mean"], seeds[f"{metric}_sd"])]

    shown = pd.DataFrame({
        "test set": seeds["test_set"], "arm": seeds["arm"], "seeds": seeds["seeds"],
        "AUROC mean ± sd": mean_sd("auroc"),
        "test-sampling half-width": seeds["auroc_ci_halfwidth"].map("{:.3f}".format),
        "accuracy @val threshold mean ± sd": mean_sd("accuracy_at_threshold"),
    })
    return shown.to_markdown(index=False, disable_numparse=True)


def sets_markdown(cfg: Config, sets: Mapping[str, Mapping[str, Report]]) -> str:
    """results.md's part for the extra sets (a table per set) and per-method tables of every set."""
    lines = []
    for name, reports in sets.items():
        if name != OWN_TEST_SET:
            first = next(iter(reports.values()))
            lines += [f"## Test set `{name}`: {cfg.test_sets.get(name, '')}", "",
                      (f"All {first.n_real} real + {first.n_fake} fake images of the folder; thresholds chosen on "
                       f"the run's own validation split; 95 % intervals over {first.ci_basis()}."), "",
                      _set_table(reports, cfg), ""]
        for arm, report in reports.items():
            if report.per_method:
                lines += [f"### Per method: {arm} ({cfg.image_spec(arm).folder}) on `{name}`", "",
                          per_method_markdown(report.per_method), ""]
    return "\n".join(lines)


def _set_table(reports: Mapping[str, Report], cfg: Config) -> str:
    def interval(value: float, ci: tuple[float, float]) -> str:
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"

    table = pd.DataFrame({
        "input": [cfg.image_spec(arm).folder for arm in reports],
        "accuracy @0.5 [95% CI]": [interval(r.accuracy, r.ci["accuracy"]) for r in reports.values()],
        "AUROC [95% CI]": [interval(r.auroc, r.ci["auroc"]) for r in reports.values()],
        "AP": [f"{r.average_precision:.3f}" for r in reports.values()],
        "threshold (val)": [f"{r.chosen.threshold:.3f}" for r in reports.values()],
        "accuracy @val threshold": [f"{r.chosen.metrics.accuracy:.3f}" for r in reports.values()],
        "REAL recall @val threshold": [f"{r.chosen.metrics.real.recall:.3f}" for r in reports.values()],
        "FAKE recall @val threshold": [f"{r.chosen.metrics.fake.recall:.3f}" for r in reports.values()],
    }, index=pd.Index(list(reports), name="arm"))
    return table.to_markdown(disable_numparse=True)

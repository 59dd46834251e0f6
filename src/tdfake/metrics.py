"""Scores → the study's report: per-class P/R/F1, AUROC, THRESH, accuracy, plus what the study lacked.

Labels are 1 for fake and 0 for real; scores are P(fake) (the sigmoid output).  A prediction is
"fake" when ``score >= threshold`` (scikit-learn's ``roc_curve`` convention).

The study's table (rows REAL, FAKE, AUROC, THRESH, TOTAL ACCURACY) is kept exactly: class
predictions at 0.5 and THRESH = the equal-error-rate threshold of the *test* ROC, so our numbers
sit beside the study's.  Because choosing a threshold on the test set is a leak (docs/study.md,
"what the study got wrong" 2), the report also holds a threshold chosen on *validation*
(EER by default) and the test metrics at it, labelled as such, plus average precision,
the confusion matrices, bootstrap 95 % intervals that resample whole test groups (linked
videos) with the number of groups and videos they rest on, and a video-level AUROC.

Every number that scikit-learn computes comes from scikit-learn; this module only arranges them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from tdfake.arms import STUDY_RESULTS
from tdfake.constants import LABEL_NAMES, STUDY_THRESHOLD
from tdfake.jsonable import jsonable
from tdfake.stats import group_bootstrap, percentile_interval, weighted_auroc

CLASS_NAMES = tuple(name.upper() for name in LABEL_NAMES.values())
TABLE_ROWS = (*CLASS_NAMES, "AUROC", "THRESH", "TOTAL ACCURACY")
TABLE_COLUMNS = ("precision", "recall", "f1-score", "support", "value")
STUDY_SUPPORT = 1000
FEW_GROUPS = 10
"""Below this many test groups a bootstrap cannot see the spread between videos; reports say so."""


# --------------------------------------------------------------------------- validation of input

def _as_arrays(y_true, y_score, name: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Labels as int 0/1 and scores as finite float64, with messages that say what is wrong."""
    y = np.asarray(y_true).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{name}: {y.size} labels but {s.size} scores; pass one score per label")
    if y.size == 0:
        raise ValueError(f"{name}: no samples to evaluate")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name}: labels must be 0 (real) or 1 (fake), got {sorted(set(y.tolist()))[:5]}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name}: {int((~np.isfinite(s)).sum())} scores are NaN or infinite")
    return y.astype(np.int64), s


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.min() == 0 and y.max() == 1)


# --------------------------------------------------------------------------- thresholds

def _finite_roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full ROC (no dropped points) with the infinite first threshold made finite.

    scikit-learn starts the curve at threshold ``inf`` (nothing predicted fake).  Any value above
    the highest score means the same; for P(fake) scores the natural one is 1.0, so the first
    threshold becomes ``max(1.0, highest score)``.
    """
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    thresholds = thresholds.astype(np.float64).copy()
    if not np.isfinite(thresholds[0]):
        thresholds[0] = max(1.0, float(thresholds[1])) if thresholds.size > 1 else 1.0
    return fpr, tpr, thresholds


def equal_error_rate(y_true, y_score) -> tuple[float, float]:
    """The equal error rate and its threshold, as ``(eer, threshold)``.

    The EER is where the false-positive rate equals the false-negative rate (1 − TPR).  The ROC
    is a list of points, so the crossing usually falls between two of them: it is found by
    linear interpolation of FPR − FNR between the neighbouring points, and the threshold is
    interpolated the same way.  Needs both classes.
    """
    y, s = _as_arrays(y_true, y_score)
    if not _both_classes(y):
        raise ValueError("the EER needs both real and fake samples")
    fpr, tpr, thresholds = _finite_roc(y, s)
    diff = fpr - (1.0 - tpr)  # starts at -1, ends at +1, never decreases
    i = int(np.argmax(diff >= 0))
    if diff[i] == 0 or i == 0:
        return float(fpr[i]), float(thresholds[i])
    t = -diff[i - 1] / (diff[i] - diff[i - 1])
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    threshold = thresholds[i - 1] + t * (thresholds[i] - thresholds[i - 1])
    return float(eer), float(threshold)


def youden_threshold(y_true, y_score) -> float:
    """The threshold maximising Youden's J = TPR − FPR (first one on ties)."""
    y, s = _as_arrays(y_true, y_score)
    if not _both_classes(y):
        raise ValueError("Youden's J needs both real and fake samples")
    fpr, tpr, thresholds = _finite_roc(y, s)
    return float(thresholds[int(np.argmax(tpr - fpr))])


def choose_threshold(y_true, y_score, method: str = "eer") -> float:
    """A decision threshold from labelled scores: ``"eer"``, ``"youden"`` or ``"fixed:<value>"``."""
    if method == "eer":
        return equal_error_rate(y_true, y_score)[1]
    if method == "youden":
        return youden_threshold(y_true, y_score)
    if method.startswith("fixed:"):
        return float(method.split(":", 1)[1])
    raise ValueError(f"unknown threshold method {method!r}; use 'eer', 'youden' or 'fixed:0.5'")


# --------------------------------------------------------------------------- pieces of a report

@dataclass(frozen=True)
class ClassScores:
    """Precision, recall, F1 and support of one class at one threshold (scikit-learn's)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class AtThreshold:
    """Test metrics at one decision threshold: accuracy, the confusion matrix and each class's scores.

    ``confusion`` has true classes as rows and predictions as columns, both ordered (REAL, FAKE).
    """

    threshold: float
    accuracy: float
    confusion: list[list[int]]
    real: ClassScores
    fake: ClassScores

    def of(self, name: str) -> ClassScores:
        """The scores of class ``name`` ("REAL" or "FAKE", any case)."""
        return {"REAL": self.real, "FAKE": self.fake}[name.upper()]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of report.json (class blocks keyed REAL / FAKE, scikit-learn's ``f1-score``)."""
        out: dict[str, Any] = {"threshold": self.threshold}
        for name in CLASS_NAMES:
            c = self.of(name)
            out[name] = {"precision": c.precision, "recall": c.recall, "f1-score": c.f1, "support": c.support}
        return {**out, "accuracy": self.accuracy, "confusion": self.confusion}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AtThreshold:
        def scores(block: dict[str, Any]) -> ClassScores:
            return ClassScores(float(block["precision"]), float(block["recall"]), float(block["f1-score"]),
                               int(block["support"]))

        return cls(float(data["threshold"]), float(data["accuracy"]), [list(map(int, r)) for r in data["confusion"]],
                   scores(data["REAL"]), scores(data["FAKE"]))


@dataclass(frozen=True)
class ChosenThreshold:
    """The decision threshold chosen on ``source`` data ("validation", or "test" without it) by ``method``,
    and the test metrics at it."""

    method: str
    source: str
    threshold: float
    metrics: AtThreshold

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "source": self.source, "threshold": self.threshold,
                "metrics": self.metrics.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChosenThreshold:
        return cls(str(data["method"]), str(data["source"]), float(data["threshold"]),
                   AtThreshold.from_dict(data["metrics"]))


def class_metrics(y_true, y_score, threshold: float = STUDY_THRESHOLD) -> AtThreshold:
    """Per-class precision / recall / F1 / support, accuracy and confusion matrix at ``threshold``."""
    y, s = _as_arrays(y_true, y_score)
    pred = (s >= threshold).astype(np.int64)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=[0, 1], zero_division=0
    )
    real, fake = (ClassScores(float(precision[k]), float(recall[k]), float(f1[k]), int(support[k])) for k in (0, 1))
    return AtThreshold(float(threshold), float(accuracy_score(y, pred)),
                       confusion_matrix(y, pred, labels=[0, 1]).tolist(), real, fake)


def _bootstrap_codes(y: np.ndarray, groups) -> np.ndarray:
    """Each sample's bootstrap unit, numbered 0..K−1 by first appearance; ``groups=None``: every row its own."""
    if groups is None:
        return np.arange(y.size)
    ids = np.asarray(groups).astype(str).ravel()
    if ids.size != y.size:
        raise ValueError(f"{ids.size} group ids for {y.size} scores; pass one group per sample")
    return pd.factorize(ids)[0]


def bootstrap_intervals(
    y_true, y_score, thresholds: dict[str, float] | None = None,
    n_bootstrap: int = 1000, seed: int = 0, level: float = 0.95, groups=None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for AUROC and for accuracy at each named threshold.

    ``groups`` (one id per sample, e.g. the split's linked-video groups): whole groups are
    resampled, because frames of one video (and a fake and the real video it was made from)
    share face, scene and errors; resampling frames as if independent gives intervals several
    times too narrow when a test set holds few videos.  Without ``groups`` every frame is its
    own group, which is exactly the frame bootstrap (same seed, same numbers).

    Stratified by class composition (:func:`tdfake.stats.group_bootstrap`, the engine the paired
    comparisons use too, groups numbered by first appearance): groups holding only real frames,
    only fake frames, and both (a real video with fakes made from it) are resampled separately,
    each stratum keeping its number of groups.  So every resample holds both classes whenever the
    data does, and the mixed groups, whose real and fake frames are correlated, stay whole instead
    of being split into a real and a fake unit.  AUROC's interval is NaN when the data holds one
    class.  Each resample's AUROC is :func:`sklearn.metrics.roc_auc_score` on its rows and its
    accuracy :func:`sklearn.metrics.accuracy_score`, computed from row multiplicities
    (:func:`tdfake.stats.weighted_auroc`).  Seeded, so the same inputs give the same intervals.
    """
    y, s = _as_arrays(y_true, y_score)
    thresholds = {"accuracy": STUDY_THRESHOLD} if thresholds is None else thresholds
    keys = ["auroc", *thresholds]
    if n_bootstrap <= 0:
        return {k: (math.nan, math.nan) for k in keys}
    codes = _bootstrap_codes(y, groups)
    both = _both_classes(y)
    correct = np.array([(s >= thr) == y for thr in thresholds.values()], dtype=np.float64).reshape(-1, y.size)

    def statistic(counts: np.ndarray) -> np.ndarray:  # (1 + n_thresholds, n_resamples)
        weights = counts[codes]
        auroc = (weighted_auroc(y, s[np.newaxis], weights) if both
                 else np.full((1, weights.shape[1]), math.nan))
        return np.vstack([auroc, correct @ weights / weights.sum(axis=0)])

    values = group_bootstrap(y, codes, statistic, n_bootstrap, seed)
    return {k: percentile_interval(v, level) if both or k != "auroc" else (math.nan, math.nan)
            for k, v in zip(keys, values)}


def video_level_auroc(y_true, y_score, groups) -> tuple[float, int] | None:
    """AUROC over per-video mean scores, and the number of (video, label) units.

    Frames are averaged per (group, label): a group id may join a real video and the fakes made
    from it (see :mod:`tdfake.split`), and those must stay apart.  ``None`` when no unit holds
    more than one frame (then it equals the frame-level AUROC) or one class is missing.
    """
    y, s = _as_arrays(y_true, y_score)
    frame = pd.DataFrame({"group": np.asarray(groups).astype(str).ravel(), "label": y, "score": s})
    if len(frame) != y.size:
        raise ValueError(f"{len(frame)} group ids for {y.size} scores; pass one group per sample")
    units = frame.groupby(["group", "label"], sort=True)["score"].agg(["mean", "size"]).reset_index()
    if units["size"].max() < 2 or units["label"].nunique() < 2:
        return None
    return float(roc_auc_score(units["label"], units["mean"])), int(len(units))


# --------------------------------------------------------------------------- the report

def _empty_table() -> pd.DataFrame:
    """The study-shaped table with every cell empty (NaN)."""
    return pd.DataFrame(index=list(TABLE_ROWS), columns=list(TABLE_COLUMNS), dtype=float)


def _table(per_class: dict[str, ClassScores], auroc: float, thresh: float, accuracy: float, n: int) -> pd.DataFrame:
    table = _empty_table()
    for name in CLASS_NAMES:
        row = per_class[name]
        table.loc[name, ["precision", "recall", "f1-score", "support"]] = [row.precision, row.recall, row.f1,
                                                                             row.support]
    table.loc["AUROC", "value"] = auroc
    table.loc["THRESH", "value"] = thresh
    table.loc["TOTAL ACCURACY", ["support", "value"]] = [n, accuracy]
    table["support"] = table["support"].astype("Int64")
    return table


def study_table(arm: str) -> pd.DataFrame:
    """The study's published results for ``arm`` (baseline / tk / tk_diff, :data:`tdfake.arms.STUDY_RESULTS`)
    in the report's table shape; KeyError for an arm the study did not have."""
    if arm not in STUDY_RESULTS:
        raise KeyError(f"no study results for arm {arm!r}; arms: {sorted(STUDY_RESULTS)}")
    r = STUDY_RESULTS[arm]
    per_class = {}
    for name in CLASS_NAMES:
        precision, recall, f1 = r[name]
        per_class[name] = ClassScores(precision, recall, f1, support=STUDY_SUPPORT)
    return _table(per_class, r["auroc"], r["thresh"], r["accuracy"], 2 * STUDY_SUPPORT)


def side_by_side(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Report tables next to each other, e.g. ``{"baseline (ours)": ..., "baseline (study)": ...}``.

    Columns become ``(label, column)``; rows stay REAL, FAKE, AUROC, THRESH, TOTAL ACCURACY.
    """
    return pd.concat(tables, axis=1)


@dataclass
class Report:
    """Everything :func:`evaluate_scores` measured; ``table`` is the study's shape.

    ``table``: rows REAL, FAKE, AUROC, THRESH, TOTAL ACCURACY; P/R/F1 and accuracy at 0.5,
    THRESH = test-set EER threshold (as the study).  ``chosen``: the threshold chosen on
    ``chosen.source`` data (validation when given) with method ``chosen.method``, and the
    test metrics at it.  ``at_study_threshold``: the test metrics at 0.5, with confusion matrix.
    ``ci``: bootstrap intervals (keys ``auroc``, ``accuracy`` at 0.5, ``accuracy_at_chosen``),
    resampling ``n_bootstrap_units`` units of kind ``bootstrap_unit`` (``"group"``: the split's
    linked-video groups; ``"frame"``: single frames, when no groups were given).  ``n_videos``:
    distinct test videos (None when unknown).
    ``roc``: test ROC points (fpr, tpr, thresholds) for plotting.
    ``per_method``: when the test fakes come from more than one manipulation method, one record
    per method (:func:`per_method_metrics`); else ``None``.
    """

    table: pd.DataFrame
    n_real: int
    n_fake: int
    auroc: float
    average_precision: float
    eer: float
    eer_threshold: float
    at_study_threshold: AtThreshold
    chosen: ChosenThreshold
    ci: dict[str, tuple[float, float]]
    n_bootstrap: int
    video_auroc: float | None = None
    n_video_units: int | None = None
    bootstrap_unit: str = "frame"
    n_bootstrap_units: int | None = None
    n_videos: int | None = None
    roc: dict[str, list[float]] = field(default_factory=dict, repr=False)
    per_method: list[dict[str, Any]] | None = None

    def ci_basis(self) -> str:
        """What the intervals rest on, e.g. ``"11 test groups (41 videos)"`` or ``"400 test frames"``."""
        n = self.n_bootstrap_units if self.n_bootstrap_units is not None else self.n_real + self.n_fake
        videos = f" ({self.n_videos} videos)" if self.n_videos is not None else ""
        return f"{n} test {'groups' if self.bootstrap_unit == 'group' else 'frames'}{videos}"

    def resampled(self) -> str:
        """:meth:`ci_basis` with how it was resampled, and a caution when there are too few groups."""
        if self.bootstrap_unit != "group":
            return f"{self.ci_basis()} as if independent, stratified by class"
        few = self.n_bootstrap_units is not None and self.n_bootstrap_units < FEW_GROUPS
        caution = f"; with fewer than {FEW_GROUPS} groups the intervals are unreliable" if few else ""
        return f"{self.ci_basis()}, stratified by class composition{caution}"

    @property
    def accuracy(self) -> float:
        """Test accuracy at 0.5 (the study's TOTAL ACCURACY)."""
        return self.at_study_threshold.accuracy

    def summary(self) -> dict[str, Any]:
        """One flat row (for a results CSV comparing arms).

        Accuracy has two names and never one bare: ``accuracy_at_0.5`` (the study's TOTAL ACCURACY)
        and ``accuracy_at_threshold`` (at the threshold chosen on validation), each with its interval.
        """
        return {
            "accuracy_at_0.5": self.accuracy,
            "accuracy_at_0.5_ci_low": self.ci["accuracy"][0], "accuracy_at_0.5_ci_high": self.ci["accuracy"][1],
            "auroc": self.auroc,
            "auroc_ci_low": self.ci["auroc"][0], "auroc_ci_high": self.ci["auroc"][1],
            "average_precision": self.average_precision,
            "eer": self.eer, "thresh_test_eer": self.eer_threshold,
            "threshold_method": self.chosen.method, "threshold_source": self.chosen.source,
            "threshold": self.chosen.threshold,
            "accuracy_at_threshold": self.chosen.metrics.accuracy,
            "accuracy_at_threshold_ci_low": self.ci["accuracy_at_chosen"][0],
            "accuracy_at_threshold_ci_high": self.ci["accuracy_at_chosen"][1],
            "video_auroc": self.video_auroc,
            "n_real": self.n_real, "n_fake": self.n_fake,
            "n_videos": self.n_videos, "bootstrap_unit": self.bootstrap_unit,
            "n_bootstrap_units": self.n_bootstrap_units,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the table (row → column → value) and every other field."""
        table = {
            row: {col: jsonable(v) for col, v in self.table.loc[row].items() if not pd.isna(v)}
            for row in self.table.index
        }
        return jsonable({
            "table": table,
            "n_real": self.n_real, "n_fake": self.n_fake,
            "auroc": self.auroc, "average_precision": self.average_precision,
            "eer": self.eer, "eer_threshold": self.eer_threshold,
            "at_study_threshold": self.at_study_threshold.to_dict(),
            "chosen": self.chosen.to_dict(),
            "ci": {k: list(v) for k, v in self.ci.items()}, "n_bootstrap": self.n_bootstrap,
            "video_auroc": self.video_auroc, "n_video_units": self.n_video_units,
            "bootstrap_unit": self.bootstrap_unit, "n_bootstrap_units": self.n_bootstrap_units,
            "n_videos": self.n_videos,
            "roc": self.roc,
            "per_method": self.per_method,
        })

    def to_json(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (e.g. a run's report.json)."""
        table = _empty_table()
        for row, values in data["table"].items():
            for col, v in values.items():
                table.loc[row, col] = v
        table["support"] = table["support"].astype("Int64")
        fields = {k: v for k, v in data.items() if k != "table"}
        fields["ci"] = {k: tuple(v) for k, v in fields["ci"].items()}
        fields["at_study_threshold"] = AtThreshold.from_dict(fields["at_study_threshold"])
        fields["chosen"] = ChosenThreshold.from_dict(fields["chosen"])
        return cls(table=table, **fields)

    @classmethod
    def from_json(cls, path: str | Path) -> Report:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_markdown(self, title: str | None = None) -> str:
        """The study-shaped table in markdown, then the labelled extras underneath."""
        c = self.chosen
        m = c.metrics
        lines = [f"## {title}", ""] if title else []
        lines += [
            table_markdown(self.table), "",
            f"Test set: {self.n_real} real, {self.n_fake} fake.  Class rows and TOTAL ACCURACY use "
            f"threshold 0.5 and THRESH is the EER threshold of the test ROC, as in the study.", "",
            f"- AUROC {self.auroc:.4f} (95 % CI {_ci(self.ci['auroc'])}); "
            f"accuracy {self.accuracy:.4f} (95 % CI {_ci(self.ci['accuracy'])}); "
            f"bootstrap: {self.n_bootstrap} resamples of {self.resampled()}",
            f"- average precision {self.average_precision:.4f}; "
            f"test EER {self.eer:.4f} at threshold {self.eer_threshold:.4f}",
            f"- threshold chosen on **{c.source}** ({c.method}): {c.threshold:.4f} → test accuracy "
            f"{m.accuracy:.4f} (95 % CI {_ci(self.ci['accuracy_at_chosen'])}), "
            f"REAL recall {m.real.recall:.4f}, FAKE recall {m.fake.recall:.4f}",
            f"- confusion at 0.5 (rows true REAL/FAKE, columns predicted): {self.at_study_threshold.confusion}; "
            f"at the chosen threshold: {m.confusion}",
        ]
        if self.video_auroc is not None:
            lines.append(f"- video-level AUROC (mean score per video and label, {self.n_video_units} units): "
                         f"{self.video_auroc:.4f}")
        if self.per_method:
            lines += ["", ("Per manipulation method (its fakes against all reals; recall = share of its fakes "
                           "called fake):"), "", per_method_markdown(self.per_method)]
        return "\n".join(lines) + "\n"


def table_markdown(table: pd.DataFrame) -> str:
    """A report table (or :func:`side_by_side` tables) as markdown; empty cells stay empty.

    Values show four decimals, supports as integers; side-by-side column pairs read
    ``"label: column"``.
    """
    def cell(value: Any, column: Any) -> str:
        if pd.isna(value):
            return ""
        name = column[-1] if isinstance(column, tuple) else column
        return str(int(value)) if name == "support" else f"{float(value):.4f}"

    shown = pd.DataFrame(
        {col: [cell(v, col) for v in table[col]] for col in table.columns}, index=table.index
    )
    shown.columns = [": ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in table.columns]
    return shown.to_markdown(disable_numparse=True)


def _ci(interval: tuple[float, float]) -> str:
    lo, hi = interval
    return "n/a" if math.isnan(lo) else f"{lo:.4f}–{hi:.4f}"


def evaluate_scores(
    y_true, y_score, val_true=None, val_score=None, groups=None,
    threshold_method: str = "eer", n_bootstrap: int = 1000, seed: int = 0, videos=None, methods=None,
) -> Report:
    """The full report for test labels and scores.

    ``val_true``/``val_score``: validation labels and scores to choose the decision threshold on
    (``threshold_method``: ``"eer"``, ``"youden"`` or ``"fixed:0.5"``); without them the threshold
    is chosen on the test set and the report says so.  ``groups``: the split's group id per test
    sample (linked videos, see :mod:`tdfake.datasets`); the bootstrap intervals then resample
    whole groups (see :func:`bootstrap_intervals`), otherwise single frames.  ``videos``: a video
    id per test sample for the video-level AUROC and the video count (``groups`` stand in for
    videos when only they are given).  ``methods``: the manifest's ``method`` per test sample, for
    per-method results when the fakes hold more than one method.  Both classes must be present in
    the test set.
    """
    y, s = _as_arrays(y_true, y_score, "test")
    if not _both_classes(y):
        raise ValueError("test: AUROC and EER need both real and fake samples; check the split")
    auroc = float(roc_auc_score(y, s))
    eer, eer_thr = equal_error_rate(y, s)
    at_half = class_metrics(y, s, STUDY_THRESHOLD)

    if val_true is not None and val_score is not None:
        vy, vs = _as_arrays(val_true, val_score, "validation")
        if not _both_classes(vy) and not threshold_method.startswith("fixed:"):
            raise ValueError("validation: choosing a threshold needs both real and fake samples")
        source = "validation"
    else:
        vy, vs, source = y, s, "test"
    threshold = choose_threshold(vy, vs, threshold_method)
    chosen = ChosenThreshold(threshold_method, source, threshold, class_metrics(y, s, threshold))

    ci = bootstrap_intervals(
        y, s, {"accuracy": STUDY_THRESHOLD, "accuracy_at_chosen": threshold},
        n_bootstrap=n_bootstrap, seed=seed, groups=groups,
    )
    units = videos if videos is not None else groups
    video = video_level_auroc(y, s, units) if units is not None else None
    n_groups = int(pd.unique(np.asarray(groups).astype(str).ravel()).size) if groups is not None else int(y.size)
    fpr, tpr, thr = roc_curve(y, s)
    return Report(
        table=_table({"REAL": at_half.real, "FAKE": at_half.fake}, auroc, eer_thr, at_half.accuracy, int(y.size)),
        n_real=int((y == 0).sum()), n_fake=int((y == 1).sum()),
        auroc=auroc, average_precision=float(average_precision_score(y, s)),
        eer=eer, eer_threshold=eer_thr,
        at_study_threshold=at_half, chosen=chosen, ci=ci, n_bootstrap=int(n_bootstrap),
        video_auroc=None if video is None else video[0],
        n_video_units=None if video is None else video[1],
        bootstrap_unit="frame" if groups is None else "group", n_bootstrap_units=n_groups,
        n_videos=None if videos is None else int(pd.unique(np.asarray(videos).astype(str).ravel()).size),
        roc={"fpr": fpr.tolist(), "tpr": tpr.tolist(),
             "thresholds": np.where(np.isfinite(thr), thr, np.nan).tolist()},
        per_method=_several_methods(y, s, methods, threshold),
    )


# --------------------------------------------------------------------------- per manipulation method

def per_method_metrics(y_true, y_score, methods, threshold: float = STUDY_THRESHOLD) -> pd.DataFrame:
    """AUROC and recall per manipulation method: each method's fakes scored against *all* reals.

    One row per method found among the fakes (sorted): ``method``, ``n_fake``, ``n_real``,
    ``auroc`` (scikit-learn's, on the reals plus that method's fakes; NaN without reals),
    ``recall_at_0.5`` and ``recall_at_threshold`` (share of that method's fakes scored
    ``>= 0.5`` / ``>= threshold``, scikit-learn's recall).  Why all reals: a real crop has no
    method, so every method is judged against the same negatives and the AUROCs compare.
    """
    y, s = _as_arrays(y_true, y_score)
    m = np.asarray(methods).astype(str).ravel()
    if m.shape != y.shape:
        raise ValueError(f"{m.size} methods for {y.size} scores; pass the manifest's method column, one per sample")
    real = y == 0
    rows = []
    for method in sorted(set(m[y == 1])):
        fake = (y == 1) & (m == method)
        keep = real | fake
        rows.append({
            "method": method, "n_fake": int(fake.sum()), "n_real": int(real.sum()),
            "auroc": float(roc_auc_score(y[keep], s[keep])) if real.any() else math.nan,
            "recall_at_0.5": float(recall_score(y[fake], s[fake] >= STUDY_THRESHOLD, zero_division=0)),
            "recall_at_threshold": float(recall_score(y[fake], s[fake] >= threshold, zero_division=0)),
        })
    return pd.DataFrame(rows, columns=["method", "n_fake", "n_real", "auroc", "recall_at_0.5", "recall_at_threshold"])


def _several_methods(y: np.ndarray, s: np.ndarray, methods, threshold: float) -> list[dict[str, Any]] | None:
    """:func:`per_method_metrics` records when the fakes hold more than one method, else ``None``."""
    if methods is None or len(set(np.asarray(methods).astype(str)[y == 1])) < 2:
        return None
    return jsonable(per_method_metrics(y, s, methods, threshold).to_dict("records"))


def per_method_markdown(records: list[dict[str, Any]]) -> str:
    """Per-method records (a report's ``per_method``) as a markdown table."""
    table = pd.DataFrame(records)
    shown = pd.DataFrame({
        "method": table["method"], "fakes": table["n_fake"], "reals": table["n_real"],
        "AUROC": table["auroc"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.4f}"),
        "recall @0.5": table["recall_at_0.5"].map("{:.4f}".format),
        "recall @chosen threshold": table["recall_at_threshold"].map("{:.4f}".format),
    })
    return shown.to_markdown(index=False, disable_numparse=True)

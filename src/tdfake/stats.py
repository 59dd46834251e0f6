"""Paired comparison of two arms scored on the same test rows: ΔAUROC and Δaccuracy, interval and p-value.

Two arms (say ``baseline`` and ``tk``) evaluated on one test set are not independent samples: a
video that is hard for one model is usually hard for the other, so the difference of their
metrics is much less noisy than two separate intervals suggest, and comparing the intervals
("do they overlap?") throws that pairing away.  This module tests the difference directly.

* :func:`paired_auroc` — ΔAUROC = AUROC(b) − AUROC(a).  Rows independent (no ``groups``, or one
  row per group): DeLong's test for correlated AUROCs (DeLong, DeLong & Clarke-Pearson 1988,
  Biometrics 44:837), computed with the midrank algorithm of Sun & Xu (2014, IEEE Signal
  Processing Letters 21:1389).  Rows in groups (frames of a video; a real video and the fakes
  made from it): Obuchowski's clustered extension (1997, Biometrics 53:567), plus a paired
  bootstrap over groups.
* :func:`paired_accuracy` — Δaccuracy at each arm's own threshold, with a cluster-robust
  (Obuchowski 1998, Statistics in Medicine 17:1495) paired variance and the same bootstrap.

Several training seeds per arm are pooled by averaging: the per-seed differences for ``delta``,
and the per-row structural components (or per-row correctness) before the variance is formed,
so the interval is for the seed-averaged difference on this test set; it does not include
seed-to-seed training noise, which ``seed_sd`` reports beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

Z95 = float(norm.ppf(0.975))
"""Intervals are 95 %: delta ± Z95 · se, and the 2.5 / 97.5 % bootstrap percentiles."""


@dataclass(frozen=True)
class PairedComparison:
    """Arm b against arm a on the same rows; what :func:`verdict` and :func:`non_inferior` read.

    ``delta``: metric of b minus metric of a (mean over seeds of the per-seed difference).
    ``se``: its standard error; ``ci``: the 95 % normal interval ``delta ± 1.96 se``;
    ``p_value``: two-sided, for "no difference"; ``method``: the test that made ``se``, ``ci`` and
    ``p_value``.  ``n_rows``: test rows; ``n_groups``: independent units the variance rests on
    (``n_rows`` when rows are independent).  ``per_seed_delta``: the difference for each seed;
    ``seed_sd``: their sd (ddof=1; nan for one seed).  ``bootstrap_ci``: the 95 % percentile
    interval of a bootstrap over groups, made only for grouped rows (else ``None``).
    """

    delta: float
    se: float
    ci: tuple[float, float]
    p_value: float
    method: str
    n_rows: int
    n_groups: int
    per_seed_delta: tuple[float, ...]
    seed_sd: float
    bootstrap_ci: tuple[float, float] | None


@dataclass(frozen=True)
class AurocComparison(PairedComparison):
    """:class:`PairedComparison` of AUROC; ``auroc_a`` / ``auroc_b`` are means over seeds."""

    auroc_a: float
    auroc_b: float


@dataclass(frozen=True)
class AccuracyComparison(PairedComparison):
    """:class:`PairedComparison` of accuracy; ``accuracy_a`` / ``accuracy_b`` are means over seeds."""

    accuracy_a: float
    accuracy_b: float


# --------------------------------------------------------------------------- input

def _labels(y_true, both_classes: bool) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array of 0/1 labels, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must hold 0 (real) or 1 (fake), got {sorted(set(y.tolist()))[:5]}")
    y = y.astype(np.int64)
    if both_classes and min(y.sum(), y.size - y.sum()) < 2:
        raise ValueError(f"AUROC's variance needs at least two rows of each class; got {y.sum()} fake "
                         f"and {y.size - y.sum()} real")
    return y


def _per_seed(values, n_rows: int, name: str, binary: bool = False) -> np.ndarray:
    """``values`` as a float array ``(n_seeds, n_rows)``; 1-D input is one seed."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be 1-D (n_rows,) or 2-D (n_seeds, n_rows), got shape {arr.shape}")
    if arr.shape[1] != n_rows:
        raise ValueError(f"{name} has {arr.shape[1]} values per seed for {n_rows} labels; pass one per row")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: {int((~np.isfinite(arr)).sum())} values are NaN or infinite")
    if binary and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must be 0/1 predictions (score >= the arm's threshold), not scores")
    return arr


def _pair(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{names}: {a.shape[0]} seeds against {b.shape[0]}; seed s of a is paired with seed s of b")


def _group_codes(groups, n_rows: int) -> np.ndarray | None:
    """Group numbers 0..K−1, one per row, or ``None`` when every row is its own group.

    Ids are compared as strings, as in :mod:`tdfake.metrics`, so ``3`` and ``"3"`` are one group.
    """
    if groups is None:
        return None
    ids = np.asarray(groups).astype(str)
    if ids.ndim != 1 or ids.size != n_rows:
        raise ValueError(f"groups has shape {ids.shape} for {n_rows} rows; pass one group id per row")
    codes = np.unique(ids, return_inverse=True)[1].ravel()
    if codes.max() == 0:
        raise ValueError("all rows are in one group; a between-group variance needs at least two groups")
    return None if codes.max() + 1 == n_rows else codes


# --------------------------------------------------------------------------- estimators

def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components of every score vector (rows of ``scores``), by Sun & Xu's midranks.

    ``V10[i]`` = share of negatives a positive outscores (ties ½), ``V01[j]`` = share of positives
    that outscore a negative; AUROC is the mean of either.  With midranks ``Tz`` over all rows and
    ``Tx`` / ``Ty`` within positives / negatives, ``V10 = (Tz − Tx) / n`` and
    ``V01 = 1 − (Tz − Ty) / m``: O(N log N) instead of the O(m·n) table of pairs.
    """
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    tz = rankdata(scores, axis=1)
    v10 = (tz[:, pos] - rankdata(scores[:, pos], axis=1)) / n
    v01 = 1.0 - (tz[:, neg] - rankdata(scores[:, neg], axis=1)) / m
    return v10, v01


def _delong_variance(d10: np.ndarray, d01: np.ndarray) -> float:
    """DeLong's variance of a difference of AUROCs from its components ``V10(b) − V10(a)``, ``V01(b) − V01(a)``.

    ``S10 / m + S01 / n`` with S the sample variances (ddof=1) over positives and negatives; the
    same as the 2×2 covariance form ``Var a + Var b − 2 Cov``.
    """
    return float(d10.var(ddof=1) / d10.size + d01.var(ddof=1) / d01.size)


def _clustered_variance(codes: np.ndarray, y: np.ndarray, d10: np.ndarray, d01: np.ndarray) -> float:
    """Obuchowski's (1997) clustered variance of a difference of AUROCs.

    The components are summed within each of the K groups, ``V10_k`` over its m_k positives and
    ``V01_k`` over its n_k negatives (zero for a group without that class), and centred by what
    the group would contribute at the estimate θ.  Her ``S10/M + S01/N + 2 S11/(M N)``, with
    ``S10 = K/((K−1) M) Σ (V10_k − m_k θ)²`` and so on, is ``K/(K−1) Σ_k ψ_k²`` for the group's
    total influence ``ψ_k = (V10_k − m_k θ)/M + (V01_k − n_k θ)/N``.  A group holding both
    classes adds its within-group covariance through the cross term.

    With one row per group (K = m + n) this is ``K/(K−1)`` times DeLong's variance with ddof=0,
    i.e. DeLong's own times ``K (m−1) / ((K−1) m)`` on the positives' term (and likewise with n):
    the two agree to within 1 % once m and n are both above about 100.
    """
    k = int(codes.max()) + 1
    pos = y == 1
    theta = d10.mean()
    psi = ((np.bincount(codes[pos], weights=d10, minlength=k) - np.bincount(codes[pos], minlength=k) * theta)
           / d10.size
           + (np.bincount(codes[~pos], weights=d01, minlength=k) - np.bincount(codes[~pos], minlength=k) * theta)
           / d01.size)
    return float(k / (k - 1) * (psi ** 2).sum())


def _cluster_robust_variance_of_mean(d: np.ndarray, codes: np.ndarray) -> float:
    """``K/(K−1) Σ_k (Σ_{i∈k} (d_i − d̄))² / n²``: with one row per group, ``var(d, ddof=1) / n``."""
    k = int(codes.max()) + 1
    totals = np.bincount(codes, weights=d - d.mean(), minlength=k)
    return float(k / (k - 1) * (totals ** 2).sum() / d.size ** 2)


_BOOTSTRAP_CHUNK = 2_000_000
"""Resamples are evaluated in chunks of about this many (row, resample) weights, 16 MB of float64 per array."""


def _weighted_auroc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of every score vector (rows of ``scores``) under every row weighting (columns of ``weights``).

    ``weights[i, r]`` is how many times row i is in resample r (``weights`` is ``(n_rows,
    n_resamples)``), so the result ``(n_scores, n_resamples)`` is ``roc_auc_score`` on each resample
    written out with repeated rows.  One sort of the negatives per score vector: with ``N(< s)`` /
    ``N(≤ s)`` the negative weight scoring below / at most s (cumulative sums in score order, read
    at ``searchsorted``'s left and right ends), ``AUROC = Σ_{i pos} w_i (N(< s_i) + N(≤ s_i)) / 2 /
    (W⁺ W⁻)``, a tie counting ½.  With integer weights every sum is an integer well below 2⁵³, so
    exact in float64: the only rounding is the final division.
    """
    weights = np.asarray(weights, dtype=np.float64)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    w_pos, w_neg = weights[pos], weights[neg]
    denominator = 2.0 * w_pos.sum(axis=0) * w_neg.sum(axis=0)
    cum = np.zeros((neg.size + 1, weights.shape[1]))
    out = np.empty((scores.shape[0], weights.shape[1]))
    for c, s in enumerate(scores):
        order = np.argsort(s[neg], kind="stable")
        ranked = s[neg][order]
        if weights.shape[1] >= 64:  # numpy's cumsum along axis 0 is ~10× slower than adding row by row
            for i, j in enumerate(order.tolist()):
                np.add(cum[i], w_neg[j], out=cum[i + 1])
        else:
            np.cumsum(w_neg[order], axis=0, out=cum[1:])
        below = cum[np.searchsorted(ranked, s[pos], side="left")]
        below += cum[np.searchsorted(ranked, s[pos], side="right")]
        out[c] = np.einsum("ir,ir->r", w_pos, below) / denominator
    return out


def _group_bootstrap(y: np.ndarray, codes: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                     n_bootstrap: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of ``statistic`` over resamples of whole groups.

    Stratified as :func:`tdfake.metrics.bootstrap_intervals`: groups of real rows only, of fake
    rows only and of both are resampled separately, each stratum keeping its number of groups,
    so every resample holds both classes and a mixed group (a real video with its fakes) stays
    whole.  One resample of rows serves both arms and every seed: that is what makes it paired.

    The resamples reach ``statistic`` as group multiplicities, ``counts`` ``(n_groups,
    n_resamples)`` (``counts[codes]`` are the rows'), and it returns one value per resample.
    Resample by resample, each stratum S draws ``rng.integers(0, |S|, |S|)``, the positions that
    ``rng.choice(S, size=|S|, replace=True)`` draws, so the resamples are those of a loop over
    explicit row lists with ``rng.choice``; they are evaluated in chunks of about
    :data:`_BOOTSTRAP_CHUNK` row weights.
    """
    k = int(codes.max()) + 1
    has_fake = np.bincount(codes, weights=y, minlength=k) > 0
    has_real = np.bincount(codes, weights=1 - y, minlength=k) > 0
    strata = [s for s in (np.flatnonzero(has_real & ~has_fake), np.flatnonzero(has_fake & ~has_real),
                          np.flatnonzero(has_real & has_fake)) if s.size]
    every = np.concatenate(strata)  # each group is in one stratum: all k groups
    bounds = np.cumsum([0] + [s.size for s in strata]).tolist()
    offsets = np.repeat(bounds[:-1], np.diff(bounds))
    rng = np.random.default_rng(seed)
    values = np.empty(n_bootstrap)
    chunk = max(1, _BOOTSTRAP_CHUNK // codes.size)
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        positions = np.empty((size, k), dtype=np.int64)
        for r in range(size):
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                positions[r, lo:hi] = rng.integers(0, hi - lo, size=hi - lo, dtype=np.int64)
        chosen = every[positions + offsets]  # (size, k) group numbers
        counts = np.bincount((chosen * size + np.arange(size)[:, np.newaxis]).ravel(), minlength=k * size)
        values[start:start + size] = statistic(counts.reshape(k, size).astype(np.float64))
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)


def _normal_test(delta: float, variance: float) -> tuple[float, tuple[float, float], float]:
    """``(se, ci, p)`` of the normal approximation; a zero variance gives p = 1 for delta 0, else 0."""
    se = math.sqrt(variance)
    if se == 0.0:
        p = 1.0 if delta == 0.0 else 0.0
    else:
        p = float(2.0 * norm.sf(abs(delta) / se))
    return se, (delta - Z95 * se, delta + Z95 * se), p


def _seeds_note(n_seeds: int) -> str:
    return f" (mean over {n_seeds} seeds)" if n_seeds > 1 else ""


def _seed_sd(per_seed: np.ndarray) -> float:
    return float(per_seed.std(ddof=1)) if per_seed.size > 1 else math.nan


# --------------------------------------------------------------------------- public

def paired_auroc(y_true, score_a, score_b, groups=None, n_bootstrap: int = 2000, seed: int = 0) -> AurocComparison:
    """Is AUROC(b) different from AUROC(a) on the same test rows?  ``delta`` = AUROC(b) − AUROC(a).

    ``y_true``: 0 real / 1 fake per row.  ``score_a``, ``score_b``: P(fake) per row, 1-D for one
    training seed or 2-D ``(n_seeds, n_rows)`` for several, seed s of a paired with seed s of b.
    ``groups``: one id per row (the split's linked-video groups); rows of a group are correlated
    and a group may hold both classes.

    * No ``groups``, or one row per group: DeLong's test (DeLong et al. 1988) with the structural
      components from Sun & Xu's (2014) midranks; ``ci`` is its normal interval, no bootstrap.
    * Groups of several rows: Obuchowski's (1997) clustered variance, the components summed per
      group and the variance taken from their spread between groups; ``ci`` is its normal
      interval.  Beside it, ``bootstrap_ci``: ``n_bootstrap`` resamples of whole groups,
      stratified by class composition, with both AUROCs of every seed recomputed on the same
      resample (``n_bootstrap=0`` skips it).  The resample's AUROC is that of
      :func:`sklearn.metrics.roc_auc_score` on its rows, computed for all resamples at once from
      row multiplicities (:func:`_weighted_auroc`): about 0.2 s for 2000 resamples of 2000 rows
      and 3 seeds.

    Several seeds: a mean of U-statistics is a U-statistic, so the per-row components are
    averaged over seeds before the (clustered) variance is formed, and ``delta`` is the mean of
    the per-seed differences (``per_seed_delta``, spread ``seed_sd``).  The variance is that of the
    seed-averaged difference over test rows, not over retrainings.
    """
    y = _labels(y_true, both_classes=True)
    a = _per_seed(score_a, y.size, "score_a")
    b = _per_seed(score_b, y.size, "score_b")
    _pair(a, b, "score_a, score_b")
    codes = _group_codes(groups, y.size)
    n_seeds = a.shape[0]
    v10, v01 = _placements(y, np.vstack([a, b]))
    auroc = v10.mean(axis=1)
    per_seed = auroc[n_seeds:] - auroc[:n_seeds]
    d10 = (v10[n_seeds:] - v10[:n_seeds]).mean(axis=0)
    d01 = (v01[n_seeds:] - v01[:n_seeds]).mean(axis=0)
    delta = float(per_seed.mean())
    n_groups = y.size if codes is None else int(codes.max()) + 1
    if codes is None:
        variance, method, boot = _delong_variance(d10, d01), "DeLong", None
    else:
        variance, method = _clustered_variance(codes, y, d10, d01), "Obuchowski clustered"
        columns = np.vstack([a, b])  # (2 n_seeds, n_rows): arm a's seeds, then arm b's

        def resampled_delta(counts: np.ndarray) -> np.ndarray:
            aucs = _weighted_auroc(y, columns, counts[codes])
            return aucs[n_seeds:].mean(axis=0) - aucs[:n_seeds].mean(axis=0)

        boot = _group_bootstrap(y, codes, resampled_delta, n_bootstrap, seed) if n_bootstrap > 0 else None
    se, ci, p = _normal_test(delta, variance)
    return AurocComparison(
        delta=delta, se=se, ci=ci, p_value=p, method=method + _seeds_note(n_seeds), n_rows=int(y.size),
        n_groups=int(n_groups), per_seed_delta=tuple(float(x) for x in per_seed), seed_sd=_seed_sd(per_seed),
        bootstrap_ci=boot, auroc_a=float(auroc[:n_seeds].mean()), auroc_b=float(auroc[n_seeds:].mean()),
    )


def paired_accuracy(y_true, pred_a, pred_b, groups=None, n_bootstrap: int = 2000,
                    seed: int = 0) -> AccuracyComparison:
    """Is accuracy(b) different from accuracy(a) on the same rows?  ``delta`` = accuracy(b) − accuracy(a).

    ``pred_a``, ``pred_b``: 0/1 predictions, each arm thresholded at its own validation threshold
    (1-D, or 2-D ``(n_seeds, n_rows)`` as in :func:`paired_auroc`).  With ``d_i`` = correct(b) −
    correct(a) for row i (averaged over seeds), ``delta`` is the mean of d and its variance the
    cluster-robust ``K/(K−1) Σ_k (Σ_{i∈k} (d_i − delta))² / n²`` over the K groups (Obuchowski
    1998 for clustered paired proportions); with one row per group that is the plain paired
    ``var(d, ddof=1) / n``.  ``ci`` is the normal interval and ``p_value`` its two-sided test;
    grouped rows also get the group bootstrap of :func:`paired_auroc` (``bootstrap_ci``).

    Relation to McNemar's test: with one row per group and one seed, d is +1 on the n01 rows only
    b gets right, −1 on the n10 rows only a gets right, 0 elsewhere, and ``delta = (n01 − n10)/n``.
    McNemar's statistic ``(n01 − n10)² / (n01 + n10)`` is this z² with the variance estimated
    under the null (delta = 0); here it is estimated without that restriction (a Wald test),
    ``z² = (n−1)(n01 − n10)² / (n (n01 + n10) − (n01 − n10)²)``, which also gives an interval
    and carries over to groups and seeds.  The two agree when few rows are discordant.
    """
    y = _labels(y_true, both_classes=False)
    a = _per_seed(pred_a, y.size, "pred_a", binary=True)
    b = _per_seed(pred_b, y.size, "pred_b", binary=True)
    _pair(a, b, "pred_a, pred_b")
    if y.size < 2:
        raise ValueError("a paired accuracy comparison needs at least two rows")
    codes = _group_codes(groups, y.size)
    n_seeds = a.shape[0]
    correct_a, correct_b = (a == y).astype(np.float64), (b == y).astype(np.float64)
    per_seed = correct_b.mean(axis=1) - correct_a.mean(axis=1)
    d = (correct_b - correct_a).mean(axis=0)
    delta = float(per_seed.mean())
    n_groups = y.size if codes is None else int(codes.max()) + 1
    if codes is None:
        variance, method, boot = float(d.var(ddof=1) / d.size), "paired Wald", None
    else:
        variance, method = _cluster_robust_variance_of_mean(d, codes), "cluster-robust paired Wald"
        d_sum, n_in = np.bincount(codes, weights=d), np.bincount(codes).astype(np.float64)  # per group

        def resampled_mean(counts: np.ndarray) -> np.ndarray:  # mean of d over the resample's rows
            return np.einsum("k,kr->r", d_sum, counts) / np.einsum("k,kr->r", n_in, counts)

        boot = _group_bootstrap(y, codes, resampled_mean, n_bootstrap, seed) if n_bootstrap > 0 else None
    se, ci, p = _normal_test(delta, variance)
    return AccuracyComparison(
        delta=delta, se=se, ci=ci, p_value=p, method=method + _seeds_note(n_seeds), n_rows=int(y.size),
        n_groups=int(n_groups), per_seed_delta=tuple(float(x) for x in per_seed), seed_sd=_seed_sd(per_seed),
        bootstrap_ci=boot, accuracy_a=float(correct_a.mean()), accuracy_b=float(correct_b.mean()),
    )


def verdict(comparison: PairedComparison, alpha: float = 0.05) -> str:
    """b relative to a: ``"higher"`` / ``"lower"`` (delta's sign) if p < alpha, else ``"no detectable difference"``."""
    if comparison.p_value < alpha:
        return "higher" if comparison.delta > 0 else "lower"
    return "no detectable difference"


def non_inferior(comparison: PairedComparison, margin: float) -> bool:
    """Is b at worst ``margin`` below a?  True only when the lower end of ``ci`` is above −margin."""
    return comparison.ci[0] > -margin

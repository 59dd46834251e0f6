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

Training seeds enter in one of two ways (``seed_effect``):

* ``"fixed"`` (default): the per-seed differences are averaged for ``delta``, and the per-row
  structural components (or per-row correctness) before the variance is formed, so the interval
  is for the seed-averaged difference on this test set, conditional on these trained models; it
  leaves out seed-to-seed training noise, which ``seed_sd`` reports beside it.
* ``"random"`` (:func:`paired_auroc` only): the seeds are random readers of a multi-reader study,
  analysed by Obuchowski & Rockette (1995, Communications in Statistics B 24:285) with Hillis's
  (2007, Statistics in Medicine 26:596) denominator degrees of freedom; the interval is for the
  difference a new set of trainings would show, so seed noise is in it.

Intervals are 95 % and two-sided, ``delta ± q · se`` with q the 97.5 % quantile of t with the
record's ``df`` (the normal one where ``df`` is infinite).  Rows in K groups use t with K − 1 df
(as cluster-robust tests usually do): the between-group variance rests on K groups, which the demo
has 10 of.  :func:`non_inferiority_p`, :func:`minimum_detectable_difference`,
:func:`non_inferiority_power` and :func:`holm` read such a record or its ``se`` and ``df``.

The group bootstrap here (:func:`group_bootstrap` with :func:`weighted_auroc`) is the package's one
resampling engine; :func:`tdfake.metrics.bootstrap_intervals` uses it too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import nct, norm, rankdata, t

Z95 = float(norm.ppf(0.975))
"""Intervals are 95 %: delta ± Z95 · se where ``df`` is infinite, and the 2.5 / 97.5 % bootstrap percentiles."""

SEED_EFFECTS = ("fixed", "random")
"""How training seeds enter :func:`paired_auroc`: conditioned on (fixed) or sampled (random)."""


@dataclass(frozen=True)
class PairedComparison:
    """Arm b against arm a on the same rows; what :func:`verdict` and :func:`non_inferior` read.

    ``delta``: metric of b minus metric of a (mean over seeds of the per-seed difference).
    ``se``: its standard error; ``ci``: the 95 % interval ``delta ± q se``, q the 97.5 % quantile
    of t with ``df`` degrees of freedom (1.96 where ``df`` is infinite); ``p_value``: two-sided,
    for "no difference", from the same t; ``method``: the test that made ``se``, ``ci`` and
    ``p_value``.  ``n_rows``: test rows; ``n_groups``: independent units the variance rests on
    (``n_rows`` when rows are independent).  ``per_seed_delta``: the difference for each seed;
    ``seed_sd``: their sd (ddof=1; nan for one seed).  ``bootstrap_ci``: the 95 % percentile
    interval of a bootstrap over groups, seeds held fixed, made only for grouped rows (else ``None``).
    ``df``: infinite for independent rows, K − 1 for K groups, Hillis's for random seeds;
    ``seed_effect``: ``"fixed"`` or ``"random"`` (see the module's docstring).
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
    _: KW_ONLY
    df: float = math.inf
    seed_effect: str = "fixed"


@dataclass(frozen=True)
class SeedTerms:
    """The Obuchowski–Rockette terms of a random-seed comparison of two arms over r seeds.

    ``ms_tr``: the arm × seed mean square, ``var(per-seed Δ, ddof=1) / 2``.  ``cov2`` / ``cov3``:
    the mean covariance of two AUROC estimates from different seeds, of the same arm / of
    different arms (test-set sampling, from the structural components).  ``denominator``:
    ``D = ms_tr + r · max(cov2 − cov3, 0)``, so ``se = sqrt(2 D / r)``.  ``hillis_df``:
    ``D² / (ms_tr² / (r − 1))``, infinite when ``ms_tr`` is 0.
    """

    ms_tr: float
    cov2: float
    cov3: float
    denominator: float
    hillis_df: float


@dataclass(frozen=True)
class AurocComparison(PairedComparison):
    """:class:`PairedComparison` of AUROC; ``auroc_a`` / ``auroc_b`` are means over seeds.

    ``seed_terms``: what the random-seed ``se`` and ``df`` were made of (``None`` for fixed seeds).
    """

    auroc_a: float
    auroc_b: float
    seed_terms: SeedTerms | None = None


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
    psi = _cluster_influence(codes, y, d10[np.newaxis], d01[np.newaxis])[0]
    return float(k / (k - 1) * (psi ** 2).sum())


def _cluster_influence(codes: np.ndarray, y: np.ndarray, v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    """``ψ_k = (V10_k − m_k θ)/M + (V01_k − n_k θ)/N`` of every score vector (rows of ``v10`` / ``v01``) and group.

    Returns ``(n_scores, K)``; see :func:`_clustered_variance` for the terms.
    """
    k = int(codes.max()) + 1
    pos = y == 1
    m_k, n_k = np.bincount(codes[pos], minlength=k), np.bincount(codes[~pos], minlength=k)
    psi = np.empty((v10.shape[0], k))
    for c, (c10, c01) in enumerate(zip(v10, v01)):
        theta = c10.mean()
        psi[c] = ((np.bincount(codes[pos], weights=c10, minlength=k) - m_k * theta) / c10.size
                  + (np.bincount(codes[~pos], weights=c01, minlength=k) - n_k * theta) / c01.size)
    return psi


def _auroc_covariance(y: np.ndarray, codes: np.ndarray | None, v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    """Covariance matrix ``(n_scores, n_scores)`` of the AUROCs of several score vectors on the same rows.

    From their structural components (rows of ``v10`` / ``v01``, :func:`_placements`).  Independent
    rows (``codes`` None): DeLong's ``S10 / m + S01 / n``, S the sample covariance matrices
    (ddof=1) over positives and negatives.  Rows in K groups: Obuchowski's (1997) clustered
    covariance, ``K/(K−1) Σ_k ψ_k ψ_kᵀ`` with ψ the groups' influences
    (:func:`_cluster_influence`).  Either way ``wᵀ C w`` for ``w = (−1, 1)`` is the variance
    :func:`_delong_variance` / :func:`_clustered_variance` give for the difference.
    """
    if codes is None:
        n_scores = v10.shape[0]
        s10, s01 = np.cov(v10, ddof=1).reshape(n_scores, n_scores), np.cov(v01, ddof=1).reshape(n_scores, n_scores)
        return s10 / v10.shape[1] + s01 / v01.shape[1]
    k = int(codes.max()) + 1
    psi = _cluster_influence(codes, y, v10, v01)
    return k / (k - 1) * psi @ psi.T


def _obuchowski_rockette(per_seed: np.ndarray, covariance: np.ndarray) -> SeedTerms:
    """The Obuchowski–Rockette terms for two arms over r seeds (:class:`SeedTerms`).

    ``per_seed``: AUROC(b) − AUROC(a) per seed; ``covariance``: that of the 2r AUROCs, arm a's r
    seeds first, then arm b's in the same seed order.  Cov2 averages the covariances of same-arm
    pairs of different seeds (both arms' r(r−1) off-diagonal entries), Cov3 those of the two arms
    from different seeds; a seed with itself (Cov1, the variance) does not enter the test of the arm effect.
    """
    r = per_seed.size
    different_seed = ~np.eye(r, dtype=bool)
    cov2 = float(np.concatenate([covariance[:r, :r][different_seed], covariance[r:, r:][different_seed]]).mean())
    cov3 = float(covariance[:r, r:][different_seed].mean())
    ms_tr = float(per_seed.var(ddof=1) / 2.0)
    denominator = ms_tr + r * max(cov2 - cov3, 0.0)
    hillis_df = math.inf if ms_tr == 0.0 else denominator ** 2 / (ms_tr ** 2 / (r - 1))
    return SeedTerms(ms_tr=ms_tr, cov2=cov2, cov3=cov3, denominator=denominator, hillis_df=hillis_df)


def _cluster_robust_variance_of_mean(d: np.ndarray, codes: np.ndarray) -> float:
    """``K/(K−1) Σ_k (Σ_{i∈k} (d_i − d̄))² / n²``: with one row per group, ``var(d, ddof=1) / n``."""
    k = int(codes.max()) + 1
    totals = np.bincount(codes, weights=d - d.mean(), minlength=k)
    return float(k / (k - 1) * (totals ** 2).sum() / d.size ** 2)


_BOOTSTRAP_CHUNK = 2_000_000
"""Resamples are evaluated in chunks of about this many (row, resample) weights, 16 MB of float64 per array."""


def weighted_auroc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
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


def group_bootstrap(y: np.ndarray, codes: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                    n_bootstrap: int, seed: int) -> np.ndarray:
    """``statistic`` on ``n_bootstrap`` resamples of whole groups: ``(n_values, n_bootstrap)``.

    ``y``: 0/1 per row; ``codes``: each row's group number, 0..K−1 (one per row for a frame
    bootstrap).  Stratified by class composition: groups of real rows only, of fake rows only and
    of both are resampled separately, each stratum keeping its number of groups, so every
    resample holds both classes whenever the data does and a mixed group (a real video with its
    fakes) stays whole.  One resample of rows serves every statistic, both arms and every seed:
    that is what makes a comparison paired.

    The resamples reach ``statistic`` as group multiplicities, ``counts`` ``(K, n_resamples)``
    (``counts[codes]`` are the rows'), and it returns one value per resample, or one row of them
    per quantity.  Resample by resample, each stratum S (its groups in code order) draws
    ``rng.integers(0, |S|, |S|)``, the positions that ``rng.choice(S, size=|S|, replace=True)``
    draws, so the resamples are those of a loop over explicit row lists with ``rng.choice``; they
    are evaluated in chunks of about :data:`_BOOTSTRAP_CHUNK` row weights.
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
    chunks = []
    chunk = max(1, _BOOTSTRAP_CHUNK // codes.size)
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        positions = np.empty((size, k), dtype=np.int64)
        for r in range(size):
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                positions[r, lo:hi] = rng.integers(0, hi - lo, size=hi - lo, dtype=np.int64)
        chosen = every[positions + offsets]  # (size, k) group numbers
        counts = np.bincount((chosen * size + np.arange(size)[:, np.newaxis]).ravel(), minlength=k * size)
        chunks.append(np.asarray(statistic(counts.reshape(k, size).astype(np.float64))).reshape(-1, size))
    return np.concatenate(chunks, axis=1)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap ``values`` (numpy's linear quantiles)."""
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _quantile(q: float, df: float) -> float:
    """The q quantile of t with ``df`` degrees of freedom; the normal's when ``df`` is infinite."""
    return float(norm.ppf(q)) if math.isinf(df) else float(t.ppf(q, df))


def _upper_tail(x: float, df: float) -> float:
    """P(T > x) for T ~ t with ``df`` degrees of freedom (normal when ``df`` is infinite)."""
    return float(norm.sf(x)) if math.isinf(df) else float(t.sf(x, df))


def _t_test(delta: float, se: float, df: float) -> tuple[tuple[float, float], float]:
    """``(ci, p)``: ``delta ± q se`` (q the 97.5 % quantile of t with ``df``) and the two-sided p.

    A zero ``se`` gives p = 1 for delta 0, else 0.
    """
    q = Z95 if math.isinf(df) else _quantile(0.975, df)
    if se == 0.0:
        p = 1.0 if delta == 0.0 else 0.0
    else:
        p = 2.0 * _upper_tail(abs(delta) / se, df)
    return (delta - q * se, delta + q * se), p


def _seeds_note(n_seeds: int) -> str:
    return f" (mean over {n_seeds} seeds)" if n_seeds > 1 else ""


def _seed_sd(per_seed: np.ndarray) -> float:
    return float(per_seed.std(ddof=1)) if per_seed.size > 1 else math.nan


# --------------------------------------------------------------------------- public

def paired_auroc(y_true, score_a, score_b, groups=None, n_bootstrap: int = 2000, seed: int = 0,
                 seed_effect: str = "fixed") -> AurocComparison:
    """Is AUROC(b) different from AUROC(a) on the same test rows?  ``delta`` = AUROC(b) − AUROC(a).

    ``y_true``: 0 real / 1 fake per row.  ``score_a``, ``score_b``: P(fake) per row, 1-D for one
    training seed or 2-D ``(n_seeds, n_rows)`` for several, seed s of a paired with seed s of b.
    ``groups``: one id per row (the split's linked-video groups); rows of a group are correlated
    and a group may hold both classes.

    * No ``groups``, or one row per group: DeLong's test (DeLong et al. 1988) with the structural
      components from Sun & Xu's (2014) midranks; ``ci`` is its normal interval, no bootstrap.
    * Groups of several rows: Obuchowski's (1997) clustered variance, the components summed per
      group and the variance taken from their spread between groups; ``ci`` is its interval with
      t on K − 1 df for K groups.  Beside it, ``bootstrap_ci``: ``n_bootstrap`` resamples of whole
      groups (:func:`group_bootstrap`), with both AUROCs of every seed recomputed on the same
      resample (``n_bootstrap=0`` skips it).  The resample's AUROC is that of
      :func:`sklearn.metrics.roc_auc_score` on its rows, computed for all resamples at once from
      row multiplicities (:func:`weighted_auroc`): about 0.2 s for 2000 resamples of 2000 rows
      and 3 seeds.  The bootstrap holds the seeds fixed, whatever ``seed_effect``.

    ``seed_effect="fixed"`` (default): a mean of U-statistics is a U-statistic, so the per-row
    components are averaged over seeds before the (clustered) variance is formed, and ``delta`` is
    the mean of the per-seed differences (``per_seed_delta``, spread ``seed_sd``).  The variance
    is that of the seed-averaged difference over test rows, not over retrainings.

    ``seed_effect="random"``: the r seeds are random readers (Obuchowski–Rockette with Hillis's
    df, terms in ``seed_terms``): ``MS_TR = var(per_seed_delta, ddof=1) / 2``; ``Cov2`` /
    ``Cov3`` the mean covariance of two AUROC estimates of the same arm / of different arms from
    different seeds, from the covariance matrix of all 2r estimates made by the DeLong or
    clustered structural components above; ``D = MS_TR + r · max(Cov2 − Cov3, 0)``,
    ``se = sqrt(2 D / r)`` and ``df = D² / (MS_TR² / (r − 1))``, capped at the fixed-seed df (K − 1
    for K groups) because the covariances rest on no more groups than that.  Seeds that rank the
    rows alike (``MS_TR = 0``, every covariance the same) give the fixed-seed comparison.  Needs at
    least 2 seeds.
    """
    if seed_effect not in SEED_EFFECTS:
        raise ValueError(f"seed_effect must be one of {SEED_EFFECTS}, got {seed_effect!r}")
    y = _labels(y_true, both_classes=True)
    a = _per_seed(score_a, y.size, "score_a")
    b = _per_seed(score_b, y.size, "score_b")
    _pair(a, b, "score_a, score_b")
    codes = _group_codes(groups, y.size)
    n_seeds = a.shape[0]
    if seed_effect == "random" and n_seeds < 2:
        raise ValueError(f"seed_effect='random' needs at least 2 training seeds per arm, got {n_seeds}: the "
                         "seed-to-seed variance cannot be estimated from one; seed_effect='fixed' gives the "
                         "interval conditional on the trained models")
    v10, v01 = _placements(y, np.vstack([a, b]))
    auroc = v10.mean(axis=1)
    per_seed = auroc[n_seeds:] - auroc[:n_seeds]
    delta = float(per_seed.mean())
    n_groups = y.size if codes is None else int(codes.max()) + 1
    if codes is None:
        method, df, boot = "DeLong", math.inf, None
    else:
        method, df = "Obuchowski clustered", float(n_groups - 1)
        columns = np.vstack([a, b])  # (2 n_seeds, n_rows): arm a's seeds, then arm b's

        def resampled_delta(counts: np.ndarray) -> np.ndarray:
            aucs = weighted_auroc(y, columns, counts[codes])
            return aucs[n_seeds:].mean(axis=0) - aucs[:n_seeds].mean(axis=0)

        boot = (percentile_interval(group_bootstrap(y, codes, resampled_delta, n_bootstrap, seed)[0])
                if n_bootstrap > 0 else None)
    terms = None
    if seed_effect == "fixed":
        d10 = (v10[n_seeds:] - v10[:n_seeds]).mean(axis=0)
        d01 = (v01[n_seeds:] - v01[:n_seeds]).mean(axis=0)
        variance = _delong_variance(d10, d01) if codes is None else _clustered_variance(codes, y, d10, d01)
        se, method = math.sqrt(variance), method + _seeds_note(n_seeds)
    else:
        terms = _obuchowski_rockette(per_seed, _auroc_covariance(y, codes, v10, v01))
        se, df = math.sqrt(2.0 * terms.denominator / n_seeds), min(terms.hillis_df, df)
        method = f"Obuchowski-Rockette, {n_seeds} random seeds, Hillis df ({method} covariances)"
    ci, p = _t_test(delta, se, df)
    return AurocComparison(
        delta=delta, se=se, ci=ci, p_value=p, method=method, n_rows=int(y.size),
        n_groups=int(n_groups), per_seed_delta=tuple(float(x) for x in per_seed), seed_sd=_seed_sd(per_seed),
        bootstrap_ci=boot, df=df, seed_effect=seed_effect, auroc_a=float(auroc[:n_seeds].mean()),
        auroc_b=float(auroc[n_seeds:].mean()), seed_terms=terms,
    )


def paired_accuracy(y_true, pred_a, pred_b, groups=None, n_bootstrap: int = 2000,
                    seed: int = 0) -> AccuracyComparison:
    """Is accuracy(b) different from accuracy(a) on the same rows?  ``delta`` = accuracy(b) − accuracy(a).

    ``pred_a``, ``pred_b``: 0/1 predictions, each arm thresholded at its own validation threshold
    (1-D, or 2-D ``(n_seeds, n_rows)`` as in :func:`paired_auroc`; seeds fixed).  With ``d_i`` =
    correct(b) − correct(a) for row i (averaged over seeds), ``delta`` is the mean of d and its
    variance the cluster-robust ``K/(K−1) Σ_k (Σ_{i∈k} (d_i − delta))² / n²`` over the K groups
    (Obuchowski 1998 for clustered paired proportions); with one row per group that is the plain
    paired ``var(d, ddof=1) / n``.  ``ci`` is the interval (normal for independent rows, t on
    K − 1 df for K groups) and ``p_value`` its two-sided test; grouped rows also get the group
    bootstrap of :func:`paired_auroc` (``bootstrap_ci``).

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
        variance, method, df, boot = float(d.var(ddof=1) / d.size), "paired Wald", math.inf, None
    else:
        variance, method = _cluster_robust_variance_of_mean(d, codes), "cluster-robust paired Wald"
        df = float(n_groups - 1)
        d_sum, n_in = np.bincount(codes, weights=d), np.bincount(codes).astype(np.float64)  # per group

        def resampled_mean(counts: np.ndarray) -> np.ndarray:  # mean of d over the resample's rows
            return np.einsum("k,kr->r", d_sum, counts) / np.einsum("k,kr->r", n_in, counts)

        boot = (percentile_interval(group_bootstrap(y, codes, resampled_mean, n_bootstrap, seed)[0])
                if n_bootstrap > 0 else None)
    se = math.sqrt(variance)
    ci, p = _t_test(delta, se, df)
    return AccuracyComparison(
        delta=delta, se=se, ci=ci, p_value=p, method=method + _seeds_note(n_seeds), n_rows=int(y.size),
        n_groups=int(n_groups), per_seed_delta=tuple(float(x) for x in per_seed), seed_sd=_seed_sd(per_seed),
        bootstrap_ci=boot, df=df, accuracy_a=float(correct_a.mean()), accuracy_b=float(correct_b.mean()),
    )


def verdict(comparison: PairedComparison, alpha: float = 0.05) -> str:
    """b relative to a: ``"higher"`` / ``"lower"`` (delta's sign) if p < alpha, else ``"no detectable difference"``."""
    return verdict_words(comparison.delta, comparison.p_value, alpha)


def verdict_words(delta: float, p_value: float, alpha: float = 0.05) -> str:
    """:func:`verdict` from a difference and its p (e.g. a Holm-adjusted one), the one place the words are chosen."""
    if p_value < alpha:
        return "higher" if delta > 0 else "lower"
    return "no detectable difference"


def non_inferiority_p(comparison: PairedComparison, margin: float) -> float:
    """One-sided p of "b is worse than a by ``margin`` or more" (H0: Δ ≤ −margin): ``P(T_df > (Δ + margin) / se)``.

    T is t with the comparison's ``df`` (normal where infinite), the distribution its ``ci`` uses,
    so ``p < 0.025`` exactly when the interval's lower end is above −margin.  A zero ``se`` gives
    0 when ``Δ > −margin``, else 1.
    """
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0 (an AUROC difference such as 0.02), got {margin}")
    shifted = comparison.delta + margin
    if comparison.se == 0.0:
        return 0.0 if shifted > 0 else 1.0
    return _upper_tail(shifted / comparison.se, comparison.df)


def non_inferior(comparison: PairedComparison, margin: float, alpha: float = 0.025) -> bool:
    """Is b at worst ``margin`` below a?  True when :func:`non_inferiority_p` is below ``alpha`` (one-sided).

    With the default 0.025 that is the lower end of the 95 % two-sided ``ci`` lying above −margin.
    """
    return non_inferiority_p(comparison, margin) < alpha


def _power(delta: float, se: float, alpha: float, df: float, sides: int) -> float:
    """Power of the level-``alpha`` test of Δ = 0 (``sides`` 1: against Δ > 0) when the true Δ is ``delta``.

    The statistic Δ̂ / ŝe is taken as noncentral t with ``df`` and noncentrality ``delta / se``
    (normal, mean ``delta / se``, where ``df`` is infinite).
    """
    crit = _quantile(1.0 - alpha / sides, df)
    shift = delta / se
    if math.isinf(df):
        upper, lower = norm.sf(crit - shift), norm.cdf(-crit - shift)
    else:  # the lower tail as the upper one of −T: scipy's nct.cdf is NaN far out in that tail
        upper, lower = nct.sf(crit, df, shift), nct.sf(crit, df, -shift)
    return float(upper + (lower if sides == 2 else 0.0))


def _check_power_inputs(se: float, alpha: float, df: float) -> None:
    if not (math.isfinite(se) and se > 0):
        raise ValueError(f"se must be a finite number > 0 (a comparison's standard error), got {se}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not df > 0:
        raise ValueError(f"df must be > 0 (math.inf for the normal), got {df}")


def minimum_detectable_difference(se: float, alpha: float = 0.05, power: float = 0.8, df: float = math.inf,
                                  sides: int = 2) -> float:
    """The smallest true |Δ| the level-``alpha`` test detects with probability ``power``, given its ``se``.

    For a comparison ``c``: ``minimum_detectable_difference(c.se, df=c.df)``.  Solves
    :func:`_power` (noncentral t with ``df``, or the normal) for Δ; both rejection tails count
    when ``sides`` is 2.  With the normal and 80 % power this is about ``2.80 se``
    (``(z_0.975 + z_0.8) se``).
    """
    _check_power_inputs(se, alpha, df)
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides}")
    if not alpha < power < 1:
        raise ValueError(f"power must be in (alpha, 1) = ({alpha}, 1), got {power}")
    upper = se
    while _power(upper, se, alpha, df, sides) < power:
        upper *= 2.0
    return float(brentq(lambda d: _power(d, se, alpha, df, sides) - power, 0.0, upper, xtol=1e-12 * se))


def non_inferiority_power(se: float, margin: float, true_delta: float = 0.0, alpha: float = 0.025,
                          df: float = math.inf) -> float:
    """Power of the one-sided non-inferiority test (:func:`non_inferior` at ``alpha``) at a true Δ ``true_delta``.

    The test rejects "Δ ≤ −margin" when ``(Δ̂ + margin) / se`` exceeds the ``1 − alpha`` quantile of
    t with ``df``; that statistic is taken as noncentral t with noncentrality
    ``(true_delta + margin) / se`` (normal where ``df`` is infinite).
    """
    _check_power_inputs(se, alpha, df)
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin}")
    return _power(true_delta + margin, se, alpha, df, sides=1)


def holm(pvalues) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values, in the order given: reject where adjusted < alpha.

    The i-th smallest of m p-values becomes ``max_{j ≤ i} min(1, (m − j + 1) p_(j))``; this controls
    the family-wise error rate at alpha for any dependence between the tests (as the three
    pairwise comparisons of one study's arms have).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"pvalues must be a non-empty 1-D list of p-values, got shape {p.shape}")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p-values must lie in [0, 1] (no NaN), got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((p.size - np.arange(p.size)) * p[order]))
    return adjusted

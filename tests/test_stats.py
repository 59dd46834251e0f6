"""tdfake.stats: paired ΔAUROC / Δaccuracy against hand arithmetic, an independent DeLong (MLstatkit),
slow references written from the papers' definitions, scikit-learn, statsmodels (power, Holm), and
simulation (coverage, null, random training seeds).
"""

import dataclasses
import math
from fractions import Fraction as F

import numpy as np
import pytest
from MLstatkit.delong import Delong_test
from scipy.stats import f, kstest, norm, t
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestPower

import tdfake.stats
from tdfake.stats import (
    AccuracyComparison,
    PairedComparison,
    _clustered_variance,
    _delong_variance,
    _placements,
    holm,
    minimum_detectable_difference,
    non_inferior,
    non_inferiority_p,
    non_inferiority_power,
    paired_accuracy,
    paired_auroc,
    verdict,
    weighted_auroc,
)

# --------------------------------------------------------------------------- references

def slow_components(y, s):
    """DeLong et al. (1988): V10(X_i) = mean_j ψ(X_i, Y_j), V01(Y_j) = mean_i ψ(X_i, Y_j), ψ = 1 / ½ / 0."""
    x, w = s[y == 1], s[y == 0]
    psi = (x[:, None] > w[None, :]) + 0.5 * (x[:, None] == w[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def slow_obuchowski_covariance(y, groups, comps_1, comps_2):
    """Cov(θ_1, θ_2) of two AUROCs on the same rows by Obuchowski (1997): S10, S01, S11 over the K clusters."""
    ids = sorted(set(groups))
    k_count = len(ids)
    mm, nn = int((y == 1).sum()), int((y == 0).sum())
    pos_groups, neg_groups = groups[y == 1], groups[y == 0]

    def cluster_terms(comps):
        v10, v01 = comps
        theta = v10.mean()
        rows = []
        for g in ids:
            m_k, n_k = int((pos_groups == g).sum()), int((neg_groups == g).sum())
            rows.append((v10[pos_groups == g].sum() - m_k * theta, v01[neg_groups == g].sum() - n_k * theta))
        return rows

    t1, t2 = cluster_terms(comps_1), cluster_terms(comps_2)
    c = k_count / (k_count - 1)
    s10 = c / mm * sum(p[0] * q[0] for p, q in zip(t1, t2))
    s01 = c / nn * sum(p[1] * q[1] for p, q in zip(t1, t2))
    s11 = c * sum(p[0] * q[1] for p, q in zip(t1, t2))
    s11_rev = c * sum(p[1] * q[0] for p, q in zip(t1, t2))
    return s10 / mm + s01 / nn + (s11 + s11_rev) / (mm * nn)


def slow_obuchowski_variance(y, groups, comps_a, comps_b):
    """Var(θ_b − θ_a) by Obuchowski (1997): Var_b + Var_a − 2 Cov."""
    def cov(comps_1, comps_2):
        return slow_obuchowski_covariance(y, groups, comps_1, comps_2)

    return cov(comps_b, comps_b) + cov(comps_a, comps_a) - 2 * cov(comps_a, comps_b)


def slow_delong_covariance(y, comps_1, comps_2):
    """Cov(θ_1, θ_2) by DeLong et al. (1988): S10 / m + S01 / n, each a sample covariance (ddof=1) of components."""
    (a10, a01), (b10, b01) = comps_1, comps_2
    mm, nn = int((y == 1).sum()), int((y == 0).sum())
    s10 = sum((a10[i] - a10.mean()) * (b10[i] - b10.mean()) for i in range(mm)) / (mm - 1)
    s01 = sum((a01[j] - a01.mean()) * (b01[j] - b01.mean()) for j in range(nn)) / (nn - 1)
    return s10 / mm + s01 / nn


def simulate(rng, n_groups=80, mu_a=1.0, mu_b=1.4, sd_group=1.0, r_group=0.6, rho=0.5):
    """Clustered binormal test set: groups of real frames, fake frames, or both (a real video and its fakes).

    Score = μ·label + group effect + frame noise (sd 1); the arms' group effects correlate r_group,
    their frame noise rho.  For a positive and a negative of different groups the difference is
    N(μ, 2 sd_group² + 2), so the population AUROC is Φ(μ / sqrt(2 sd_group² + 2)).  (Pairs within
    one group, about 1 % of pairs here, shift the expected ΔAUROC by ~1e-4, far below its se ≈ 0.03.)
    """
    kinds = rng.choice(3, size=n_groups, p=[0.3, 0.3, 0.4])  # real only, fake only, both
    y, g = [], []
    for k, kind in enumerate(kinds):
        if kind != 1:
            n_real = int(rng.integers(2, 6))
            y += [0] * n_real
            g += [k] * n_real
        if kind != 0:
            n_fake = int(rng.integers(2, 6))
            y += [1] * n_fake
            g += [k] * n_fake
    y, g = np.array(y), np.array(g)
    ua = rng.normal(0, sd_group, n_groups)
    ub = r_group * ua + math.sqrt(1 - r_group ** 2) * rng.normal(0, sd_group, n_groups)
    ea = rng.normal(size=y.size)
    eb = rho * ea + math.sqrt(1 - rho ** 2) * rng.normal(size=y.size)
    return y, g, mu_a * y + ua[g] + ea, mu_b * y + ub[g] + eb


def true_auroc(mu, sd_group=1.0):
    return float(norm.cdf(mu / math.sqrt(2 * sd_group ** 2 + 2)))


# --------------------------------------------------------------------------- DeLong

def test_delong_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0])
    a = np.array([0.9, 0.5, 0.3, 0.6, 0.4, 0.1])
    b = np.array([0.7, 0.7, 0.35, 0.7, 0.3, 0.1])  # a positive tied with a negative at 0.7 counts ½
    # ψ(X_i, Y_j) tables, positives as rows, negatives (0.6, 0.4, 0.1) / (0.7, 0.3, 0.1) as columns:
    #   a: 0.9 → 1 1 1 ; 0.5 → 0 1 1 ; 0.3 → 0 0 1       b: 0.7 → ½ 1 1 ; 0.7 → ½ 1 1 ; 0.35 → 0 1 1
    v10_a, v01_a = [F(1), F(2, 3), F(1, 3)], [F(1, 3), F(2, 3), F(1)]
    v10_b, v01_b = [F(5, 6), F(5, 6), F(2, 3)], [F(1, 3), F(1), F(1)]
    auc_a, auc_b = F(6, 9), F(7, 9)  # (3 + 2 + 1)/9 and (2.5 + 2.5 + 2)/9
    # sample (co)variances, ddof=1 over m = n = 3:
    #   S10: aa = ((1/3)² + 0 + (1/3)²)/2 = 1/9;  bb = ((1/18)² + (1/18)² + (1/9)²)/2 = 1/108;
    #        ab = ((1/3)(1/18) + 0 + (−1/3)(−1/9))/2 = 1/36
    #   S01: aa = ((1/3)² + 0 + (1/3)²)/2 = 1/9;  bb = ((4/9)² + (2/9)² + (2/9)²)/2 = 4/27;
    #        ab = ((−1/3)(−4/9) + 0 + (1/3)(2/9))/2 = 1/9
    var_a = F(1, 9) / 3 + F(1, 9) / 3  # 2/27
    var_b = F(1, 108) / 3 + F(4, 27) / 3  # 17/324
    cov_ab = F(1, 36) / 3 + F(1, 9) / 3  # 5/108
    var_delta = var_a + var_b - 2 * cov_ab
    assert var_delta == F(11, 324)
    z = float(auc_b - auc_a) / math.sqrt(var_delta)  # (1/9) / (sqrt(11)/18) = 2/sqrt(11)
    assert z == pytest.approx(2 / math.sqrt(11))
    p = math.erfc(z / math.sqrt(2))  # two-sided: 2 (1 − Φ(z)) ≈ 0.5465

    v10, v01 = _placements(y, np.vstack([a, b]))
    np.testing.assert_allclose(v10, [[float(v) for v in v10_a], [float(v) for v in v10_b]])
    np.testing.assert_allclose(v01, [[float(v) for v in v01_a], [float(v) for v in v01_b]])
    r = paired_auroc(y, a, b)
    assert r.method == "DeLong" and r.bootstrap_ci is None
    assert r.auroc_a == pytest.approx(float(auc_a)) and r.auroc_b == pytest.approx(float(auc_b))
    assert r.delta == pytest.approx(1 / 9)
    assert r.se ** 2 == pytest.approx(float(var_delta))
    assert r.p_value == pytest.approx(p) and r.p_value == pytest.approx(0.5465, abs=1e-4)
    assert r.ci == pytest.approx((1 / 9 - 1.959964 * math.sqrt(11) / 18, 1 / 9 + 1.959964 * math.sqrt(11) / 18))
    assert (r.n_rows, r.n_groups, r.per_seed_delta) == (6, 6, pytest.approx((1 / 9,)))
    assert math.isnan(r.seed_sd)


@pytest.mark.parametrize("n, decimals", [(60, 1), (301, 3)])
def test_delong_agrees_with_mlstatkit_and_sklearn(n, decimals):
    rng = np.random.default_rng(n)
    y = rng.integers(0, 2, n)
    a = np.round(y * 0.8 + rng.normal(size=n), decimals)  # 1 decimal: many ties
    b = np.round(0.6 * a + y * 0.5 + rng.normal(size=n), decimals)
    z, p, _, _, auc_a, auc_b, info = Delong_test(y, a, b)
    assert info["method"] == "delong"
    r = paired_auroc(y, a, b)
    assert r.auroc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12) == pytest.approx(auc_a)
    assert r.auroc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12) == pytest.approx(auc_b)
    assert r.se ** 2 == pytest.approx(info["var_diff"], rel=1e-10)
    assert r.delta / r.se == pytest.approx(z, rel=1e-10)
    assert r.p_value == pytest.approx(p, rel=1e-9)


def test_components_match_the_definitions():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=(3, 200)) + y, 1)
    v10, v01 = _placements(y, s)
    for k in range(3):
        ref10, ref01 = slow_components(y, s[k])
        np.testing.assert_allclose(v10[k], ref10, atol=1e-12)
        np.testing.assert_allclose(v01[k], ref01, atol=1e-12)


# --------------------------------------------------------------------------- clustered

def test_clustered_with_one_row_per_group_is_delong_up_to_k_over_k_minus_1():
    rng = np.random.default_rng(2)
    n = 400
    y = np.repeat([0, 1], n // 2)
    a, b = y + rng.normal(size=n), 1.3 * y + rng.normal(size=n)
    v10, v01 = _placements(y, np.vstack([a, b]))
    d10, d01 = v10[1] - v10[0], v01[1] - v01[0]
    clustered = _clustered_variance(np.arange(n), y, d10, d01)
    delong = _delong_variance(d10, d01)
    # one row per group: K = m + n and clustered = K/(K−1) · (Σ(d10 − θ)²/m² + Σ(d01 − θ)²/n²), i.e. DeLong with
    # ddof=0 times K/(K−1); against DeLong's ddof=1 that is a factor K(m−1)/((K−1)m) = 400·199/(399·200) here
    theta, m, nn = d10.mean(), d10.size, d01.size
    by_hand = n / (n - 1) * (((d10 - theta) ** 2).sum() / m ** 2 + ((d01 - theta) ** 2).sum() / nn ** 2)
    assert clustered == pytest.approx(by_hand, rel=1e-12)
    assert clustered == pytest.approx(delong * n * (m - 1) / ((n - 1) * m), rel=1e-12)  # m = n here
    assert clustered == pytest.approx(delong, rel=0.01)
    # and paired_auroc routes one-row groups to DeLong itself
    r = paired_auroc(y, a, b, groups=[f"v{i}" for i in range(n)])
    assert r.method == "DeLong" and r.se ** 2 == pytest.approx(delong) and r.n_groups == n


def test_clustered_matches_slow_obuchowski_and_pools_seeds():
    rng = np.random.default_rng(3)
    y, g, a, b = simulate(rng, n_groups=25)
    a, b = np.round(a, 1), np.round(b, 1)
    r = paired_auroc(y, a, b, groups=g, n_bootstrap=0)
    ref = slow_obuchowski_variance(y, g, slow_components(y, a), slow_components(y, b))
    assert r.method == "Obuchowski clustered" and r.n_groups == 25 and r.bootstrap_ci is None
    assert r.se ** 2 == pytest.approx(ref, rel=1e-10)
    assert r.delta == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a))

    # three seeds: the components are averaged over seeds, then the same variance
    sa = np.vstack([a, a + np.round(rng.normal(0, 0.5, y.size), 1), np.round(a * 0.5, 1)])
    sb = np.vstack([b, b + np.round(rng.normal(0, 0.5, y.size), 1), np.round(b ** 3, 1)])
    r3 = paired_auroc(y, sa, sb, groups=g, n_bootstrap=0)
    comps_a = [np.mean(c, axis=0) for c in zip(*(slow_components(y, s) for s in sa))]
    comps_b = [np.mean(c, axis=0) for c in zip(*(slow_components(y, s) for s in sb))]
    assert r3.se ** 2 == pytest.approx(slow_obuchowski_variance(y, g, comps_a, comps_b), rel=1e-10)
    per_seed = [roc_auc_score(y, sb[k]) - roc_auc_score(y, sa[k]) for k in range(3)]
    assert r3.per_seed_delta == pytest.approx(tuple(per_seed))
    assert r3.delta == pytest.approx(np.mean(per_seed))
    assert r3.seed_sd == pytest.approx(np.std(per_seed, ddof=1))
    assert r3.method == "Obuchowski clustered (mean over 3 seeds)"
    assert r3.auroc_a == pytest.approx(np.mean([roc_auc_score(y, s) for s in sa]))


def test_group_bootstrap_is_roc_auc_score_on_resampled_groups():
    """The resampling written out: groups by sorted id; strata real-only, fake-only, both; rng.choice per stratum."""
    rng = np.random.default_rng(4)
    y, g, a, b = simulate(rng, n_groups=30)
    ids = np.array([f"video{k:02d}" for k in g])
    r = paired_auroc(y, a, b, groups=ids, n_bootstrap=200, seed=7)

    names = sorted(set(ids))
    rows = {k: np.flatnonzero(ids == name) for k, name in enumerate(names)}
    kinds = {k: (0 in y[i], 1 in y[i]) for k, i in rows.items()}
    strata = [np.array([k for k in rows if kinds[k] == want]) for want in ((True, False), (False, True), (True, True))]
    draw = np.random.default_rng(7)
    deltas = []
    for _ in range(200):
        idx = np.concatenate([rows[k] for st in strata for k in draw.choice(st, size=st.size, replace=True)])
        deltas.append(roc_auc_score(y[idx], b[idx]) - roc_auc_score(y[idx], a[idx]))
    assert r.bootstrap_ci == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])), abs=1e-12)
    # the bootstrap and the clustered normal interval estimate the same spread
    assert (r.bootstrap_ci[1] - r.bootstrap_ci[0]) == pytest.approx(r.ci[1] - r.ci[0], rel=0.35)


@pytest.mark.parametrize("n_resamples", [5, 80])  # under and over the width where rows are summed one by one
def test_weighted_auroc_is_roc_auc_score_on_repeated_rows(n_resamples):
    rng = np.random.default_rng(11)
    n = 150
    y = rng.integers(0, 2, n)
    scores = np.vstack([np.round(y + rng.normal(size=n), 1),  # many ties, within and across classes
                        np.round(rng.normal(size=n), 0),  # a handful of distinct values
                        np.full(n, 0.5),  # all tied: 0.5
                        y + rng.normal(size=n)])  # no ties
    weights = rng.integers(0, 4, size=(n, n_resamples))  # 0: row left out, 3: row thrice
    weights[:2, 0] = [0, 0]
    got = weighted_auroc(y, scores, weights)
    assert got.shape == (4, n_resamples)
    for r in range(n_resamples):
        rows = np.repeat(np.arange(n), weights[:, r])
        for c, s in enumerate(scores):
            assert got[c, r] == pytest.approx(roc_auc_score(y[rows], s[rows]), abs=1e-12)
    np.testing.assert_array_equal(got[2], 0.5)
    # unit weights are the plain AUROC
    np.testing.assert_allclose(weighted_auroc(y, scores, np.ones((n, 1)))[:, 0],
                               [roc_auc_score(y, s) for s in scores], atol=1e-12)


def written_out_bootstrap(y, ids, statistic, n_bootstrap, seed):
    """The stratified group bootstrap as a loop over explicit row lists, as in the test below."""
    names = sorted(set(ids))
    rows = {k: np.flatnonzero(ids == name) for k, name in enumerate(names)}
    kinds = {k: (0 in y[i], 1 in y[i]) for k, i in rows.items()}
    strata = [np.array([k for k in rows if kinds[k] == want]) for want in ((True, False), (False, True), (True, True))]
    strata = [st for st in strata if st.size]
    draw = np.random.default_rng(seed)
    values = [statistic(np.concatenate([rows[k] for st in strata for k in draw.choice(st, size=st.size, replace=True)]))
              for _ in range(n_bootstrap)]
    return tuple(np.quantile(values, [0.025, 0.975]))


def test_group_bootstrap_with_seeds_chunks_and_accuracy_is_the_written_out_loop(monkeypatch):
    rng = np.random.default_rng(12)
    y, g, a, b = simulate(rng, n_groups=40)
    ids = np.array([f"v{k}" for k in g])
    sa = np.vstack([np.round(a, 1), a + rng.normal(size=y.size)])
    sb = np.vstack([np.round(b, 1), 0.5 * b + rng.normal(size=y.size)])

    def delta(idx):
        return (np.mean([roc_auc_score(y[idx], s[idx]) for s in sb])
                - np.mean([roc_auc_score(y[idx], s[idx]) for s in sa]))

    expected = written_out_bootstrap(y, ids, delta, 150, 5)
    r = paired_auroc(y, sa, sb, groups=ids, n_bootstrap=150, seed=5)
    assert r.bootstrap_ci == pytest.approx(expected, abs=1e-12)
    pa, pb = (sa > 0.5).astype(int), (sb > 0.6).astype(int)
    d = ((pb == y).astype(float) - (pa == y)).mean(axis=0)
    expected_accuracy = written_out_bootstrap(y, ids, lambda idx: d[idx].mean(), 150, 5)
    acc = paired_accuracy(y, pa, pb, groups=ids, n_bootstrap=150, seed=5)
    assert acc.bootstrap_ci == pytest.approx(expected_accuracy, abs=1e-12)

    # in chunks of 7 resamples (uneven: 150 = 21 · 7 + 3), the same resamples in the same order
    monkeypatch.setattr(tdfake.stats, "_BOOTSTRAP_CHUNK", 7 * y.size)
    assert paired_auroc(y, sa, sb, groups=ids, n_bootstrap=150, seed=5).bootstrap_ci == pytest.approx(expected,
                                                                                                     abs=1e-12)
    assert paired_accuracy(y, pa, pb, groups=ids, n_bootstrap=150, seed=5).bootstrap_ci == pytest.approx(
        expected_accuracy, abs=1e-12)


def test_clustered_interval_covers_the_true_difference():
    rng = np.random.default_rng(1)
    truth = true_auroc(1.4) - true_auroc(1.0)
    covered = covered_ignoring_groups = 0
    n_sets = 300
    for _ in range(n_sets):
        y, g, a, b = simulate(rng)
        r = paired_auroc(y, a, b, groups=g, n_bootstrap=0)
        covered += r.ci[0] <= truth <= r.ci[1]
        naive = paired_auroc(y, a, b)
        covered_ignoring_groups += naive.ci[0] <= truth <= naive.ci[1]
    assert 0.92 <= covered / n_sets <= 0.98
    assert covered_ignoring_groups < covered  # the simulated groups matter: DeLong over frames is too narrow


def test_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(6)
    p = np.array([paired_auroc(y, a, b, groups=g, n_bootstrap=0).p_value
                  for y, g, a, b in (simulate(rng, mu_b=1.0) for _ in range(300))])
    assert kstest(p, "uniform").pvalue > 0.01
    assert 0.02 <= (p < 0.05).mean() <= 0.09  # 300 draws at 0.05: sd 0.0126


def test_few_groups_use_t_with_k_minus_1_df():
    rng = np.random.default_rng(13)
    y, g, a, b = simulate(rng, n_groups=25)
    r = paired_auroc(y, a, b, groups=g, n_bootstrap=0)
    assert (r.df, r.seed_effect) == (24.0, "fixed")
    assert r.ci == pytest.approx((r.delta - t.ppf(0.975, 24) * r.se, r.delta + t.ppf(0.975, 24) * r.se))
    assert r.p_value == pytest.approx(2 * t.sf(abs(r.delta) / r.se, 24))
    acc = paired_accuracy(y, (a > 0.5).astype(int), (b > 0.7).astype(int), groups=g, n_bootstrap=0)
    assert acc.df == 24.0 and acc.ci[1] - acc.ci[0] == pytest.approx(2 * t.ppf(0.975, 24) * acc.se)
    # independent rows keep the normal (DeLong's test, the paired Wald test)
    assert paired_auroc(y, a, b).df == math.inf
    assert paired_accuracy(y, (a > 0.5).astype(int), (b > 0.7).astype(int)).df == math.inf

    # with the demo's 10 groups the clustered variance is too small for the normal: t(9) restores 95 %
    truth = true_auroc(1.4) - true_auroc(1.0)
    covered = covered_normal = 0
    n_sets = 400
    for _ in range(n_sets):
        y, g, a, b = simulate(rng, n_groups=10)
        r = paired_auroc(y, a, b, groups=g, n_bootstrap=0)
        covered += r.ci[0] <= truth <= r.ci[1]
        covered_normal += abs(r.delta - truth) <= norm.ppf(0.975) * r.se
    print(f"10 groups, 95 % interval's coverage: t(9) {covered / n_sets:.3f}, normal {covered_normal / n_sets:.3f}")
    assert 0.92 <= covered / n_sets <= 0.98
    assert covered_normal < covered


# --------------------------------------------------------------------------- seeds

def test_identical_seeds_equal_one_seed_and_per_seed_delta_matches_single_calls():
    rng = np.random.default_rng(8)
    y, g, a, b = simulate(rng, n_groups=20)
    one = paired_auroc(y, a, b, groups=g, n_bootstrap=50)
    three = paired_auroc(y, np.vstack([a] * 3), np.vstack([b] * 3), groups=g, n_bootstrap=50)
    for field in ("delta", "se", "ci", "p_value", "auroc_a", "auroc_b", "bootstrap_ci"):
        assert getattr(three, field) == pytest.approx(getattr(one, field), abs=1e-12), field
    assert three.seed_sd == 0.0 and three.method == "Obuchowski clustered (mean over 3 seeds)"

    sa = np.vstack([a, 2 * a + rng.normal(size=y.size)])
    sb = np.vstack([b, b + rng.normal(size=y.size)])
    two = paired_auroc(y, sa, sb, groups=g, n_bootstrap=0)
    assert two.per_seed_delta == pytest.approx(tuple(paired_auroc(y, sa[k], sb[k], groups=g, n_bootstrap=0).delta
                                                     for k in range(2)))


# --------------------------------------------------------------------------- random seeds

def written_out_random_seeds(y, groups, sa, sb):
    """Obuchowski–Rockette with Hillis's df for 2 arms × r seeds, loop by loop from the papers' definitions.

    Covariances of the 2r AUROC estimates: Obuchowski's clustered S10/S01/S11 (groups given) or
    DeLong's (groups None).  MS_TR from the two-way residuals θ_ij − θ_i. − θ_.j + θ.., MS_T from the
    arm means; the test is F = MS_T / D on (1, ddf), the interval Δ ± t(0.975, ddf) · sqrt(2 D / r).
    """
    r = len(sa)
    arms = [list(sa), list(sb)]
    comps = [[slow_components(y, s) for s in arm] for arm in arms]
    theta = [[c[0].mean() for c in arm] for arm in comps]

    def cov(i, j, i2, j2):
        if groups is None:
            return slow_delong_covariance(y, comps[i][j], comps[i2][j2])
        return slow_obuchowski_covariance(y, groups, comps[i][j], comps[i2][j2])

    arm_mean = [sum(theta[i]) / r for i in range(2)]
    seed_mean = [(theta[0][j] + theta[1][j]) / 2 for j in range(r)]
    grand = sum(arm_mean) / 2
    ms_t = r * sum((arm_mean[i] - grand) ** 2 for i in range(2)) / (2 - 1)
    ms_tr = sum((theta[i][j] - arm_mean[i] - seed_mean[j] + grand) ** 2
                for i in range(2) for j in range(r)) / ((2 - 1) * (r - 1))
    pairs2 = [(i, j, i, j2) for i in range(2) for j in range(r) for j2 in range(r) if j != j2]
    pairs3 = [(i, j, i2, j2) for i in range(2) for i2 in range(2) if i != i2
              for j in range(r) for j2 in range(r) if j != j2]
    cov2 = sum(cov(*q) for q in pairs2) / len(pairs2)
    cov3 = sum(cov(*q) for q in pairs3) / len(pairs3)
    denominator = ms_tr + r * max(cov2 - cov3, 0.0)
    ddf = denominator ** 2 / (ms_tr ** 2 / ((2 - 1) * (r - 1)))
    df = ddf if groups is None else min(ddf, len(set(groups)) - 1)
    delta = arm_mean[1] - arm_mean[0]
    se = math.sqrt(2 * denominator / r)
    return {"ms_tr": ms_tr, "cov2": cov2, "cov3": cov3, "denominator": denominator, "ddf": ddf, "df": df,
            "delta": delta, "se": se, "p": f.sf(ms_t / denominator, 1, df),
            "ci": (delta - t.ppf(0.975, df) * se, delta + t.ppf(0.975, df) * se)}


def three_seeds_in_groups(seed=26):
    """30 rows in 8 groups (five of them mixed), 3 seeds per arm with seed-specific shifts; rounded: ties.

    Each arm has its own case effect, shared by its seeds, so two seeds of one arm covary more than
    seeds of different arms (Cov2 > Cov3).
    """
    rng = np.random.default_rng(seed)
    y = np.array([0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 5, 5, 6, 6, 7, 7, 1, 3, 4, 2, 7, 5, 6, 7])
    case = rng.normal(size=y.size)
    own_a, own_b = rng.normal(0, 0.7, y.size), rng.normal(0, 0.7, y.size)
    sa = np.round([1.0 * y + case + own_a + rng.normal(0, 0.4, y.size) + u * y for u in (0.3, -0.4, 0.0)], 1)
    sb = np.round([1.4 * y + case + own_b + rng.normal(0, 0.4, y.size) + u * y for u in (-0.5, 0.6, 0.2)], 1)
    return y, groups, sa, sb


@pytest.mark.parametrize("grouped, seed", [(True, 26), (False, 26), (True, 24)])
def test_random_seeds_match_the_written_out_obuchowski_rockette(grouped, seed):
    y, groups, sa, sb = three_seeds_in_groups(seed)
    groups = groups if grouped else None
    ref = written_out_random_seeds(y, groups, sa, sb)
    r = paired_auroc(y, sa, sb, groups=groups, n_bootstrap=0, seed_effect="random")
    terms = r.seed_terms
    assert (terms.ms_tr, terms.cov2, terms.cov3, terms.denominator) == pytest.approx(
        (ref["ms_tr"], ref["cov2"], ref["cov3"], ref["denominator"]), rel=1e-10)
    assert terms.cov2 > terms.cov3  # the max(·, 0) is not what makes D here
    assert terms.hillis_df == pytest.approx(ref["ddf"], rel=1e-10)
    # the df used: Hillis's, capped at the fixed-seed K − 1 = 7 for 8 groups (seed 24: Hillis's is 10.5)
    assert r.df == pytest.approx(ref["df"], rel=1e-10) and r.seed_effect == "random"
    assert (ref["ddf"] > 7) == (seed == 24)
    assert (r.delta, r.se, r.p_value) == pytest.approx((ref["delta"], ref["se"], ref["p"]), rel=1e-9)
    assert r.ci == pytest.approx(ref["ci"], rel=1e-9)
    assert r.per_seed_delta == pytest.approx(tuple(roc_auc_score(y, b) - roc_auc_score(y, a) for a, b in zip(sa, sb)))
    assert r.method == ("Obuchowski-Rockette, 3 random seeds, Hillis df "
                        f"({'Obuchowski clustered' if grouped else 'DeLong'} covariances)")
    fixed = paired_auroc(y, sa, sb, groups=groups, n_bootstrap=0)
    assert fixed.seed_terms is None and fixed.delta == r.delta and fixed.per_seed_delta == r.per_seed_delta


def test_random_seeds_without_seed_variance_are_the_fixed_seed_comparison():
    rng = np.random.default_rng(22)
    y, g, a, b = simulate(rng, n_groups=30)
    # three "seeds" that rank the rows alike (monotone maps of one score): no arm × seed variance
    sa, sb = np.vstack([a, 2 * a + 1, np.exp(a)]), np.vstack([b, b ** 3, np.tanh(b)])
    for groups in (g, None):
        fixed = paired_auroc(y, sa, sb, groups=groups, n_bootstrap=0)
        random = paired_auroc(y, sa, sb, groups=groups, n_bootstrap=0, seed_effect="random")
        assert random.seed_terms.ms_tr == pytest.approx(0.0, abs=1e-25) and random.df == fixed.df
        assert (random.delta, random.se, *random.ci, random.p_value) == pytest.approx(
            (fixed.delta, fixed.se, *fixed.ci, fixed.p_value), rel=1e-9)
    # the group bootstrap holds the seeds fixed, whichever interval is asked for
    kw = {"groups": g, "n_bootstrap": 40, "seed": 3}
    assert (paired_auroc(y, sa, sb, seed_effect="random", **kw).bootstrap_ci
            == paired_auroc(y, sa, sb, **kw).bootstrap_ci)


def seeded_arms(rng, n_groups=60, frames=4, n_seeds=5, mu_a=1.0, mu_b=1.3, tau=0.35, sd_group=0.7):
    """Each training seed moves its arm's fake-score mean by its own N(0, τ²) shift (an arm × seed effect).

    Groups hold ``frames`` rows of one class.  Score = (μ_arm + u_seed,arm)·label + a case effect all
    arms and seeds share (group part sd_group, row part) + the seed's own row noise, sd 1 in all, so for
    one seed AUROC = Φ((μ + u)/√2) and over seeds E AUROC = Φ(μ/√(2 + τ²)): the target of the
    random-seed interval.
    """
    y = np.repeat(np.arange(n_groups) % 2, frames)
    g = np.repeat(np.arange(n_groups), frames)
    sd_row = math.sqrt(1 - sd_group ** 2)
    case = rng.normal(0, sd_group, n_groups)[g] + rng.normal(0, 0.6 * sd_row, y.size)

    def arm(mu):
        shift = rng.normal(0, tau, (n_seeds, 1))
        return (mu + shift) * y + case + rng.normal(0, 0.8 * sd_row, (n_seeds, y.size))

    truth = float(norm.cdf(mu_b / math.sqrt(2 + tau ** 2)) - norm.cdf(mu_a / math.sqrt(2 + tau ** 2)))
    return y, g, arm(mu_a), arm(mu_b), truth


def test_random_seed_interval_covers_what_retraining_would_give():
    rng = np.random.default_rng(23)
    n_sets = 400
    covered = {"fixed": 0, "random": 0}
    for _ in range(n_sets):
        y, g, sa, sb, truth = seeded_arms(rng)
        for effect in covered:
            r = paired_auroc(y, sa, sb, groups=g, n_bootstrap=0, seed_effect=effect)
            covered[effect] += r.ci[0] <= truth <= r.ci[1]
    rate = {k: v / n_sets for k, v in covered.items()}
    print(f"coverage over {n_sets} test sets × 5 seeds: random seeds {rate['random']:.3f}, fixed {rate['fixed']:.3f}")
    # 400 draws at 0.95: sd 0.011, so ±3 sd
    assert 0.917 <= rate["random"] <= 0.983
    assert rate["fixed"] < 0.6  # the fixed-seed interval leaves out the seed effect


def test_random_seeds_need_two_seeds():
    y, groups, sa, sb = three_seeds_in_groups()
    with pytest.raises(ValueError, match="at least 2 training seeds per arm, got 1.*seed_effect='fixed'"):
        paired_auroc(y, sa[0], sb[0], groups=groups, seed_effect="random")
    with pytest.raises(ValueError, match="seed_effect must be one of"):
        paired_auroc(y, sa, sb, groups=groups, seed_effect="mixed")
    two = paired_auroc(y, sa[:2], sb[:2], groups=groups, n_bootstrap=0, seed_effect="random")
    assert two.df >= 1 and two.seed_terms.ms_tr == pytest.approx(np.var(two.per_seed_delta, ddof=1) / 2)


# --------------------------------------------------------------------------- accuracy

def test_paired_accuracy_direct_and_mcnemar():
    rng = np.random.default_rng(9)
    n = 120
    y = rng.integers(0, 2, n)
    pa = np.where(rng.random(n) < 0.8, y, 1 - y)
    pb = np.where(rng.random(n) < 0.7, pa, np.where(rng.random(n) < 0.85, y, 1 - y))
    r = paired_accuracy(y, pa, pb)
    d = (pb == y).astype(float) - (pa == y)
    assert isinstance(r, AccuracyComparison) and r.method == "paired Wald" and r.bootstrap_ci is None
    assert r.accuracy_a == pytest.approx(np.mean(pa == y)) and r.accuracy_b == pytest.approx(np.mean(pb == y))
    assert r.delta == pytest.approx(d.mean())
    assert r.se == pytest.approx(d.std(ddof=1) / math.sqrt(n))
    assert r.p_value == pytest.approx(2 * norm.sf(abs(d.mean()) / (d.std(ddof=1) / math.sqrt(n))))
    n01 = int(((pb == y) & (pa != y)).sum())  # only b right
    n10 = int(((pa == y) & (pb != y)).sum())  # only a right
    assert (r.delta / r.se) ** 2 == pytest.approx((n - 1) * (n01 - n10) ** 2 / (n * (n01 + n10) - (n01 - n10) ** 2))


def test_paired_accuracy_clustered_seeds_and_bootstrap():
    rng = np.random.default_rng(10)
    y, g, a, b = simulate(rng, n_groups=30)
    pa, pb = (a > 0.5).astype(int), (b > 0.7).astype(int)
    r = paired_accuracy(y, pa, pb, groups=g, n_bootstrap=300)
    d = (pb == y).astype(float) - (pa == y)
    totals = [(d[g == k] - d.mean()).sum() for k in range(30)]
    assert r.method == "cluster-robust paired Wald" and r.n_groups == 30
    assert r.se ** 2 == pytest.approx(30 / 29 * sum(t ** 2 for t in totals) / d.size ** 2)
    lo, hi = r.bootstrap_ci
    assert lo < r.delta < hi and (hi - lo) == pytest.approx(r.ci[1] - r.ci[0], rel=0.35)

    same = paired_accuracy(y, np.vstack([pa, pa]), np.vstack([pb, pb]), groups=g, n_bootstrap=300)
    assert (same.delta, same.se, *same.bootstrap_ci) == pytest.approx((r.delta, r.se, *r.bootstrap_ci))
    assert same.method == "cluster-robust paired Wald (mean over 2 seeds)" and same.seed_sd == 0.0
    pa2 = (a > 0.0).astype(int)
    two = paired_accuracy(y, np.vstack([pa, pa2]), np.vstack([pb, pb]), groups=g, n_bootstrap=0)
    assert two.per_seed_delta == pytest.approx((r.delta, paired_accuracy(y, pa2, pb).delta))
    assert two.seed_sd == pytest.approx(np.std(two.per_seed_delta, ddof=1))


# --------------------------------------------------------------------------- rules and validation

def comparison(delta, p_value=0.5, ci=None, se=0.01, df=math.inf):
    """A record as the module makes one; ``ci`` from ``se`` and ``df`` unless given."""
    q = norm.ppf(0.975) if math.isinf(df) else t.ppf(0.975, df)
    ci = (delta - q * se, delta + q * se) if ci is None else ci
    return PairedComparison(delta=delta, se=se, ci=ci, p_value=p_value, method="DeLong", n_rows=10,
                            n_groups=10, per_seed_delta=(delta,), seed_sd=math.nan, bootstrap_ci=None, df=df)


def test_verdict():
    assert verdict(comparison(0.02, 0.01, (0.005, 0.035))) == "higher"
    assert verdict(comparison(-0.02, 0.01, (-0.035, -0.005))) == "lower"
    assert verdict(comparison(0.02, 0.2, (-0.01, 0.05))) == "no detectable difference"
    assert verdict(comparison(0.02, 0.05, (0.0, 0.04))) == "no detectable difference"  # p < alpha, strictly
    assert verdict(comparison(0.02, 0.03, (0.001, 0.04)), alpha=0.01) == "no detectable difference"
    with pytest.raises(dataclasses.FrozenInstanceError):
        comparison(0.0, 1.0, (0.0, 0.0)).delta = 1.0


@pytest.mark.parametrize("df", [math.inf, 9.0, 2.7])
def test_non_inferiority_p_and_the_interval_agree(df):
    margin, se = 0.02, 0.01
    for delta in np.linspace(-0.06, 0.04, 41):
        c = comparison(float(delta), se=se, df=df)
        p = non_inferiority_p(c, margin)
        reference = norm.sf((delta + margin) / se) if math.isinf(df) else t.sf((delta + margin) / se, df)
        assert p == pytest.approx(reference, rel=1e-12)
        assert non_inferior(c, margin) == (c.ci[0] > -margin)  # one-sided 0.025 ⇔ the 95 % interval's lower end
        lower_90 = delta - (norm.ppf(0.95) if math.isinf(df) else t.ppf(0.95, df)) * se
        assert non_inferior(c, margin, alpha=0.05) == (lower_90 > -margin)
    at_bound = comparison(-margin + (norm.ppf(0.975) if math.isinf(df) else t.ppf(0.975, df)) * se, se=se, df=df)
    assert at_bound.ci[0] == pytest.approx(-margin) and non_inferiority_p(at_bound, margin) == pytest.approx(0.025)


def test_non_inferiority_edges():
    assert non_inferior(comparison(-0.005, ci=(-0.015, 0.005), se=0.005), margin=0.02)
    assert not non_inferior(comparison(-0.005, se=0.0105), margin=0.02)  # lower end −0.0256
    assert non_inferiority_p(comparison(-0.01, se=0.0), 0.02) == 0.0
    assert non_inferiority_p(comparison(-0.03, se=0.0), 0.02) == 1.0
    assert non_inferiority_p(comparison(-0.02, se=0.0), 0.02) == 1.0  # at −margin: not above
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        non_inferiority_p(comparison(0.0), -0.02)
    # a record built without df (as before df existed) reads as normal
    old = PairedComparison(delta=0.01, se=0.01, ci=(-0.0096, 0.0296), p_value=0.32, method="DeLong", n_rows=10,
                           n_groups=10, per_seed_delta=(0.01,), seed_sd=math.nan, bootstrap_ci=None)
    assert (old.df, old.seed_effect) == (math.inf, "fixed")
    assert non_inferiority_p(old, 0.02) == pytest.approx(norm.sf(3.0))


# --------------------------------------------------------------------------- power and multiplicity

@pytest.mark.parametrize("alpha, power", [(0.05, 0.8), (0.01, 0.9)])
def test_minimum_detectable_difference_against_statsmodels(alpha, power):
    se = 0.012
    # normal: the one-sample z test with effect Δ / se on one observation
    mdd = minimum_detectable_difference(se, alpha, power)
    assert NormalIndPower().power(mdd / se, nobs1=1, alpha=alpha, ratio=0) == pytest.approx(power, abs=1e-9)
    assert mdd == pytest.approx(NormalIndPower().solve_power(None, nobs1=1, alpha=alpha, power=power, ratio=0) * se,
                                rel=1e-6)
    if (alpha, power) == (0.05, 0.8):
        assert mdd == pytest.approx((norm.ppf(0.975) + norm.ppf(0.8)) * se, rel=1e-4)  # about 2.80 se
    # t with df: the one-sample t test on n = df + 1 observations, se = sd / sqrt(n)
    for df in (4, 9, 30.5):  # scipy (and so statsmodels) gives NaN far out in a low-df tail
        mdd_t = minimum_detectable_difference(se, alpha, power, df=df)
        assert TTestPower().power(mdd_t / se, nobs=1, alpha=alpha, df=df) == pytest.approx(power, abs=1e-9)
        assert mdd_t > mdd
    low_df = minimum_detectable_difference(se, alpha, power, df=2.5)  # the lower tail is negligible there
    assert TTestPower().power(low_df / se, nobs=1, alpha=alpha / 2, df=2.5, alternative="larger") == pytest.approx(
        power, abs=1e-6)
    n = 10
    effect = TTestPower().solve_power(None, nobs=n, alpha=alpha, power=power)
    assert minimum_detectable_difference(se, alpha, power, df=n - 1) == pytest.approx(effect * math.sqrt(n) * se,
                                                                                      rel=1e-6)
    one_sided = minimum_detectable_difference(se, alpha, power, df=9, sides=1)
    assert TTestPower().power(one_sided / se, nobs=1, alpha=alpha, df=9, alternative="larger") == pytest.approx(power)


def test_non_inferiority_power_against_statsmodels():
    se, margin = 0.012, 0.02
    for df in (math.inf, 2.0, 9.0):
        for true_delta in (-0.02, -0.01, 0.0, 0.015):
            got = non_inferiority_power(se, margin, true_delta, df=df)
            effect = (true_delta + margin) / se
            if math.isinf(df):
                reference = NormalIndPower().power(effect, nobs1=1, alpha=0.025, ratio=0, alternative="larger")
            else:
                reference = TTestPower().power(effect, nobs=1, alpha=0.025, df=df, alternative="larger")
            assert got == pytest.approx(reference, rel=1e-9)
    assert non_inferiority_power(se, margin, -margin) == pytest.approx(0.025)  # at the bound: the test's size
    # the margin that 80 % power needs at Δ = 0 is the one-sided MDD at alpha 0.025
    need = minimum_detectable_difference(se, alpha=0.025, power=0.8, sides=1)
    assert non_inferiority_power(se, need) == pytest.approx(0.8)


@pytest.mark.parametrize("call, message", [
    (lambda: minimum_detectable_difference(0.0), "se must be a finite number > 0"),
    (lambda: minimum_detectable_difference(0.01, power=0.04), "power must be in"),
    (lambda: minimum_detectable_difference(0.01, sides=3), "sides must be 1 or 2"),
    (lambda: minimum_detectable_difference(0.01, alpha=1.5), "alpha must be in"),
    (lambda: minimum_detectable_difference(0.01, df=0), "df must be > 0"),
    (lambda: non_inferiority_power(0.01, margin=math.nan), "margin must be a finite number"),
    (lambda: holm([0.01, 1.2]), "must lie in \\[0, 1\\]"),
    (lambda: holm([0.01, math.nan]), "no NaN"),
    (lambda: holm([]), "non-empty 1-D"),
])
def test_power_and_holm_refuse_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("pvalues", [
    [0.01, 0.04, 0.03],
    [0.20, 0.001, 0.04, 0.04, 0.5, 0.012],  # ties, and a step where the running maximum takes over
    [0.9],
    np.random.default_rng(0).random(25) ** 3,
])
def test_holm_agrees_with_statsmodels(pvalues):
    reject, adjusted, _, _ = multipletests(pvalues, alpha=0.05, method="holm")
    np.testing.assert_allclose(holm(pvalues), adjusted, rtol=1e-12)
    np.testing.assert_array_equal(holm(pvalues) < 0.05, reject)


def test_identical_arms():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    r = paired_auroc(y, s, s)
    assert (r.delta, r.se, r.ci, r.p_value) == (0.0, 0.0, (0.0, 0.0), 1.0)
    assert verdict(r) == "no detectable difference"


@pytest.mark.parametrize("call, message", [
    (lambda: paired_auroc([0, 1, 0, 1], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]), "3 values per seed for 4 labels"),
    (lambda: paired_auroc([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]), "two rows of each class"),
    (lambda: paired_auroc([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]), "NaN or infinite"),
    (lambda: paired_auroc([0, 2, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]), "0 \\(real\\) or 1"),
    (lambda: paired_auroc([0, 1, 0, 1], np.zeros((2, 4)), np.zeros((3, 4))), "2 seeds against 3"),
    (lambda: paired_auroc([0, 1, 0, 1], np.zeros((2, 2, 4)), np.zeros((2, 2, 4))), "1-D \\(n_rows,\\) or 2-D"),
    (lambda: paired_auroc([0, 1, 0, 1], [.1, .2, .3, .4], [.1, .2, .3, .4], groups=[1, 1, 2]), "one group id"),
    (lambda: paired_auroc([0, 1, 0, 1], [.1, .2, .3, .4], [.1, .2, .3, .4], groups=[1, 1, 1, 1]), "one group"),
    (lambda: paired_accuracy([0, 1, 0, 1], [0, 1, 0.7, 1], [0, 1, 1, 1]), "0/1 predictions"),
    (lambda: paired_accuracy([0, 1, 0], [0, 1, 0, 1], [0, 1, 1, 1]), "4 values per seed for 3 labels"),
])
def test_invalid_input_is_refused_with_a_reason(call, message):
    with pytest.raises(ValueError, match=message):
        call()
